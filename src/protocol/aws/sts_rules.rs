//! Pure checks for STS inputs that moto does not enforce: web identity tokens
//! (AssumeRoleWithWebIdentity) and GetFederationToken session policies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::AwsRuleError;
use super::names::is_name_char;
use crate::protocol::mapping::{Partition, is_account_id};

/// AssumeRoleWithWebIdentity's limit on the token.
pub const MAX_WEB_IDENTITY_TOKEN_CHARS: usize = 20_000;
/// Plaintext limit for the session policies (inline JSON plus managed ARNs) of
/// GetFederationToken.
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;
/// At most this many managed session policy ARNs.
pub const MAX_MANAGED_POLICY_ARNS: usize = 10;

/// The signature algorithms AssumeRoleWithWebIdentity accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    Rs256,
    Rs384,
    Rs512,
    Es256,
    Es384,
    Es512,
}

impl JwtAlgorithm {
    pub fn from_name(alg: &str) -> Option<Self> {
        Some(match alg {
            "RS256" => JwtAlgorithm::Rs256,
            "RS384" => JwtAlgorithm::Rs384,
            "RS512" => JwtAlgorithm::Rs512,
            "ES256" => JwtAlgorithm::Es256,
            "ES384" => JwtAlgorithm::Es384,
            "ES512" => JwtAlgorithm::Es512,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Rs384 => "RS384",
            JwtAlgorithm::Rs512 => "RS512",
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::Es384 => "ES384",
            JwtAlgorithm::Es512 => "ES512",
        }
    }
}

/// Checks the shape AWS requires of a web identity token before it is sent: at most 20000
/// characters, a compact JWS `header.payload.signature` in base64url, and a header `alg`
/// among RS256/384/512, ES256/384/512. Does not verify the signature.
pub fn check_web_identity_token(token: &str) -> Result<JwtAlgorithm, AwsRuleError> {
    if token.len() > MAX_WEB_IDENTITY_TOKEN_CHARS {
        return Err(AwsRuleError::WebIdentityTokenTooLong {
            len: token.chars().count(),
            max: MAX_WEB_IDENTITY_TOKEN_CHARS,
        });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AwsRuleError::WebIdentityTokenMalformed);
    };
    let b64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(b64url(header) && b64url(payload) && b64url(signature)) {
        return Err(AwsRuleError::WebIdentityTokenMalformed);
    }
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AwsRuleError::WebIdentityTokenMalformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| AwsRuleError::WebIdentityTokenMalformed)?;
    let alg = header
        .as_object()
        .and_then(|h| h.get("alg"))
        .and_then(serde_json::Value::as_str)
        .ok_or(AwsRuleError::WebIdentityTokenMalformed)?;
    JwtAlgorithm::from_name(alg).ok_or_else(|| AwsRuleError::WebIdentityTokenAlgorithm {
        alg: alg.to_owned(),
    })
}

/// Checks the session policies of a GetFederationToken call and returns the inline policy
/// packed (whitespace removed), ready to send. At least one policy is required (without one
/// the credentials have no permissions); the inline policy must be a JSON object; at most 10
/// managed ARNs, each `arn:<partition>:iam::(aws|<account>):policy/[path/]name`; inline
/// (packed) plus ARNs at most 2048 characters.
pub fn check_federation_policies(
    partition: Partition,
    inline_policy: Option<&str>,
    managed_policy_arns: &[String],
) -> Result<Option<String>, AwsRuleError> {
    if inline_policy.is_none() && managed_policy_arns.is_empty() {
        return Err(AwsRuleError::FederationPolicyMissing);
    }
    let packed = inline_policy.map(pack_inline_policy).transpose()?;
    check_policy_arns(partition, managed_policy_arns)?;
    let len = packed.as_ref().map_or(0, |p| p.chars().count())
        + managed_policy_arns
            .iter()
            .map(|a| a.chars().count())
            .sum::<usize>();
    if len > MAX_SESSION_POLICY_CHARS {
        return Err(AwsRuleError::PolicyTooLong {
            len,
            max: MAX_SESSION_POLICY_CHARS,
        });
    }
    Ok(packed)
}

