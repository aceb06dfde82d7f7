//! Side by side: the Responses Roleport was sent, verified in-process by libxmlsec1 in C (key
//! parsed once: the floor), node-saml and python3-saml (OneLogin), each on one core for a fixed
//! CPU budget. `deploy/load/run.sh` installs them under `.run/load` (npm, PyPI, gcc); one not
//! installed is reported as such, not skipped silently.

use crate::forge::{FORGE_ENTITY_ID, FORGE_KEY};
use std::fmt::Write;
use std::path::Path;
use std::process::Command;

/// CPU seconds each verifier runs for.
const BUDGET: &str = "3";

/// The CPU model and core count, for the report's heading.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Runs `command`; its "<rate> <count>" line, or why there is none.
fn rate_of(command: &mut Command) -> Result<(f64, u64), String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut fields = stdout.split_whitespace();
    match (fields.next().map(str::parse), fields.next().map(str::parse)) {
        (Some(Ok(rate)), Some(Ok(count))) => Ok((rate, count)),
        _ => Err(format!("unexpected output {stdout:?}")),
    }
}

/// Verifies `xmls` (Responses to the SP at `base`) with each verifier under `dir`, and compares
/// with `roleport`: full sign-ins per second of Roleport's CPU.
pub fn compare(dir: &Path, base: &str, xmls: &[String], roleport: f64) -> String {
    let docs = dir.join("responses");
    std::fs::remove_dir_all(&docs).ok();
    std::fs::create_dir_all(&docs).unwrap();
    let files: Vec<_> = xmls
        .iter()
        .enumerate()
        .map(|(i, xml)| {
            let path = docs.join(format!("{i:04}.xml"));
            std::fs::write(&path, xml).unwrap();
            path
        })
        .collect();
    let cert = FORGE_KEY.cert_file();
    let (sp, acs) = (format!("{base}/saml/metadata"), format!("{base}/saml/acs"));
    let repo = crate::fleet::cluster::repo();

    let mut c = Command::new(dir.join("xmlsec_floor"));
    // benches/xmlsec_ref/xmlsec_ref.c, built by deploy/load/run.sh: the key parsed once.
    c.arg(&cert).arg("preparsed").arg(BUDGET).args(&files);
    let mut node = Command::new("node");
    node.arg(repo.join("deploy/load/node_saml.js"))
        .arg(dir.join("node/node_modules"))
        .arg(&cert)
        .arg(BUDGET)
        .args([&sp, &acs])
        .args(&files);
    let mut python = Command::new(dir.join("venv/bin/python"));
    python
        .arg(repo.join("deploy/load/python3_saml.py"))
        .arg(&cert)
        .arg(BUDGET)
        .args([FORGE_ENTITY_ID, &sp, &acs])
        .args(&files);

    let mut out = format!(
        "## The same {} Responses (Response and Assertion signed, {} bytes each) verified in-process, one core\n\n\
         | verifier | verified per CPU-second | Roleport's full sign-ins per Roleport CPU-second ({roleport:.0}) as a ratio |\n\
         |---|---|---|\n",
        xmls.len(),
        xmls.first().map_or(0, String::len),
    );
    for (name, command) in [
        (
            "libxmlsec1 in C, key parsed once (signatures only: the floor)",
            &mut c,
        ),
        ("node-saml (npm @node-saml/node-saml)", &mut node),
        ("python3-saml (PyPI, OneLogin)", &mut python),
    ] {
        match rate_of(command) {
            Ok((rate, _)) => writeln!(out, "| {name} | {rate:.0} | {:.2} |", roleport / rate),
            Err(why) => writeln!(out, "| {name} | not measured: {why} | – |"),
        }
        .unwrap();
    }
    out
}
