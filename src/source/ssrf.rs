//! The SSRF guard: which git URLs the API may fetch, checked before any connection is made.
//!
//! The API fetches URLs that its callers choose, from inside the platform's network, so a URL
//! is refused unless every address it can reach is a public one (or allowed by configuration).
//!
//! # Decisions
//!
//! - **Schemes.** `https` and `git` only by default. `http` (cleartext, and its redirects
//!   could downgrade), `ssh` and scp-like `user@host:path` (keys, and a second protocol to
//!   police), `file://` and plain paths (the server's own disk) are refused with
//!   `scheme_not_allowed` / `local_path_not_allowed`.
//! - **Every address.** The host is resolved once and *every* address it has is checked: a
//!   name with one public and one private address is refused, since a client may pick either.
//!   Refused: loopback, RFC 1918 private, link-local (169.254/16, which holds the cloud
//!   metadata endpoint 169.254.169.254), CGNAT 100.64/10, multicast, unspecified, broadcast,
//!   the benchmarking, documentation and reserved ranges, 0/8; IPv6 loopback, ULA fc00::/7,
//!   link-local fe80::/10, site-local, multicast, documentation and discard prefixes; and any
//!   IPv6 address that embeds an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
//!   `::a.b.c.d`: always refused, no git host needs them; NAT64 `64:ff9b::/96` and 6to4
//!   `2002::/16`: judged by the IPv4 they embed).
//! - **Numeric host forms.** `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` are what
//!   `inet_aton` (and so the resolver) reads as 127.0.0.1: they are parsed here with the same
//!   rules and checked as addresses, whatever the scheme. (The `url` crate normalises them for
//!   `https`, but not for `git://`, whose host it keeps opaque.)
//! - **No DNS rebinding.** A name checked now could resolve elsewhere at connect time. So the
//!   connection goes to the address that was checked: for `git://` the URL handed to libgit2
//!   names the checked IP literal ([`Target::connect_url`]); for `https` (where the name must
//!   stay for TLS) libgit2 is pointed at the server's in-process CONNECT proxy, which resolves,
//!   checks with this same policy and connects to the checked address itself. Every connection
//!   libgit2 opens, redirects included, goes through that proxy, so redirects are re-checked at
//!   connect time; a redirect to `http://` reaches the proxy as a plain request and is refused.
//! - **Allow-list.** Configuration may allow CIDRs or host names (a private git server, the
//!   loopback daemon of the tests). An allowed name's addresses are all allowed; an allowed
//!   CIDR allows the addresses inside it, whatever name led there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use thiserror::Error;

/// Why a URL was refused. [`SsrfError::code`] is the stable code API clients see.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SsrfError {
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("scheme {0:?} is not allowed (allowed: https, git)")]
    SchemeNotAllowed(String),
    #[error("local paths are not allowed; give an https or git URL")]
    LocalPath,
    #[error("host {host} resolves to {addr}, a {class} address, which is not allowed")]
    AddressNotAllowed { host: String, addr: IpAddr, class: &'static str },
    #[error("host {0} does not resolve")]
    Unresolvable(String),
    /// Internal to [`Policy::check_url_without_dns`]: the host is a name.
    #[error("the host needs a DNS look-up")]
    NeedsDns,
}

impl SsrfError {
    pub fn code(&self) -> &'static str {
        match self {
            SsrfError::InvalidUrl(_) => "invalid_url",
            SsrfError::SchemeNotAllowed(_) => "scheme_not_allowed",
            SsrfError::LocalPath => "local_path_not_allowed",
            SsrfError::AddressNotAllowed { .. } => "address_not_allowed",
            SsrfError::Unresolvable(_) | SsrfError::NeedsDns => "host_unresolvable",
        }
    }
}

/// A CIDR block, e.g. `127.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(u32::from(n) as u128, u32::from(a) as u128, self.prefix, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(u128::from(n), u128::from(a), self.prefix, 128),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a >> shift) == (b >> shift)
}

/// What the guard allows. The default refuses everything but public https and git hosts.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Schemes accepted (lower case).
    pub schemes: Vec<String>,
    /// Blocks whose addresses are allowed although non-public.
    pub allow_cidrs: Vec<Cidr>,
    /// Host names (lower case, no trailing dot) whose addresses are all allowed.
    pub allow_hosts: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { schemes: vec!["https".into(), "git".into()], allow_cidrs: Vec::new(), allow_hosts: Vec::new() }
    }
}

/// A URL that passed the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as the client gave it (what the plan reports and the cache keys on).
    pub url: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Every address the host resolved to; all passed.
    pub addrs: Vec<IpAddr>,
    /// The URL to hand libgit2: for `git://`, the host replaced by the first checked address.
    pub connect_url: String,
    /// True when libgit2 must go through the checking CONNECT proxy (`https`).
    pub needs_proxy: bool,
}

