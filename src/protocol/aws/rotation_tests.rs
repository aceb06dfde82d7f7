use super::*;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

fn schedule() -> Schedule {
    Schedule {
        rotate_after: Duration::days(30),
        overlap: Duration::hours(2),
        retire_after: Duration::hours(1),
    }
}

const FILES: &[&str] = &["file:aaaa"];

fn files() -> Vec<String> {
    FILES.iter().map(|s| s.to_string()).collect()
}

/// Takes the due step as if it succeeded; returns the records after it.
fn run(records: &[KeyRecord], now: DateTime<Utc>, n: &mut u32) -> (Step, Vec<KeyRecord>) {
    let step = next_step(records, &schedule(), now, false);
    *n += 1;
    let id = format!("k{n}");
    let after = apply(records, &files(), &step, Some(&id), now, &schedule(), false).unwrap();
    (step, after)
}

#[test]
fn a_full_rotation_from_file_keys_then_a_second_one() {
    let mut n = 0;
    let now = t0();
    let (step, r) = run(&[], now, &mut n);
    assert_eq!(step, Step::Generate);
    assert_eq!(
        published(&r, &files()),
        ["file:aaaa", "k1"],
        "file key still signs"
    );
    let (step, r) = run(&r, now, &mut n);
    assert_eq!(step, Step::Trust { key: "k1".into() });
    // Trusted but not yet published for the overlap: wait.
    let (step, r) = run(&r, now + Duration::minutes(119), &mut n);
    assert!(matches!(step, Step::Wait { until: Some(u), .. } if u == now + Duration::hours(2)));
    let switch_at = now + Duration::hours(2);
    let (step, r) = run(&r, switch_at, &mut n);
    assert_eq!(step, Step::Switch { key: "k1".into() });
    assert_eq!(
        published(&r, &files()),
        ["k1", "file:aaaa"],
        "k1 signs, file key retiring"
    );
    let (step, r) = run(&r, switch_at + Duration::minutes(59), &mut n);
    assert_eq!(step.name(), "wait");
    let (step, r) = run(&r, switch_at + Duration::hours(1), &mut n);
    assert_eq!(
        step,
        Step::Untrust {
            key: "file:aaaa".into()
        }
    );
    assert_eq!(published(&r, &files()), ["k1"]);
    // Nothing until rotate_after since k1 began signing.
    let (step, r) = run(&r, switch_at + Duration::days(29), &mut n);
    assert!(
        matches!(step, Step::Wait { until: Some(u), .. } if u == switch_at + Duration::days(30))
    );
    let later = switch_at + Duration::days(30);
    let (step, r) = run(&r, later, &mut n);
    assert_eq!(step, Step::Generate);
    let new = r.last().unwrap().id.clone();
    assert_eq!(published(&r, &files()), ["k1".to_string(), new.clone()]);
    let (_, r) = run(&r, later, &mut n);
    let (step, r) = run(&r, later + Duration::hours(2), &mut n);
    assert_eq!(step, Step::Switch { key: new.clone() });
    assert_eq!(published(&r, &files()), [new.clone(), "k1".to_string()]);
    let (step, r) = run(&r, later + Duration::hours(3), &mut n);
    assert_eq!(step, Step::Untrust { key: "k1".into() });
    assert_eq!(published(&r, &files()), [new]);
}

#[test]
fn an_untrusted_key_never_switches_however_late() {
    let r = apply(
        &[],
        &files(),
        &Step::Generate,
        Some("k1"),
        t0(),
        &schedule(),
        false,
    )
    .unwrap();
    // The push failed for an account: Trust stays due, a year later too.
    assert_eq!(
        next_step(&r, &schedule(), t0() + Duration::days(365), false),
        Step::Trust { key: "k1".into() }
    );
    // A stale decision cannot commit.
    assert_eq!(
        apply(
            &r,
            &files(),
            &Step::Switch { key: "k1".into() },
            None,
            t0() + Duration::days(1),
            &schedule(),
            false
        ),
        Err(TransitionError::NotDue("switch"))
    );
}

