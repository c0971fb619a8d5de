#!/usr/bin/env bash
# Live capture drops: `wireseam capture -i lo` annotating to a file (JSON lines, plus -w) while
# the bulk generator runs on loopback; the same for `tcpdump -w`. Prints libpcap's counts.
#   sudo benches/live-drops.sh [BYTES] [RUNS]     default 8 MiB (gen bulk's default), 5 runs
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-8388608}
runs=${2:-5}
bin=$PWD/target/release/wireseam
[ -x "$bin" ] || cargo build --release --locked
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=9555
for i in $(seq "$runs"); do
  "$bin" capture -i lo --format json -w "$tmp/ws.pcap" "tcp port $port" >"$tmp/ws.jsonl" 2>"$tmp/ws.err" &
  cap=$!
  sleep 1
  "$bin" gen bulk --port $port --size "$size" -q >/dev/null
  sleep 1
  kill -INT $cap; wait $cap || true
  echo "wireseam run $i: $(tail -1 "$tmp/ws.err")"
  if command -v tcpdump >/dev/null; then
    tcpdump -i lo -w "$tmp/td.pcap" "tcp port $port" 2>"$tmp/td.err" &
    cap=$!
    sleep 1
    "$bin" gen bulk --port $port --size "$size" -q >/dev/null
    sleep 1
    kill -INT $cap; wait $cap || true
    echo "tcpdump  run $i: $(grep -E 'captured|dropped by kernel' "$tmp/td.err" | tr '\n' ' ')"
  fi
done
