//! AWS console federation: the `getSigninToken` request, its answer, the `login` URL, and
//! console destinations that never leave the partition's console.

use std::fmt;

use serde::Serialize;
use url::Url;

use super::credentials::{CredentialKind, TemporaryCredentials};
use super::endpoints::{is_plain_http_url, is_region};
use super::error::AwsRuleError;

/// `SessionDuration` bounds on `getSigninToken`.
pub const CONSOLE_SESSION_MIN_SECONDS: u32 = 900;
pub const CONSOLE_SESSION_MAX_SECONDS: u32 = 43_200;
/// A sign-in token must be redeemed within 15 minutes.
pub const SIGNIN_TOKEN_LIFETIME_SECONDS: u32 = 900;
/// The longest federation answer and token accepted.
pub const MAX_SIGNIN_RESPONSE_BYTES: usize = 64 * 1024;
pub const MAX_SIGNIN_TOKEN_CHARS: usize = 16 * 1024;
const MAX_CONSOLE_PATH_CHARS: usize = 1024;

/// The `getSigninToken` request URL. It carries the credentials, so `Debug` shows only the
/// endpoint; take the URL with [`url`](Self::url) when sending it, and never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigninTokenRequest(Url);

impl SigninTokenRequest {
    pub fn url(&self) -> &Url {
        &self.0
    }

    pub fn into_url(self) -> Url {
        self.0
    }
}

impl fmt::Debug for SigninTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut endpoint = self.0.clone();
        endpoint.set_query(None);
        write!(
            f,
            "SigninTokenRequest({endpoint}?Action=getSigninToken&Session=<redacted>)"
        )
    }
}

/// The token from `getSigninToken`: a bearer credential for 15 minutes; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigninToken(String);

impl SigninToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SigninToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigninToken(<redacted, {} chars>)", self.0.len())
    }
}

/// Why a federation endpoint answer was not a sign-in token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigninResponseError {
    #[error("federation answer exceeds {max} bytes")]
    TooLarge { max: usize },
    #[error("federation answer is not a JSON object")]
    NotJsonObject,
    #[error("federation answer has no SigninToken string")]
    MissingToken,
    #[error("SigninToken must be 1-{max} printable ASCII characters")]
    MalformedToken { max: usize },
}

#[derive(Serialize)]
struct SessionJson<'a> {
    #[serde(rename = "sessionId")]
    session_id: &'a str,
    #[serde(rename = "sessionKey")]
    session_key: &'a str,
    #[serde(rename = "sessionToken")]
    session_token: &'a str,
}

/// `<endpoint>?Action=getSigninToken&Session=<url-encoded {"sessionId","sessionKey",
/// "sessionToken"}>[&SessionDuration=N]`. `SessionDuration` (900–43200) is refused unless
/// `kind` allows it (AssumeRole* credentials that are not role-chained).
pub fn signin_token_url(
    endpoint: &Url,
    session: &TemporaryCredentials,
    kind: CredentialKind,
    session_duration: Option<u32>,
) -> Result<SigninTokenRequest, AwsRuleError> {
    check_endpoint("the federation endpoint", endpoint)?;
    let json = serde_json::to_string(&SessionJson {
        session_id: &session.access_key_id,
        session_key: &session.secret_access_key,
        session_token: &session.session_token,
    })
    // Serialising three strings cannot fail; an empty object would be refused by AWS.
    .unwrap_or_default();
    let mut query = format!(
        "Action=getSigninToken&Session={}",
        urlencoding::encode(&json)
    );
    if let Some(seconds) = session_duration {
        if !kind.allows_console_session_duration() {
            return Err(AwsRuleError::ConsoleSessionDurationNotAllowed);
        }
        if !(CONSOLE_SESSION_MIN_SECONDS..=CONSOLE_SESSION_MAX_SECONDS).contains(&seconds) {
            return Err(AwsRuleError::DurationOutOfRange {
                what: "the console SessionDuration",
                seconds,
                min: CONSOLE_SESSION_MIN_SECONDS,
                max: CONSOLE_SESSION_MAX_SECONDS,
            });
        }
        query.push_str(&format!("&SessionDuration={seconds}"));
    }
    let mut url = endpoint.clone();
    url.set_query(Some(&query));
    Ok(SigninTokenRequest(url))
}

