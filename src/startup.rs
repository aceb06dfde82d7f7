//! Building and running the application. The listener is bound here so tests can ask for port 0
//! and read back the real one.

use crate::clock::Clock;
use crate::configuration::Settings;
use crate::db;
use crate::http::admission::{self, Admission};
use crate::http::cookies::CookiePolicy;
use crate::http::rate_limit::{self, RateLimits};
use crate::http::state::{RulesSnapshot, ServiceProvider};
use crate::http::{AppState, headers, routes};
use crate::metrics::Metrics;
use crate::upstream::{oidc_provider, saml_idp};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, body::MessageBody, web};
use openssl::pkey::{PKey, Private};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Idp(#[from] saml_idp::IdpLoadError),
    #[error(transparent)]
    Oidc(#[from] oidc_provider::OidcLoadError),
    #[error("SAML key or certificate: {0}")]
    SpKey(String),
    #[error("rules in the database are invalid: {0}")]
    Rules(String),
    #[error(transparent)]
    Aws(#[from] crate::aws::broker::AwsSetupError),
    #[error(transparent)]
    AuditKeys(#[from] crate::audit::keys::KeyError),
    #[error(transparent)]
    SealingKeys(#[from] crate::sealing::keys::SealingKeyError),
    #[error(transparent)]
    Directory(#[from] crate::upstream::directory::DirectoryLoadError),
    #[error("{0}")]
    Other(String),
}

pub struct Application {
    pub port: u16,
    /// The port of the `/metrics` listener.
    pub metrics_port: u16,
    pub state: web::Data<AppState>,
    server: Server,
    metrics_server: Server,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let sealing = sealing_keys(&settings)?;
        let listener =
            TcpListener::bind(&settings.server.listen).map_err(|source| StartupError::Bind {
                address: settings.server.listen.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?
            .port();
        let public_url = if settings.server.public_url.is_empty() {
            let ip = listener
                .local_addr()
                .map_err(|e| StartupError::Other(e.to_string()))?
                .ip();
            format!("http://{ip}:{port}")
        } else {
            settings.server.public_url.trim_end_matches('/').to_string()
        };

        let metrics_listener =
            TcpListener::bind(&settings.metrics.listen).map_err(|source| StartupError::Bind {
                address: settings.metrics.listen.clone(),
                source,
            })?;
        let metrics_address = metrics_listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?;

        let pool = db::connect_bounded(
            &settings.database.url,
            settings.database.max_connections,
            Duration::from_millis(settings.database.acquire_timeout_ms),
        )
        .await?;
        if settings.database.migrate_on_start {
            db::migrate(&pool).await?;
        }
        let (key, cert_der) = load_sp_key(&settings)?;
        let client = http_client()?;
        let now = clock.now();
        let mut idps = BTreeMap::new();
        let mut oidc = BTreeMap::new();
        let mut directories = BTreeMap::new();
        for idp_settings in &settings.idps {
            if let Some(directory) = idp_settings.saml().and_then(|s| s.directory.as_ref()) {
                let loaded =
                    crate::upstream::directory::Directory::load(&idp_settings.id, directory)?;
                directories.insert(idp_settings.id.clone(), Arc::new(loaded));
            }
        }
        let oidc_redirect_uri = format!("{public_url}/oidc/callback");
        for idp_settings in &settings.idps {
            if let Some(o) = idp_settings.oidc() {
                let provider =
                    oidc_provider::discover(idp_settings, &client, &oidc_redirect_uri, now).await?;
                db::idps::upsert(
                    &pool,
                    &provider.id,
                    "oidc",
                    &o.issuer,
                    &provider.display_name,
                    now,
                )
                .await?;
                tracing::info!(idp = %provider.id, issuer = %provider.issuer, keys = provider.keys().len(), "OpenID provider discovered");
                oidc.insert(provider.id.clone(), Arc::new(provider));
                continue;
            }
            let idp = saml_idp::load(idp_settings, &client, now).await?;
            db::idps::upsert(
                &pool,
                &idp.id,
                "saml",
                &idp.trust.entity_id,
                &idp.display_name,
                now,
            )
            .await?;
            idps.insert(idp.id.clone(), Arc::new(idp));
        }
        let (generation, rules) = db::rules::load_compiled(&pool)
            .await
            .map_err(|e| StartupError::Rules(e.to_string()))?;

        let aws = crate::aws::broker::AwsRuntime::load(&settings.aws, &public_url)?;
        if settings.aws.rotation.enabled {
            load_rotated_keys(&aws, &pool, &sealing).await?;
        }
        let audit_keys = crate::audit::keys::AuditKeys::from_settings(
            &settings.audit,
            settings.server.dev_mode,
        )?;
        if audit_keys.signing().id() == crate::audit::keys::DEV_KEY_ID {
            tracing::warn!(
                "audit chain sealed with the public development key (dev_mode without [audit] key_file)"
            );
        }
        let audit = Arc::new(crate::audit::sealer::Sealer::new(
            audit_keys,
            &settings.audit,
        ));
        let entity_id = settings
            .saml
            .entity_id
            .clone()
            .unwrap_or_else(|| format!("{public_url}/saml/metadata"));
        let state = web::Data::new(AppState {
            public_url: public_url.clone(),
            pool,
            clock,
            metrics: Metrics::new().map_err(|e| StartupError::Other(e.to_string()))?,
            cookies: CookiePolicy {
                dev_mode: settings.server.dev_mode,
            },
            sp: ServiceProvider {
                entity_id,
                acs_url: format!("{public_url}/saml/acs"),
                key,
                cert_der,
            },
            idps: RwLock::new(idps),
            oidc,
            oidc_redirect_uri,
            rules: RwLock::new(RulesSnapshot {
                generation,
                rules: Arc::new(rules),
            }),
            blocking: Arc::new(Semaphore::new(settings.server.blocking_slots.max(1))),
            admission: Admission::new(
                &settings.admission,
                Duration::from_secs(settings.rate_limit.log_window_seconds),
            ),
            aws,
            audit,
            sealing,
            directories,
            settings,
        });

        let limits = web::Data::new(RateLimits::new(&state.settings.rate_limit));
        let mut background = vec![
            tokio::spawn(rate_limit::maintain(limits.clone())),
            tokio::spawn(admission::maintain(state.clone())),
            tokio::spawn(reload_rules(state.clone())),
            tokio::spawn(refresh_metadata(state.clone(), client)),
            tokio::spawn(refresh_jwks(state.clone())),
            tokio::spawn(purge_expired(state.clone())),
            tokio::spawn(crate::audit::sealer::run(
                state.audit.clone(),
                state.pool.clone(),
                state.clock.clone(),
                Duration::from_secs(state.settings.audit.seal_interval_seconds),
            )),
        ];
        if state.settings.aws.rotation.enabled {
            background.push(tokio::spawn(crate::aws::rotation::run(state.clone())));
        }

        let form_limit = state.settings.saml.max_response_bytes / 3 * 4 + 8192;
        let form_targets = state.aws.federation_origins();
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(limits.clone())
                .app_data(
                    web::FormConfig::default()
                        .limit(form_limit)
                        .error_handler(|err, req| bad_input(&err.to_string(), req)),
                )
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|err, req| bad_input(&err.to_string(), req)),
                )
                .app_data(web::PayloadConfig::new(form_limit))
                .wrap(
                    actix_web::middleware::ErrorHandlers::new()
                        .default_handler(crate::http::errors::plain_errors),
                )
                // Inside the rate limits: a request refused for its rate takes no slot.
                .wrap(from_fn(admission::admit))
                .wrap(from_fn(rate_limit::enforce))
                .wrap(from_fn(observe))
                .wrap(from_fn(headers::strict_transport_security))
                .wrap(headers::security_headers(&form_targets))
                .configure(routes::configure)
                .default_service(web::to(not_found))
        })
        .workers(state.settings.server.workers.max(1))
        .listen(listener)
        .map_err(|e| StartupError::Other(e.to_string()))?
        .run();
        let metrics_state = state.clone();
        let metrics_server = HttpServer::new(move || {
            App::new()
                .app_data(metrics_state.clone())
                .configure(routes::configure_metrics)
        })
        .workers(1)
        .listen(metrics_listener)
        .map_err(|e| StartupError::Other(e.to_string()))?
        .run();
        tracing::info!(%public_url, metrics = %metrics_address, "roleport listening");
        Ok(Self {
            port,
            metrics_port: metrics_address.port(),
            state,
            server,
            metrics_server,
            background,
        })
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.handle();
        let metrics_task = tokio::spawn(self.metrics_server);
        let result = self.server.await;
        metrics.stop(true).await;
        metrics_task.abort();
        for task in self.background {
            task.abort();
        }
        result
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, crate::http::errors::AppError> {
    Err(crate::http::errors::AppError::new(
        crate::http::errors::Kind::NotFound,
        crate::http::errors::Format::Html,
        crate::audit::new_reference(),
        "There is no page at this address.",
    ))
}

/// A form or query that could not be read: a page (or problem JSON for the API) with a
/// reference id and a log line, never actix's bare text.
fn bad_input(detail: &str, req: &actix_web::HttpRequest) -> actix_web::Error {
    let reference = crate::audit::new_reference();
    tracing::warn!(reference, path = %req.path(), detail, "unreadable request input");
    let format = if req.path().starts_with("/api/") {
        crate::http::errors::Format::Json
    } else {
        crate::http::errors::Format::Html
    };
    crate::http::errors::AppError::new(
        crate::http::errors::Kind::BadRequest,
        format,
        reference,
        "The request was incomplete or malformed. Go back and try again.",
    )
    .into()
}

/// Records latency by matched route (not raw path, which would explode label cardinality).
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        state
            .metrics
            .http_duration
            .with_label_values(&[route.as_str(), method.as_str(), res.status().as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// The client for IdP metadata, discovery, JWKS and token calls.
fn http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        // Servers close idle keep-alive connections (some after 5 s); reusing one as it closes
        // fails a non-idempotent token request. Idle connections are dropped before that.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(|e| StartupError::Other(format!("HTTP client: {e}")))
}

/// Roleport's SAML key and the DER of its certificate, when configured.
type SpKeyPair = (Option<PKey<Private>>, Option<Vec<u8>>);

fn load_sp_key(settings: &Settings) -> Result<SpKeyPair, StartupError> {
    let (Some(key_path), Some(cert_path)) = (&settings.saml.key_file, &settings.saml.cert_file)
    else {
        return Ok((None, None));
    };
    let key_pem = std::fs::read(key_path)
        .map_err(|e| StartupError::SpKey(format!("{}: {e}", key_path.display())))?;
    let key = PKey::private_key_from_pem(&key_pem)
        .map_err(|e| StartupError::SpKey(format!("{}: {e}", key_path.display())))?;
    let cert_pem = std::fs::read(cert_path)
        .map_err(|e| StartupError::SpKey(format!("{}: {e}", cert_path.display())))?;
    let cert = openssl::x509::X509::from_pem(&cert_pem)
        .map_err(|e| StartupError::SpKey(format!("{}: {e}", cert_path.display())))?;
    let matches = cert
        .public_key()
        .map(|p| p.public_eq(&key))
        .unwrap_or(false);
    if !matches {
        return Err(StartupError::SpKey(
            "saml.cert_file does not belong to saml.key_file".into(),
        ));
    }
    let der = cert
        .to_der()
        .map_err(|e| StartupError::SpKey(e.to_string()))?;
    Ok((Some(key), Some(der)))
}

/// Polls the rules generation; recompiles only when an import changed it.
async fn reload_rules(state: web::Data<AppState>) {
    let every = Duration::from_secs(state.settings.rules.reload_seconds.max(1));
    loop {
        tokio::time::sleep(every).await;
        match db::rules::generation(&state.pool).await {
            Ok(g) if g != state.rules_generation() => {
                match db::rules::load_compiled(&state.pool).await {
                    Ok((generation, rules)) => {
                        state.replace_rules(generation, rules);
                        tracing::info!(generation, "mapping rules reloaded");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "mapping rules could not be reloaded; keeping the previous set")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rules generation check failed"),
        }
    }
}

async fn refresh_metadata(state: web::Data<AppState>, client: reqwest::Client) {
    let Some(tick) = state
        .settings
        .idps
        .iter()
        .filter_map(|i| i.saml())
        .filter(|s| s.metadata_url.is_some())
        .map(|s| s.metadata_refresh_seconds)
        .min()
    else {
        return;
    };
    loop {
        tokio::time::sleep(Duration::from_secs(tick.max(30))).await;
        refresh_metadata_once(&state, &client).await;
    }
}

/// Re-reads every IdP's metadata URL. A failed or unusable fetch keeps the previous trust, so an
/// IdP outage never turns into "accept anything"; `/readyz` reports it once it is stale.
pub async fn refresh_metadata_once(state: &AppState, client: &reqwest::Client) {
    for settings in state
        .settings
        .idps
        .iter()
        .filter(|i| i.metadata_url().is_some())
    {
        match saml_idp::load(settings, client, state.clock.now()).await {
            Ok(idp) => {
                tracing::info!(idp = %idp.id, certificates = idp.trust.certificates.len(), "IdP metadata refreshed");
                state.replace_idp(idp);
            }
            Err(e) => {
                tracing::error!(error = %e, "IdP metadata refresh failed; keeping the previous trust")
            }
        }
    }
}

pub fn metadata_client() -> Result<reqwest::Client, StartupError> {
    http_client()
}

/// Scheduled JWKS refresh for every OpenID provider (each at its own interval).
async fn refresh_jwks(state: web::Data<AppState>) {
    if state.oidc.is_empty() {
        return;
    }
    loop {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let now = state.clock.now();
        for provider in state.oidc.values() {
            provider.refresh_if_due(now).await;
        }
    }
}

async fn purge_expired(state: web::Data<AppState>) {
    loop {
        tokio::time::sleep(Duration::from_secs(300)).await;
        let now = state.clock.now();
        let _ = db::sessions::purge_expired(&state.pool, now).await;
        let _ = db::logins::purge_expired(&state.pool, now).await;
        let _ = db::oidc_logins::purge_expired(&state.pool, now).await;
        let _ = db::replay::purge_expired(&state.pool, now).await;
        let _ = db::cli_oauth::purge_expired(&state.pool, now).await;
        let keep = chrono::Duration::days(state.settings.rate_limit.refusal_retention_days);
        let _ = db::refusals::prune(&state.pool, now - keep).await;
    }
}

/// Under `[aws.rotation]`: the keys from Postgres replace the file keys' set. Refused without a
/// configured sealing key (a process key would make the stored keys unreadable to every other
/// replica and after a restart).
pub async fn load_rotated_keys(
    aws: &crate::aws::broker::AwsRuntime,
    pool: &sqlx::PgPool,
    sealing: &crate::sealing::keys::SealingKeys,
) -> Result<(), StartupError> {
    if sealing.is_ephemeral() {
        return Err(StartupError::Other(
            "aws.rotation.enabled needs a configured sealing key ([sealing] key_file or \
             ROLEPORT_SEALING__KEY): the rotated keys are stored sealed with it, and a key of this \
             process only would make them unreadable to the other replicas and after a restart"
                .into(),
        ));
    }
    let set = crate::aws::rotation::load_key_set(pool, sealing, &aws.file_keys)
        .await
        .map_err(|e| StartupError::Other(format!("aws.rotation: {e}")))?;
    aws.keys.replace(set);
    Ok(())
}

/// The sealing keys, checked before anything is bound or fetched so a missing key stops start-up
/// at once.
pub fn sealing_keys(
    settings: &Settings,
) -> Result<crate::sealing::keys::SealingKeys, StartupError> {
    let oidc_idps: Vec<&str> = settings
        .idps
        .iter()
        .filter(|idp| idp.oidc().is_some())
        .map(|idp| idp.id.as_str())
        .collect();
    let keys = crate::sealing::keys::SealingKeys::from_settings(
        &settings.sealing,
        settings.server.dev_mode,
        &oidc_idps,
    )?;
    if keys.is_ephemeral() && !oidc_idps.is_empty() {
        tracing::warn!(
            "upstream ID tokens sealed with a key of this process only (dev_mode without [sealing] \
             key_file): after a restart, or on another replica, pass-through asks to sign in again"
        );
    }
    Ok(keys)
}
