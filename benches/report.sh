#!/usr/bin/env bash
# Time and size of `wireseam report` on a capture: wall time, CPU time and peak memory (GNU time)
# of RUNS runs, and the size of the page, next to `wireseam conns` on the same file for scale.
#   benches/report.sh FILE [RUNS] [REPORT OPTIONS...]   default 3 runs
# FILE is resolved from the repository root (the script cd's there), e.g. benches/data/big.pcap.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:?usage: benches/report.sh FILE [RUNS] [OPTIONS...]}
runs=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
bin=$PWD/target/release/wireseam
[ -x "$bin" ] || cargo build --release --locked
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)"; exit 1; }
out=benches/data/report.html
mkdir -p benches/data
measure() { # label, command...
  local label=$1; shift
  for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o benches/data/time.txt "$@" >/dev/null 2>benches/data/stderr.txt || { cat benches/data/stderr.txt; exit 1; }
    read -r wall user sys rss < benches/data/time.txt
    printf '%-8s run %d: %6.2f s wall, %6.2f s CPU, %7.1f MB peak RSS\n' "$label" "$i" "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)"
  done
}
size=$(stat -c %s "$file")
echo "$file: $(( size / 1000000 )) MB"
measure conns "$bin" conns "$file"
measure report "$bin" report "$file" -o "$out" "$@"
page=$(stat -c %s "$out")
echo "page: $out, $(( page / 1000 )) kB, $(grep -o '<section class="conn"' "$out" | wc -l) connections drawn in full, $(grep -o '<tr class="st-' "$out" | wc -l) listed"