impl Policy {
    /// Builds a policy from allow-list entries: each a CIDR, an address, or a host name.
    pub fn with_allow_list<S: AsRef<str>>(entries: &[S]) -> Policy {
        let mut p = Policy::default();
        for e in entries {
            let e = e.as_ref().trim();
            match Cidr::parse(e) {
                Some(c) => p.allow_cidrs.push(c),
                None => p.allow_hosts.push(e.trim_end_matches('.').to_ascii_lowercase()),
            }
        }
        p
    }

    fn host_allowed(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.contains(&h)
    }

    /// Checks one address reached through `host`.
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), SsrfError> {
        if self.host_allowed(host) || self.allow_cidrs.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match blocked_class(ip) {
            Some(class) => Err(SsrfError::AddressNotAllowed { host: host.to_string(), addr: ip, class }),
            None => Ok(()),
        }
    }

    /// Checks every address in `addrs`; an empty list is unresolvable.
    pub fn check_all(&self, host: &str, addrs: &[IpAddr]) -> Result<(), SsrfError> {
        if addrs.is_empty() {
            return Err(SsrfError::Unresolvable(host.to_string()));
        }
        addrs.iter().try_for_each(|a| self.check_addr(host, *a))
    }

    /// Parses and checks `raw`, resolving its host (a blocking DNS look-up). No connection is
    /// made to the host.
    pub fn check_url(&self, raw: &str) -> Result<Target, SsrfError> {
        self.check(raw, true).unwrap_or_else(|| Err(SsrfError::Unresolvable(raw.to_string())))
    }

    /// [`Policy::check_url`] when it needs no DNS look-up (an IP literal or numeric host, or a
    /// URL refused before resolving); None when the host is a name to resolve. Lets an async
    /// caller skip the blocking pool on the hot path.
    pub fn check_url_without_dns(&self, raw: &str) -> Option<Result<Target, SsrfError>> {
        self.check(raw, false)
    }

    fn check(&self, raw: &str, resolve: bool) -> Option<Result<Target, SsrfError>> {
        Some(self.check_inner(raw, resolve)).filter(|r| resolve || r.as_ref().err() != Some(&SsrfError::NeedsDns))
    }

    fn check_inner(&self, raw: &str, resolve: bool) -> Result<Target, SsrfError> {
        let raw = raw.trim();
        let parsed = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                // No scheme: an scp-like `user@host:path` (ssh) or a local path.
                return Err(match raw.find(':') {
                    Some(i) if !raw[..i].contains('/') && raw[..i].contains('@') => {
                        SsrfError::SchemeNotAllowed("ssh".into())
                    }
                    _ => SsrfError::LocalPath,
                });
            }
            Err(e) => return Err(SsrfError::InvalidUrl(e.to_string())),
        };
        let scheme = parsed.scheme().to_ascii_lowercase();
        if !self.schemes.contains(&scheme) {
            return Err(SsrfError::SchemeNotAllowed(scheme));
        }
        let port = parsed.port_or_known_default().or(if scheme == "git" { Some(9418) } else { None });
        let port = port.ok_or_else(|| SsrfError::InvalidUrl(format!("no port for scheme {scheme}")))?;
        let (host, literal): (String, Option<IpAddr>) = match parsed.host() {
            Some(url::Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
            Some(url::Host::Ipv6(a)) => (format!("[{a}]"), Some(IpAddr::V6(a))),
            Some(url::Host::Domain(d)) => {
                let d = d.to_string();
                let numeric = parse_inet_aton(&d).map(IpAddr::V4);
                (d, numeric)
            }
            None => return Err(SsrfError::InvalidUrl("no host".into())),
        };
        if host.is_empty() {
            return Err(SsrfError::InvalidUrl("no host".into()));
        }
        let addrs: Vec<IpAddr> = match literal {
            Some(ip) => vec![ip],
            None if !resolve => return Err(SsrfError::NeedsDns),
            None => {
                let mut v: Vec<IpAddr> = (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|_| SsrfError::Unresolvable(host.clone()))?
                    .map(|sa: SocketAddr| sa.ip())
                    .collect();
                v.dedup();
                v
            }
        };
        self.check_all(&host, &addrs)?;
        let needs_proxy = scheme != "git";
        let connect_url = if scheme == "git" {
            let mut u = parsed.clone();
            let ip = addrs[0];
            let ip_host = match ip {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
            };
            u.set_host(Some(&ip_host)).map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
            if u.port().is_none() {
                let _ = u.set_port(Some(port));
            }
            u.to_string()
        } else {
            raw.to_string()
        };
        Ok(Target { url: raw.to_string(), scheme, host, port, addrs, connect_url, needs_proxy })
    }
}

/// Reads a host the way `inet_aton` does: one to four parts, each decimal, `0x` hex or
/// `0`-prefixed octal, the last part filling the remaining bytes. None when it is a name.
pub fn parse_inet_aton(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let lower = p.to_ascii_lowercase();
        let n = if let Some(hex) = lower.strip_prefix("0x") {
            if hex.is_empty() {
                0
            } else {
                u64::from_str_radix(hex, 16).ok()?
            }
        } else if lower.len() > 1 && lower.starts_with('0') {
            u64::from_str_radix(&lower[1..], 8).ok()?
        } else {
            lower.parse::<u64>().ok()?
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - head.len() as u32);
    if rest_bits < 64 && *last >= (1u64 << rest_bits) {
        return None;
    }
    let mut v: u32 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= (*n as u32) << (24 - 8 * i as u32);
    }
    v |= *last as u32;
    Some(Ipv4Addr::from(v))
}

