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
nt=$(nproc)
hyperfine --warmup 1 --runs "$runs" --export-json "$json" -N \
  -n "wireseam conns --threads 1" "$bin conns --threads 1 $f" \
  -n "wireseam conns" "$bin conns $f" \
  -n "wireseam read --threads $nt" "$bin read --threads $nt $f" \
  -n "tshark conv,tcp" "tshark -n -r $f -q -z conv,tcp" \
  -n "wireseam read" "$bin read $f" \
  -n "wireseam read json" "$bin read --format json $f" \
  -n "tcpdump -nn -r" "tcpdump -nn -r $f" \
  --output=null >/dev/null
python3 - "$json" "$size" "$nt" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
size = int(sys.argv[2])
for k, v in r.items():
    print(f"  {k:<28} {v:8.3f} s  {size / v / 1e9:6.2f} GB/s")
c, cd, t = r["wireseam conns --threads 1"], r["wireseam conns"], r["tshark conv,tcp"]
rd, rj, td = r["wireseam read"], r["wireseam read json"], r["tcpdump -nn -r"]
print(f"conns vs tshark conv,tcp: {t / cd:5.1f}x faster  (target >= 25x; default threads: the {sys.argv[3]} cores)")
print(f"  one thread:             {t / c:5.1f}x faster  ({size / c / 1e9:.2f} GB/s, target >= 1 GB/s on one core)")
print(f"read text vs tcpdump:     {td / rd:5.1f}x faster  (target >= 2x)")
print(f"read json vs tcpdump:     {td / rj:5.1f}x faster  (target >= 1x)")
nt = sys.argv[3]
rt = r[f"wireseam read --threads {nt}"]
print(f"conns --threads {nt} vs 1:    {c / cd:5.2f}x  (target >= 1.7x on 2 cores)")
print(f"read --threads {nt} vs 1:     {rd / rt:5.2f}x")
PY
echo "peak RSS:"
for cmd in "$bin conns --threads 1 $f" "$bin conns $f" "$bin read $f" "$bin read --threads $nt $f" "$bin read --format json $f" "tshark -n -r $f -q -z conv,tcp" "tcpdump -nn -r $f"; do
  /usr/bin/time -f "  %M KB  $cmd" $cmd >/dev/null 2>/tmp/ws-time.$$ || true
  tail -1 /tmp/ws-time.$$
done
rm -f "$json" /tmp/ws-time.$$
