//! The figures of one load run and the table they print as.

use super::fire::{Mode, Outcome};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

#[derive(Debug)]
pub struct Report {
    pub mode: Mode,
    pub sent: usize,
    /// Answers by status; `0` is no answer.
    pub statuses: BTreeMap<u16, u64>,
    pub elapsed: Duration,
    /// p50, p90, p99, p99.9 of the successes (a sign-in's 303, an issue's 200).
    pub percentiles: [Duration; 4],
    /// p50 and p99 of the 503 answers (overload shed at the door, or a dependency unavailable).
    pub shed_percentiles: [Duration; 2],
    pub roleport_cpu: f64,
    pub postgres_cpu: f64,
    /// The STS emulator's CPU (issue loads; `None` where there is none, or it was not found).
    pub emulator_cpu: Option<f64>,
    /// The harness's own CPU in the timed part: it shares the cores with the server.
    pub client_cpu: f64,
    pub peak_rss_kib: u64,
    /// Resident memory once the load is over: what the allocator kept.
    pub rss_after_kib: u64,
    pub cold_start: Duration,
}

pub const PERCENTILES: [(f64, &str); 4] = [
    (0.50, "p50"),
    (0.90, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
];

/// The nearest-rank percentile `q` of sorted `latencies`.
pub fn percentile(latencies: &[Duration], q: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * latencies.len() as f64).ceil() as usize;
    latencies[rank.clamp(1, latencies.len()) - 1]
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mode: Mode,
        outcome: &Outcome,
        roleport_cpu: f64,
        postgres_cpu: f64,
        emulator_cpu: Option<f64>,
        client_cpu: f64,
        (peak_rss_kib, rss_after_kib): (u64, u64),
        cold_start: Duration,
    ) -> Report {
        Report {
            mode,
            sent: outcome.sent,
            statuses: outcome.statuses.clone(),
            elapsed: outcome.elapsed,
            percentiles: PERCENTILES.map(|(q, _)| percentile(&outcome.latencies, q)),
            shed_percentiles: [0.5, 0.99].map(|q| percentile(&outcome.shed_latencies, q)),
            roleport_cpu,
            postgres_cpu,
            emulator_cpu,
            client_cpu,
            peak_rss_kib,
            rss_after_kib,
            cold_start,
        }
    }

    /// 503 answers.
    pub fn shed(&self) -> u64 {
        self.statuses.get(&503).copied().unwrap_or(0)
    }

    /// Sign-ins (303) or issues (200), as the mode goes.
    pub fn succeeded(&self) -> u64 {
        self.statuses
            .get(&self.mode.success())
            .copied()
            .unwrap_or(0)
    }

    pub fn per_second(&self) -> f64 {
        self.succeeded() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Sign-ins per second of Roleport's own CPU: comparable with a verifier's rate on one core.
    pub fn per_roleport_cpu_second(&self) -> f64 {
        self.succeeded() as f64 / self.roleport_cpu.max(1e-9)
    }

    /// Answers other than the successes and 503s, as `status×count` (`none` for no answer).
    pub fn others(&self) -> String {
        let success = self.mode.success();
        let others: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| **s != success && **s != 503)
            .map(|(s, n)| match s {
                0 => format!("none×{n}"),
                s => format!("{s}×{n}"),
            })
            .collect();
        if others.is_empty() {
            "–".into()
        } else {
            others.join(" ")
        }
    }

    /// Everything a run must have to be a run: requests sent and answered, percentiles in order,
    /// CPU and memory read (the emulator's too, in an issue load).
    pub fn assert_well_formed(&self) {
        assert!(self.sent > 0, "nothing was sent: {self:?}");
        assert_eq!(
            self.statuses.values().sum::<u64>(),
            self.sent as u64,
            "every request is counted once: {self:?}"
        );
        assert!(self.elapsed > Duration::ZERO, "{self:?}");
        assert!(
            self.percentiles.windows(2).all(|w| w[0] <= w[1])
                && (self.succeeded() == 0 || self.percentiles[0] > Duration::ZERO),
            "percentiles in order: {self:?}"
        );
        assert!(
            self.shed_percentiles[0] <= self.shed_percentiles[1]
                && (self.shed() == 0 || self.shed_percentiles[0] > Duration::ZERO),
            "503 percentiles in order: {self:?}"
        );
        assert!(self.roleport_cpu > 0.0, "Roleport's CPU was read: {self:?}");
        assert!(self.postgres_cpu > 0.0, "Postgres's CPU was read: {self:?}");
        assert_eq!(
            self.emulator_cpu.is_some_and(|cpu| cpu > 0.0),
            self.mode.is_issue(),
            "the emulator's CPU was read in an issue load, and only there: {self:?}"
        );
        assert!(self.peak_rss_kib > 0, "{self:?}");
        assert!(self.cold_start > Duration::ZERO, "{self:?}");
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn shed_ms(count: u64, d: Duration) -> String {
    if count == 0 { "–".into() } else { ms(d) }
}

/// The load tables: one row per run, the sign-in loads in one table and the issue loads in
/// another (their unit is an issue, and they have the emulator's CPU). Latency percentiles are of
/// the successes (303 or 200); the 503s have their own count and percentiles.
pub fn table(reports: &[Report]) -> String {
    let (issues, sign_ins): (Vec<&Report>, Vec<&Report>) =
        reports.iter().partition(|r| r.mode.is_issue());
    let mut out = String::new();
    if !sign_ins.is_empty() {
        out.push_str(&rows(&sign_ins, "sign-in", false));
    }
    if !issues.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&rows(&issues, "issue", true));
        out.push('\n');
        for r in &issues {
            out.push_str(&emulator_note(r));
        }
    }
    out
}

