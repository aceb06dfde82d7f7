//! The Roleport under load, as its own process on loopback: a fresh database on the suite's
//! Postgres, migrated and given the forge's rules as an operator would, then `roleport serve`
//! timed from spawn to the first `/readyz` 200. For the issue load its STS is the emulator. Also where its CPU and memory, and those of the
//! Postgres backends serving its database, are read (from /proc: both run on this machine).

use crate::aws_harness::BROKER_KEY;
use crate::fleet::cluster::{forge_idp_toml, key_files_toml, run_ok};
use crate::forge::FORGE_RULES;
use crate::helpers::ADMIN_DB_URL;
use sqlx::{Connection, Executor, PgConnection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Server {
    pub public_url: String,
    pub cold_start: Duration,
    dir: PathBuf,
    db_name: String,
    child: Option<Child>,
    /// A connection to the fresh database, to find the backends serving it.
    probe: PgConnection,
}

impl Server {
    /// Starts `binary` listening on `127.0.0.1:port`; working files in `dir`; STS calls to `sts`
    /// if given (none are made otherwise).
    pub async fn start(binary: &Path, port: u16, dir: &Path, sts: Option<&str>) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let db_name = format!("roleport_load_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(ADMIN_DB_URL).await.unwrap();
        admin
            .execute(format!(r#"CREATE DATABASE "{db_name}""#).as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        let db_url = format!("postgres://postgres@127.0.0.1:5432/{db_name}");
        let public_url = format!("http://127.0.0.1:{port}");
        let config = write_config(dir, &public_url, &db_url, sts);
        let roleport = || {
            let mut c = Command::new(binary);
            c.arg("--config").arg(&config).env("RUST_LOG", "warn");
            c
        };
        run_ok(roleport().arg("migrate"));
        let rules = dir.join("rules.yaml");
        std::fs::write(&rules, FORGE_RULES).unwrap();
        run_ok(roleport().args(["rules", "import"]).arg(&rules));

        let log = std::fs::File::create(dir.join("roleport.log")).unwrap();
        let spawned = Instant::now();
        let child = roleport()
            .arg("serve")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        // Polled every millisecond: the figure is the time to the first 200, give or take one.
        loop {
            if let Ok(r) = client.get(format!("{public_url}/readyz")).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(60),
                "roleport never became ready; see {}",
                dir.join("roleport.log").display()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let cold_start = spawned.elapsed();
        let probe = PgConnection::connect(&db_url).await.unwrap();
        Server {
            public_url,
            cold_start,
            dir: dir.to_path_buf(),
            db_name,
            child: Some(child),
            probe,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap()
    }

    /// Roleport's CPU seconds so far (user + system, all threads).
    pub fn cpu(&self) -> f64 {
        cpu_seconds(self.pid()).unwrap()
    }

    /// Roleport's peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// Roleport's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// CPU seconds so far of each Postgres backend connected to this database, except the probe's
    /// own. Backends that exit between two readings are missed; Roleport's pool keeps its
    /// connections for the run, so in practice none do.
    pub async fn postgres_cpu(&mut self) -> BTreeMap<i32, f64> {
        let pids: Vec<(i32,)> = sqlx::query_as(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.db_name)
        .fetch_all(&mut self.probe)
        .await
        .unwrap();
        pids.into_iter()
            .filter_map(|(pid,)| Some((pid, cpu_seconds(pid as u32)?)))
            .collect()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("roleport.log")
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
        let mut admin = PgConnection::connect(ADMIN_DB_URL).await.unwrap();
        admin
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.db_name).as_str())
            .await
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Postgres CPU spent between two readings of [`Server::postgres_cpu`]: the growth of the
/// backends seen in both, plus all of those that appeared in between.
pub fn cpu_between(before: &BTreeMap<i32, f64>, after: &BTreeMap<i32, f64>) -> f64 {
    after
        .iter()
        .map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0))
        .sum()
}

/// User + system CPU seconds of process `pid` (and its threads), or `None` if it is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses; utime and stime are
    // fields 14 and 15 of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
        let out = run_ok(Command::new("getconf").arg("CLK_TCK"));
        out.trim().parse().unwrap()
    });
    *TICKS
}

/// Rate limits out of the way (one client address sends everything), two workers as on the
/// machine's two cores, the forge IdP trusted through its pinned certificate, SP-initiated only.
fn write_config(dir: &Path, public_url: &str, db_url: &str, sts: Option<&str>) -> PathBuf {
    let listen = public_url.trim_start_matches("http://");
    // One attempt per issue: an emulator failure is counted as the answer it gives, not retried
    // away inside the timed part.
    let aws = sts.map_or(String::new(), |sts| {
        format!(
            "[aws]\nsigning_keys = [{{ key_file = \"{}\", cert_file = \"{}\" }}]\nsts_max_attempts = 1\n\n[aws.endpoints.aws]\nsts = \"{sts}\"\n\n",
            BROKER_KEY.0.display(),
            BROKER_KEY.1.display(),
        )
    });
    let config = format!(
        r#"[server]
listen = "{listen}"
public_url = "{public_url}"
dev_mode = true
workers = 2
blocking_slots = 2

[database]
url = "{db_url}"
max_connections = 8

[metrics]
listen = "127.0.0.1:0"

[rate_limit]
per_client_burst = 1000000
per_client_per_minute = 1000000
global_burst = 1000000
global_per_second = 1000000
pending_logins_per_client = 1000000

{aws}{keys}
{forge}"#,
        keys = key_files_toml(dir),
        forge = forge_idp_toml(),
    );
    let path = dir.join("roleport.toml");
    std::fs::write(&path, config).unwrap();
    path
}
