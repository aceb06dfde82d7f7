//! Who is asking: the client address and user agent, for logs, audit rows and rate limits.
//!
//! [`client_origin`] is the one place that decides the client address. actix-web's
//! `ConnectionInfo::realip_remote_addr` is not used anywhere: it believes the left-most
//! `Forwarded`/`X-Forwarded-For` entry from any peer, so anyone could pick the address their
//! requests are audited and rate-limited under.

use crate::http::AppState;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, web};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            source_ip: client_ip(req).map(|ip| ip.to_string()),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
        }
    }
}

/// `[server] trusted_proxies`: the networks whose forwarding headers are believed. Accepts a
/// list (`["10.0.0.0/8", "192.0.2.7"]`) or, for environment overrides, one comma-separated
/// string. A bare address means that one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in items {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let net = match item.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("`{item}` is neither a CIDR (10.0.0.0/8) nor an IP address")
                })?,
            };
            // Trusting every peer would let any client that reaches Roleport directly name its
            // own address.
            if net.prefix_len() == 0 {
                return Err(format!(
                    "`{item}` trusts every peer; list the networks of your proxies instead"
                ));
            }
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            Joined(String),
        }
        let parsed = match Raw::deserialize(d)? {
            Raw::List(items) => Self::parse(items.iter().map(String::as_str)),
            Raw::Joined(s) => Self::parse(s.split(',')),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// Which header the trusted proxies write. Only that one is read: a proxy that appends to
/// `X-Forwarded-For` passes a client's own `Forwarded` header through untouched, so reading
/// both would let the client choose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` and `X-Forwarded-Proto` (haproxy, nginx, AWS ALB, Envoy).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…;proto=…`.
    Forwarded,
}

/// Where a request came from, as far as the trusted proxies vouch for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOrigin {
    /// The right-most address of the forwarding chain that is not a trusted proxy; the TCP peer
    /// when the peer is not trusted.
    pub ip: IpAddr,
    /// What a trusted proxy said about the client's scheme (`Some(true)` for https); `None`
    /// when no trusted proxy said anything.
    pub forwarded_https: Option<bool>,
}

/// The client address of `req` (see [`client_origin`]).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    client_origin(req).map(|o| o.ip)
}

/// The client origin of `req`, with the app's `[server]` proxy settings. Without app state
/// (never in the running app) only the TCP peer counts.
pub fn client_origin(req: &HttpRequest) -> Option<ClientOrigin> {
    let peer = req.peer_addr();
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => origin_from(
            peer,
            req.headers(),
            &state.settings.server.trusted_proxies,
            state.settings.server.forwarded_header,
        ),
        None => peer.map(|p| ClientOrigin {
            ip: canonical(p.ip()),
            forwarded_https: None,
        }),
    }
}

/// The pure rule behind [`client_origin`]. Forwarding headers count only when the TCP peer is a
/// trusted proxy; then the chain is walked from the right (the hop nearest Roleport), skipping
/// trusted proxies, and the first address that is not one is the client. A hop that cannot be
/// read (`unknown`, an obfuscated RFC 7239 name, garbage) ends the walk at the last trusted hop,
/// so the client can neither choose its address nor hide behind a made-up one.
pub fn origin_from(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    header: ForwardedHeader,
) -> Option<ClientOrigin> {
    let peer_ip = canonical(peer?.ip());
    if !trusted.contains(&peer_ip) {
        return Some(ClientOrigin {
            ip: peer_ip,
            forwarded_https: None,
        });
    }
    let hops = match header {
        ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
        ForwardedHeader::Forwarded => forwarded(headers),
    };
    let mut ip = peer_ip;
    let mut proto = match header {
        ForwardedHeader::XForwardedFor => last_x_forwarded_proto(headers),
        ForwardedHeader::Forwarded => None,
    };
    for hop in hops.iter().rev() {
        let Some(addr) = hop.addr else {
            break;
        };
        ip = addr;
        if let Some(p) = hop.proto {
            proto = Some(p);
        }
        if !trusted.contains(&addr) {
            break;
        }
    }
    Some(ClientOrigin {
        ip,
        forwarded_https: proto,
    })
}

struct Hop {
    addr: Option<IpAddr>,
    /// RFC 7239 `proto=` of this hop (`true` for https).
    proto: Option<bool>,
}

