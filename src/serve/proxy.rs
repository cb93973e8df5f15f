//! The in-process CONNECT proxy libgit2 goes through for `https` remotes.
//!
//! Why: the SSRF guard checks a host's addresses before a scan, but libgit2 resolves the name
//! again when it connects (DNS rebinding could answer differently), and follows redirects to
//! hosts the guard never saw. Pointing libgit2 at this proxy (`ProxyOptions::url`) moves the
//! check to connect time: for every `CONNECT host:port` it resolves the host, checks every
//! address with the same [`Policy`], and opens the TCP connection to the address it checked.
//! TLS stays end to end between libgit2 and the server (the proxy only relays bytes).
//! Anything but `CONNECT` (a plain-http request after a redirect) is refused with 405.
//!
//! It listens on 127.0.0.1 on an ephemeral port and grants nothing the API does not: every
//! connection it makes passes the policy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use crate::source::ssrf::{parse_inet_aton, Policy};

const HEAD_LIMIT: usize = 8 << 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the proxy; returns its `http://127.0.0.1:PORT` URL. The task lives with the runtime.
pub async fn start(policy: Arc<Policy>) -> std::io::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let policy = policy.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, &policy).await {
                            debug!(error = %e, "proxy connection ended");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(format!("http://{addr}"))
}

async fn reply(stream: &mut TcpStream, status: &str) -> std::io::Result<()> {
    stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await
}

async fn handle(mut client: TcpStream, policy: &Policy) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > HEAD_LIMIT {
            return reply(&mut client, "431 Request Header Fields Too Large").await;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(authority)) = (words.next(), words.next()) else {
        return reply(&mut client, "400 Bad Request").await;
    };
    if !method.eq_ignore_ascii_case("CONNECT") {
        warn!(method, target = authority, "proxy refused a non-CONNECT request");
        return reply(&mut client, "405 Method Not Allowed").await;
    }
    let Some((host, port)) = split_authority(authority) else {
        return reply(&mut client, "400 Bad Request").await;
    };
    let addrs: Vec<IpAddr> = match literal(&host) {
        Some(ip) => vec![ip],
        None => match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(it) => it.map(|sa| sa.ip()).collect(),
            Err(_) => Vec::new(),
        },
    };
    if let Err(e) = policy.check_all(&host, &addrs) {
        warn!(host = %host, port, error = %e, "proxy refused a connection");
        return reply(&mut client, "403 Forbidden").await;
    }
    // Connect to the first checked address, not to the name.
    let target = SocketAddr::new(addrs[0], port);
    let mut upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        _ => return reply(&mut client, "502 Bad Gateway").await,
    };
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    // Bytes the client sent after the head belong to the tunnel.
    if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
        let rest = &head[end + 4..];
        if !rest.is_empty() {
            upstream.write_all(rest).await?;
        }
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// `host:port` or `[v6]:port`.
fn split_authority(a: &str) -> Option<(String, u16)> {
    if let Some(rest) = a.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        return Some((h.to_string(), p.parse().ok()?));
    }
    let (h, p) = a.rsplit_once(':')?;
    Some((h.to_string(), p.parse().ok()?))
}

fn literal(host: &str) -> Option<IpAddr> {
    host.parse::<IpAddr>().ok().or_else(|| parse_inet_aton(host).map(IpAddr::V4))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect_through(proxy: &str, authority: &str) -> String {
        let addr = proxy.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[tokio::test]
    async fn refuses_private_targets_and_connects_allowed_ones() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = target.local_addr().unwrap().port();
        let strict = start(Arc::new(Policy::default())).await.unwrap();
        for a in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("0x7f.1:{port}"),
            format!("[::1]:{port}"),
        ] {
            let r = connect_through(&strict, &a).await;
            assert!(r.starts_with("HTTP/1.1 403"), "{a}: {r}");
        }
        let open = start(Arc::new(Policy::with_allow_list(&["127.0.0.0/8"]))).await.unwrap();
        let r = connect_through(&open, &format!("127.0.0.1:{port}")).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let accepted = tokio::time::timeout(Duration::from_secs(5), target.accept()).await;
        assert!(accepted.is_ok(), "the allowed CONNECT reached the target");
    }
}
