#!/usr/bin/env bash
# Runs the cargo-fuzz target `decoder` (fuzz/fuzz_targets/decoder.rs) for a
# bounded time, seeded with the golden fixtures, and fails if it finds a
# crash (the input is left in fuzz/artifacts/decoder/).
#
# Usage: scripts/fuzz-smoke.sh [SECONDS]     (default 60)
#
# Works on stable Rust: the sanitizer is off by default (the proto crate has
# no unsafe code; overflow checks and debug assertions stay on). On a nightly
# toolchain, FUZZ_SANITIZER=address turns AddressSanitizer on.
# Installs cargo-fuzz with `cargo install --locked cargo-fuzz` when missing.
set -euo pipefail

secs="${1:-60}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "usage: $0 [SECONDS]   (a positive whole number; default 60)" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-none}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz not found, installing it" >&2
    nice -n 10 cargo install --locked cargo-fuzz
fi

# Seeds: each fixture fed whole (first byte 0: no chunk sizes), and all the
# requests back to back in chunks of 1, 7 and 40 bytes.
corpus="corpus/decoder"
mkdir -p "$corpus"
golden="$root/crates/proto/tests/golden"
for f in "$golden"/*.bin; do
    { printf '\000'; cat "$f"; } > "$corpus/seed-$(basename "$f" .bin)"
done
{ printf '\003\001\007\050'; cat "$golden"/*.request.bin; } > "$corpus/seed-pipelined"

nice -n 10 cargo fuzz build -s "$sanitizer" decoder

# The fuzzer stops itself after $secs; timeout is the backstop.
status=0
timeout --kill-after=10 "$((secs + 120))" \
    nice -n 10 cargo fuzz run -s "$sanitizer" decoder "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    || status=$?
if [ "$status" -ne 0 ]; then
    echo "fuzz-smoke: the fuzzer failed (exit $status); see fuzz/artifacts/decoder/" >&2
    exit "$status"
fi
echo "fuzz-smoke: decoder ran ${secs} s with no crash"