/// Every `X-Forwarded-For` line, in order, split at commas.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Hop> {
    headers
        .get_all("x-forwarded-for")
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(|item| Hop {
            addr: parse_node(item.trim()),
            proto: None,
        })
        .collect()
}

/// The proto of the nearest proxy that set one: the last `X-Forwarded-Proto` value.
fn last_x_forwarded_proto(headers: &HeaderMap) -> Option<bool> {
    headers
        .get_all("x-forwarded-proto")
        .flat_map(|v| v.to_str().unwrap_or_default().split(','))
        .filter_map(|p| is_https(p.trim()))
        .last()
}

/// RFC 7239: elements separated by commas (across header lines), pairs by semicolons.
fn forwarded(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for line in headers.get_all("forwarded") {
        let Ok(line) = line.to_str() else {
            hops.push(Hop {
                addr: None,
                proto: None,
            });
            continue;
        };
        for element in split_outside_quotes(line, ',') {
            let mut addr = None;
            let mut proto = None;
            for pair in split_outside_quotes(element, ';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "for" => addr = parse_node(value),
                    "proto" => proto = is_https(value),
                    _ => {}
                }
            }
            hops.push(Hop { addr, proto });
        }
    }
    hops
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(s.get(start..i).unwrap_or_default());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(s.get(start..).unwrap_or_default());
    parts
}

