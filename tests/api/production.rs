//! The production policy (`dev_mode = false`) end to end: Roleport behind a TLS-terminating
//! proxy that it trusts, a real sign-in at SimpleSAMLphp over https, and the cookies, HSTS and
//! client address that a browser and the audit log then see.

use crate::helpers::*;
use crate::tls_proxy::TlsProxy;
use roleport::configuration::Settings;
use roleport::http::request_meta::TrustedProxies;

/// Where the test browser connects from: not the proxy's address, so Roleport can tell them
/// apart in `X-Forwarded-For`.
const CLIENT_ADDRESS: &str = "127.0.0.3";

struct Production {
    app: TestApp,
    proxy: TlsProxy,
    /// `https://127.0.0.1:<proxy port>`, the public URL.
    public: String,
}

async fn production_app() -> Production {
    let proxy = TlsProxy::start();
    let public = format!("https://127.0.0.1:{}", proxy.port);
    // Outside dev_mode a metadata URL must be https; the test IdP is plain http on loopback,
    // so its metadata is pinned from a file, as an operator may do.
    let metadata = reqwest::get(PEERS.get("IDP_METADATA_URL"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("roleport-prod-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let metadata_file = dir.join("idp-metadata.xml");
    std::fs::write(&metadata_file, metadata).unwrap();
    let mut idp = demo_saml_idp(false);
    let saml = idp.saml_mut().unwrap();
    saml.metadata_url = None;
    saml.metadata_file = Some(metadata_file);

    let public_url = public.clone();
    let app = spawn_app_with(Options {
        include_demo_saml: false,
        extra_idps: vec![idp],
        configure: Some(Box::new(move |s: &mut Settings| {
            s.server.dev_mode = false;
            s.server.public_url = public_url;
            s.server.trusted_proxies = TrustedProxies::parse(["127.0.0.1/32"]).unwrap();
        })),
        ..Options::default()
    })
    .await;
    let backend = app.address.rsplit(':').next().unwrap().parse().unwrap();
    proxy.set_backend(backend);
    register_sp(&app.sp_entity_id, &format!("{public}/saml/acs"), None);
    Production { app, proxy, public }
}

/// The attributes of the one `Set-Cookie` named `name`, lower-cased, by attribute name.
fn cookie_attributes(resp: &reqwest::Response, name: &str) -> Vec<(String, String)> {
    let header = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", resp.headers()));
    header
        .split(';')
        .skip(1)
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect()
}

fn assert_host_cookie(resp: &reqwest::Response, name: &str, same_site: &str) {
    let attrs = cookie_attributes(resp, name);
    let has = |k: &str| attrs.iter().any(|(a, _)| a == k);
    let value = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    assert!(has("secure"), "{name}: {attrs:?}");
    assert!(has("httponly"), "{name}: {attrs:?}");
    assert_eq!(value("path").as_deref(), Some("/"), "{name}: {attrs:?}");
    assert!(!has("domain"), "__Host- cookies carry no Domain: {attrs:?}");
    assert_eq!(
        value("samesite").as_deref(),
        Some(same_site),
        "{name}: {attrs:?}"
    );
}

fn assert_hsts(resp: &reqwest::Response) {
    assert_eq!(
        resp.headers()
            .get("strict-transport-security")
            .unwrap_or_else(|| panic!("no HSTS on {}: {:?}", resp.url(), resp.headers())),
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn a_sign_in_over_https_sets_host_prefixed_secure_cookies_and_works() {
    let Production { app, proxy, public } = production_app().await;
    let browser = proxy.client(CLIENT_ADDRESS);

    let start = browser
        .get(format!("{public}/login/demo-saml"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    assert_hsts(&start);
    // The IdP posts the response cross-site: the browser binding must survive that.
    assert_host_cookie(&start, "__Host-roleport_browser", "None");

    let post = idp_sign_in(&browser, &location(&start), "alice", "alicepw").await;
    assert_eq!(post.action, format!("{public}/saml/acs"));
    let mut form = vec![("SAMLResponse", post.saml_response.clone())];
    if let Some(r) = &post.relay_state {
        form.push(("RelayState", r.clone()));
    }
    // The client also tries to pick its own address; the proxy appends the real one.
    let acs = browser
        .post(&post.action)
        .header("X-Forwarded-For", "203.0.113.66")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(acs.status(), 303, "{:?}", acs.text().await);
    assert_hsts(&acs);
    assert_host_cookie(&acs, "__Host-roleport_session", "Lax");
    assert!(
        !acs.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("roleport_")),
        "no cookie without the prefix"
    );

    // The session works over https.
    let roles = browser
        .get(format!("{public}/api/v1/roles"))
        .send()
        .await
        .unwrap();
    assert_eq!(roles.status(), 200);
    assert_hsts(&roles);
    let page = browser.get(format!("{public}/roles")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();

    // The audit rows name the client, not the proxy, and not what the client claimed.
    let events = app.audit_events().await;
    let sign_in = events
        .iter()
        .find(|e| e["kind"] == "sign_in" && e["outcome"] == "accepted")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(sign_in["source_ip"], CLIENT_ADDRESS, "{sign_in}");

    // Sign-out over https with the page's token.
    let token = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    let out = browser
        .post(format!("{public}/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let attrs = cookie_attributes(&out, "__Host-roleport_session");
    assert!(
        attrs.iter().any(|(a, v)| a == "max-age" && v == "0"),
        "{attrs:?}"
    );
    let after = browser
        .get(format!("{public}/api/v1/roles"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn hsts_is_left_off_only_when_a_trusted_proxy_says_plain_http() {
    let Production { app, .. } = production_app().await;
    // Straight to the backend from 127.0.0.1, the trusted proxy address.
    let client = browser();
    let direct = client
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert_hsts(&direct);
    let plain = client
        .get(format!("{}/login", app.address))
        .header("X-Forwarded-Proto", "http")
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none());
    // From an untrusted address the same claim changes nothing.
    let untrusted = reqwest::Client::builder()
        .local_address(Some(CLIENT_ADDRESS.parse().unwrap()))
        .build()
        .unwrap()
        .get(format!("{}/login", app.address))
        .header("X-Forwarded-Proto", "http")
        .send()
        .await
        .unwrap();
    assert_hsts(&untrusted);
}
