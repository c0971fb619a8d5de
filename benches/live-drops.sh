#!/usr/bin/env bash
# Live capture drops on loopback: `wireseam capture -i lo` annotating JSON lines to a file and
# writing -w, while `gen bulk` sends BYTES over lo; then the same transfer under
# `tcpdump -B 65536 -w` (64 MiB kernel buffer). Rounds alternate, and which program goes first
# alternates too. Each round prints libpcap's counts (wireseam: and its queue's drops) and
# wireseam's peak RSS; the end prints per program the sum and the median of the drops.
#   sudo benches/live-drops.sh [BYTES] [ROUNDS]     default 8 MiB (gen bulk's default), 5 rounds
#   sudo benches/live-drops.sh 268435456 5           the 256 MiB case of benches/README.md
# Environment: LOAD=N runs N busy loops at nice 0 during every capture (other work competing for
# the CPUs, the same for both programs); WIRESEAM_ARGS adds options to wireseam's command line
# (`-B 256`); WIRESEAM_LIVE_WHEN_FULL, WIRESEAM_LIVE_RING and WIRESEAM_LIVE_* are passed on.
# Run it under the CPU lock: flock -x /tmp/ws-cpu.lock benches/live-drops.sh
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-8388608}
runs=${2:-5}
load=${LOAD:-0}
bin=${WIRESEAM_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/wireseam}
[ -x "$bin" ] || cargo build --release --locked
[ "$(id -u)" = 0 ] || { echo "live-drops.sh: needs root (capture)"; exit 1; }
tmp=$(mktemp -d)
loaders=()
cleanup() {
  for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
port=9555
# One run: start the load and the capture command (stdout to OUT, stderr to $tmp/err), wait
# until it listens, make the traffic, note the capture's peak RSS in $tmp/hwm, stop it.
#   run OUT COMMAND...
run() {
  local out=$1; shift
  "$@" >"$out" 2>"$tmp/err" &
  local cap=$!
  for _ in $(seq "$load"); do
    nice -n 0 bash -c 'while :; do :; done' &
    loaders+=($!)
  done
  for _ in $(seq 50); do grep -q "listening on" "$tmp/err" 2>/dev/null && break; sleep 0.1; done
  sleep 0.2
  "$bin" gen bulk --port $port --size "$size" -q >/dev/null
  sleep 1
  awk '/^VmHWM/ {print $2}' "/proc/$cap/status" >"$tmp/hwm" 2>/dev/null || echo 0 >"$tmp/hwm"
  kill -INT $cap; wait $cap || true
  for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null || true; done
  loaders=()
}
# The number before WORDS in $tmp/err (0 when absent).
count() { grep -oE "[0-9]+ $1" "$tmp/err" | head -1 | grep -oE '^[0-9]+' || echo 0; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
wireseam() {
  # shellcheck disable=SC2086 # WIRESEAM_ARGS is split into words on purpose
  run "$tmp/ws.jsonl" "$bin" capture -i lo ${WIRESEAM_ARGS:-} --format json -w "$tmp/ws.pcap" "tcp port $port"
  local drop=$(($(count "dropped by kernel") + $(count "dropped by wireseam's queue")))
  echo "wireseam run $i: $(tail -1 "$tmp/err" | sed 's/^wireseam: //'), peak RSS $(($(cat "$tmp/hwm") / 1024)) MiB"
  ws_drops+=" $drop"
  ws_seen=$((ws_seen + $(count "packets captured")))
}
tcpdump_round() {
  run /dev/null tcpdump -i lo -B 65536 -Z root -w "$tmp/td.pcap" "tcp port $port"
  echo "tcpdump  run $i: $(grep -E 'captured|received by filter|dropped by kernel' "$tmp/err" | tr '\n' ' ')"
  td_drops+=" $(count "packets dropped by kernel")"
  td_seen=$((td_seen + $(count "packets captured")))
}
ws_drops="" ws_seen=0 td_drops="" td_seen=0
have_tcpdump=$(command -v tcpdump >/dev/null && echo yes || echo no)
echo "load: $load busy loops; $(uptime)"
for i in $(seq "$runs"); do
  if [ $((i % 2)) = 1 ] || [ "$have_tcpdump" = no ]; then
    wireseam
    [ "$have_tcpdump" = no ] || tcpdump_round
  else
    tcpdump_round
    wireseam
  fi
  rm -f "$tmp"/*.pcap "$tmp/ws.jsonl"
done
sum() { tr ' ' '\n' | grep . | paste -sd+ | bc; }
echo "wireseam drops per round:$ws_drops"
[ "$have_tcpdump" = no ] || echo "tcpdump  drops per round:$td_drops"
echo "total over $runs runs: wireseam captured $ws_seen, dropped $(echo "$ws_drops" | sum) (kernel + queue; median $(echo "$ws_drops" | median))"
[ "$have_tcpdump" = no ] || echo "                      tcpdump captured $td_seen, dropped $(echo "$td_drops" | sum) (median $(echo "$td_drops" | median))"
