#!/usr/bin/env bash
# Parquet export beside JSON lines on the same capture: wall time, peak RSS and output size of
#   read -F json > FILE        read -F parquet -o DIR        conns -F json / -F parquet
#   benches/parquet.sh FILE [RUNS]
# Needs a release build with the feature (built here when missing) and GNU time (/usr/bin/time).
# The build's own cost: a clean release build is measured by `cargo clean && time cargo build
# --release [--features parquet]` (197 s without, 432 s with, on the 2-core VM of
# benches/README.md, once each).
set -euo pipefail
f=${1:?usage: benches/parquet.sh FILE [RUNS]}
runs=${2:-3}
cd "$(dirname "$0")/.."
bin=${WIRESEAM_BIN:-target/release/wireseam}
if ! "$bin" read fixtures/tcp-basic.pcap -F parquet -o "$(mktemp -d)" 2>/dev/null; then
  cargo build --release --locked --features parquet
fi
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# one line per run: seconds, peak RSS in MB, bytes written
measure() {
  local name=$1 target=$2; shift 2
  for _ in $(seq "$runs"); do
    rm -rf "$target"
    /usr/bin/time -f '%e %M' -o "$out/time" "$@" > "$out/stdout" 2>/dev/null || true
    [ -s "$out/stdout" ] && mv "$out/stdout" "$target"
    read -r secs kb < "$out/time"
    bytes=$(du -sb "$target" | cut -f1)
    printf '%-28s %7.3f s %7.1f MB RSS %10d bytes\n' "$name" "$secs" "$((kb / 1024))" "$bytes"
  done
}
echo "file: $f  $(($(stat -c %s "$f") / 1000000)) MB  ($(nproc) cores)"
measure "read -F json"        "$out/read.json"  "$bin" read "$f" -F json
measure "read -F parquet"     "$out/read.pq"    "$bin" read "$f" -F parquet -o "$out/read.pq"
measure "conns -F json"       "$out/conns.json" "$bin" conns "$f" -F json
measure "conns -F parquet"    "$out/conns.pq"   "$bin" conns "$f" -F parquet -o "$out/conns.pq"
