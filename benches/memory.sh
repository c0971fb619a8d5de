#!/usr/bin/env bash
# Peak RSS (GNU time's maximum resident set) of the commands the memory target names, on one
# capture, output discarded. RSS does not depend on the machine's load: no CPU lock needed.
#
#   benches/memory.sh [FILE] [CONN]   default benches/data/big2g.pcap (make-capture.sh 2000 8),
#                                     the binary of $CARGO_TARGET_DIR (default target/),
#                                     CONN: the connection for `stream --conn` (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
f=${1:-benches/data/big2g.pcap}
conn=${2:-5}
out=/tmp/ws-memory-report.$$.html
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/wireseam
[ -x "$bin" ] || cargo build --release --locked
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time)"; exit 1; }
[ -s "$f" ] || { echo "$f: no such capture (sudo benches/make-capture.sh $f 2000 8)"; exit 1; }
printf '%-40s %9s %8s\n' command 'peak RSS' wall
run() {
  /usr/bin/time -f '%M %e' -o /tmp/ws-memory.$$ "$bin" "$@" > /dev/null 2> /dev/null || true
  read -r kib wall < <(tail -1 /tmp/ws-memory.$$)
  local label=$*
  label=${label//$f/F}
  printf '%-40s %6d MB %7ss\n' "${label//$out/x.html}" $((kib / 1024)) "$wall"
}
run read "$f"
run read --threads 1 "$f"
run read --format json "$f"
run read --format json --threads 1 "$f"
run conns "$f"
run conns --threads 1 "$f"
run conns --format json "$f"
run stream "$f"
run stream --keep 0 "$f"
run stream --conn "$conn" "$f"
run report "$f" -o "$out"
run report --keep 0 "$f" -o "$out"
run report --threads 2 "$f" -o "$out"
rm -f /tmp/ws-memory.$$ "$out"