#[test]
fn the_overlap_counts_from_the_last_account_confirming_not_from_generation() {
    let r = apply(
        &[],
        &files(),
        &Step::Generate,
        Some("k1"),
        t0(),
        &schedule(),
        false,
    )
    .unwrap();
    // An account refused the push for a day; the second try confirmed it.
    let trusted_at = t0() + Duration::days(1);
    let r = apply(
        &r,
        &files(),
        &Step::Trust { key: "k1".into() },
        None,
        trusted_at,
        &schedule(),
        false,
    )
    .unwrap();
    // Long past generation + overlap, but the accounts have held it for a minute only.
    assert!(matches!(
        next_step(&r, &schedule(), trusted_at + Duration::minutes(1), false),
        Step::Wait { until: Some(u), .. } if u == trusted_at + Duration::hours(2)
    ));
    assert_eq!(
        next_step(&r, &schedule(), trusted_at + Duration::hours(2), false),
        Step::Switch { key: "k1".into() }
    );
}

#[test]
fn start_begins_early_but_skips_nothing() {
    let mut n = 0;
    let mut r = Vec::new();
    let mut now = t0();
    for _ in 0..4 {
        let (_, after) = run(&r, now, &mut n);
        r = after;
        now += Duration::hours(2);
    }
    assert!(r.iter().any(|k| k.state == KeyState::Current));
    assert!(matches!(
        next_step(&r, &schedule(), now, false),
        Step::Wait { .. }
    ));
    assert_eq!(next_step(&r, &schedule(), now, true), Step::Generate);
    let r = apply(
        &r,
        &files(),
        &Step::Generate,
        Some("early"),
        now,
        &schedule(),
        true,
    )
    .unwrap();
    assert_eq!(
        next_step(&r, &schedule(), now, true),
        Step::Trust {
            key: "early".into()
        }
    );
}

#[derive(Debug, Clone)]
enum Event {
    /// Time passes (minutes).
    Advance(i64),
    /// The due step runs and succeeds.
    Step,
    /// The due step runs and fails half way (a push to one account fails, or the process dies
    /// before committing): nothing is committed.
    Fail,
    /// An operator asks for a rotation now.
    Start,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (1i64..=600).prop_map(Event::Advance),
        Just(Event::Step),
        Just(Event::Step),
        Just(Event::Fail),
        Just(Event::Start),
    ]
}

proptest! {
    /// Whatever happens, in whatever order: at most one next and one current key; the signer is
    /// a file key or a key every account confirmed and held for the overlap; a
    /// retired key is never published; a key retires only after retire_after.
    #[test]
    fn rotation_invariants_hold_under_any_sequence(events in proptest::collection::vec(event(), 1..80)) {
        let s = schedule();
        let mut now = t0();
        let mut records: Vec<KeyRecord> = Vec::new();
        let mut n = 0;
        for e in events {
            let start = matches!(e, Event::Start);
            match e {
                Event::Advance(m) => now += Duration::minutes(m),
                Event::Fail => {}
                Event::Step | Event::Start => {
                    let step = next_step(&records, &s, now, start);
                    n += 1;
                    let id = format!("k{n}");
                    records = apply(&records, &files(), &step, Some(&id), now, &s, start).unwrap();
                }
            }
            let count = |st| records.iter().filter(|r| r.state == st).count();
            prop_assert!(count(KeyState::Next) <= 1);
            prop_assert!(count(KeyState::Current) <= 1);
            let set = published(&records, &files());
            prop_assert!(!set.is_empty());
            let signer = &set[0];
            match records.iter().find(|r| &r.id == signer) {
                None => prop_assert!(signer.starts_with("file:")),
                Some(r) if r.from_file => prop_assert!(r.state != KeyState::Retired),
                Some(r) => {
                    prop_assert_eq!(r.state, KeyState::Current);
                    let trusted = r.trusted_at.unwrap();
                    let from = r.signing_from.unwrap();
                    prop_assert!(trusted <= from);
                    prop_assert!(r.created_at + s.overlap <= from);
                    prop_assert!(trusted + s.overlap <= from);
                }
            }
            for r in &records {
                if r.state == KeyState::Retired {
                    prop_assert!(!set.contains(&r.id));
                    prop_assert!(r.retiring_since.unwrap() + s.retire_after <= r.retired_at.unwrap());
                }
            }
        }
    }
}
