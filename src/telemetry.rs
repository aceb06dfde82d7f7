//! Structured logs. JSON lines unless `ROLEPORT_LOG_FORMAT=pretty`; level from `RUST_LOG`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let pretty = std::env::var("ROLEPORT_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if pretty {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}
