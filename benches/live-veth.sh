#!/usr/bin/env bash
# Live capture at 1 Gbit/s on a veth: two network namespaces joined by a veth pair (MTU 1500,
# offloads off, so every frame is at most 1,514 bytes), a tbf at RATE on both ends, bulk
# transfers of 250 MB from A to B one after another for SECONDS. Alternating rounds:
#   wireseam capture -i IF --format json -w F.pcap > F.jsonl
#   tcpdump -i IF -B 65536 -w F.pcap
# each printing libpcap's counts (and, for wireseam, its queue's) and the rate it saw.
#   sudo benches/live-veth.sh [ROUNDS] [SECONDS] [RATE]   default 2 rounds, 30 s, 1gbit
# Environment: WIRESEAM_LIVE_WHEN_FULL=drop makes the capture thread drop instead of wait
# when its queue is full (benches/README.md compares the two).
# Run it under the CPU lock: flock -x /tmp/ws-cpu.lock benches/live-veth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-30}
rate=${3:-1gbit}
bin=${WIRESEAM_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/wireseam}
[ -x "$bin" ] || cargo build --release --locked
[ "$(id -u)" = 0 ] || { echo "live-veth.sh: needs root (namespaces, capture)"; exit 1; }
command -v ethtool >/dev/null || { echo "live-veth.sh: needs ethtool (apt-get install ethtool)"; exit 1; }
# Names unique to this run (interface names: at most 15 characters).
id=$$
A=wslv-a-$id; B=wslv-b-$id; IA=wslva$id; IB=wslvb$id
tmp=$(mktemp -d)
cleanup() {
  # processes of this run still in the namespaces, then the namespaces (the veth goes with them)
  for ns in $A $B; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  sleep 0.2
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ip netns add $A; ip netns add $B
ip link add $IA type veth peer name $IB
ip link set $IA netns $A; ip link set $IB netns $B
ip -n $A addr add 198.18.9.1/24 dev $IA; ip -n $B addr add 198.18.9.2/24 dev $IB
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set $IA up; ip -n $B link set $IB up
ip netns exec $A ethtool -K $IA tso off gso off gro off >/dev/null
ip netns exec $B ethtool -K $IB tso off gso off gro off >/dev/null
for p in "$A $IA" "$B $IB"; do
  set -- $p
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$rate" burst 1mb latency 50ms
done
port=9600
# One round: the capture command (stdout to OUT, stderr to $tmp/err) on A's end, the transfer,
# then SIGINT.   round WHAT OUT COMMAND...
round() {
  local what=$1 out=$2; shift 2
  ip netns exec $A "$@" tcp >"$out" 2>"$tmp/err" &
  local cap=$!
  for _ in $(seq 50); do grep -q "listening on" "$tmp/err" 2>/dev/null && break; sleep 0.1; done
  local t0 t1 bytes=0 chunk=250000000
  t0=$(date +%s.%N)
  while awk -v t0="$t0" -v now="$(date +%s.%N)" -v s="$seconds" 'BEGIN { exit !(now - t0 < s) }'; do
    port=$((port + 1))
    ip netns exec $B "$bin" gen bulk --role server --addr 198.18.9.2 --port $port -q >/dev/null &
    local srv=$!
    sleep 0.05
    ip netns exec $A "$bin" gen bulk --role client --addr 198.18.9.2 --port $port --size $chunk -q >/dev/null
    wait $srv || true
    bytes=$((bytes + chunk))
  done
  t1=$(date +%s.%N)
  sleep 0.5
  kill -INT $cap; wait $cap || true
  local mbit
  mbit=$(echo "$bytes $t0 $t1" | awk '{printf "%.0f", $1 * 8 / ($3 - $2) / 1e6}')
  echo "$what: transfer $mbit Mbit/s over $(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s; $(grep -E 'captured|received by filter|dropped by' "$tmp/err" | sed 's/^wireseam: //' | tr '\n' ' ')"
}
for i in $(seq "$rounds"); do
  round "wireseam round $i" "$tmp/ws.jsonl" "$bin" capture -i $IA --format json -w "$tmp/ws.pcap"
  echo "  (json lines: $(wc -l <"$tmp/ws.jsonl"), -w: $(stat -c %s "$tmp/ws.pcap") bytes)"
  rm -f "$tmp/ws.pcap" "$tmp/ws.jsonl"
  if command -v tcpdump >/dev/null; then
    round "tcpdump  round $i" /dev/null tcpdump -i $IA -B 65536 -Z root -w "$tmp/td.pcap"
    rm -f "$tmp/td.pcap"
  fi
done