/// Parses an inline session policy as a JSON object and packs it (no insignificant
/// whitespace); refuses it when it is longer than 2048 characters packed.
pub fn pack_inline_policy(policy: &str) -> Result<String, AwsRuleError> {
    let value: serde_json::Value =
        serde_json::from_str(policy).map_err(|_| AwsRuleError::PolicyNotJsonObject)?;
    if !value.is_object() {
        return Err(AwsRuleError::PolicyNotJsonObject);
    }
    let packed = value.to_string();
    let len = packed.chars().count();
    if len > MAX_SESSION_POLICY_CHARS {
        return Err(AwsRuleError::PolicyTooLong {
            len,
            max: MAX_SESSION_POLICY_CHARS,
        });
    }
    Ok(packed)
}

/// At most 10 ARNs, each `arn:<partition>:iam::(aws|\d{12}):policy/[path/]name` with a name
/// of 1–128 `[\w+=,.@-]` and path segments of printable ASCII.
pub fn check_policy_arns(partition: Partition, arns: &[String]) -> Result<(), AwsRuleError> {
    if arns.len() > MAX_MANAGED_POLICY_ARNS {
        return Err(AwsRuleError::TooManyPolicyArns {
            count: arns.len(),
            max: MAX_MANAGED_POLICY_ARNS,
        });
    }
    for arn in arns {
        if !is_policy_arn(partition, arn) {
            return Err(AwsRuleError::BadPolicyArn {
                arn: arn.clone(),
                partition: partition.as_str().to_owned(),
            });
        }
    }
    Ok(())
}