/// Reads `{"SigninToken": "..."}` from the federation endpoint's answer.
pub fn parse_signin_token_response(body: &str) -> Result<SigninToken, SigninResponseError> {
    if body.len() > MAX_SIGNIN_RESPONSE_BYTES {
        return Err(SigninResponseError::TooLarge {
            max: MAX_SIGNIN_RESPONSE_BYTES,
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|_| SigninResponseError::NotJsonObject)?;
    let object = value
        .as_object()
        .ok_or(SigninResponseError::NotJsonObject)?;
    let token = object
        .get("SigninToken")
        .and_then(serde_json::Value::as_str)
        .ok_or(SigninResponseError::MissingToken)?;
    let ok = (1..=MAX_SIGNIN_TOKEN_CHARS).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(SigninResponseError::MalformedToken {
            max: MAX_SIGNIN_TOKEN_CHARS,
        });
    }
    Ok(SigninToken(token.to_owned()))
}

/// `<endpoint>?Action=login&Issuer=<enc>&Destination=<enc>&SigninToken=<enc>`. `issuer`
/// (Roleport's own URL, where AWS sends people whose session ended) and `destination` must be
/// absolute http(s) URLs.
pub fn login_url(
    endpoint: &Url,
    issuer: &str,
    destination: &str,
    signin_token: &SigninToken,
) -> Result<Url, AwsRuleError> {
    check_endpoint("the federation endpoint", endpoint)?;
    for (what, value) in [
        ("the login Issuer", issuer),
        ("the login Destination", destination),
    ] {
        let ok = Url::parse(value)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !ok {
            return Err(AwsRuleError::BadEndpoint {
                what,
                got: value.to_owned(),
            });
        }
    }
    let mut url = endpoint.clone();
    url.set_query(Some(&format!(
        "Action=login&Issuer={}&Destination={}&SigninToken={}",
        urlencoding::encode(issuer),
        urlencoding::encode(destination),
        urlencoding::encode(&signin_token.0),
    )));
    Ok(url)
}

/// A page on the partition's console: `<console>`, `<console><service>/home`,
/// `<console><service>/<path>` or `<console><path>`, with `?region=<region>` when given.
/// `service` is `[a-z0-9-]{1,32}`; `region` looks like `us-east-1`/`us-gov-west-1`; `path` is
/// what people copy from the console's address bar after its host: a relative path without
/// `..`, `.`, `//`, `\`, `%`, `:`, whitespace or a leading `/`, then optionally `?query` and
/// `#fragment` (`ec2/home?region=eu-west-1#Instances:`, CloudWatch's `#logsV2:…`). A `region`
/// in the query must look like a region and is overridden by the `region` argument; other query
/// parameters are kept, re-encoded. Nothing in the query or fragment can move the page off the
/// console: the result always has the console's origin and sits under its path.
pub fn console_destination(
    console_base: &Url,
    service: Option<&str>,
    region: Option<&str>,
    path: Option<&str>,
) -> Result<Url, AwsRuleError> {
    check_endpoint("the console URL", console_base)?;
    if let Some(s) = service {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(AwsRuleError::BadConsoleService { got: s.to_owned() });
        }
    }
    if let Some(r) = region
        && !is_region(r)
    {
        return Err(AwsRuleError::BadConsoleRegion { got: r.to_owned() });
    }
    let bad_path = || AwsRuleError::BadConsolePath {
        got: path.unwrap_or_default().to_owned(),
    };
    let (relative, query, fragment) = match path {
        Some(p) => {
            let (relative, query, fragment) = split_console_path(p).ok_or_else(bad_path)?;
            (Some(relative), query, fragment)
        }
        None => (None, Vec::new(), None),
    };
    // The `region` argument (a form field) beats a region in the copied query.
    let mut query_region = None;
    let mut others = Vec::new();
    for (k, v) in query {
        if k == "region" {
            if query_region.is_some() || !is_region(&v) {
                return Err(AwsRuleError::BadConsoleRegion { got: v });
            }
            query_region = Some(v);
        } else {
            others.push((k, v));
        }
    }
    let region = region.or(query_region.as_deref());
    let tail = match (service, relative) {
        (Some(s), Some(p)) => format!("{s}/{p}"),
        (Some(s), None) => format!("{s}/home"),
        (None, Some(p)) => p.to_owned(),
        (None, None) => String::new(),
    };
    let base_path = console_base.path();
    let separator = if base_path.ends_with('/') { "" } else { "/" };
    let full_path = format!("{base_path}{separator}{tail}");
    let mut url = console_base.clone();
    url.set_path(&full_path);
    url.set_query(None);
    if region.is_some() || !others.is_empty() {
        let mut pairs = url.query_pairs_mut();
        if let Some(r) = region {
            pairs.append_pair("region", r);
        }
        for (k, v) in &others {
            pairs.append_pair(k, v);
        }
    }
    url.set_fragment(fragment);
    // Belt and braces: whatever the parts, the destination stays on the console.
    if url.origin() != console_base.origin() || !url.path().starts_with(base_path) {
        return Err(AwsRuleError::BadConsolePath {
            got: path.unwrap_or_default().to_owned(),
        });
    }
    Ok(url)
}

