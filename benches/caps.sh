#!/usr/bin/env bash
# Memory caps under floods: a million TCP connections that open and never close (one SYN each,
# 1 µs apart: all open at once, none lingers out), and a million IPv4 datagrams of which only
# the first fragment comes (64 bytes of IP payload, distinct ids: none completes, none times out).
# Captures are written by benches/flood.rs (the generator of tests/caps.rs) into DIR.
#
#   benches/caps.sh [DIR] [N]        default benches/data/caps (git-ignored), N = 1000000
#
# For each command it prints the peak RSS, the wall and CPU time per frame (one run under GNU
# time), and what the run reported on stderr about evictions. The SYN flood runs with
# --max-conns 1024, 16384 (the default) and 262144: eviction takes the least recently active
# connection from a list, so the time per frame should not grow with the cap (a scan of the
# table would make it grow with it). Timings are for one run: take them under the CPU lock
# (flock -x /tmp/ws-cpu.lock benches/caps.sh) on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-benches/data/caps}
n=${2:-1000000}
bin=$PWD/target/release/wireseam
[ -x "$bin" ] || cargo build --release --locked
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time)"; exit 1; }
mkdir -p "$dir"
syn=$dir/syn-$n.pcap
frag=$dir/frag-$n.pcap
[ -s "$syn" ] || cargo bench --quiet --bench flood -- syn "$syn" "$n" | tail -1
[ -s "$frag" ] || cargo bench --quiet --bench flood -- frag "$frag" "$n" 64 | tail -1

printf '%-58s %9s %8s %8s  %s\n' command 'peak RSS' 'ns/frame' 'cpu ns' 'stderr'
measure() { # file, wireseam args...
  local f=$1; shift
  local err=$dir/err out
  /usr/bin/time -f '%M %e %U %S' -o "$dir/time" "$bin" "$@" "$f" > /dev/null 2> "$err" || true
  read -r kib wall user sys < <(tail -1 "$dir/time")
  out=$(grep -E 'evicted|not reassembled' "$err" | sed -E 's/wireseam: (warning: )?//; s/ (before|from the full).*//; s/\(([0-9]+) timed out, ([0-9]+) incomplete.*/(\2 incomplete at the end)/' | paste -sd';' -)
  printf '%-58s %6d MB %8.0f %8.0f  %s\n' "$* $(basename "$f")" $((kib / 1024)) \
    "$(echo "$wall * 1000000000 / $n" | bc -l)" "$(echo "($user + $sys) * 1000000000 / $n" | bc -l)" "$out"
}
for cap in 1024 16384 262144; do
  measure "$syn" conns --threads 1 --max-conns $cap
done
measure "$syn" conns
measure "$syn" read --threads 1
measure "$syn" read
measure "$syn" read --format json
measure "$syn" stream
measure "$frag" conns --threads 1
measure "$frag" read --threads 1
measure "$frag" read --format json
measure "$frag" stream
