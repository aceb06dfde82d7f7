//! The STS emulator the issue load runs against: moto, as `deploy/peers/moto/start.sh` started it
//! (its `moto.env` named by `ROLEPORT_TEST_MOTO_ENV`). It runs on this machine, so its CPU is read
//! from /proc as Roleport's is: in the issue load it, not Roleport, is the bound, and the report
//! has to show that rather than leave it to be guessed.

use super::server::cpu_seconds;
use crate::aws_harness::MOTO;
use std::path::Path;

pub struct Emulator {
    /// Where Roleport sends its STS calls.
    pub url: String,
    /// moto_server's pid, if it could be found.
    pid: Option<u32>,
}

impl Emulator {
    /// The suite's moto (panics, as the other AWS tests do, if `ROLEPORT_TEST_MOTO_ENV` is unset).
    pub fn find() -> Emulator {
        let url = MOTO.get("MOTO_URL").to_string();
        let port: u16 = MOTO.get("MOTO_PORT").parse().unwrap();
        let env = std::env::var("ROLEPORT_TEST_MOTO_ENV").unwrap();
        let state = Path::new(&env).parent().unwrap_or(Path::new("/"));
        let pid = pid_from_state(state).or_else(|| pid_listening_on(port));
        if pid.is_none() {
            eprintln!(
                "load: moto_server's process was not found (port {port}): its CPU is not read"
            );
        }
        Emulator { url, pid }
    }

    /// moto_server's CPU seconds so far (all its threads), or `None` if it was not found.
    pub fn cpu(&self) -> Option<f64> {
        cpu_seconds(self.pid?)
    }
}

fn is_moto(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("moto_server"))
}

/// start.sh records the process group of moto_server, which is its pid (it execs into it).
fn pid_from_state(state: &Path) -> Option<u32> {
    let pid = std::fs::read_to_string(state.join("moto/moto.pgid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    is_moto(pid).then_some(pid)
}

/// For a moto started some other way: the process holding the socket listening on `port`
/// (found only among this user's processes, whose descriptors /proc lets us read).
fn pid_listening_on(port: u16) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!(":{port:04X}");
    // Fields: sl, local_address, rem_address, st (0A = LISTEN), …, inode (the tenth).
    let inode = tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.get(1)?.ends_with(&wanted) && *f.get(3)? == "0A")
            .then(|| f.get(9).map(|i| i.to_string()))?
    })?;
    let socket = format!("socket:[{inode}]");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let held = std::fs::read_dir(entry.path().join("fd"))
                .ok()?
                .flatten()
                .any(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == socket.as_str())
                });
            (held && is_moto(pid)).then_some(pid)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of finding moto_server find the same process (the port one is the fallback for a
    /// moto not started by start.sh, so it is checked here against the one that was).
    #[test]
    fn the_port_finds_the_process_the_state_dir_names() {
        let env = std::env::var("ROLEPORT_TEST_MOTO_ENV").unwrap();
        let by_state = pid_from_state(Path::new(&env).parent().unwrap());
        assert!(by_state.is_some(), "start.sh's moto.pgid names moto_server");
        let port: u16 = MOTO.get("MOTO_PORT").parse().unwrap();
        assert_eq!(pid_listening_on(port), by_state);
        assert!(Emulator::find().cpu().is_some_and(|cpu| cpu > 0.0));
    }
}