/// A copied console address after the host: the relative path, the query pairs, the fragment.
type ConsolePath<'a> = (&'a str, Vec<(String, String)>, Option<&'a str>);

/// Splits `path?query#fragment` and checks each part; `None` if any is not allowed. Query
/// parameter names are `[A-Za-z0-9_.-]{1,64}`; the fragment is visible ASCII without a second `#`.
fn split_console_path(p: &str) -> Option<ConsolePath<'_>> {
    if p.len() > MAX_CONSOLE_PATH_CHARS {
        return None;
    }
    let (before_fragment, fragment) = match p.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (p, None),
    };
    let (relative, query) = match before_fragment.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (before_fragment, None),
    };
    let path_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@/".contains(&b);
    let relative_ok = !relative.is_empty()
        && !relative.starts_with('/')
        && !relative.contains("//")
        && relative.bytes().all(path_char)
        && relative.split('/').all(|seg| seg != ".." && seg != ".");
    let fragment_ok = fragment.is_none_or(|f| f.bytes().all(|b| b.is_ascii_graphic() && b != b'#'));
    if !(relative_ok && fragment_ok) {
        return None;
    }
    let query = match query {
        None => Vec::new(),
        Some(q) => {
            if !q.bytes().all(|b| b.is_ascii_graphic()) {
                return None;
            }
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let name_ok = |k: &str| {
                (1..=64).contains(&k.len())
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            };
            if !pairs.iter().all(|(k, _)| name_ok(k)) {
                return None;
            }
            pairs
        }
    };
    Some((relative, query, fragment))
}

