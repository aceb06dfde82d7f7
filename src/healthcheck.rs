//! `roleport healthcheck`: the container image's HEALTHCHECK. It asks the server running beside it
//! (same settings file) for `/healthz`, so the image needs no curl or shell.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Where to reach a server bound to `listen` from the same machine: a wildcard bind is reached on
/// loopback of its family, any other address as it is.
pub fn probe_address(listen: &str) -> Result<SocketAddr, String> {
    let bound: SocketAddr = listen
        .parse()
        .map_err(|e| format!("server.listen `{listen}` is not an address:port: {e}"))?;
    if bound.port() == 0 {
        return Err("server.listen has port 0: there is no fixed port to probe".into());
    }
    let ip = match bound.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    Ok(SocketAddr::new(ip, bound.port()))
}

/// GET `/healthz` on `address`; Ok when it answers 200 within `timeout`.
pub async fn probe(address: SocketAddr, timeout: Duration) -> Result<(), String> {
    let url = format!("http://{address}/healthz");
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_probed_on_loopback_of_their_family() {
        assert_eq!(
            probe_address("0.0.0.0:8080").unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            probe_address("[::]:8080").unwrap().to_string(),
            "[::1]:8080"
        );
        assert_eq!(
            probe_address("10.1.2.3:9000").unwrap().to_string(),
            "10.1.2.3:9000"
        );
    }

    #[test]
    fn unusable_listen_values_are_refused() {
        assert!(probe_address("0.0.0.0:0").is_err());
        assert!(probe_address("localhost:8080").is_err());
    }
}