fn is_https(proto: &str) -> Option<bool> {
    match proto.to_ascii_lowercase().as_str() {
        "https" => Some(true),
        "http" => Some(false),
        _ => None,
    }
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:192.0.2.1`) is that IPv4 address, so
/// v4 CIDRs and audit rows see one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 50000))
    }

    fn trusted(items: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(items.iter().copied()).unwrap()
    }

    fn ip_of(
        p: &str,
        h: &[(&str, &str)],
        t: &[&str],
        which: ForwardedHeader,
    ) -> (String, Option<bool>) {
        let o = origin_from(peer(p), &headers(h), &trusted(t), which).unwrap();
        (o.ip.to_string(), o.forwarded_https)
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address_or_scheme() {
        let spoof = [
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=198.51.100.9;proto=https"),
        ];
        for which in [XFF, FWD] {
            assert_eq!(
                ip_of("203.0.113.5", &spoof, &[], which),
                ("203.0.113.5".into(), None)
            );
            assert_eq!(
                ip_of("203.0.113.5", &spoof, &["10.0.0.0/8"], which),
                ("203.0.113.5".into(), None)
            );
        }
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        assert_eq!(
            ip_of(
                "10.0.0.2",
                &[
                    ("x-forwarded-for", "198.51.100.9"),
                    ("x-forwarded-proto", "https")
                ],
                &["10.0.0.0/8"],
                XFF
            ),
            ("198.51.100.9".into(), Some(true))
        );
        assert_eq!(
            ip_of(
                "10.0.0.2",
                &[("forwarded", r#"for="198.51.100.9:4711";proto=http"#)],
                &["10.0.0.0/8"],
                FWD
            ),
            ("198.51.100.9".into(), Some(false))
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_wins_over_anything_the_client_prepended() {
        // The client sent "1.2.3.4"; its real address 198.51.100.9 was appended by the outer
        // proxy 10.1.1.1, which the inner proxy 10.0.0.2 appended in turn.
        let chain = [("x-forwarded-for", "1.2.3.4, 198.51.100.9, 10.1.1.1")];
        assert_eq!(
            ip_of("10.0.0.2", &chain, &["10.0.0.0/8"], XFF).0,
            "198.51.100.9"
        );
        // Several header lines are one list.
        let lines = [
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.9, 10.1.1.1"),
        ];
        assert_eq!(
            ip_of("10.0.0.2", &lines, &["10.0.0.0/8"], XFF).0,
            "198.51.100.9"
        );
        let fwd = [(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https, for=10.1.1.1;proto=http"#,
        )];
        assert_eq!(
            ip_of("10.0.0.2", &fwd, &["10.0.0.0/8"], FWD),
            ("2001:db8::7".into(), Some(true))
        );
        // Only one header kind counts: a Forwarded header the XFF proxies pass through is the
        // client's own.
        let both = [
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-for", "198.51.100.9"),
        ];
        assert_eq!(
            ip_of("10.0.0.2", &both, &["10.0.0.0/8"], XFF).0,
            "198.51.100.9"
        );
    }

    #[test]
    fn unreadable_hops_stop_at_the_last_trusted_proxy() {
        for bad in ["unknown", "_hidden", "not an address", ""] {
            let h = [("x-forwarded-for", format!("198.51.100.9, {bad}, 10.1.1.1"))];
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(
                ip_of("10.0.0.2", &h, &["10.0.0.0/8"], XFF).0,
                "10.1.1.1",
                "{bad}"
            );
        }
        assert_eq!(
            ip_of(
                "10.0.0.2",
                &[("forwarded", "for=_hidden")],
                &["10.0.0.0/8"],
                FWD
            )
            .0,
            "10.0.0.2"
        );
    }

    #[test]
    fn a_chain_of_only_trusted_hops_names_its_first_hop() {
        assert_eq!(
            ip_of(
                "10.0.0.2",
                &[("x-forwarded-for", "10.9.9.9, 10.1.1.1")],
                &["10.0.0.0/8"],
                XFF
            )
            .0,
            "10.9.9.9"
        );
        assert_eq!(ip_of("10.0.0.2", &[], &["10.0.0.0/8"], XFF).0, "10.0.0.2");
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        assert_eq!(
            ip_of(
                "::ffff:10.0.0.2",
                &[("x-forwarded-for", "::ffff:198.51.100.9")],
                &["10.0.0.0/8"],
                XFF
            )
            .0,
            "198.51.100.9"
        );
    }

    #[test]
    fn settings_files_and_environment_set_the_proxies_and_the_metrics_listener() {
        let path = std::env::temp_dir().join(format!(
            "roleport-proxies-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(
            &path,
            "[server]\nlisten = \"127.0.0.1:0\"\ndev_mode = true\n\
             trusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"forwarded\"\n\
             [database]\nurl = \"postgres://localhost/x\"\n",
        )
        .unwrap();
        let file = crate::configuration::load(&path, []).unwrap();
        assert!(
            file.server
                .trusted_proxies
                .contains(&"10.1.2.3".parse().unwrap())
        );
        assert_eq!(file.server.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(file.metrics.listen, "127.0.0.1:9464");
        let env = crate::configuration::load(
            &path,
            [
                (
                    "ROLEPORT_SERVER__TRUSTED_PROXIES".to_string(),
                    "192.0.2.7, 2001:db8::/32".to_string(),
                ),
                (
                    "ROLEPORT_METRICS__LISTEN".to_string(),
                    "127.0.0.1:0".to_string(),
                ),
            ],
        )
        .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            env.server
                .trusted_proxies
                .contains(&"192.0.2.7".parse().unwrap())
        );
        assert!(
            env.server
                .trusted_proxies
                .contains(&"2001:db8::1".parse().unwrap())
        );
        assert!(
            !env.server
                .trusted_proxies
                .contains(&"10.1.2.3".parse().unwrap())
        );
        assert_eq!(env.metrics.listen, "127.0.0.1:0");
        // The default: nobody is trusted.
        assert!(TrustedProxies::default().is_empty());
    }

    #[test]
    fn settings_accept_lists_bare_addresses_and_comma_strings() {
        let t: TrustedProxies = serde_json::from_str(r#"["10.0.0.0/8", "192.0.2.7"]"#).unwrap();
        assert!(t.contains(&"10.200.0.1".parse().unwrap()));
        assert!(t.contains(&"192.0.2.7".parse().unwrap()));
        assert!(!t.contains(&"192.0.2.8".parse().unwrap()));
        let joined: TrustedProxies = serde_json::from_str(r#""10.0.0.0/8, 192.0.2.7""#).unwrap();
        assert_eq!(joined, t);
        assert!(serde_json::from_str::<TrustedProxies>(r#"["10.0.0.0/33"]"#).is_err());
        assert!(serde_json::from_str::<TrustedProxies>(r#"["proxy.example"]"#).is_err());
        for everyone in ["0.0.0.0/0", "::/0"] {
            let err = TrustedProxies::parse([everyone]).unwrap_err();
            assert!(err.contains("trusts every peer"), "{err}");
        }
    }
}
