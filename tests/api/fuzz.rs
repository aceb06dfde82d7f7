//! The fuzz targets of `tests/fuzz/targets` as ordinary tests: every target runs over its committed
//! corpus (`tests/fuzz/corpus/<target>`), its recorded crashes (`tests/fuzz/regressions/<target>`), and a
//! bounded number of mutations of the corpus (`ROLEPORT_FUZZ_ITERATIONS` per target, default
//! below; the mutation seed is fixed, `ROLEPORT_FUZZ_SEED` changes it). The long,
//! coverage-guided run is `bash deploy/fuzz.sh`.
//!
//! A failing input is written to `target/fuzz-failures/<target>/`: copy it into
//! `tests/fuzz/regressions/<target>/` so every later run replays it.
//!
//! `regenerate_fuzz_corpus` (ignored; run it on purpose) makes the signed seeds and the public
//! fixtures they verify against, with fresh keys that are then thrown away.

#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use targets::Outcome;

const DEFAULT_ITERATIONS: usize = 2000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fuzz")
}

fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_none_or(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// xorshift64*: deterministic, no dependency, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens worth splicing into XML, JSON, YAML, JWTs and URLs.
const TOKENS: &[&str] = &[
    "<!---->",
    "<!DOCTYPE x [<!ENTITY e \"e\">]>",
    "&e;",
    "&amp;",
    "&#x0;",
    "<![CDATA[x]]>",
    "<?pi?>",
    "</saml:Assertion>",
    "<saml:Assertion ID=\"_x\">",
    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
    "xmlns=\"\"",
    " ID=\"_fz\"",
    "ds:",
    "\"",
    "'",
    "\\u0000",
    "{\"a\":1,\"a\":2}",
    "[[[[[[[[",
    "1e400",
    "-0",
    "null",
    ".",
    "..",
    "/",
    "//",
    "\\",
    "%2f",
    "%2e%2e",
    "#",
    "?",
    ":",
    "@",
    "\t",
    "\r\n",
    " ",
    "\u{202e}",
    "\u{200b}",
    "*",
    "&a [*a,*a]",
    "!!binary",
    "- ",
    ": ",
    "eyJhbGciOiJub25lIn0",
];

fn mutate(rng: &mut Rng, seeds: &[(PathBuf, Vec<u8>)], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                input.drain(start..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let piece = input[start..end].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            4 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())].1;
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(256)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
        }
    }
}

/// Runs `name` over one input; a panic saves the input and fails the test with its path.
fn run_one(name: &str, target: fn(&[u8]) -> Outcome, input: &[u8], origin: &str) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| target(input))) {
        Ok(outcome) => outcome,
        Err(_) => {
            let digest = hex::encode(openssl::sha::sha256(input));
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/fuzz-failures")
                .join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(&digest[..16]);
            std::fs::write(&path, input).unwrap();
            panic!(
                "fuzz target {name} broke an invariant on {origin}; input saved to {} \
                 (copy it to tests/fuzz/regressions/{name}/ once fixed)",
                path.display()
            );
        }
    }
}

/// Corpus, regressions, then mutations. Returns how many corpus inputs were accepted.
fn run(name: &str) -> usize {
    let target = targets::target(name).unwrap();
    let corpus = inputs(&fuzz_dir().join("corpus").join(name));
    assert!(!corpus.is_empty(), "tests/fuzz/corpus/{name} is empty");
    let mut accepted = 0;
    for (path, bytes) in &corpus {
        if run_one(name, target, bytes, &path.display().to_string()) == Outcome::Accepted {
            accepted += 1;
        }
    }
    for (path, bytes) in inputs(&fuzz_dir().join("regressions").join(name)) {
        run_one(name, target, &bytes, &path.display().to_string());
    }
    let iterations = std::env::var("ROLEPORT_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS);
    let seed = std::env::var("ROLEPORT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f022_u64);
    let mut rng = Rng(seed ^ name.len() as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 3];
    for i in 0..iterations {
        let mut input = corpus[rng.below(corpus.len())].1.clone();
        mutate(&mut rng, &corpus, &mut input);
        let outcome = run_one(name, target, &input, &format!("mutation {i} (seed {seed})"));
        outcomes[outcome as usize] += 1;
    }
    eprintln!(
        "{name}: {} corpus inputs ({accepted} accepted); {iterations} mutations: {} accepted, {} refused, {} not text",
        corpus.len(),
        outcomes[Outcome::Accepted as usize],
        outcomes[Outcome::Refused as usize],
        outcomes[Outcome::NotText as usize],
    );
    accepted
}

// Each target must have seeds that get all the way through, or mutations never reach the
// checks behind the parser (signature, profile, round trip).

#[test]
fn fuzz_saml_response() {
    assert!(run("saml_response") >= 4, "signed seeds no longer verify");
}

#[test]
fn fuzz_saml_metadata() {
    assert!(run("saml_metadata") >= 2);
}

#[test]
fn fuzz_jws_header() {
    assert!(run("jws_header") >= 3);
}

#[test]
fn fuzz_id_token() {
    assert!(run("id_token") >= 3, "signed seeds no longer verify");
}

#[test]
fn fuzz_jwks() {
    assert!(run("jwks") >= 2);
}

#[test]
fn fuzz_strict_json() {
    assert!(run("strict_json") >= 3);
}

#[test]
fn fuzz_rules_document() {
    assert!(run("rules_document") >= 2);
}

#[test]
fn fuzz_return_to() {
    assert!(run("return_to") >= 2);
}

#[test]
fn fuzz_console_destination() {
    assert!(run("console_destination") >= 2);
}

/// The harness can fail: an identity that is not what the IdP signed trips the invariant.
#[test]
fn fuzz_harness_catches_an_identity_the_idp_did_not_sign() {
    use std::collections::BTreeMap;
    let attrs = BTreeMap::from([("groups".to_string(), vec!["aws-admins".to_string()])]);
    let signed = targets::fixtures::assertion_fingerprint(Some("alice@example.org"), &attrs);
    let other = targets::fixtures::assertion_fingerprint(Some("alice@example.org.evil"), &attrs);
    assert_ne!(signed, other);
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "alice".into());
    let fp = targets::fixtures::claims_fingerprint(&claims);
    claims.insert("jti".into(), fp.clone().into());
    assert_eq!(targets::fixtures::claims_fingerprint(&claims), fp);
    claims.insert("sub".into(), "admin".into());
    assert_ne!(targets::fixtures::claims_fingerprint(&claims), fp);
}

mod generate;
