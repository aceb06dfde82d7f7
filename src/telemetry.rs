//! Structured logs. JSON lines unless `ROLEPORT_LOG_FORMAT=pretty`; level from `RUST_LOG`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    init_with(filter, std::io::stderr);
}

/// The same subscriber with any filter and writer, so a test can read every line the app logs
/// (the secrets-leak test does).
pub fn init_with<W>(filter: EnvFilter, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let pretty = std::env::var("ROLEPORT_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = if pretty {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}
