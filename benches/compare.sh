#!/usr/bin/env bash
# Side-by-side speed and memory of wireseam, tshark and tcpdump on the same capture, same run.
#   benches/compare.sh FILE [RUNS]
# Prints hyperfine means, the ratios the performance targets are stated in, and peak RSS.
set -euo pipefail
f=${1:?usage: benches/compare.sh FILE [RUNS]}
runs=${2:-5}
cd "$(dirname "$0")/.."
bin=target/release/wireseam
[ -x "$bin" ] || cargo build --release --locked
for t in tshark tcpdump hyperfine; do
  command -v $t >/dev/null || { echo "needs $t (apt-get install tshark tcpdump hyperfine)"; exit 1; }
done
size=$(stat -c %s "$f")
frames=$($bin read --format json "$f" | grep -c '"type":"packet"' || true)
echo "file: $f  $((size / 1000000)) MB  $frames frames  ($(nproc) cores, $(uname -r))"
json=$(mktemp)
ceil=$(mktemp)
nt=$(nproc)
hyperfine --warmup 1 --runs "$runs" --export-json "$json" -N \
  -n "wireseam conns --threads 1" "$bin conns --threads 1 $f" \
  -n "wireseam conns" "$bin conns $f" \
  -n "tshark conv,tcp" "tshark -n -r $f -q -z conv,tcp" \
  -n "wireseam read --threads 1" "$bin read --threads 1 $f" \
  -n "wireseam read" "$bin read $f" \
  -n "wireseam read json" "$bin read --format json $f" \
  -n "tcpdump -nn -r" "tcpdump -nn -r $f" \
  -n "wireseam read | cat" "sh -c '$bin read $f | cat > /dev/null'" \
  -n "wireseam read json | cat" "sh -c '$bin read --format json $f | cat > /dev/null'" \
  -n "tcpdump -nn -r | cat" "sh -c 'tcpdump -nn -r $f 2>/dev/null | cat > /dev/null'" \
  -n "cat" "cat $f" \
  --output=null >/dev/null
# Threads against one thread, and what the machine itself gives threads (as many single-threaded
# runs as cores, started together), in alternating rounds: a VM's second core comes and goes
# within minutes, and hyperfine times each command's runs in one block.
benches/ab.sh "$((runs * 2 + 1))" "$bin conns --threads 1 $f" "$bin conns $f" \
  "sh -c 'for i in \$(seq $nt); do $bin conns --threads 1 $f >/dev/null & done; wait'" \
  "$bin read --threads 1 $f" "$bin read $f" > "$ceil"
python3 - "$json" "$size" "$nt" "$ceil" <<'PY'
import json, re, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
size = int(sys.argv[2])
nt = int(sys.argv[3])
# ab.sh: median wall times in ms, in the order given
ab = [float(re.search(r"wall\s+([\d.]+)", l).group(1)) / 1000 for l in open(sys.argv[4]) if l.startswith("wall")]
a1, ad, par, ar1, ard = ab
for k, v in r.items():
    print(f"  {k:<28} {v:8.3f} s  {size / v / 1e9:6.2f} GB/s")
c, cd, t = r["wireseam conns --threads 1"], r["wireseam conns"], r["tshark conv,tcp"]
r1, rd, rj, td = r["wireseam read --threads 1"], r["wireseam read"], r["wireseam read json"], r["tcpdump -nn -r"]
cat = r["cat"]
rp, rjp, tdp = r["wireseam read | cat"], r["wireseam read json | cat"], r["tcpdump -nn -r | cat"]
print(f"conns vs tshark conv,tcp: {t / cd:5.1f}x faster  (target >= 25x; default threads: the {nt} cores, at most 4)")
print(f"  one thread:             {t / c:5.1f}x faster  ({size / c / 1e9:.2f} GB/s, target >= 30x)")
print(f"  against cat FILE:       {cd / cat:5.1f}x cat's time ({cat:.3f} s; target <= 3x)")
print(f"read text vs tcpdump:     {td / rd:5.1f}x faster  (target >= 6x on small frames, >= 8x on large; default threads: at most 2)")
print(f"  one thread:             {td / r1:5.1f}x faster")
print(f"  through a pipe:         {tdp / rp:5.1f}x faster  (| cat > /dev/null, both)")
print(f"read json vs tcpdump:     {td / rj:5.1f}x faster  (target >= 4x on small frames, >= 5x on large)")
print(f"  through a pipe:         {tdp / rjp:5.1f}x faster")
print(f"alternating rounds (medians): conns {a1:.3f} s one thread, {ad:.3f} s default, {nt} one-thread runs at once {par:.3f} s")
print(f"conns default vs 1 thread:  {a1 / ad:5.2f}x  (target >= 1.7x on 2 cores)")
print(f"  the machine's ceiling:    {nt * a1 / par:5.2f}x  ({nt} single-threaded runs at once did {nt}x the work in {par / a1:.2f}x the time)")
print(f"read default vs 1 thread:   {ar1 / ard:5.2f}x")
PY
echo "peak RSS:"
for cmd in "$bin conns --threads 1 $f" "$bin conns $f" "$bin read --threads 1 $f" "$bin read $f" "$bin read --format json $f" "tshark -n -r $f -q -z conv,tcp" "tcpdump -nn -r $f"; do
  /usr/bin/time -f "  %M KB  $cmd" $cmd >/dev/null 2>/tmp/ws-time.$$ || true
  tail -1 /tmp/ws-time.$$
done
rm -f "$json" "$ceil" /tmp/ws-time.$$
