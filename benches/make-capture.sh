#!/usr/bin/env bash
# Build a large benchmark capture from real traffic: wireseam's own generators between two
# network namespaces over a veth pair (offloads off, MTU 1500, so frames are MTU-sized like a
# real NIC), captured by `wireseam capture -w`. Run as root.
#   benches/make-capture.sh [OUT] [MB] [LANES] [PROFILE]
#   default benches/data/big.pcap, 500 MB, 8 lanes, PROFILE mixed
# LANES clients run side by side (as on a busy server), each its own sequence of scenarios on
# its own ports; LANES=1 gives a strictly sequential capture (one connection at a time).
# PROFILE mixed: framed, many, jsonhdr and 2 MiB bulk transfers in turn (large segments).
# PROFILE small: request/response exchanges of 16-200 byte messages (`gen echo`: each request
# waits for its answer, so every message is a segment of its own, as with TCP_NODELAY), about
# 8,000 frames a connection: where per-frame costs (decoding, a line, a JSON record) dominate.
# Give it 2 lanes: 8 make about 150,000 frames a second, more than the capture (annotating
# JSON as it writes) keeps up with, and the kernel drops some (the last line says how many).
#   benches/make-capture.sh benches/data/small.pcap 113 2 small
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benches/data/big.pcap}
mb=${2:-500}
lanes=${3:-8}
profile=${4:-mixed}
case $profile in mixed|small) ;; *) echo "PROFILE is mixed or small, not $profile"; exit 1;; esac
bin=$PWD/target/release/wireseam
[ -x "$bin" ] || cargo build --release --locked
command -v ethtool >/dev/null || { echo "needs ethtool (apt-get install ethtool)"; exit 1; }
mkdir -p "$(dirname "$out")"
out=$(realpath -m "$out")
A=wsb-a; B=wsb-b
cleanup() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $A; ip netns add $B
ip link add wsba0 type veth peer name wsbb0
ip link set wsba0 netns $A; ip link set wsbb0 netns $B
ip -n $A addr add 198.18.7.1/24 dev wsba0; ip -n $B addr add 198.18.7.2/24 dev wsbb0
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set wsba0 up; ip -n $B link set wsbb0 up
ip netns exec $A ethtool -K wsba0 tso off gso off gro off >/dev/null
ip netns exec $B ethtool -K wsbb0 tso off gso off gro off >/dev/null
# A shared 500 Mbit/s link: concurrent connections interleave on the wire as they would on a real
# server's NIC (without it one bulk transfer takes the whole veth while the others wait).
for p in "$A wsba0" "$B wsbb0"; do
  set -- $p
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 500mbit burst 256kb latency 100ms
done
ip netns exec $A "$bin" capture -i wsba0 -w "$out" --format json -Z root tcp > /dev/null 2>/tmp/wsb-capture.err &
cap=$!
sleep 1
kill -0 $cap 2>/dev/null || { cat /tmp/wsb-capture.err; exit 1; }
limit=$((mb * 1000000))
size() { stat -c %s "$out" 2>/dev/null || echo 0; }
lane() { # lane number: scenarios in turn on ports 9100+200*lane .. +199
  local base=$((9100 + 200 * $1)) port round=0
  port=$base
  run() { # scenario, args...
    local s=$1; shift
    ip netns exec $B "$bin" gen "$s" --role server --addr 198.18.7.2 --port $port -q "$@" >/dev/null &
    local srv=$!
    sleep 0.05
    ip netns exec $A "$bin" gen "$s" --role client --addr 198.18.7.2 --port $port -q "$@" >/dev/null || true
    wait $srv || true
    port=$((port + 1))
    if [ $port -ge $((base + 200)) ]; then port=$base; fi
  }
  while [ "$(size)" -lt "$limit" ]; do
    round=$((round + 1))
    if [ "$profile" = small ]; then
      run echo --count 4000 --seed $((round * 16 + $1))
      continue
    fi
    run framed --count 200 --seed $((round * 16 + $1))
    run many --count 20
    run jsonhdr --count 50 --seed $((round * 16 + $1))
    run bulk --size $((2 << 20))
  done
}
pids=()
for l in $(seq 0 $((lanes - 1))); do lane "$l" & pids+=($!); done
while [ "$(size)" -lt "$limit" ]; do
  printf '\r%s MB' "$(( $(size) / 1000000 ))"
  sleep 1
done
wait "${pids[@]}"
echo
kill -INT $cap; wait $cap || true
tail -1 /tmp/wsb-capture.err
ls -l "$out"
