//! Admin forms that must not lose what was sent: a dry run or import sent when the page wants a
//! fresh sign-in comes back in the form (sealed to that browser and person meanwhile, never run
//! on its own; another browser or person cannot take it); ending a session then says nothing was
//! ended. The dry run's file upload without scripts (multipart: a file, pasted text, both, not
//! text, too large, no CSRF token). The live sessions list in pages of 50.

use crate::admin::{admin_app, admin_rows, admin_rules, csrf, get};
use crate::helpers::*;
use reqwest::cookie::{CookieStore, Jar};
use std::sync::Arc;

/// A browser whose cookies the test can read and plant.
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        Self { client, jar }
    }

    fn cookie(&self, app: &TestApp, name: &str) -> Option<String> {
        let url: reqwest::Url = app.address.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    fn plant(&self, app: &TestApp, name: &str, value: &str) {
        let url: reqwest::Url = app.address.parse().unwrap();
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    /// Through the IdP (`start`: a Roleport `/login/…` path) and back; returns where the ACS sent
    /// the browser.
    async fn sign_in(&self, app: &TestApp, start: &str, user: &str) -> String {
        let resp = get(app, &self.client, start).await;
        assert_eq!(resp.status(), 302, "{start}");
        let post = idp_sign_in(&self.client, &location(&resp), user, &format!("{user}pw")).await;
        let mut form = vec![("SAMLResponse", post.saml_response)];
        if let Some(r) = post.relay_state {
            form.push(("RelayState", r));
        }
        let back = self
            .client
            .post(format!("{}/saml/acs", app.address))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 303, "{user} signed in");
        location(&back)
    }
}

