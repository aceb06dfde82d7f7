//! Where AWS lives, per partition: SAML Recipient and Audience, the console federation
//! endpoint, the console, STS. Every URL can be overridden (tests point them at loopback);
//! the SAML Audience cannot, because AWS fixes it per partition.

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::AwsRuleError;
use crate::protocol::mapping::Partition;

/// The endpoints and identifiers of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEndpoints {
    pub partition: Partition,
    /// SubjectConfirmationData Recipient and Response Destination (the AWS SAML ACS).
    #[serde(with = "url_text")]
    pub saml_recipient: Url,
    /// The one Audience AWS accepts in this partition.
    pub saml_audience: String,
    /// Console federation endpoint (`getSigninToken`, `login`).
    #[serde(with = "url_text")]
    pub federation: Url,
    /// Console base URL; console destinations never leave its origin.
    #[serde(with = "url_text")]
    pub console: Url,
    #[serde(with = "url_text")]
    pub sts: Url,
    /// The region STS requests are SigV4-signed for.
    pub sts_signing_region: String,
    /// IAM (global per partition), for `roleport aws register` and the key rotation's push.
    #[serde(with = "url_text")]
    pub iam: Url,
}

/// Configured replacements for a partition's defaults; `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointOverrides {
    #[serde(default, with = "opt_url_text")]
    pub saml_recipient: Option<Url>,
    #[serde(default, with = "opt_url_text")]
    pub federation: Option<Url>,
    #[serde(default, with = "opt_url_text")]
    pub console: Option<Url>,
    #[serde(default, with = "opt_url_text")]
    pub sts: Option<Url>,
    #[serde(default)]
    pub sts_signing_region: Option<String>,
    #[serde(default, with = "opt_url_text")]
    pub iam: Option<Url>,
}

/// `Url` as its text (the url crate's own serde support is not enabled).
mod url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(url.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = String::deserialize(d)?;
        Url::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `Option<Url>` as optional text.
mod opt_url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(url: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
        match url {
            Some(url) => s.serialize_some(url.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| Url::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Per-partition constants: (recipient, audience, federation, console, sts, region).
fn constants(partition: Partition) -> [&'static str; 6] {
    match partition {
        Partition::Aws => [
            "https://signin.aws.amazon.com/saml",
            "urn:amazon:webservices",
            "https://signin.aws.amazon.com/federation",
            "https://console.aws.amazon.com/",
            "https://sts.amazonaws.com",
            "us-east-1",
        ],
        Partition::AwsCn => [
            "https://signin.amazonaws.cn/saml",
            "urn:amazon:webservices:cn-north-1",
            "https://signin.amazonaws.cn/federation",
            "https://console.amazonaws.cn/",
            "https://sts.cn-north-1.amazonaws.com.cn",
            "cn-north-1",
        ],
        Partition::AwsUsGov => [
            "https://signin.amazonaws-us-gov.com/saml",
            "urn:amazon:webservices:govcloud",
            "https://signin.amazonaws-us-gov.com/federation",
            "https://console.amazonaws-us-gov.com/",
            "https://sts.us-gov-west-1.amazonaws.com",
            "us-gov-west-1",
        ],
    }
}

/// IAM's one endpoint per partition.
fn iam_url(partition: Partition) -> &'static str {
    match partition {
        Partition::Aws => "https://iam.amazonaws.com",
        Partition::AwsCn => "https://iam.cn-north-1.amazonaws.com.cn",
        Partition::AwsUsGov => "https://iam.us-gov.amazonaws.com",
    }
}

/// The region IAM requests are SigV4-signed for.
pub fn iam_signing_region(partition: Partition) -> &'static str {
    match partition {
        Partition::Aws => "us-east-1",
        Partition::AwsCn => "cn-north-1",
        Partition::AwsUsGov => "us-gov-west-1",
    }
}

/// Parses one of the constants above. They are all absolute https URLs (a test checks it);
/// the `about:blank` fallback only keeps this free of `expect`, and [`PartitionEndpoints::validate`]
/// would refuse it.
fn constant_url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|_| constant_url("about:blank"))
}

