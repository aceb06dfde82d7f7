use clap::Parser;
use roleport::cli::{AuditCommand, AwsCommand, Cli, Command, KeysCommand, RulesCommand};
use roleport::clock::Clock;
use roleport::configuration::{self, Settings};
use roleport::protocol::mapping::{self, Claims};
use roleport::startup::Application;
use roleport::{db, telemetry};
use std::collections::BTreeMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("roleport: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let settings = configuration::load(&cli.config, std::env::vars()).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings, Clock::system())
                .await
                .map_err(|e| e.to_string())?;
            app.run_until_stopped().await.map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck => {
            let address = roleport::healthcheck::probe_address(&settings.server.listen)?;
            roleport::healthcheck::probe(address, std::time::Duration::from_secs(3)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let pool = pool(&settings).await?;
            db::migrate(&pool).await.map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => {
            let pool = pool(&settings).await?;
            let client = roleport::startup::metadata_client().map_err(|e| e.to_string())?;
            for idp in &settings.idps {
                if idp.oidc().is_some() {
                    let redirect = format!(
                        "{}/oidc/callback",
                        settings.server.public_url.trim_end_matches('/')
                    );
                    let provider = roleport::upstream::oidc_provider::discover(
                        idp,
                        &client,
                        &redirect,
                        Clock::system().now(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    println!(
                        "idp {}: OpenID provider {} ({} key(s), algorithms {:?})",
                        provider.id,
                        provider.issuer,
                        provider.keys().len(),
                        provider.policy.jws.allowed_algs
                    );
                    continue;
                }
                let loaded =
                    roleport::upstream::saml_idp::load(idp, &client, Clock::system().now())
                        .await
                        .map_err(|e| e.to_string())?;
                println!(
                    "idp {}: {} ({} signing certificate(s))",
                    loaded.id,
                    loaded.trust.entity_id,
                    loaded.trust.certificates.len()
                );
            }
            let (generation, _) = db::rules::load_compiled(&pool)
                .await
                .map_err(|e| e.to_string())?;
            println!("rules: generation {generation} compiles");
            // The same loading `serve` does: keys readable and matching, endpoints well formed.
            let aws =
                roleport::aws::broker::AwsRuntime::load(&settings.aws, &settings.server.public_url)
                    .map_err(|e| e.to_string())?;
            println!(
                "aws: {} IdP signing key(s){}",
                aws.file_keys.len(),
                if aws.file_keys.is_empty() {
                    " (broker mode cannot issue credentials until one is configured)"
                } else {
                    ""
                }
            );
            let audit = roleport::audit::keys::AuditKeys::from_settings(
                &settings.audit,
                settings.server.dev_mode,
            )
            .map_err(|e| e.to_string())?;
            println!(
                "audit: {} key(s), new rows sealed with `{}`",
                audit.ids().len(),
                audit.signing().id()
            );
            let sealing = roleport::startup::sealing_keys(&settings).map_err(|e| e.to_string())?;
            println!(
                "sealing: {}",
                if sealing.is_ephemeral() {
                    "no key configured: each process seals with a random key of its own".to_string()
                } else {
                    format!(
                        "{} key(s), new ID tokens sealed with `{}`",
                        sealing.ids().len(),
                        sealing.sealing().id()
                    )
                }
            );
            println!("configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules(command) => rules(&settings, command).await,
        Command::Aws(AwsCommand::DecodeMessage { encoded, partition }) => {
            decode_message(&settings, &encoded, &partition).await
        }
        Command::Aws(AwsCommand::Status) => registration(&settings, false).await,
        Command::Aws(AwsCommand::Register { apply }) => registration(&settings, apply).await,
        Command::Aws(AwsCommand::Keys { action }) => keys(&settings, action).await,
        Command::Audit(AuditCommand::Refusals { minutes, reference }) => {
            let pool = pool(&settings).await?;
            let buckets = match reference {
                Some(r) => db::refusals::by_reference(&pool, &r)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .collect(),
                None => db::refusals::since(
                    &pool,
                    Clock::system().now() - chrono::Duration::minutes(minutes.max(1)),
                )
                .await
                .map_err(|e| e.to_string())?,
            };
            println!("minute\treason\tidp\tclient\tcount\tlast_reference");
            for b in &buckets {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    b.minute.format("%Y-%m-%dT%H:%MZ"),
                    b.reason,
                    b.idp,
                    b.client,
                    b.count,
                    b.last_reference
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify {
            expect,
            max_checkpoint_age,
            no_seal,
        }) => audit_verify(&settings, expect, max_checkpoint_age, no_seal).await,
    }
}

/// `roleport audit verify`: exit 0 when intact, 2 with the first broken row otherwise.
async fn audit_verify(
    settings: &Settings,
    expect: Vec<roleport::audit::verify::Expected>,
    max_checkpoint_age: Option<u64>,
    no_seal: bool,
) -> Result<ExitCode, String> {
    use roleport::audit::verify::{ChainStatus, VerifyOptions, verify};
    let pool = pool(settings).await?;
    let keys =
        roleport::audit::keys::AuditKeys::from_settings(&settings.audit, settings.server.dev_mode)
            .map_err(|e| e.to_string())?;
    let sealer = roleport::audit::sealer::Sealer::new(keys, &settings.audit);
    let clock = Clock::system();
    if !no_seal {
        // Checkpoints are left to the running processes: one written here could paper over a
        // deleted tail before it was checked.
        let report = sealer
            .seal(&pool, &clock, true, false)
            .await
            .map_err(|e| e.to_string())?;
        if report.sealed > 0 {
            println!(
                "sealed {} row(s) committed since the last seal",
                report.sealed
            );
        }
    }
    let max_age = max_checkpoint_age.unwrap_or(settings.audit.checkpoint_max_age_seconds);
    let options = VerifyOptions {
        now: clock.now(),
        max_checkpoint_age: (max_age > 0)
            .then(|| chrono::Duration::try_seconds(i64::try_from(max_age).unwrap_or(i64::MAX)))
            .flatten(),
        expect,
    };
    match verify(&pool, sealer.keys(), &options)
        .await
        .map_err(|e| e.to_string())?
    {
        ChainStatus::Intact {
            rows,
            checkpoints,
            unsealed,
        } => {
            let pending = if unsealed > 0 {
                format!(", {unsealed} row(s) not yet sealed")
            } else {
                String::new()
            };
            println!("audit chain intact: {rows} rows, {checkpoints} checkpoint(s){pending}");
            Ok(ExitCode::SUCCESS)
        }
        ChainStatus::Broken { pos, why } => {
            println!("audit chain BROKEN at row {pos}: {why}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Roleport's AWS side as `serve` builds it, with the keys from Postgres under `[aws.rotation]`.
async fn aws_runtime(
    settings: &Settings,
    pool: &sqlx::PgPool,
) -> Result<
    (
        roleport::aws::broker::AwsRuntime,
        roleport::sealing::keys::SealingKeys,
        String,
    ),
    String,
> {
    if settings.server.public_url.is_empty() {
        return Err("server.public_url must be set: it names what AWS trusts".into());
    }
    let public_url = settings.server.public_url.trim_end_matches('/').to_string();
    let aws = roleport::aws::broker::AwsRuntime::load(&settings.aws, &public_url)
        .map_err(|e| e.to_string())?;
    let sealing = roleport::startup::sealing_keys(settings).map_err(|e| e.to_string())?;
    if settings.aws.rotation.enabled {
        roleport::startup::load_rotated_keys(&aws, pool, &sealing)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((aws, sealing, public_url))
}

/// `roleport aws status` / `register [--apply]`: exit 1 unless every provider is ok.
async fn registration(settings: &Settings, apply: bool) -> Result<ExitCode, String> {
    let pool = pool(settings).await?;
    let (aws, _, public_url) = aws_runtime(settings, &pool).await?;
    let lines = roleport::aws::registration::survey(
        &pool,
        &aws,
        &settings.aws,
        &public_url,
        Clock::system().now(),
        apply,
    )
    .await?;
    print!("{}", roleport::aws::registration::render(&lines));
    Ok(if lines.iter().all(|l| l.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `roleport aws keys [rotate [--start]]`.
async fn keys(settings: &Settings, action: Option<KeysCommand>) -> Result<ExitCode, String> {
    use roleport::aws::rotation::{Rotation, StepReport, describe};
    if !settings.aws.rotation.enabled {
        return Err("aws.rotation.enabled is false: the keys are aws.signing_keys' files".into());
    }
    let pool = pool(settings).await?;
    let (aws, sealing, public_url) = aws_runtime(settings, &pool).await?;
    let now = Clock::system().now();
    if let Some(KeysCommand::Rotate { start }) = action {
        let rotation = Rotation {
            pool: &pool,
            aws: &aws,
            sealing: &sealing,
            settings: &settings.aws,
            public_url: &public_url,
        };
        let report = rotation
            .step(now, start, "command_line")
            .await
            .map_err(|e| e.to_string())?;
        match &report {
            StepReport::Done {
                step,
                key,
                accounts,
            } => {
                println!(
                    "{step} {key}: done ({} account provider(s))",
                    accounts.len()
                )
            }
            StepReport::Waiting { until, why } => println!(
                "nothing due{}: {why}",
                until.map(|u| format!(" before {u}")).unwrap_or_default()
            ),
            StepReport::Busy => println!("another Roleport process is running a step now"),
            StepReport::Failed { step, key, why } => {
                println!("{step} {key}: FAILED, nothing committed; retried at the next run");
                for w in why {
                    println!("  {w}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    for line in describe(&pool, &aws, &settings.aws.rotation, now)
        .await
        .map_err(|e| e.to_string())?
    {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `roleport aws decode-message`: pretty JSON on stdout; failures on stderr, exit non-zero.
async fn decode_message(
    settings: &Settings,
    encoded: &str,
    partition: &str,
) -> Result<ExitCode, String> {
    use roleport::aws::sts::Sts;
    use roleport::aws::sts_support::{EnvCredentials, normalize_encoded_message};
    let partition: mapping::Partition = partition
        .parse()
        .map_err(|_| format!("--partition {partition}: expected aws, aws-cn or aws-us-gov"))?;
    let encoded = if encoded == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading the message from standard input: {e}"))?;
        text
    } else {
        encoded.to_string()
    };
    let message = normalize_encoded_message(&encoded).map_err(|e| e.to_string())?;
    let own = EnvCredentials::from_env().map_err(|e| e.to_string())?;
    let sts = Sts::from_settings(&settings.aws)?;
    let decoded = sts
        .decode_authorization_message(partition, &own, &message)
        .await
        .map_err(|e| format!("{} [{}]", e.detail(), e.code()))?;
    println!("{}", decoded.pretty);
    Ok(ExitCode::SUCCESS)
}

async fn pool(settings: &Settings) -> Result<sqlx::PgPool, String> {
    let pool = db::connect(&settings.database.url, 2)
        .await
        .map_err(|e| format!("database: {e}"))?;
    if settings.database.migrate_on_start {
        db::migrate(&pool).await.map_err(|e| e.to_string())?;
    }
    Ok(pool)
}

/// `(rule id, idp id)` for every IdP a rule names that this configuration does not define.
fn unconfigured_idps(settings: &Settings, set: &mapping::RuleSet) -> Vec<(String, String)> {
    let configured: std::collections::BTreeSet<&str> =
        settings.idps.iter().map(|i| i.id.as_str()).collect();
    set.rules
        .iter()
        .filter_map(|r| match &r.idp {
            Some(mapping::IdpScope::Only(ids)) => Some((r, ids)),
            _ => None,
        })
        .flat_map(|(r, ids)| {
            ids.iter()
                .filter(|id| !configured.contains(id.as_str()))
                .map(|id| (r.id.clone(), id.clone()))
        })
        .collect()
}

async fn rules(settings: &Settings, command: RulesCommand) -> Result<ExitCode, String> {
    let pool = pool(settings).await?;
    match command {
        RulesCommand::Import { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            match mapping::parse_document_with_warnings(&text) {
                Ok((set, warnings)) => {
                    for w in &warnings {
                        eprintln!("{}: warning: {w}", file.display());
                    }
                    for (rule, idp) in unconfigured_idps(settings, &set) {
                        eprintln!(
                            "{}: warning: rule {rule} names idp {idp}, which is not configured here; it applies to nobody until it is",
                            file.display()
                        );
                    }
                    let importer = db::rules::Importer::command_line();
                    let generation = db::rules::replace_all_as(&pool, &set, &importer)
                        .await
                        .map_err(|e| e.to_string())?;
                    // The same row the admin page's import writes.
                    let reference = roleport::audit::new_reference();
                    let mut event = roleport::audit::AuditEvent::new(
                        roleport::audit::EventKind::RulesImported,
                        roleport::audit::Outcome::Accepted,
                    );
                    event.details = serde_json::json!({
                        "action": "rules.import",
                        "via": importer.via,
                        "imported_by": importer.by,
                        "generation": generation,
                        "document_sha256": hex::encode(db::sha256(text.as_bytes())),
                        "file": file.display().to_string(),
                        "accounts": set.accounts.len(),
                        "roles": set.roles.len(),
                        "rules": set.rules.len(),
                    });
                    if let Err(e) =
                        db::audit::append(&pool, &reference, Clock::system().now(), event).await
                    {
                        eprintln!(
                            "warning: the rules are imported, but the audit row was not written: {e}"
                        );
                    }
                    println!(
                        "imported {} accounts, {} roles, {} rules (generation {generation})",
                        set.accounts.len(),
                        set.roles.len(),
                        set.rules.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    eprintln!("{} error(s); nothing was changed", errors.len());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        RulesCommand::Export => {
            let set = db::rules::load(&pool).await.map_err(|e| e.to_string())?;
            print!("{}", mapping::render_document(&set));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Explain {
            idp,
            subject,
            groups,
            email,
            attributes,
            json,
        } => {
            let (_, compiled) = db::rules::load_compiled(&pool)
                .await
                .map_err(|e| e.to_string())?;
            let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for a in attributes {
                let (k, v) = a
                    .split_once('=')
                    .ok_or_else(|| format!("--attribute {a}: expected NAME=VALUE"))?;
                attrs.entry(k.to_string()).or_default().push(v.to_string());
            }
            let claims = Claims {
                idp,
                subject,
                email_verified: email.is_some(),
                email,
                groups,
                attributes: attrs,
            };
            // Positioned in what `roleport rules export` prints, the document form of the store.
            let export = mapping::render_document(compiled.rule_set());
            for w in mapping::document_warnings(&export) {
                eprintln!("warning: {w} (line of `roleport rules export`)");
            }
            for rule in compiled.rules_without_idp() {
                eprintln!(
                    "warning: rule {rule} was stored without idp and applies to no IdP; import the rules again with idp set"
                );
            }
            let explanation = mapping::explain(&compiled, &claims);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&explanation).map_err(|e| e.to_string())?
                );
            } else {
                print!("{explanation}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
