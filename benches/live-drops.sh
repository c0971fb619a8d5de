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
# One run: start the capture command (its stderr to $tmp/err), make the traffic, stop it.
run() {
  "$@" 2>"$tmp/err" &
  local cap=$!
  sleep 1
  "$bin" gen bulk --port $port --size "$size" -q >/dev/null
  sleep 1
  kill -INT $cap; wait $cap || true
}
for i in $(seq "$runs"); do
  run "$bin" capture -i lo --format json -w "$tmp/ws.pcap" "tcp port $port" >"$tmp/ws.jsonl"
  echo "wireseam run $i: $(tail -1 "$tmp/err")"
  if command -v tcpdump >/dev/null; then
    run tcpdump -i lo -w "$tmp/td.pcap" "tcp port $port"
    echo "tcpdump  run $i: $(grep -E 'captured|dropped by kernel' "$tmp/err" | tr '\n' ' ')"
  fi
done