fn is_policy_arn(partition: Partition, arn: &str) -> bool {
    let Some(crate::protocol::arn::IamArn {
        partition: p,
        account,
        resource,
    }) = crate::protocol::arn::IamArn::split(arn)
    else {
        return false;
    };
    if p != partition.as_str() || !(account == "aws" || is_account_id(account)) {
        return false;
    }
    let Some(rest) = resource.strip_prefix("policy/") else {
        return false;
    };
    let (path, name) = match rest.rfind('/') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i + 1..).unwrap_or_default(),
        ),
        None => ("", rest),
    };
    let path_ok = path.len() <= 512
        && (path.is_empty()
            || path
                .split('/')
                .all(|s| !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))));
    let name_ok = (1..=128).contains(&name.len()) && name.chars().all(is_name_char);
    path_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    fn jwt(header: &str) -> String {
        format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(r#"{"sub":"alice"}"#),
            B64.encode("sig")
        )
    }

    #[test]
    fn web_identity_tokens_table() {
        for alg in ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"] {
            let t = jwt(&format!(r#"{{"alg":"{alg}","kid":"k1","typ":"JWT"}}"#));
            assert_eq!(
                check_web_identity_token(&t).map(JwtAlgorithm::as_str),
                Ok(alg)
            );
        }
        for alg in ["HS256", "none", "PS256", "EdDSA", "rs256"] {
            let t = jwt(&format!(r#"{{"alg":"{alg}"}}"#));
            assert_eq!(
                check_web_identity_token(&t),
                Err(AwsRuleError::WebIdentityTokenAlgorithm { alg: alg.into() })
            );
        }
        let malformed = [
            String::new(),
            "a.b".into(),
            "a.b.c.d.e".into(),
            format!("{}.", jwt(r#"{"alg":"RS256"}"#)),
            jwt("not json"),
            jwt(r#"["RS256"]"#),
            jwt(r#"{"alg":256}"#),
            jwt(r#"{"typ":"JWT"}"#),
            format!("{}=", jwt(r#"{"alg":"RS256"}"#)),
            "e30.e30.".into(),
        ];
        for t in malformed {
            assert_eq!(
                check_web_identity_token(&t),
                Err(AwsRuleError::WebIdentityTokenMalformed),
                "{t}"
            );
        }
    }

    #[test]
    fn web_identity_token_length_limit() {
        let base = jwt(r#"{"alg":"RS256"}"#);
        let at_limit = format!(
            "{base}{}",
            "A".repeat(MAX_WEB_IDENTITY_TOKEN_CHARS - base.len())
        );
        assert!(check_web_identity_token(&at_limit).is_ok());
        let over = format!("{at_limit}A");
        assert_eq!(
            check_web_identity_token(&over),
            Err(AwsRuleError::WebIdentityTokenTooLong {
                len: 20_001,
                max: 20_000
            })
        );
    }

    #[test]
    fn inline_policies_table() {
        let policy = r#"{ "Version": "2012-10-17",
            "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ] }"#;
        let packed = pack_inline_policy(policy);
        assert!(
            packed
                .as_ref()
                .is_ok_and(|p| !p.contains(' ') && !p.contains('\n'))
        );
        for bad in ["", "[]", "\"x\"", "{", "null", "{\"a\":1} x"] {
            assert_eq!(
                pack_inline_policy(bad),
                Err(AwsRuleError::PolicyNotJsonObject),
                "{bad}"
            );
        }
        // 2048 packed characters are fine even when the pretty form is longer.
        let filler = "x".repeat(2048 - r#"{"a":""}"#.len());
        let at_limit = format!("{{\n    \"a\" :   \"{filler}\"\n}}");
        assert!(at_limit.len() > 2048);
        assert_eq!(pack_inline_policy(&at_limit).map(|p| p.len()), Ok(2048));
        let over = format!(r#"{{"a":"{filler}x"}}"#);
        assert_eq!(
            pack_inline_policy(&over),
            Err(AwsRuleError::PolicyTooLong {
                len: 2049,
                max: 2048
            })
        );
    }

    #[test]
    fn policy_arns_table() {
        let table = [
            (
                Partition::Aws,
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                true,
            ),
            (
                Partition::Aws,
                "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
                true,
            ),
            (
                Partition::Aws,
                "arn:aws:iam::123456789012:policy/team/a/DevPolicy",
                true,
            ),
            (
                Partition::AwsCn,
                "arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
                true,
            ),
            (
                Partition::AwsUsGov,
                "arn:aws-us-gov:iam::123456789012:policy/x",
                true,
            ),
            (
                Partition::Aws,
                "arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
                false,
            ),
            (Partition::Aws, "arn:aws:iam::12345678901:policy/x", false),
            (Partition::Aws, "arn:aws:iam::amazon:policy/x", false),
            (Partition::Aws, "arn:aws:iam:us-east-1:aws:policy/x", false),
            (Partition::Aws, "arn:aws:iam::aws:role/x", false),
            (Partition::Aws, "arn:aws:iam::aws:policy/", false),
            (Partition::Aws, "arn:aws:iam::aws:policy/a//b", false),
            (Partition::Aws, "arn:aws:iam::aws:policy/a b", false),
            (Partition::Aws, "arn:aws:s3:::bucket", false),
            (Partition::Aws, "ReadOnlyAccess", false),
        ];
        for (p, arn, want) in table {
            assert_eq!(
                check_policy_arns(p, &[arn.to_owned()]).is_ok(),
                want,
                "{arn}"
            );
        }
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("arn:aws:iam::aws:policy/P{i}"))
            .collect();
        assert_eq!(
            check_policy_arns(Partition::Aws, &eleven),
            Err(AwsRuleError::TooManyPolicyArns { count: 11, max: 10 })
        );
        assert!(check_policy_arns(Partition::Aws, &eleven[..10]).is_ok());
    }

    #[test]
    fn federation_policies_combined() {
        assert_eq!(
            check_federation_policies(Partition::Aws, None, &[]),
            Err(AwsRuleError::FederationPolicyMissing)
        );
        let arns = vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned()];
        assert_eq!(
            check_federation_policies(Partition::Aws, None, &arns),
            Ok(None)
        );
        assert_eq!(
            check_federation_policies(Partition::Aws, Some(r#"{ "Version" : "2012-10-17" }"#), &[]),
            Ok(Some(r#"{"Version":"2012-10-17"}"#.to_owned()))
        );
        // Inline alone fits, but inline plus the ARN does not.
        let filler = "x".repeat(2048 - r#"{"a":""}"#.len());
        let inline = format!(r#"{{"a":"{filler}"}}"#);
        assert!(matches!(
            check_federation_policies(Partition::Aws, Some(&inline), &arns),
            Err(AwsRuleError::PolicyTooLong { max: 2048, .. })
        ));
    }
}