/// Every session's sign-in is now older than `[admin] reauth_after_seconds` (15 min).
async fn age_sessions(app: &TestApp) {
    sqlx::query("UPDATE sessions SET created_at = created_at - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The test rules with a marker no other document has, as pasted text (CRLF line breaks, as a
/// browser sends a text area).
fn marked_rules() -> String {
    format!("# kept across the sign-in <ok>\n{}", admin_rules()).replace('\n', "\r\n")
}

/// The text area of the dry run form, unescaped.
fn textarea(html: &str) -> String {
    let re =
        regex::Regex::new(r#"(?s)<textarea id="document-input"[^>]*>(.*?)</textarea>"#).unwrap();
    html_unescape(
        &re.captures(html)
            .unwrap_or_else(|| panic!("no text area: {html}"))[1],
    )
}

fn notice(html: &str) -> String {
    let re = regex::Regex::new(r#"id="notice"[^>]*>([^<]*)<"#).unwrap();
    re.captures(html)
        .map(|c| html_unescape(&c[1]))
        .unwrap_or_default()
}

/// The rules page asked to put a kept document back gives nothing back to `b`.
async fn nothing_back(app: &TestApp, b: &Browser) {
    let html = get(app, &b.client, "/admin/rules?kept=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice(&html).contains("was not kept"), "{html}");
    assert!(!html.contains("kept across the sign-in"), "{html}");
}

async fn post_document(
    app: &TestApp,
    b: &Browser,
    path: &str,
    token: &str,
    document: &str,
) -> reqwest::Response {
    b.client
        .post(format!("{}{path}", app.address))
        .form(&[("csrf_token", token), ("document", document)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dry_run_sent_when_a_fresh_sign_in_is_due_comes_back_in_the_form_and_nothing_runs() {
    // bob holds the security-team capability too: another admin, who must not get alice's draft.
    let rules = admin_rules().replace(
        "    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n",
        "    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n    capabilities: [security-team]\n",
    );
    let app = admin_app(rules).await;
    let alice = Browser::new();
    alice.sign_in(&app, "/login/demo-saml", "alice").await;
    let token = csrf(&app, &alice.client).await;
    age_sessions(&app).await;
    let document = marked_rules();

    let resp = post_document(&app, &alice, "/admin/rules/dry-run", &token, &document).await;
    assert_eq!(resp.status(), 303);
    let reauth = location(&resp);
    assert_eq!(
        reauth,
        "/login/demo-saml?reauth=1&return_to=%2Fadmin%2Frules%3Fkept%3D1"
    );
    let cookie = alice.cookie(&app, "roleport_draft").expect("draft cookie");
    // Nothing ran; the draft is stored sealed (the marker is nowhere in the row).
    assert!(admin_rows(&app, "rules.dry_run").await.is_empty());
    let (sealed, holder): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT sealed, holder_hash FROM admin_drafts WHERE subject = 'alice'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!sealed.windows(9).any(|w| w == b"kept acro"));
    // The row holds only the cookie's hash: the database alone does not open it.
    assert_eq!(holder, roleport::db::sha256(cookie.as_bytes()));

    // Another browser of alice's (no draft cookie): nothing comes back, the draft stays.
    let other = Browser::new();
    other.sign_in(&app, "/login/demo-saml", "alice").await;
    nothing_back(&app, &other).await;
    // bob, an admin too, with alice's draft cookie planted in his browser: nothing either.
    let bob = Browser::new();
    bob.sign_in(&app, "/login/demo-saml", "bob").await;
    bob.plant(&app, "roleport_draft", &cookie);
    nothing_back(&app, &bob).await;
    // A forged cookie in alice's own browser: nothing (and the real one is not consumed).
    let forged = Browser::new();
    forged.sign_in(&app, "/login/demo-saml", "alice").await;
    forged.plant(
        &app,
        "roleport_draft",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    nothing_back(&app, &forged).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_drafts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "only the browser that sent it can take it");

    // Alice through the IdP again, in the browser that sent it: back on the form, with her
    // document exactly as sent, and a notice; still nothing ran.
    let back = alice.sign_in(&app, &reauth, "alice").await;
    assert_eq!(back, "/admin/rules?kept=1");
    let resp = get(&app, &alice.client, &back).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("roleport_draft=;")),
        "the draft cookie is removed"
    );
    let html = resp.text().await.unwrap();
    assert_eq!(textarea(&html), document);
    assert!(
        notice(&html).contains("Your document is back in the form below"),
        "{html}"
    );
    assert!(admin_rows(&app, "rules.dry_run").await.is_empty());
    // Taken once: gone from the database, and a second visit finds nothing.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_drafts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    alice.plant(&app, "roleport_draft", &cookie);
    nothing_back(&app, &alice).await;
    // Sent again with the fresh sign-in: the dry run runs.
    let token = csrf(&app, &alice.client).await;
    let resp = post_document(&app, &alice, "/admin/rules/dry-run", &token, &document).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(admin_rows(&app, "rules.dry_run").await.len(), 1);
}

#[tokio::test]
async fn an_import_sent_when_a_fresh_sign_in_is_due_imports_nothing_and_an_expired_draft_is_gone() {
    let app = admin_app(admin_rules()).await;
    let alice = Browser::new();
    alice.sign_in(&app, "/login/demo-saml", "alice").await;
    let token = csrf(&app, &alice.client).await;
    let before: i64 = sqlx::query_scalar("SELECT max(generation) FROM rules_generation")
        .fetch_one(&app.pool)
        .await
        .unwrap_or(0);
    age_sessions(&app).await;
    let document = marked_rules();
    let resp = post_document(&app, &alice, "/admin/rules/import", &token, &document).await;
    assert_eq!(resp.status(), 303);
    let reauth = location(&resp);
    assert!(admin_rows(&app, "rules.import").await.is_empty());
    let back = alice.sign_in(&app, &reauth, "alice").await;
    let html = get(&app, &alice.client, &back).await.text().await.unwrap();
    assert_eq!(textarea(&html), document);
    assert!(
        notice(&html).starts_with("You signed in again. Nothing was imported"),
        "{html}"
    );
    let after: i64 = sqlx::query_scalar("SELECT max(generation) FROM rules_generation")
        .fetch_one(&app.pool)
        .await
        .unwrap_or(0);
    assert_eq!(before, after, "nothing was imported");

    // A draft past its time (the sign-in took longer than a pending login may): not given back.
    age_sessions(&app).await;
    let token = csrf(&app, &alice.client).await;
    let resp = post_document(&app, &alice, "/admin/rules/dry-run", &token, &document).await;
    let reauth = location(&resp);
    sqlx::query("UPDATE admin_drafts SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let back = alice.sign_in(&app, &reauth, "alice").await;
    let html = get(&app, &alice.client, &back).await.text().await.unwrap();
    assert!(!html.contains("kept across the sign-in"));
    assert!(notice(&html).contains("was not kept"), "{html}");
}

#[tokio::test]
async fn ending_a_session_when_a_fresh_sign_in_is_due_ends_nothing_and_says_so() {
    let app = admin_app(admin_rules()).await;
    let alice = Browser::new();
    alice.sign_in(&app, "/login/demo-saml", "alice").await;
    let bob = Browser::new();
    bob.sign_in(&app, "/login/demo-saml", "bob").await;
    let token = csrf(&app, &alice.client).await;
    let html = get(&app, &alice.client, "/admin/sessions")
        .await
        .text()
        .await
        .unwrap();
    let handle = regex::Regex::new(
        r#"(?s)<tr class="session" data-subject="bob">.*?name="session" value="([0-9a-f]{64})""#,
    )
    .unwrap()
    .captures(&html)
    .unwrap()[1]
        .to_string();
    age_sessions(&app).await;
    let resp = alice
        .client
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[("csrf_token", token.as_str()), ("session", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let reauth = location(&resp);
    assert_eq!(
        reauth,
        "/login/demo-saml?reauth=1&return_to=%2Fadmin%2Fsessions%3Fended%3Dagain"
    );
    assert_eq!(
        get(&app, &bob.client, "/roles").await.status(),
        200,
        "bob stays"
    );
    let back = alice.sign_in(&app, &reauth, "alice").await;
    let html = get(&app, &alice.client, &back).await.text().await.unwrap();
    assert!(html.contains("No session was ended"), "{html}");
    assert!(admin_rows(&app, "sessions.end").await.is_empty());
}

/// A multipart body as a browser sends the dry run form: `(name, filename, bytes)` per part.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----roleportTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/x-yaml\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(
    app: &TestApp,
    b: &Browser,
    parts: &[(&str, Option<&str>, &[u8])],
) -> reqwest::Response {
    let (content_type, body) = multipart(parts);
    b.client
        .post(format!("{}/admin/rules/dry-run", app.address))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn problems(html: &str) -> String {
    let re = regex::Regex::new(r#"(?s)id="problems"[^>]*>(.*?)</div>"#).unwrap();
    re.captures(html)
        .map(|c| html_unescape(&c[1]))
        .unwrap_or_default()
}

#[tokio::test]
async fn the_dry_run_takes_a_file_sent_by_the_form_itself() {
    let app = admin_app(admin_rules()).await;
    let alice = Browser::new();
    alice.sign_in(&app, "/login/demo-saml", "alice").await;
    let token = csrf(&app, &alice.client).await;
    let file = admin_rules().replace("  - id: readonly\n", "  - id: readonly-from-a-file\n");
    assert_ne!(file, admin_rules());

    // A file and an empty text area (no script copied it): the file is the document.
    let resp = post_multipart(
        &app,
        &alice,
        &[
            ("csrf_token", None, token.as_bytes()),
            ("document_file", Some("rules.yaml"), file.as_bytes()),
            ("document", None, b""),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"dry-run\""), "{html}");
    assert!(
        html.contains("readonly-from-a-file"),
        "the file's rule ids: {html}"
    );
    let rows = admin_rows(&app, "rules.dry_run").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["details"]["source"], "file");
    assert_eq!(
        rows[0]["details"]["document_sha256"],
        hex::encode(roleport::db::sha256(file.as_bytes()))
    );
    // Pasted text and no file chosen (an empty file part): the text is the document.
    let resp = post_multipart(
        &app,
        &alice,
        &[
            ("csrf_token", None, token.as_bytes()),
            ("document_file", Some(""), b""),
            ("document", None, admin_rules().as_bytes()),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        admin_rows(&app, "rules.dry_run").await[1]["details"]["source"],
        "pasted"
    );

    // Both, different: refused with words, not guessed; audited as refused.
    let resp = post_multipart(
        &app,
        &alice,
        &[
            ("csrf_token", None, token.as_bytes()),
            ("document_file", Some("rules.yaml"), file.as_bytes()),
            ("document", None, admin_rules().as_bytes()),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(
        problems(&html).contains("Both a file and pasted text"),
        "{html}"
    );
    // A file that is not text.
    let resp = post_multipart(
        &app,
        &alice,
        &[
            ("csrf_token", None, token.as_bytes()),
            (
                "document_file",
                Some("rules.yaml"),
                b"version: 1\n\xff\xfe\n",
            ),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(problems(&resp.text().await.unwrap()).contains("not UTF-8"));
    let refused: Vec<_> = admin_rows(&app, "rules.dry_run")
        .await
        .into_iter()
        .filter(|r| r["outcome"] == "rejected")
        .collect();
    assert_eq!(refused.len(), 2);

    // Larger than 2 MiB: an error page, nothing run.
    let big = vec![b'#'; 2 * 1024 * 1024 + 1];
    let resp = post_multipart(
        &app,
        &alice,
        &[
            ("csrf_token", None, token.as_bytes()),
            ("document_file", Some("big.yaml"), &big),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("larger than 2 MiB"));
    // More parts than the form has.
    let many: Vec<(&str, Option<&str>, &[u8])> = (0..9).map(|_| ("x", None, &b"1"[..])).collect();
    assert_eq!(post_multipart(&app, &alice, &many).await.status(), 400);
    // Without the CSRF token, or with another one: refused before anything is read as rules.
    let resp = post_multipart(
        &app,
        &alice,
        &[("document_file", Some("rules.yaml"), file.as_bytes())],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = post_multipart(
        &app,
        &alice,
        &[
            ("csrf_token", None, b"not-the-token"),
            ("document_file", Some("rules.yaml"), file.as_bytes()),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(admin_rows(&app, "rules.dry_run").await.len(), 4);
}

#[tokio::test]
async fn the_sessions_list_pages_through_every_live_session_once() {
    let app = admin_app(admin_rules()).await;
    let alice = Browser::new();
    alice.sign_in(&app, "/login/demo-saml", "alice").await;
    // 119 more live sessions, 40 of them signed in at the same instant (ties across a page
    // boundary), and 5 expired ones that are not listed.
    let now = app.clock.now();
    for i in 0..124 {
        let at = if i < 40 {
            now - chrono::Duration::minutes(5)
        } else {
            now - chrono::Duration::seconds(i)
        };
        let expires = if i >= 119 {
            now - chrono::Duration::seconds(1)
        } else {
            now + chrono::Duration::hours(1)
        };
        let identity = serde_json::json!({
            "idp": "demo-saml", "subject": format!("person-{i:03}"), "email": null,
            "display_name": null, "groups": [], "attributes": {}
        });
        sqlx::query(
            "INSERT INTO sessions (id_hash, csrf_token, sign_in_reference, identity, created_at, expires_at)
             VALUES ($1, 'c', 'REF', $2, $3, $4)",
        )
        .bind(roleport::db::sha256(format!("session-{i}").as_bytes()))
        .bind(identity)
        .bind(at)
        .bind(expires)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let subjects = regex::Regex::new(r#"<tr class="session" data-subject="([^"]+)">"#).unwrap();
    let older = regex::Regex::new(r#"<a id="older" href="([^"]+)""#).unwrap();
    let mut seen = Vec::new();
    let mut path = "/admin/sessions".to_string();
    let mut pages = 0;
    loop {
        let html = get(&app, &alice.client, &path).await.text().await.unwrap();
        pages += 1;
        assert!(html.contains("120 sessions are live now"), "{html}");
        let on_page: Vec<String> = subjects
            .captures_iter(&html)
            .map(|c| c[1].to_string())
            .collect();
        assert!(on_page.len() <= 50, "{}", on_page.len());
        seen.extend(on_page);
        match older.captures(&html) {
            Some(c) => path = html_unescape(&c[1]),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120, "every live session once");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 120, "no session twice");
    assert!(
        !seen.iter().any(|s| s.as_str() >= "person-119"),
        "expired ones are not listed"
    );
    assert_eq!(seen[0], "alice", "newest sign-in first");

    // A cursor that is not one: a clear 400 page, audited nowhere as a list.
    for bad in ["x", "1.zz", "%27%20OR%201%3D1"] {
        let resp = get(&app, &alice.client, &format!("/admin/sessions?after={bad}")).await;
        assert_eq!(resp.status(), 400, "{bad}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("id=\"reference\""), "{html}");
    }
}
