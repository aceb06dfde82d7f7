//! The figures of a fleet run, as the table the test prints and the README quotes.

use super::load::{Answer, Step, Tally};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// One phase of the run: its fault, how long the fault lasted and how long the fleet took to
/// recover after it was lifted.
pub struct PhaseFigures {
    pub name: String,
    pub fault: String,
    pub held: Duration,
    /// From the fault lifted to both replicas up in HAProxy and a full visit through it succeeding.
    pub recovery: Option<Duration>,
}

/// Credentials as each party counted them.
pub struct KeyFigures {
    pub minted: usize,
    pub audited: usize,
    pub handed_out: usize,
    pub handed_out_console: usize,
    pub handed_out_without_audit: usize,
    pub audited_not_received: usize,
    pub minted_not_audited: usize,
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// A Markdown table, every column as wide as its widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!(" {cell:<w$} ")
                } else {
                    format!(" {cell:>w$} ")
                }
            })
            .collect();
        format!("|{}|\n", cells.join("|"))
    };
    let mut out = line(&rows[0]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for r in &rows[1..] {
        out.push_str(&line(r));
    }
    out
}

/// A table row: its label, the request count, the count of each answer, then `last`.
fn row(
    label: String,
    columns: &[Answer],
    counts: &BTreeMap<Answer, u64>,
    last: [String; 2],
) -> Vec<String> {
    [label, counts.values().sum::<u64>().to_string()]
        .into_iter()
        .chain(
            columns
                .iter()
                .map(|c| counts.get(c).copied().unwrap_or(0).to_string()),
        )
        .chain(last)
        .collect()
}

pub fn render(tally: &Tally, phases: &[PhaseFigures], keys: &KeyFigures, wall: Duration) -> String {
    let columns: Vec<Answer> = {
        let mut all: Vec<Answer> = tally.counts.keys().map(|(_, _, a)| a.clone()).collect();
        all.sort();
        all.dedup();
        all
    };
    let mut rows = vec![
        ["phase (fault, how long)", "requests"]
            .iter()
            .map(|s| s.to_string())
            .chain(columns.iter().map(Answer::label))
            .chain(["clients saw errors for".into(), "recovered after".into()])
            .collect::<Vec<String>>(),
    ];
    let mut totals: BTreeMap<Answer, u64> = BTreeMap::new();
    for p in phases {
        let mut per: BTreeMap<Answer, u64> = BTreeMap::new();
        for ((phase, _, answer), n) in &tally.counts {
            if *phase == p.name {
                *per.entry(answer.clone()).or_default() += n;
                *totals.entry(answer.clone()).or_default() += n;
            }
        }
        let window = tally
            .error_window
            .get(&p.name)
            .map(|(a, b)| secs(b.duration_since(*a)))
            .unwrap_or_else(|| "-".into());
        rows.push(row(
            format!("{} ({}, {})", p.name, p.fault, secs(p.held)),
            &columns,
            &per,
            [window, p.recovery.map(secs).unwrap_or_else(|| "-".into())],
        ));
    }
    rows.push(row(
        "total".into(),
        &columns,
        &totals,
        [String::new(), String::new()],
    ));
    let mut out = table(&rows);
    writeln!(out).unwrap();
    writeln!(out, "Requests by step (all phases):").unwrap();
    for step in [Step::SignIn, Step::Roles, Step::Credentials, Step::Console] {
        let mut per: BTreeMap<Answer, u64> = BTreeMap::new();
        for ((_, s, answer), n) in &tally.counts {
            if *s == step {
                *per.entry(answer.clone()).or_default() += n;
            }
        }
        let parts: Vec<String> = per
            .iter()
            .map(|(a, n)| format!("{} {n}", a.label()))
            .collect();
        writeln!(out, "  {:<13} {}", step.name(), parts.join(", ")).unwrap();
    }
    writeln!(out).unwrap();
    writeln!(
        out,
        "Credentials: minted by STS {}, audited as issued {}, received by clients {} ({} as console links); \
         received without a committed audit row {}; audited but never received (answer lost with a killed replica or the client) {}; \
         minted but not audited, so never handed out {}.",
        keys.minted,
        keys.audited,
        keys.handed_out,
        keys.handed_out_console,
        keys.handed_out_without_audit,
        keys.audited_not_received,
        keys.minted_not_audited
    )
    .unwrap();
    writeln!(out, "Wall time of the run: {}.", secs(wall)).unwrap();
    out
}
