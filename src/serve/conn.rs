//! Connections: the accept loop in front of the router, with the limits a router cannot set.
//!
//! Why not `axum::serve`: it sets no header-read timeout and no cap on connections, so a
//! flood of half-open connections (a TCP handshake, then nothing, or a header sent a byte a
//! minute) holds sockets and memory forever. Here:
//! - a connection must send a request's headers within `header_read_timeout_ms`, also while
//!   idle between keep-alive requests (hyper starts the timer when it waits for a head);
//! - at most `max_connections` are open, and at most `max_connections_per_ip` from one client
//!   address; past either a new connection is closed at once, before any byte is read, so one
//!   client's flood leaves room for the others (a load balancer's `/healthz` included);
//! - the client's address is put on each request ([`ConnectInfo`]) for the per-address rate
//!   limit, which runs before authentication.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tracing::{debug, warn};

/// The connection limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Open connections, counted; a [`Slot`] is one of them.
#[derive(Clone)]
struct Slots {
    open: Arc<Mutex<Open>>,
    limits: ConnLimits,
}

struct Slot {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Slots {
    fn take(&self, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let mine = open.per_ip.get(&ip).copied().unwrap_or(0);
        if open.total >= self.limits.max_connections || mine >= self.limits.max_connections_per_ip {
            return None;
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_insert(0) += 1;
        Some(Slot { open: self.open.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(n) = open.per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    open.per_ip.remove(&self.ip);
                }
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits
/// for open requests to finish (idle connections close at once).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Slots { open: Arc::default(), limits };
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait for connections to close.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = slots.take(addr.ip()) else {
            debug!(%addr, "connection limit reached; closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = tower::ServiceExt::map_request(router.clone(), move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
            req
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc)));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cap_total_and_per_address() {
        let limits =
            ConnLimits { header_read_timeout: Duration::from_secs(1), max_connections: 3, max_connections_per_ip: 2 };
        let slots = Slots { open: Arc::default(), limits };
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let a1 = slots.take(a).expect("first");
        let _a2 = slots.take(a).expect("second");
        assert!(slots.take(a).is_none(), "per address");
        let _b1 = slots.take(b).expect("another address");
        assert!(slots.take(b).is_none(), "total");
        drop(a1);
        assert!(slots.take(b).is_some(), "a closed connection frees its slot");
    }
}