impl PartitionEndpoints {
    /// AWS's public endpoints for `partition`.
    pub fn defaults(partition: Partition) -> Self {
        let [recipient, audience, federation, console, sts, region] = constants(partition);
        PartitionEndpoints {
            partition,
            saml_recipient: constant_url(recipient),
            saml_audience: audience.to_owned(),
            federation: constant_url(federation),
            console: constant_url(console),
            sts: constant_url(sts),
            sts_signing_region: region.to_owned(),
            iam: constant_url(iam_url(partition)),
        }
    }

    /// The defaults of `partition` with `overrides` applied and checked.
    pub fn with_overrides(
        partition: Partition,
        overrides: &EndpointOverrides,
    ) -> Result<Self, AwsRuleError> {
        Self::defaults(partition).merge(overrides)
    }

    /// Replaces each field that `overrides` sets, then [`validate`](Self::validate)s.
    pub fn merge(mut self, overrides: &EndpointOverrides) -> Result<Self, AwsRuleError> {
        let EndpointOverrides {
            saml_recipient,
            federation,
            console,
            sts,
            sts_signing_region,
            iam,
        } = overrides;
        if let Some(v) = iam {
            self.iam = v.clone();
        }
        if let Some(v) = saml_recipient {
            self.saml_recipient = v.clone();
        }
        if let Some(v) = federation {
            self.federation = v.clone();
        }
        if let Some(v) = console {
            self.console = v.clone();
        }
        if let Some(v) = sts {
            self.sts = v.clone();
        }
        if let Some(v) = sts_signing_region {
            self.sts_signing_region = v.clone();
        }
        self.validate()?;
        Ok(self)
    }

    /// Every URL is http(s) with a host and no query or fragment (queries are built on top
    /// of them), the audience is the partition's, the signing region is not empty.
    pub fn validate(&self) -> Result<(), AwsRuleError> {
        for (what, url) in [
            ("the SAML Recipient", &self.saml_recipient),
            ("the federation endpoint", &self.federation),
            ("the console URL", &self.console),
            ("the STS endpoint", &self.sts),
            ("the IAM endpoint", &self.iam),
        ] {
            if !is_plain_http_url(url) {
                return Err(AwsRuleError::BadEndpoint {
                    what,
                    got: url.to_string(),
                });
            }
        }
        let expected = saml_audience(self.partition);
        if self.saml_audience != expected {
            return Err(AwsRuleError::WrongAudience {
                expected: expected.to_owned(),
                got: self.saml_audience.clone(),
            });
        }
        let region_ok = !self.sts_signing_region.is_empty()
            && self.sts_signing_region.len() <= 32
            && self
                .sts_signing_region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(AwsRuleError::BadEndpoint {
                what: "the STS signing region",
                got: self.sts_signing_region.clone(),
            });
        }
        Ok(())
    }

    /// Whether `recipient` may stand as SubjectConfirmationData Recipient (and Response
    /// Destination) here: the configured recipient, or one AWS accepts for the partition.
    pub fn is_valid_recipient(&self, recipient: &str) -> bool {
        recipient == self.saml_recipient.as_str()
            || is_aws_saml_recipient(self.partition, recipient)
    }
}

/// The SAML Audience AWS requires in `partition`.
pub fn saml_audience(partition: Partition) -> &'static str {
    let [_, audience, ..] = constants(partition);
    audience
}

/// Whether AWS itself accepts `recipient` in `partition`: the partition's sign-in SAML
/// endpoint, or (commercial partition) a regional `https://<region>.signin.aws.amazon.com/saml`.
/// Exact string comparison, as AWS does.
pub fn is_aws_saml_recipient(partition: Partition, recipient: &str) -> bool {
    let [default, ..] = constants(partition);
    if recipient == default {
        return true;
    }
    match partition {
        Partition::Aws => recipient
            .strip_prefix("https://")
            .and_then(|r| r.strip_suffix(".signin.aws.amazon.com/saml"))
            .is_some_and(is_region),
        Partition::AwsCn | Partition::AwsUsGov => false,
    }
}