fn rows(reports: &[&Report], noun: &str, emulator: bool) -> String {
    let moto = if emulator { " moto CPU ms/issue |" } else { "" };
    let mut out = format!(
        "| load | sent | {noun}s/s | p50 ms | p90 ms | p99 ms | p99.9 ms | 503s | 503 p50 ms | 503 p99 ms | other answers | Roleport CPU ms/{noun} | Postgres CPU ms/{noun} |{moto} harness CPU s | peak RSS MiB | RSS after MiB | cold start ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|{}---|---|---|---|\n",
        if emulator { "---|" } else { "" },
    );
    for r in reports {
        let per = |cpu: f64| format!("{:.2}", cpu * 1000.0 / r.succeeded().max(1) as f64);
        let moto = if emulator {
            format!(" {} |", r.emulator_cpu.map_or("not read".into(), per))
        } else {
            String::new()
        };
        writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |{moto} {:.1} | {:.0} | {:.0} | {} |",
            r.mode.label(),
            r.sent,
            r.per_second(),
            ms(r.percentiles[0]),
            ms(r.percentiles[1]),
            ms(r.percentiles[2]),
            ms(r.percentiles[3]),
            r.shed(),
            shed_ms(r.shed(), r.shed_percentiles[0]),
            shed_ms(r.shed(), r.shed_percentiles[1]),
            r.others(),
            per(r.roleport_cpu),
            per(r.postgres_cpu),
            r.client_cpu,
            r.peak_rss_kib as f64 / 1024.0,
            r.rss_after_kib as f64 / 1024.0,
            ms(r.cold_start),
        )
        .unwrap();
    }
    out
}

/// Which process was busiest over the timed part, in cores: moto_server is one Python process,
/// so about one core (less, with its threads taking turns at the GIL) is as much as it can use.
fn emulator_note(r: &Report) -> String {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let cores = |cpu: f64| format!("{:.2}", cpu / secs);
    format!(
        "{}: cores busy over the {:.1} s timed part: moto {}, Roleport {}, Postgres {}, the harness {} (moto is one Python process: about one core is its ceiling).\n",
        r.mode.label(),
        secs,
        r.emulator_cpu.map_or("not read".into(), cores),
        cores(r.roleport_cpu),
        cores(r.postgres_cpu),
        cores(r.client_cpu),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(percentile(&l, 0.5), Duration::from_millis(500));
        assert_eq!(percentile(&l, 0.99), Duration::from_millis(990));
        assert_eq!(percentile(&l, 0.999), Duration::from_millis(999));
        assert_eq!(percentile(&l[..1], 0.999), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    fn report(mode: Mode, status: u16, emulator_cpu: Option<f64>) -> Report {
        let outcome = Outcome {
            latencies: vec![Duration::from_millis(5); 10],
            statuses: [(status, 10)].into(),
            elapsed: Duration::from_secs(1),
            sent: 10,
            ..Outcome::default()
        };
        let memory = (1024, 1024);
        Report::new(
            mode,
            &outcome,
            0.1,
            0.05,
            emulator_cpu,
            0.01,
            memory,
            Duration::from_millis(100),
        )
    }

    #[test]
    fn issue_loads_get_their_own_table_with_the_emulators_cpu() {
        let out = table(&[
            report(Mode::Closed(4), 303, None),
            report(Mode::Issue(8), 200, Some(0.9)),
        ]);
        let lines: Vec<&str> = out.lines().collect();
        // The sign-in table as it always was.
        assert!(
            lines[0].starts_with("| load | sent | sign-ins/s |"),
            "{out}"
        );
        assert!(
            lines[0].contains("| Postgres CPU ms/sign-in | harness CPU s |"),
            "{out}"
        );
        assert_eq!(lines[2].matches('|').count(), 18, "{out}");
        // The issue table: one column more, per issue, and the note on who was busy.
        assert_eq!(lines[3], "");
        assert!(lines[4].contains("| issues/s |"), "{out}");
        assert!(
            lines[4].contains("| Postgres CPU ms/issue | moto CPU ms/issue |"),
            "{out}"
        );
        assert_eq!(lines[5].matches('|').count(), 19, "{out}");
        assert!(
            lines[6].contains("| 90.00 |"),
            "moto's 0.9 s over 10 issues: {out}"
        );
        assert!(lines[8].contains("moto 0.90, Roleport 0.10"), "{out}");
        report(Mode::Issue(8), 200, Some(0.9)).assert_well_formed();
    }
}
