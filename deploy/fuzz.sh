#!/usr/bin/env bash
# The long, coverage-guided fuzzing run: AFL++ through cargo-afl, on stable Rust.
#
#   bash deploy/fuzz.sh [TARGET|all] [SECONDS per target, default 300]
#
# Targets (tests/fuzz/targets/mod.rs): saml_response saml_metadata jws_header id_token jwks strict_json
# rules_document return_to console_destination. They run one after another (one core each).
# Seeds: tests/fuzz/corpus/<target> and tests/fuzz/regressions/<target>; findings: .run/fuzz/<target>
# (ROLEPORT_FUZZ_OUT changes it); a later run starts from what the last one found. Exits 1 if
# any target crashed, listing the inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ALL=(saml_response saml_metadata jws_header id_token jwks strict_json rules_document return_to console_destination)
WHICH=${1:-all}
SECONDS_PER=${2:-300}
OUT=${ROLEPORT_FUZZ_OUT:-$ROOT/.run/fuzz}
if [[ $WHICH == all ]]; then TARGETS=("${ALL[@]}"); else TARGETS=("$WHICH"); fi
for t in "${TARGETS[@]}"; do
  [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz: unknown target $t (one of: ${ALL[*]})"; exit 2; }
done

# Build libraries (libxmlsec1, clang for AFL++'s own build).
bash deploy/install-deps.sh
if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then source "$HOME/.cargo/env"; fi
if ! cargo afl --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-afl"
  cargo install --locked cargo-afl >/dev/null
fi
# AFL++ is built once per Rust toolchain; this fails harmlessly when it already is.
cargo afl config --build >/dev/null 2>&1 || true

# Everything instrumented, in the fuzz crate's own target directory.
(cd tests/fuzz && cargo afl build --release --locked)
BIN=$ROOT/tests/fuzz/target/release/roleport-fuzz

# No cpufreq governor or core_pattern to tune in containers and CI.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
crashed=()
for t in "${TARGETS[@]}"; do
  seeds="$OUT/$t/seeds"
  rm -rf "$seeds"
  mkdir -p "$seeds"
  cp tests/fuzz/corpus/"$t"/* "$seeds"/
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then cp tests/fuzz/regressions/"$t"/* "$seeds"/; fi
  # A later run goes on from what the last one found (its crashes were reported then).
  if compgen -G "$OUT/$t/default/queue/id:*" >/dev/null; then cp "$OUT/$t"/default/queue/id:* "$seeds"/; fi
  rm -rf "$OUT/$t/default"
  echo "fuzz: $t for ${SECONDS_PER}s"
  ROLEPORT_FUZZ_TARGET=$t cargo afl fuzz -i "$seeds" -o "$OUT/$t" -V "$SECONDS_PER" -- "$BIN" \
    >"$OUT/$t/afl.log" 2>&1 || { tail -20 "$OUT/$t/afl.log"; exit 1; }
  stats="$OUT/$t/default/fuzzer_stats"
  if [[ -f $stats ]]; then
    grep -E '^(execs_done|corpus_count|bitmap_cvg|saved_crashes|saved_hangs) ' "$stats" | tr -s ' ' | sed "s/^/fuzz: $t: /"
  fi
  if compgen -G "$OUT/$t/default/crashes/id:*" >/dev/null; then
    crashed+=("$t")
    ls "$OUT/$t/default/crashes"/id:* | sed "s/^/fuzz: $t crash: /"
  fi
done

if ((${#crashed[@]})); then
  echo "fuzz: crashes in ${crashed[*]}. Reproduce one with"
  echo "  ROLEPORT_FUZZ_TARGET=<target> $BIN < <crash file>"
  echo "then fix it, copy the file to tests/fuzz/regressions/<target>/ and run the fuzz tests."
  exit 1
fi
echo "fuzz: no crashes in ${TARGETS[*]}"
