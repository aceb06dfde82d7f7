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
    /// p50, p90, p99, p99.9 of the sign-ins (303).
    pub percentiles: [Duration; 4],
    /// p50 and p99 of the 503 answers (overload shed at the door, or a dependency unavailable).
    pub shed_percentiles: [Duration; 2],
    pub roleport_cpu: f64,
    pub postgres_cpu: f64,
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

    pub fn signed_in(&self) -> u64 {
        self.statuses.get(&303).copied().unwrap_or(0)
    }

    pub fn per_second(&self) -> f64 {
        self.signed_in() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Sign-ins per second of Roleport's own CPU: comparable with a verifier's rate on one core.
    pub fn per_roleport_cpu_second(&self) -> f64 {
        self.signed_in() as f64 / self.roleport_cpu.max(1e-9)
    }

    /// Answers other than 303 and 503, as `status×count` (`none` for no answer).
    pub fn others(&self) -> String {
        let others: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| **s != 303 && **s != 503)
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
    /// CPU and memory read.
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
                && (self.signed_in() == 0 || self.percentiles[0] > Duration::ZERO),
            "percentiles in order: {self:?}"
        );
        assert!(
            self.shed_percentiles[0] <= self.shed_percentiles[1]
                && (self.shed() == 0 || self.shed_percentiles[0] > Duration::ZERO),
            "503 percentiles in order: {self:?}"
        );
        assert!(self.roleport_cpu > 0.0, "Roleport's CPU was read: {self:?}");
        assert!(self.postgres_cpu > 0.0, "Postgres's CPU was read: {self:?}");
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

/// The load table: one row per run. Latency percentiles are of the sign-ins (303); the 503s
/// have their own count and percentiles.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| load | sent | sign-ins/s | p50 ms | p90 ms | p99 ms | p99.9 ms | 503s | 503 p50 ms | 503 p99 ms | other answers | Roleport CPU ms/sign-in | Postgres CPU ms/sign-in | harness CPU s | peak RSS MiB | RSS after MiB | cold start ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let per = |cpu: f64| format!("{:.2}", cpu * 1000.0 / r.signed_in().max(1) as f64);
        writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.0} | {} |",
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
}
