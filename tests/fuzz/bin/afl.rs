//! One AFL++ binary for every target, picked by `ROLEPORT_FUZZ_TARGET` (deploy/fuzz.sh sets
//! it), so the instrumented build links once.

fn main() {
    let name = std::env::var("ROLEPORT_FUZZ_TARGET").unwrap_or_default();
    let Some(target) = roleport_fuzz::target(&name) else {
        let names: Vec<&str> = roleport_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("ROLEPORT_FUZZ_TARGET must be one of {names:?}");
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        target(data);
    });
}
