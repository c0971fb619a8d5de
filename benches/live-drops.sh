#!/usr/bin/env bash
# Live capture drops on loopback: `wireseam capture -i lo` annotating JSON lines to a file and
# writing -w, while `gen bulk` sends BYTES over lo; then the same transfer under
# `tcpdump -B 65536 -w` (the same 64 MiB kernel buffer as wireseam's default -B 64). Rounds
# alternate; each prints libpcap's counts (wireseam: and its queue's drops), the end the totals.
#   sudo benches/live-drops.sh [BYTES] [ROUNDS]     default 8 MiB (gen bulk's default), 5 rounds
#   sudo benches/live-drops.sh 268435456 5           the 256 MiB case of benches/README.md
# Environment: WIRESEAM_LIVE_WHEN_FULL=drop makes wireseam's capture thread drop instead of wait
# when its queue is full; WIRESEAM_ARGS adds options to wireseam's command line (`-B 256`).
# Run it under the CPU lock: flock -x /tmp/ws-cpu.lock benches/live-drops.sh
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-8388608}
runs=${2:-5}
bin=${WIRESEAM_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/wireseam}
[ -x "$bin" ] || cargo build --release --locked
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=9555
# One run: start the capture command (stdout to OUT, stderr to $tmp/err), wait until it listens,
# make the traffic, stop it.   run OUT COMMAND...
run() {
  local out=$1; shift
  "$@" >"$out" 2>"$tmp/err" &
  local cap=$!
  for _ in $(seq 50); do grep -q "listening on" "$tmp/err" 2>/dev/null && break; sleep 0.1; done
  sleep 0.2
  "$bin" gen bulk --port $port --size "$size" -q >/dev/null
  sleep 1
  kill -INT $cap; wait $cap || true
}
# The number before WORDS in $tmp/err (0 when absent).
count() { grep -oE "[0-9]+ $1" "$tmp/err" | head -1 | grep -oE '^[0-9]+' || echo 0; }
ws_drop=0 ws_seen=0 td_drop=0 td_seen=0
for i in $(seq "$runs"); do
  # shellcheck disable=SC2086 # WIRESEAM_ARGS is split into words on purpose
  run "$tmp/ws.jsonl" "$bin" capture -i lo ${WIRESEAM_ARGS:-} --format json -w "$tmp/ws.pcap" "tcp port $port"
  echo "wireseam run $i: $(tail -1 "$tmp/err" | sed 's/^wireseam: //')"
  ws_drop=$((ws_drop + $(count "dropped by kernel") + $(count "dropped by wireseam's queue")))
  ws_seen=$((ws_seen + $(count "packets captured")))
  if command -v tcpdump >/dev/null; then
    run /dev/null tcpdump -i lo -B 65536 -Z root -w "$tmp/td.pcap" "tcp port $port"
    echo "tcpdump  run $i: $(grep -E 'captured|received by filter|dropped by kernel' "$tmp/err" | tr '\n' ' ')"
    td_drop=$((td_drop + $(count "packets dropped by kernel")))
    td_seen=$((td_seen + $(count "packets captured")))
  fi
  rm -f "$tmp"/*.pcap "$tmp/ws.jsonl"
done
echo "total over $runs runs: wireseam captured $ws_seen, dropped $ws_drop (kernel + queue); tcpdump captured $td_seen, dropped $td_drop"
