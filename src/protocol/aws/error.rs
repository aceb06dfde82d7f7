//! The one error type for every AWS rule this module enforces before anything is sent.

/// An AWS rule that a value breaks. Each message names the rule, so it can go straight into
/// the log and the audit row; none of them carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsRuleError {
    // --- names -------------------------------------------------------------------------
    #[error("{what} must be {min}-{max} characters; got {len}")]
    NameLength {
        what: &'static str,
        min: usize,
        max: usize,
        len: usize,
    },
    #[error("{what} may only contain letters, digits and _ + = , . @ -; got {found:?}")]
    NameCharset { what: &'static str, found: char },
    #[error("{what} must not start with `aws:`")]
    NameAwsPrefix { what: &'static str },

    // --- durations ---------------------------------------------------------------------
    #[error("{what} must be at least {minimum} seconds; got {seconds}")]
    DurationBelowMinimum {
        what: &'static str,
        seconds: u32,
        minimum: u32,
    },
    #[error("{what} must be {min}-{max} seconds; got {seconds}")]
    DurationOutOfRange {
        what: &'static str,
        seconds: u32,
        min: u32,
        max: u32,
    },

    // --- session tags ------------------------------------------------------------------
    #[error("at most {max} session tags are allowed; got {count}")]
    TooManyTags { count: usize, max: usize },
    #[error("a session tag key must be 1-{max} characters; got {len}")]
    TagKeyLength { len: usize, max: usize },
    #[error("a session tag value must be at most {max} characters; got {len} for key {key:?}")]
    TagValueLength { key: String, len: usize, max: usize },
    #[error(
        "session tag key {key:?} has a character outside letters, digits, spaces and _ . : / = + - @"
    )]
    TagKeyCharset { key: String },
    #[error(
        "session tag value for key {key:?} has a character outside letters, digits, spaces and _ . : / = + - @"
    )]
    TagValueCharset { key: String },
    #[error("session tag key {key:?} starts with the reserved prefix `aws:`")]
    TagKeyAwsPrefix { key: String },
    #[error("session tag keys are case-insensitive: {key:?} is given twice")]
    DuplicateTagKey { key: String },
    #[error("transitive tag key {key:?} is not one of the session tag keys")]
    TransitiveKeyNotTagged { key: String },
    #[error("transitive tag key {key:?} is given twice")]
    DuplicateTransitiveKey { key: String },

    // --- SAML broker -------------------------------------------------------------------
    #[error(
        "{what} must be an XML ID (a letter or _, then letters, digits, _ . -) of {min}-{max} characters"
    )]
    BadXmlId {
        what: &'static str,
        min: usize,
        max: usize,
    },
    #[error("the Response ID and the Assertion ID must differ")]
    SameResponseAndAssertionId,
    #[error("{what} must be 1-{max} characters without control characters")]
    BadText { what: &'static str, max: usize },
    #[error("Role ARN {arn:?} is not arn:<partition>:iam::<12-digit account>:role/<name>")]
    BadRoleArn { arn: String },
    #[error(
        "Role ARN {arn:?} contains a comma, which the SAML Role attribute `role-arn,provider-arn` cannot carry"
    )]
    CommaInRoleArn { arn: String },
    #[error(
        "SAML provider ARN {arn:?} is not arn:<partition>:iam::<12-digit account>:saml-provider/<name>"
    )]
    BadProviderArn { arn: String },
    #[error("the role and the SAML provider must be in the same partition and account")]
    RoleProviderMismatch,
    #[error("the role is in partition {role}, but the endpoints are for {endpoints}")]
    PartitionMismatch { role: String, endpoints: String },
    #[error("SAML Audience must be {expected:?} for this partition; got {got:?}")]
    WrongAudience { expected: String, got: String },
    #[error(
        "SAML Recipient/Destination must be an http(s) URL without query or fragment; got {got:?}"
    )]
    BadRecipient { got: String },
    #[error("an assertion for AssumeRoleWithSAML must be valid for 1-{max} seconds; got {seconds}")]
    ValidityWindow { seconds: u32, max: u32 },
    #[error("AuthnInstant lies in the future")]
    AuthnInstantInFuture,

    // --- console -----------------------------------------------------------------------
    #[error(
        "SessionDuration on getSigninToken is only allowed for AssumeRole* credentials that are not role-chained"
    )]
    ConsoleSessionDurationNotAllowed,
    #[error("console service must be 1-32 characters of a-z, 0-9 and -; got {got:?}")]
    BadConsoleService { got: String },
    #[error("console region must look like us-east-1 or us-gov-west-1; got {got:?}")]
    BadConsoleRegion { got: String },
    #[error(
        "console path must be a relative path without `..`, `//`, `%`, `\\`, `:` or a scheme; got {got:?}"
    )]
    BadConsolePath { got: String },
    #[error("{what} must be an http(s) URL with a host and without query or fragment; got {got:?}")]
    BadEndpoint { what: &'static str, got: String },

    // --- STS ---------------------------------------------------------------------------
    #[error("a web identity token must be at most {max} characters; got {len}")]
    WebIdentityTokenTooLong { len: usize, max: usize },
    #[error("the web identity token is not a signed JWT (header.payload.signature)")]
    WebIdentityTokenMalformed,
    #[error("web identity token algorithm {alg:?} is not one of RS256/384/512, ES256/384/512")]
    WebIdentityTokenAlgorithm { alg: String },
    #[error(
        "GetFederationToken needs a session policy (inline or managed); without one the credentials have no permissions"
    )]
    FederationPolicyMissing,
    #[error("the inline session policy must be a JSON object")]
    PolicyNotJsonObject,
    #[error(
        "session policies (inline plus managed ARNs) must be at most {max} characters packed; got {len}"
    )]
    PolicyTooLong { len: usize, max: usize },
    #[error("at most {max} managed session policy ARNs are allowed; got {count}")]
    TooManyPolicyArns { count: usize, max: usize },
    #[error(
        "managed policy ARN {arn:?} is not arn:{partition}:iam::(aws|<12-digit account>):policy/<name>"
    )]
    BadPolicyArn { arn: String, partition: String },
}
