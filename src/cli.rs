//! The `roleport` command line: `serve`, `migrate`, `check-config`, `healthcheck`, `rules …`,
//! `audit …`, `aws …`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "roleport", version, about = "SSO gateway into AWS")]
pub struct Cli {
    /// Settings file (TOML). `ROLEPORT_*` environment variables override it.
    #[arg(
        long,
        short,
        env = "ROLEPORT_CONFIG",
        default_value = "roleport.toml",
        global = true
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web service.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load and validate the settings, IdP trust and rules, then exit.
    CheckConfig,
    /// Exit 0 when the server started with these settings answers `/healthz` on this machine
    /// (the container image's HEALTHCHECK).
    Healthcheck,
    /// Accounts, roles and mapping rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// AWS support tools.
    #[command(subcommand)]
    Aws(AwsCommand),
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Replace accounts, roles and rules with those of a YAML file (all or nothing).
    Import { file: PathBuf },
    /// Print accounts, roles and rules as YAML.
    Export,
    /// Show which rules match a person's claims and which roles result.
    Explain {
        #[arg(long)]
        idp: String,
        #[arg(long, default_value = "explain")]
        subject: String,
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        email: Option<String>,
        /// Other claims as NAME=VALUE.
        #[arg(long = "attribute")]
        attributes: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Seal rows committed since the last seal, then check the keyed chain and its checkpoints.
    /// Exit 2 and the first broken row if it is not intact.
    Verify {
        /// A checkpoint from the log (`<pos>:<head_mac>`, the `expect` field of an "audit
        /// checkpoint" line): the chain must still hold that row with that MAC. Repeatable.
        #[arg(long = "expect", value_name = "POS:MAC")]
        expect: Vec<crate::audit::verify::Expected>,
        /// Overrides `audit.checkpoint_max_age_seconds` (0: no staleness check).
        #[arg(long, value_name = "SECONDS")]
        max_checkpoint_age: Option<u64>,
        /// Only check: seal nothing (for a read-only database user).
        #[arg(long)]
        no_seal: bool,
    },
    /// Show the counters of refused sign-ins that carried no verified identity.
    Refusals {
        /// How many minutes back.
        #[arg(long, default_value_t = 60)]
        minutes: i64,
        /// Only the counter whose latest refusal had this reference.
        #[arg(long)]
        reference: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AwsCommand {
    /// Decode an AWS "encoded authorization failure message" (STS DecodeAuthorizationMessage)
    /// and print it as pretty JSON. Runs with Roleport's own AWS credentials from
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; the STS endpoint is the
    /// partition's, or `aws.endpoints.<partition>.sts` from the settings.
    DecodeMessage {
        /// The encoded message; `-` reads it from standard input.
        encoded: String,
        /// The partition the message comes from: aws, aws-cn or aws-us-gov.
        #[arg(long, default_value = "aws")]
        partition: String,
    },
    /// For each account of the rules, through its registration role
    /// (`aws.registration.role_arn_pattern`), check that its IAM SAML provider holds Roleport's
    /// published keys and its IAM OIDC provider (oidc_broker) Roleport's issuer and audiences.
    /// Prints one line per provider (ok, missing, stale, cannot-assume, failed); exit 1 unless
    /// every one is ok.
    Status,
    /// What `status` checks, and create or update what is missing or stale. Changes nothing
    /// without `--apply` (a dry run that says what it would do).
    Register {
        /// Create and update the providers (each change is read back and audited).
        #[arg(long)]
        apply: bool,
    },
    /// The signing keys under rotation (`[aws.rotation]`): their states and the next step.
    Keys {
        #[command(subcommand)]
        action: Option<KeysCommand>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Run the rotation step that is due now (generate, trust, switch, retire), as the schedule
    /// would; exit 1 if it failed (nothing is committed then; it is retried).
    Rotate {
        /// Begin a new rotation even though the current key is not due (the overlap and the
        /// retirement still apply).
        #[arg(long)]
        start: bool,
    },
}
