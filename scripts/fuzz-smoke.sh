#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/fuzz_targets/) for a bounded time each,
# seeded from the golden fixtures, and fails if one finds a crash (the input
# is left in fuzz/artifacts/TARGET/).
#
# Usage: scripts/fuzz-smoke.sh [SECONDS] [TARGET...]
#   SECONDS per target (default 60); TARGETs default to decoder and app_session
#   (the third target, proxy, runs when named).
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

# Seeds for `decoder`: each fixture fed whole (first byte 0: no chunk
# sizes), and all the requests back to back in chunks of 1, 7 and 40 bytes.
corpus="corpus/decoder"
mkdir -p "$corpus"
golden="$root/crates/proto/tests/golden"
for f in "$golden"/*.bin; do
    { printf '\000'; cat "$f"; } > "$corpus/seed-$(basename "$f" .bin)"
done
{ printf '\003\001\007\050'; cat "$golden"/*.request.bin; } > "$corpus/seed-pipelined"

# Seeds for `app_session`: 5 control bytes (output cap and drain step, then
# 4 chunk sizes), then requests: each fixture alone, and a keep-alive
# pipeline of every request kind.
corpus_app="corpus/app_session"
mkdir -p "$corpus_app"
for f in "$golden"/*.request.bin; do
    { printf '\377\377\020\003\200'; cat "$f"; } > "$corpus_app/seed-$(basename "$f" .bin)"
done
python3 - "$corpus_app/seed-keep-alive" <<'PY'
import json, struct, sys
def msg(ctype, content):
    h = json.dumps({"byteorder": "little", "content-type": ctype, "content-encoding": "utf-8",
                    "content-length": len(content), "keep-alive": True}, ensure_ascii=False).encode()
    return struct.pack(">H", len(h)) + h + content
body = b"".join([
    msg("text/json", json.dumps({"action": "search", "value": "morpheus"}).encode()),
    msg("text/json", json.dumps({"action": "frob", "value": "x"}).encode()),
    msg("binary/x", b"hello world"),
    msg("text/json", json.dumps({"action": "search", "value": "nobody"}).encode()),
])
open(sys.argv[1], "wb").write(b"\x07\x20\x05\xff\x01" + body)
PY

# Seeds for `proxy`: 2 control bytes (v2 length limit, split point), then
# a header of each kind followed by connection bytes.
corpus_proxy="corpus/proxy"
mkdir -p "$corpus_proxy"
python3 - "$corpus_proxy" <<'PY'
import struct, sys
sig = b"\r\n\r\n\x00\r\nQUIT\n"
def v2(ver_cmd, fam, body):
    return sig + bytes([ver_cmd, fam]) + struct.pack(">H", len(body)) + body
inet = bytes([192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb])
seeds = {
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nhello",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\nhi",
    "v1-unknown": b"PROXY UNKNOWN ffff::1 ::2 1 2\r\nx",
    "v2-tcp4-tlvs": v2(0x21, 0x11, inet + b"\x01\x00\x02h2\x03\x00\x04\x00\x00\x00\x00") + b"data",
    "v2-tcp6": v2(0x21, 0x21, bytes(36) + b"\x04\x00\x00"),
    "v2-local": v2(0x20, 0x00, b""),
    "v2-unix": v2(0x21, 0x31, bytes(216)),
}
for name, seed in seeds.items():
    open(f"{sys.argv[1]}/seed-{name}", "wb").write(bytes([1, 7]) + seed)
PY

run_target() {
    local target="$1" dir="$2"
    nice -n 10 cargo fuzz build -s "$sanitizer" "$target"
    # The fuzzer stops itself after $secs; timeout is the backstop.
    local status=0
    timeout --kill-after=10 "$((secs + 120))" \
        nice -n 10 cargo fuzz run -s "$sanitizer" "$target" "$dir" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        || status=$?
    if [ "$status" -ne 0 ]; then
        echo "fuzz-smoke: $target failed (exit $status); see fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
    echo "fuzz-smoke: $target ran ${secs} s with no crash"
}

targets=("${@:2}")
[ "${#targets[@]}" -gt 0 ] || targets=(decoder app_session)
for target in "${targets[@]}"; do
    run_target "$target" "corpus/$target"
done