fn check_endpoint(what: &'static str, url: &Url) -> Result<(), AwsRuleError> {
    if !is_plain_http_url(url) {
        return Err(AwsRuleError::BadEndpoint {
            what,
            got: url.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono::Utc;
    use proptest::prelude::*;

    fn creds() -> TemporaryCredentials {
        TemporaryCredentials {
            access_key_id: "ASIAEXAMPLE123".into(),
            secret_access_key: "wJalr/K7MDENG+bPxRfi=".into(),
            session_token: "FwoGZX&Iv?b=c/d+e".into(),
            expiration: Utc
                .with_ymd_and_hms(2030, 1, 2, 3, 4, 5)
                .single()
                .unwrap_or_default(),
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn query_pairs(u: &Url) -> Vec<(String, String)> {
        u.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn signin_token_url_shape() {
        let endpoint = url("https://signin.aws.amazon.com/federation");
        let req = signin_token_url(
            &endpoint,
            &creds(),
            CredentialKind::AssumeRoleWithSaml,
            None,
        );
        let Ok(req) = req else { panic!("{req:?}") };
        let u = req.url();
        assert_eq!(u.origin(), endpoint.origin());
        assert_eq!(u.path(), "/federation");
        let pairs = query_pairs(u);
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0], ("Action".into(), "getSigninToken".into()));
        assert_eq!(pairs[1].0, "Session");
        let session: serde_json::Value = serde_json::from_str(&pairs[1].1).unwrap();
        assert_eq!(
            session,
            serde_json::json!({
                "sessionId": "ASIAEXAMPLE123",
                "sessionKey": "wJalr/K7MDENG+bPxRfi=",
                "sessionToken": "FwoGZX&Iv?b=c/d+e",
            })
        );
        // Every reserved character is percent-encoded, so `&`, `+`, `=` survive.
        let raw = u.query().unwrap_or_default();
        assert!(raw.starts_with("Action=getSigninToken&Session=%7B%22sessionId%22%3A%22"));
        assert!(!raw.contains('+') && !raw.contains('"'));
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("wJalr") && !shown.contains("FwoGZX") && shown.contains("<redacted>")
        );
    }

    #[test]
    fn session_duration_table() {
        let endpoint = url("http://127.0.0.1:9000/federation");
        use CredentialKind as K;
        let table = [
            (K::AssumeRoleWithSaml, Some(3600), Ok(Some("3600"))),
            (K::AssumeRoleWithWebIdentity, Some(900), Ok(Some("900"))),
            (
                K::AssumeRole { chained: false },
                Some(43_200),
                Ok(Some("43200")),
            ),
            (K::AssumeRole { chained: false }, None, Ok(None)),
            (K::FederationToken, None, Ok(None)),
            (K::AssumeRole { chained: true }, None, Ok(None)),
            (
                K::AssumeRole { chained: true },
                Some(3600),
                Err(AwsRuleError::ConsoleSessionDurationNotAllowed),
            ),
            (
                K::FederationToken,
                Some(3600),
                Err(AwsRuleError::ConsoleSessionDurationNotAllowed),
            ),
            (
                K::AssumeRoleWithSaml,
                Some(899),
                Err(AwsRuleError::DurationOutOfRange {
                    what: "the console SessionDuration",
                    seconds: 899,
                    min: 900,
                    max: 43_200,
                }),
            ),
            (
                K::AssumeRoleWithSaml,
                Some(43_201),
                Err(AwsRuleError::DurationOutOfRange {
                    what: "the console SessionDuration",
                    seconds: 43_201,
                    min: 900,
                    max: 43_200,
                }),
            ),
        ];
        for (kind, duration, want) in table {
            let got = signin_token_url(&endpoint, &creds(), kind, duration).map(|r| {
                query_pairs(r.url())
                    .into_iter()
                    .find(|(k, _)| k == "SessionDuration")
                    .map(|(_, v)| v)
            });
            let want = want.map(|w| w.map(str::to_owned));
            assert_eq!(got, want, "{kind:?} {duration:?}");
        }
    }

    #[test]
    fn endpoints_with_query_are_refused() {
        let bad = url("https://signin.aws.amazon.com/federation?x=1");
        assert!(matches!(
            signin_token_url(&bad, &creds(), CredentialKind::AssumeRoleWithSaml, None),
            Err(AwsRuleError::BadEndpoint { .. })
        ));
    }

    #[test]
    fn signin_token_answers() {
        let ok = parse_signin_token_response(r#"{"SigninToken":"abc-DEF_123"}"#);
        assert_eq!(ok.as_ref().map(SigninToken::expose), Ok("abc-DEF_123"));
        assert!(!format!("{:?}", ok).contains("abc"));
        let big = format!(
            r#"{{"SigninToken":"{}"}}"#,
            "a".repeat(MAX_SIGNIN_RESPONSE_BYTES)
        );
        let table = [
            ("", SigninResponseError::NotJsonObject),
            ("<html>500</html>", SigninResponseError::NotJsonObject),
            ("[1]", SigninResponseError::NotJsonObject),
            ("{}", SigninResponseError::MissingToken),
            (r#"{"SigninToken":5}"#, SigninResponseError::MissingToken),
            (
                r#"{"SigninToken":""}"#,
                SigninResponseError::MalformedToken {
                    max: MAX_SIGNIN_TOKEN_CHARS,
                },
            ),
            (
                r#"{"SigninToken":"a b"}"#,
                SigninResponseError::MalformedToken {
                    max: MAX_SIGNIN_TOKEN_CHARS,
                },
            ),
            (
                r#"{"SigninToken":"a\nb"}"#,
                SigninResponseError::MalformedToken {
                    max: MAX_SIGNIN_TOKEN_CHARS,
                },
            ),
            (
                big.as_str(),
                SigninResponseError::TooLarge {
                    max: MAX_SIGNIN_RESPONSE_BYTES,
                },
            ),
        ];
        for (body, want) in table {
            assert_eq!(parse_signin_token_response(body), Err(want), "{body:.40}");
        }
    }

    #[test]
    fn login_url_shape() {
        let endpoint = url("https://signin.aws.amazon.com/federation");
        let token = parse_signin_token_response(r#"{"SigninToken":"tok+en/=="}"#).unwrap();
        let u = login_url(
            &endpoint,
            "https://roleport.example.org/",
            "https://console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:",
            &token,
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://signin.aws.amazon.com/federation?Action=login\
             &Issuer=https%3A%2F%2Froleport.example.org%2F\
             &Destination=https%3A%2F%2Fconsole.aws.amazon.com%2Fec2%2Fhome%3Fregion%3Deu-west-1%23Instances%3A\
             &SigninToken=tok%2Ben%2F%3D%3D"
        );
        for (issuer, destination) in [
            ("not a url", "https://console.aws.amazon.com/"),
            ("https://roleport.example.org/", "javascript:alert(1)"),
            ("https://roleport.example.org/", "/relative"),
        ] {
            assert!(matches!(
                login_url(&endpoint, issuer, destination, &token),
                Err(AwsRuleError::BadEndpoint { .. })
            ));
        }
    }

    #[test]
    fn console_destination_table() {
        let aws = url("https://console.aws.amazon.com/");
        let local = url("http://127.0.0.1:8443/console");
        let ok = [
            (&aws, None, None, None, "https://console.aws.amazon.com/"),
            (
                &aws,
                Some("ec2"),
                None,
                None,
                "https://console.aws.amazon.com/ec2/home",
            ),
            (
                &aws,
                Some("s3"),
                Some("eu-west-1"),
                None,
                "https://console.aws.amazon.com/s3/home?region=eu-west-1",
            ),
            (
                &aws,
                Some("ec2"),
                Some("us-east-1"),
                Some("v2/home#Instances:"),
                "https://console.aws.amazon.com/ec2/v2/home?region=us-east-1#Instances:",
            ),
            (
                &aws,
                None,
                Some("us-gov-west-1"),
                Some("iam/home#/roles"),
                "https://console.aws.amazon.com/iam/home?region=us-gov-west-1#/roles",
            ),
            (
                &aws,
                None,
                None,
                Some("cloudwatch/home"),
                "https://console.aws.amazon.com/cloudwatch/home",
            ),
            (
                &local,
                Some("ec2"),
                None,
                None,
                "http://127.0.0.1:8443/console/ec2/home",
            ),
            // What people copy from the console's address bar.
            (
                &aws,
                None,
                None,
                Some("ec2/home?region=eu-west-1#Instances:"),
                "https://console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:",
            ),
            (
                &aws,
                None,
                Some("us-east-2"),
                Some("ec2/home?region=eu-west-1#Instances:"),
                "https://console.aws.amazon.com/ec2/home?region=us-east-2#Instances:",
            ),
            (
                &aws,
                None,
                None,
                Some(
                    "cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Ffn",
                ),
                "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Ffn",
            ),
            (
                &aws,
                None,
                None,
                Some("s3/buckets/my-bucket?region=eu-west-1&tab=objects&prefix=logs/"),
                "https://console.aws.amazon.com/s3/buckets/my-bucket?region=eu-west-1&tab=objects&prefix=logs%2F",
            ),
        ];
        for (base, service, region, path, want) in ok {
            assert_eq!(
                console_destination(base, service, region, path)
                    .map(String::from)
                    .as_deref(),
                Ok(want),
                "{service:?} {region:?} {path:?}"
            );
        }
    }

    #[test]
    fn console_destination_refusals() {
        let aws = url("https://console.aws.amazon.com/");
        let long = "a".repeat(33);
        let bad_services = ["", "EC2", "ec2/..", long.as_str(), "s3?x", "e c2"];
        for s in bad_services {
            assert!(
                matches!(
                    console_destination(&aws, Some(s), None, None),
                    Err(AwsRuleError::BadConsoleService { .. })
                ),
                "{s}"
            );
        }
        for r in [
            "us-east",
            "US-EAST-1",
            "us-east-1/",
            "../x",
            "us-east-1&x=y",
        ] {
            assert!(
                matches!(
                    console_destination(&aws, None, Some(r), None),
                    Err(AwsRuleError::BadConsoleRegion { .. })
                ),
                "{r}"
            );
        }
        for q in [
            "ec2/home?region=nowhere",
            "ec2/home?region=us-east-1&region=eu-west-1",
        ] {
            assert!(
                matches!(
                    console_destination(&aws, None, None, Some(q)),
                    Err(AwsRuleError::BadConsoleRegion { .. })
                ),
                "{q:?}"
            );
        }
        for p in [
            "",
            "/ec2",
            "//evil.com/x",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "https://evil.com",
            "evil.com:443/x",
            "a\\b",
            "%2e%2e/x",
            "a b",
            "a?b c=1",
            "a?=1",
            "a\n",
            "ec2/home#x y",
            "x#a#b",
            "#frag",
        ] {
            assert!(
                matches!(
                    console_destination(&aws, Some("ec2"), None, Some(p)),
                    Err(AwsRuleError::BadConsolePath { .. })
                ),
                "{p:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn destination_never_leaves_the_console(
            service in proptest::option::of(".{0,40}"),
            region in proptest::option::of(".{0,20}"),
            path in proptest::option::of("[a-z./:#?%@\\\\ -]{0,40}"),
        ) {
            let bases = [url("https://console.aws.amazon.com/"), url("https://console.amazonaws.cn/"), url("http://127.0.0.1:1/c/")];
            for base in bases {
                if let Ok(u) = console_destination(&base, service.as_deref(), region.as_deref(), path.as_deref()) {
                    prop_assert_eq!(u.origin(), base.origin());
                    prop_assert!(u.path().starts_with(base.path()));
                    prop_assert!(!u.path().contains("/../") && !u.path().contains("//"));
                }
            }
        }
    }
}