/// `[a-z]{2}(-gov)?-[a-z]+-\d` (e.g. `us-east-1`, `eu-central-2`, `us-gov-west-1`).
pub fn is_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let (Some(country), Some(mut direction), Some(mut number)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if direction == "gov" {
        let Some(n) = parts.next() else { return false };
        direction = number;
        number = n;
    }
    parts.next().is_none()
        && country.len() == 2
        && country.bytes().all(|b| b.is_ascii_lowercase())
        && !direction.is_empty()
        && direction.bytes().all(|b| b.is_ascii_lowercase())
        && number.len() == 1
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// http or https, with a host, no credentials, no query, no fragment.
pub(crate) fn is_plain_http_url(url: &Url) -> bool {
    matches!(url.scheme(), "https" | "http")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_partition() {
        let table = [
            (
                Partition::Aws,
                "https://signin.aws.amazon.com/saml",
                "urn:amazon:webservices",
                "https://signin.aws.amazon.com/federation",
                "https://console.aws.amazon.com/",
                "https://sts.amazonaws.com/",
                "us-east-1",
            ),
            (
                Partition::AwsCn,
                "https://signin.amazonaws.cn/saml",
                "urn:amazon:webservices:cn-north-1",
                "https://signin.amazonaws.cn/federation",
                "https://console.amazonaws.cn/",
                "https://sts.cn-north-1.amazonaws.com.cn/",
                "cn-north-1",
            ),
            (
                Partition::AwsUsGov,
                "https://signin.amazonaws-us-gov.com/saml",
                "urn:amazon:webservices:govcloud",
                "https://signin.amazonaws-us-gov.com/federation",
                "https://console.amazonaws-us-gov.com/",
                "https://sts.us-gov-west-1.amazonaws.com/",
                "us-gov-west-1",
            ),
        ];
        for (p, recipient, audience, federation, console, sts, region) in table {
            let e = PartitionEndpoints::defaults(p);
            assert_eq!(e.partition, p);
            assert_eq!(e.saml_recipient.as_str(), recipient);
            assert_eq!(e.saml_audience, audience);
            assert_eq!(saml_audience(p), audience);
            assert_eq!(e.federation.as_str(), federation);
            assert_eq!(e.console.as_str(), console);
            assert_eq!(e.sts.as_str(), sts);
            assert_eq!(e.sts_signing_region, region);
            assert_eq!(e.validate(), Ok(()));
            assert!(e.is_valid_recipient(recipient));
            assert!(is_aws_saml_recipient(p, recipient));
        }
    }

    fn loopback(path: &str) -> Option<Url> {
        Url::parse(&format!("http://127.0.0.1:18080{path}")).ok()
    }

    #[test]
    fn every_endpoint_can_point_at_loopback() {
        let overrides = EndpointOverrides {
            saml_recipient: loopback("/saml"),
            federation: loopback("/federation"),
            console: loopback("/console/"),
            sts: loopback("/"),
            sts_signing_region: Some("us-west-2".into()),
            iam: loopback("/iam"),
        };
        for p in Partition::ALL {
            let e = PartitionEndpoints::with_overrides(p, &overrides);
            let Ok(e) = e else { panic!("{e:?}") };
            assert_eq!(e.saml_recipient.as_str(), "http://127.0.0.1:18080/saml");
            assert_eq!(e.federation.as_str(), "http://127.0.0.1:18080/federation");
            assert_eq!(e.console.as_str(), "http://127.0.0.1:18080/console/");
            assert_eq!(e.sts.as_str(), "http://127.0.0.1:18080/");
            assert_eq!(e.sts_signing_region, "us-west-2");
            assert_eq!(
                e.saml_audience,
                saml_audience(p),
                "audience is never overridden"
            );
            assert!(e.is_valid_recipient("http://127.0.0.1:18080/saml"));
            assert!(!is_aws_saml_recipient(p, "http://127.0.0.1:18080/saml"));
        }
    }

    #[test]
    fn partial_override_keeps_other_defaults() {
        let o = EndpointOverrides {
            sts: loopback("/sts"),
            ..Default::default()
        };
        let e = PartitionEndpoints::with_overrides(Partition::AwsCn, &o);
        assert_eq!(
            e.as_ref().map(|e| e.sts.as_str()),
            Ok("http://127.0.0.1:18080/sts")
        );
        assert_eq!(
            e.as_ref().map(|e| e.federation.as_str()),
            Ok("https://signin.amazonaws.cn/federation")
        );
    }

    #[test]
    fn overrides_deserialize_and_reject_unknown_fields() {
        let o: Result<EndpointOverrides, _> =
            serde_json::from_str(r#"{"federation":"http://localhost:9/federation"}"#);
        assert!(o.is_ok_and(|o| o.federation.is_some() && o.sts.is_none()));
        let bad: Result<EndpointOverrides, _> = serde_json::from_str(r#"{"saml_audience":"x"}"#);
        assert!(bad.is_err());
        let bad: Result<EndpointOverrides, _> = serde_json::from_str(r#"{"sts":"not a url"}"#);
        assert!(bad.is_err());
        let e = PartitionEndpoints::defaults(Partition::AwsCn);
        let back: Result<PartitionEndpoints, _> =
            serde_json::to_string(&e).and_then(|j| serde_json::from_str(&j));
        assert_eq!(back.ok(), Some(e));
    }

    #[test]
    fn bad_overrides_are_refused() {
        let cases = [
            EndpointOverrides {
                federation: Url::parse("ftp://x/").ok(),
                ..Default::default()
            },
            EndpointOverrides {
                console: Url::parse("https://x/?a=b").ok(),
                ..Default::default()
            },
            EndpointOverrides {
                sts: Url::parse("https://u:p@x/").ok(),
                ..Default::default()
            },
            EndpointOverrides {
                saml_recipient: Url::parse("https://x/#f").ok(),
                ..Default::default()
            },
            EndpointOverrides {
                sts_signing_region: Some(String::new()),
                ..Default::default()
            },
            EndpointOverrides {
                sts_signing_region: Some("US EAST".into()),
                ..Default::default()
            },
        ];
        for o in cases {
            assert!(
                matches!(
                    PartitionEndpoints::with_overrides(Partition::Aws, &o),
                    Err(AwsRuleError::BadEndpoint { .. })
                ),
                "{o:?}"
            );
        }
        let mut e = PartitionEndpoints::defaults(Partition::AwsCn);
        e.saml_audience = "urn:amazon:webservices".into();
        assert!(matches!(
            e.validate(),
            Err(AwsRuleError::WrongAudience { .. })
        ));
    }

    #[test]
    fn recipients_table() {
        let table = [
            (Partition::Aws, "https://signin.aws.amazon.com/saml", true),
            (
                Partition::Aws,
                "https://us-east-1.signin.aws.amazon.com/saml",
                true,
            ),
            (
                Partition::Aws,
                "https://eu-central-2.signin.aws.amazon.com/saml",
                true,
            ),
            (
                Partition::Aws,
                "https://us-gov-west-1.signin.aws.amazon.com/saml",
                true,
            ),
            (Partition::Aws, "https://signin.aws.amazon.com/saml/", false),
            (Partition::Aws, "http://signin.aws.amazon.com/saml", false),
            (Partition::Aws, "https://SIGNIN.aws.amazon.com/saml", false),
            (
                Partition::Aws,
                "https://evil.com/.signin.aws.amazon.com/saml",
                false,
            ),
            (
                Partition::Aws,
                "https://a.b.signin.aws.amazon.com/saml",
                false,
            ),
            (
                Partition::Aws,
                "https://us-east-12.signin.aws.amazon.com/saml",
                false,
            ),
            (Partition::Aws, "https://.signin.aws.amazon.com/saml", false),
            (Partition::Aws, "https://signin.amazonaws.cn/saml", false),
            (Partition::AwsCn, "https://signin.amazonaws.cn/saml", true),
            (
                Partition::AwsCn,
                "https://signin.aws.amazon.com/saml",
                false,
            ),
            (
                Partition::AwsUsGov,
                "https://signin.amazonaws-us-gov.com/saml",
                true,
            ),
            (
                Partition::AwsUsGov,
                "https://signin.aws.amazon.com/saml",
                false,
            ),
        ];
        for (p, r, want) in table {
            assert_eq!(is_aws_saml_recipient(p, r), want, "{p} {r}");
            assert_eq!(
                PartitionEndpoints::defaults(p).is_valid_recipient(r),
                want,
                "{p} {r}"
            );
        }
    }

    #[test]
    fn regions_table() {
        for (r, want) in [
            ("us-east-1", true),
            ("us-gov-west-1", true),
            ("cn-north-1", true),
            ("ap-southeast-3", true),
            ("us-east", false),
            ("us-east-10", false),
            ("USA-east-1", false),
            ("us--1", false),
            ("us-gov-1", false),
            ("us-east-1-x", false),
            ("", false),
        ] {
            assert_eq!(is_region(r), want, "{r}");
        }
    }
}
