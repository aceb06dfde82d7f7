//! A TLS-terminating reverse proxy for tests, as a load balancer would sit in front of
//! Roleport: https with a certificate from a CA made here, one request per connection, the
//! client's address appended to `X-Forwarded-For` and `X-Forwarded-Proto: https` set.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};

pub struct TlsProxy {
    pub port: u16,
    /// The test CA that signed the proxy's certificate, for the client's trust store.
    pub ca_pem: Vec<u8>,
    backend: Arc<OnceLock<u16>>,
}

impl TlsProxy {
    /// Listens on 127.0.0.1 (any port); forwards to the backend once it is set.
    pub fn start() -> Self {
        let (ca_key, ca) = certificate("Roleport test CA", None);
        let (key, cert) = certificate("127.0.0.1", Some((&ca_key, &ca)));
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        acceptor.set_private_key(&key).unwrap();
        acceptor.set_certificate(&cert).unwrap();
        acceptor.add_extra_chain_cert(ca.clone()).unwrap();
        let acceptor = Arc::new(acceptor.build());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let backend = Arc::new(OnceLock::new());
        let target = backend.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let acceptor = acceptor.clone();
                let target = target.clone();
                std::thread::spawn(move || {
                    // A client that gives up mid-request is not the proxy's failure.
                    let _ = forward(&acceptor, conn, &target);
                });
            }
        });
        Self {
            port,
            ca_pem: ca.to_pem().unwrap(),
            backend,
        }
    }

    pub fn set_backend(&self, port: u16) {
        self.backend.set(port).unwrap();
    }

    /// A cookie-keeping client that trusts the test CA and connects from `source` (a loopback
    /// address other than the proxy's, so Roleport can tell client and proxy apart).
    pub fn client(&self, source: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem).unwrap())
            .local_address(Some(source.parse().unwrap()))
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap()
    }
}

fn forward(
    acceptor: &SslAcceptor,
    conn: TcpStream,
    backend: &OnceLock<u16>,
) -> std::io::Result<()> {
    let peer = conn.peer_addr()?.ip();
    let mut tls = acceptor.accept(conn).map_err(std::io::Error::other)?;
    let (head, body) = read_request(&mut tls)?;
    let mut lines = head.split("\r\n");
    let mut out = format!("{}\r\n", lines.next().unwrap_or_default());
    let mut forwarded_for = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => forwarded_for.push(value.trim().to_string()),
            // The proxy's own say: what it terminated and that the connection ends here.
            "x-forwarded-proto" | "connection" | "keep-alive" => {}
            _ => out.push_str(&format!("{line}\r\n")),
        }
    }
    forwarded_for.push(peer.to_string());
    out.push_str(&format!(
        "X-Forwarded-For: {}\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
        forwarded_for.join(", ")
    ));
    let port = *backend
        .get()
        .ok_or_else(|| std::io::Error::other("no backend yet"))?;
    let mut upstream = TcpStream::connect(("127.0.0.1", port))?;
    upstream.write_all(out.as_bytes())?;
    upstream.write_all(&body)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    tls.write_all(&answer)?;
    let _ = tls.shutdown();
    Ok(())
}

/// The request head (without the blank line) and its body (`Content-Length` bytes).
fn read_request(stream: &mut impl Read) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed before the head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let length = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

/// A key and certificate for `cn`: a CA when `issuer` is `None`, else a server certificate
/// for 127.0.0.1 signed by the issuer.
fn certificate(cn: &str, issuer: Option<(&PKey<Private>, &X509)>) -> (PKey<Private>, X509) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(if issuer.is_some() { 2 } else { 1 }).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    match issuer {
        None => {
            b.set_issuer_name(&name).unwrap();
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            b.sign(&key, MessageDigest::sha256()).unwrap();
        }
        Some((ca_key, ca)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            b.append_extension(BasicConstraints::new().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                .unwrap();
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .build(&b.x509v3_context(Some(ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
    }
    (key, b.build())
}
