//! The fleet under test, as separate processes on loopback: a private Postgres cluster, the STS
//! fault proxy in front of moto, two `roleport serve` replicas and HAProxy in front of them
//! (scripts and configuration in deploy/fleet). Dropping the [`Fleet`] stops all of it.

use crate::aws_harness::{BROKER_KEY, MOTO};
use crate::forge::{FORGE_ENTITY_ID, FORGE_KEY, FORGE_SSO_URL};
use crate::helpers::{TEST_AUDIT_KEYS, TEST_SEALING_KEYS};
use sqlx::{Connection, Executor, PgConnection};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ports the task reserves for this test (18940-18949).
pub const PG_PORT: u16 = 18940;
pub const LB_PORT: u16 = 18941;
pub const STS_PROXY_PORT: u16 = 18942;
pub const REPLICA_PORTS: [u16; 2] = [18943, 18944];
pub const REPLICA_NAMES: [&str; 2] = ["a", "b"];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` to completion; its failure fails the test with what it printed.
pub fn run_ok(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub struct Fleet {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub db_url: String,
    pub public_url: String,
    replicas: [Option<Child>; 2],
    proxy: Option<Child>,
    /// Held until the fleet is stopped (fields drop after [`Drop::drop`]).
    _lock: std::fs::File,
}

impl Fleet {
    /// Starts everything and waits until HAProxy sees both replicas up. `federation_url` is the
    /// fake console federation endpoint the replicas use.
    pub async fn start(federation_url: &str) -> Fleet {
        // One place per machine, as the ports are, so what a run killed before its clean-up left
        // behind is stopped here. Under /tmp: the `postgres` user must reach the cluster's files.
        let dir = std::env::temp_dir().join(format!("roleport-fleet-{PG_PORT}"));
        // Another checkout's suite may run this test at the same time: one at a time per
        // machine. The kernel drops the lock of a run that was killed.
        let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
        tokio::task::block_in_place(|| lock.lock()).unwrap();
        stop_all(&dir);
        for port in [
            PG_PORT,
            LB_PORT,
            STS_PROXY_PORT,
            REPLICA_PORTS[0],
            REPLICA_PORTS[1],
        ] {
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
                "port {port} is taken: a fleet test is already running, or a killed run left a process behind"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let mut fleet = Fleet {
            config: dir.join("roleport.toml"),
            db_url: format!("postgres://postgres@127.0.0.1:{PG_PORT}/roleport"),
            public_url: format!("http://127.0.0.1:{LB_PORT}"),
            dir,
            replicas: [None, None],
            proxy: None,
            _lock: lock,
        };
        fleet.postgres("start");
        let mut admin =
            PgConnection::connect(&format!("postgres://postgres@127.0.0.1:{PG_PORT}/postgres"))
                .await
                .expect("connect to the private Postgres");
        admin.execute("CREATE DATABASE roleport").await.unwrap();
        admin.close().await.unwrap();

        fleet.proxy = Some(
            Command::new("python3")
                .arg(repo().join("deploy/fleet/sts_fault_proxy.py"))
                .arg(STS_PROXY_PORT.to_string())
                .arg(MOTO.get("MOTO_URL"))
                .arg(fleet.minted_keys_file())
                .stdout(Stdio::null())
                .stderr(log_file(&fleet.dir.join("sts-proxy.log")))
                .spawn()
                .expect("start the STS fault proxy"),
        );
        write_pid(&fleet.dir, "sts-proxy", fleet.proxy.as_ref());
        fleet.write_config(federation_url);
        // As an operator would: migrate, import the rules, then start the replicas.
        run_ok(fleet.roleport().arg("migrate"));
        let rules = fleet.dir.join("rules.yaml");
        std::fs::write(&rules, crate::forge::FORGE_RULES).unwrap();
        run_ok(fleet.roleport().args(["rules", "import"]).arg(&rules));
        for i in 0..2 {
            fleet.start_replica(i);
        }
        for i in 0..2 {
            fleet.wait_ready(i).await;
        }
        run_ok(
            Command::new("bash")
                .arg(repo().join("deploy/fleet/haproxy.sh"))
                .arg("start")
                .arg(&fleet.dir)
                .args([LB_PORT, REPLICA_PORTS[0], REPLICA_PORTS[1]].map(|p| p.to_string())),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while !fleet.lb_sees_all_up() {
            assert!(
                Instant::now() < deadline,
                "HAProxy never saw both replicas up"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        fleet.set_sts_fault("").await;
        fleet
    }

    pub fn minted_keys_file(&self) -> PathBuf {
        self.dir.join("sts-minted-keys")
    }

    pub fn replica_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", REPLICA_PORTS[i])
    }

    /// `roleport --config <the fleet's>` with the database and keys of the fleet.
    pub fn roleport(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roleport"));
        command
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info");
        command
    }

    /// `deploy/fleet/postgres.sh start|stop|restart` on the private cluster.
    pub fn postgres(&self, action: &str) {
        run_ok(
            Command::new("bash")
                .arg(repo().join("deploy/fleet/postgres.sh"))
                .arg(action)
                .arg(self.dir.join("pg"))
                .arg(PG_PORT.to_string()),
        );
    }

    fn write_config(&self, federation_url: &str) {
        let dir = &self.dir;
        let config = format!(
            r#"[server]
listen = "127.0.0.1:{a}"
public_url = "{public}"
dev_mode = true
workers = 2
blocking_slots = 2
trusted_proxies = ["127.0.0.1"]

[database]
url = "{db}"
max_connections = 8

[metrics]
listen = "127.0.0.1:0"

[rules]
reload_seconds = 1

[rate_limit]
per_client_burst = 100000
per_client_per_minute = 100000
global_burst = 100000
global_per_second = 100000
pending_logins_per_client = 100000

{keys}
[aws]
signing_keys = [{{ key_file = "{broker_key}", cert_file = "{broker_cert}" }}]
sts_timeout_seconds = 2
sts_max_attempts = 2

[aws.endpoints.aws]
sts = "http://127.0.0.1:{sts}"
federation = "{federation_url}/federation"
console = "{federation_url}/console/"

{forge}allow_idp_initiated = true
"#,
            a = REPLICA_PORTS[0],
            public = self.public_url,
            db = self.db_url,
            keys = key_files_toml(dir),
            forge = forge_idp_toml(),
            broker_key = BROKER_KEY.0.display(),
            broker_cert = BROKER_KEY.1.display(),
            sts = STS_PROXY_PORT,
        );
        std::fs::write(&self.config, config).unwrap();
    }

    /// Starts replica `i` (again, after a kill); its log lines are appended to `replica-<name>.log`.
    pub fn start_replica(&mut self, i: usize) {
        let log = self.dir.join(format!("replica-{}.log", REPLICA_NAMES[i]));
        let child = self
            .roleport()
            .arg("serve")
            .env(
                "ROLEPORT_SERVER__LISTEN",
                format!("127.0.0.1:{}", REPLICA_PORTS[i]),
            )
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("start a replica");
        self.replicas[i] = Some(child);
        write_pid(
            &self.dir,
            &format!("replica-{}", REPLICA_NAMES[i]),
            self.replicas[i].as_ref(),
        );
    }

    /// `kill -9`: no shutdown, no goodbye to Postgres or HAProxy.
    pub fn kill_replica(&mut self, i: usize) {
        if let Some(mut child) = self.replicas[i].take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub async fn replica_ready(&self, i: usize) -> bool {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        matches!(
            client.get(format!("{}/readyz", self.replica_url(i))).send().await,
            Ok(r) if r.status() == 200
        )
    }

    pub async fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.replica_ready(i).await {
            assert!(
                Instant::now() < deadline,
                "replica {} never became ready; see {}",
                REPLICA_NAMES[i],
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The replicas' state as HAProxy's health checks see it (`show stat` on its socket).
    pub fn lb_server_states(&self) -> Vec<(String, String)> {
        use std::io::{Read, Write};
        let Ok(mut sock) = std::os::unix::net::UnixStream::connect(self.dir.join("haproxy.sock"))
        else {
            return Vec::new();
        };
        sock.write_all(b"show stat\n").unwrap();
        let mut csv = String::new();
        sock.read_to_string(&mut csv).unwrap();
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > 17 && f[0] == "roleport" && REPLICA_NAMES.contains(&f[1]))
            .map(|f| (f[1].to_string(), f[17].to_string()))
            .collect()
    }

    pub fn lb_sees_all_up(&self) -> bool {
        let states = self.lb_server_states();
        states.len() == 2 && states.iter().all(|(_, s)| s == "UP")
    }

    /// Sets the STS fault proxy's fault: `""` clears it, `delay=1.5&fail_every=2` slows every
    /// call by 1.5 s and fails every second one with a 503 ServiceUnavailable.
    pub async fn set_sts_fault(&self, query: &str) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{STS_PROXY_PORT}/_fault?{query}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match reqwest::Client::new().put(&url).send().await {
                Ok(r) if r.status() == 200 => return r.json().await.unwrap(),
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                other => panic!("the STS fault proxy does not answer: {other:?}"),
            }
        }
    }

    /// Access keys moto handed to Roleport (through the proxy).
    pub fn minted_keys(&self) -> Vec<String> {
        std::fs::read_to_string(self.minted_keys_file())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The audit and sealing keys of the tests, written to `dir`, as `[audit]` and `[sealing]` settings.
pub fn key_files_toml(dir: &Path) -> String {
    let audit_keys = dir.join("audit-keys");
    std::fs::write(&audit_keys, TEST_AUDIT_KEYS).unwrap();
    let sealing_keys = dir.join("sealing-keys");
    std::fs::write(&sealing_keys, TEST_SEALING_KEYS).unwrap();
    format!(
        "[audit]\nkey_file = \"{}\"\n\n[sealing]\nkey_file = \"{}\"\n",
        audit_keys.display(),
        sealing_keys.display()
    )
}

/// The forge IdP as an `[[idp]]` setting, trusted through its pinned certificate.
pub fn forge_idp_toml() -> String {
    format!(
        "[[idp]]\nid = \"forge\"\nkind = \"saml\"\ndisplay_name = \"Forge (test IdP)\"\nentity_id = \"{FORGE_ENTITY_ID}\"\nsso_url = \"{FORGE_SSO_URL}\"\nsigning_cert_files = [\"{}\"]\n",
        FORGE_KEY.cert_file().display()
    )
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Notes a child's pid, for [`stop_all`] after a run that could not clean up.
fn write_pid(dir: &Path, name: &str, child: Option<&Child>) {
    if let Some(child) = child {
        std::fs::write(dir.join(format!("{name}.pid")), child.id().to_string()).unwrap();
    }
}

/// Stops whatever a fleet in `dir` may still run: the replicas and the proxy by their pid files
/// (only if the process is still the one started there), HAProxy and Postgres by their scripts.
fn stop_all(dir: &Path) {
    let marker = dir.display().to_string();
    for name in ["replica-a", "replica-b", "sts-proxy"] {
        let pid_file = dir.join(format!("{name}.pid"));
        let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&marker) {
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .ok();
        }
        std::fs::remove_file(pid_file).ok();
    }
    let quiet = |script: &str, args: &[String]| {
        Command::new("bash")
            .arg(repo().join("deploy/fleet").join(script))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok();
    };
    if dir.join("haproxy.pid").exists() {
        quiet("haproxy.sh", &["stop".into(), marker.clone()]);
    }
    if dir.join("pg/data/postmaster.pid").exists() {
        quiet(
            "postgres.sh",
            &["stop".into(), format!("{marker}/pg"), PG_PORT.to_string()],
        );
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for i in 0..2 {
            self.kill_replica(i);
        }
        if let Some(mut proxy) = self.proxy.take() {
            proxy.kill().ok();
            proxy.wait().ok();
        }
        stop_all(&self.dir);
        if std::thread::panicking() {
            eprintln!("fleet: logs kept in {}", self.dir.display());
        } else {
            // The logs stay for a look; the database files go.
            std::fs::remove_dir_all(self.dir.join("pg")).ok();
        }
    }
}