/// The kind of non-public address `ip` is, or None for a public one.
pub fn blocked_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => blocked_v4(a),
        IpAddr::V6(a) => blocked_v6(a),
    }
}

fn in4(a: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    prefix_eq(u32::from(a) as u128, u32::from(Ipv4Addr::from(net)) as u128, prefix, 32)
}

fn blocked_v4(a: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "cgnat"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "reserved"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "reserved"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    if a == Ipv4Addr::BROADCAST {
        return Some("broadcast");
    }
    RANGES.iter().find(|(net, p, _)| in4(a, *net, *p)).map(|(_, _, c)| *c)
}

fn blocked_v6(a: Ipv6Addr) -> Option<&'static str> {
    let v = u128::from(a);
    let seg = a.segments();
    if a.is_unspecified() {
        return Some("unspecified");
    }
    if a.is_loopback() {
        return Some("loopback");
    }
    // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96: judged by the IPv4 inside.
    if v >> 32 == 0xffff || v >> 32 == 0 {
        return blocked_v4(Ipv4Addr::from(v as u32)).or(Some("ipv4-embedded"));
    }
    // NAT64 well-known prefix 64:ff9b::/96: the IPv4 in the low 32 bits.
    if v >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return blocked_v4(Ipv4Addr::from(v as u32));
    }
    // 6to4 2002::/16: the IPv4 in bits 16..48.
    if seg[0] == 0x2002 {
        let embedded = ((seg[1] as u32) << 16) | seg[2] as u32;
        return blocked_v4(Ipv4Addr::from(embedded));
    }
    const RANGES: &[(u128, u8, &str)] = &[
        (0x0064_ff9b_0001 << 80, 48, "nat64-local"),
        (0x0100 << 112, 64, "discard"),
        (0x2001_0000 << 96, 32, "teredo"),
        (0x2001_0db8 << 96, 32, "documentation"),
        (0xfc00 << 112, 7, "unique-local"),
        (0xfe80 << 112, 10, "link-local"),
        (0xfec0 << 112, 10, "site-local"),
        (0xff00 << 112, 8, "multicast"),
    ];
    RANGES.iter().find(|(net, p, _)| prefix_eq(*net, v, *p, 128)).map(|(_, _, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_forms_read_like_inet_aton() {
        assert_eq!(parse_inet_aton("2130706433"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_inet_aton("0x7f.1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_inet_aton("0177.0.0.1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_inet_aton("127.1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_inet_aton("0x7f000001"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_inet_aton("github.com"), None);
        assert_eq!(parse_inet_aton("1.2.3.256"), None);
        assert_eq!(parse_inet_aton("a1.example"), None);
    }

    #[test]
    fn classes() {
        for (a, blocked) in [
            ("8.8.8.8", false),
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.31.0.1", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("224.0.0.1", true),
            ("0.0.0.0", true),
            ("255.255.255.255", true),
            ("192.0.2.1", true),
            ("2606:4700::1", false),
            ("::1", true),
            ("::", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("ff02::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:8.8.8.8", true), // embedded IPv4 in ::/96 forms: refused outright
            ("::127.0.0.1", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::a00:1", true),
            ("64:ff9b::808:808", false),
            ("2002:7f00:1::", true),
            ("2001:db8::1", true),
        ] {
            assert_eq!(blocked_class(ip(a)).is_some(), blocked, "{a}");
        }
    }

    #[test]
    fn urls() {
        let p = Policy::default();
        let code = |u: &str| p.check_url(u).err().map(|e| e.code());
        assert_eq!(code("file:///etc/passwd"), Some("scheme_not_allowed"));
        assert_eq!(code("http://example.com/x"), Some("scheme_not_allowed"));
        assert_eq!(code("ssh://git@example.com/x"), Some("scheme_not_allowed"));
        assert_eq!(code("git@example.com:a/b.git"), Some("scheme_not_allowed"));
        assert_eq!(code("/srv/git/repo"), Some("local_path_not_allowed"));
        assert_eq!(code("https://2130706433/x"), Some("address_not_allowed"));
        assert_eq!(code("git://0x7f.1/x"), Some("address_not_allowed"));
        assert_eq!(code("git://[::ffff:127.0.0.1]/x"), Some("address_not_allowed"));
        assert_eq!(code("https://169.254.169.254/latest"), Some("address_not_allowed"));
        let allowed = Policy::with_allow_list(&["127.0.0.0/8"]);
        let t = allowed.check_url("git://0x7f.1:9999/repo").unwrap();
        assert_eq!(t.connect_url, "git://127.0.0.1:9999/repo");
        assert!(!t.needs_proxy);
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }
}
