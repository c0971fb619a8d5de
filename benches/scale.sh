#!/usr/bin/env bash
# Connection scaling: time per frame and memory per connection against the number of TCP
# connections open at once, on synthetic captures from benches/synth.rs (see its header for
# the traffic: handshakes, request/reply rounds and closes, all connections interleaved).
#
#   benches/scale.sh [DIR]          captures go to DIR (default benches/data/scale, git-ignored)
#
# For each N it writes one capture with TOTAL connections in TOTAL/N batches of N open at once
# (the batches are further apart than the tracker's 60 s linger, so the table holds one batch
# at a time), and measures `wireseam conns` and `wireseam read` on it. Every file then has the
# same frames and the same per-connection work whatever N is: only the number of connections
# open at once changes, so the ns/frame column can be compared directly down the table.
#
# Environment (all optional):
#   SCALE_NS="1000 10000"   the N list (default "1000 10000 100000 1000000")
#   SCALE_TOTAL=100000      connections per file (default: the largest N)
#   SCALE_ROUNDS=4          request/reply rounds per connection (7 + 4*ROUNDS frames each)
#   SCALE_RUNS=2            timed runs per measurement (hyperfine), after one run under
#                           /usr/bin/time for the peak RSS, which also warms the page cache
#   SCALE_CMDS="conns read" the wireseam subcommands to measure
#   SCALE_ARGS="..."        extra wireseam options, e.g. "--framing len:4:be" or "--threads 2"
# Captures are kept and reused when one with the same parameters exists (the name says them);
# delete DIR to regenerate. Results also go to DIR/results.tsv.
#
# Columns: frames and file size of the capture; time: median wall time of the runs (min-max);
# ns/frame: median time / frames; cpu ns/frame: mean user+system CPU time / frames (less
# disturbed than wall time when something else runs on the machine); peak RSS: max resident
# set (/usr/bin/time); B/conn: peak RSS / N; dB/conn: (peak RSS - peak RSS at the first N) /
# (N - first N), the marginal cost of one more open connection, free of the fixed part (binary,
# buffers, and for `conns` the rows it keeps for all TOTAL connections, the same in every file).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-benches/data/scale}
read -r -a ns <<< "${SCALE_NS:-1000 10000 100000 1000000}"
mapfile -t ns < <(printf '%s\n' "${ns[@]}" | sort -n -u)
rounds=${SCALE_ROUNDS:-4}
total=${SCALE_TOTAL:-${ns[-1]}}
runs=${SCALE_RUNS:-2}
read -r -a cmds <<< "${SCALE_CMDS:-conns read}"
read -r -a extra <<< "${SCALE_ARGS:-}"
max_conns=2000000

for t in hyperfine jq /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "scale.sh: needs $t" >&2; exit 1; }
done
for n in "${ns[@]}"; do
  if [ "$n" -gt "$max_conns" ] || [ "$n" -gt "$total" ]; then
    echo "scale.sh: N=$n must be at most $max_conns and at most SCALE_TOTAL=$total" >&2
    exit 2
  fi
done

cargo build --release --locked --quiet
bin=$(realpath "${CARGO_TARGET_DIR:-target}")/release/wireseam
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

results=$dir/results.tsv
printf 'cmd\tN\tbatches\tframes\tfile_MB\ttime_s\tmin_s\tmax_s\tns_per_frame\tcpu_ns_per_frame\trss_MB\tB_per_conn\tdB_per_conn\n' > "$results"
table=("cmd N batches frames file_MB time_s(min-max) ns/frame cpu_ns/frame peak_RSS_MB B/conn dB/conn")
declare -A base_rss base_n

for n in "${ns[@]}"; do
  batches=$(( total / n ))
  file=$dir/synth-n$n-r$rounds-t$((n * batches)).pcap
  if [ ! -s "$file" ] || [ ! -s "$file.info" ]; then
    echo "== generating $file" >&2
    cargo bench --locked --quiet --bench synth -- "$file" "$n" "$rounds" "$batches" > "$tmp/gen.out"
    tail -n 1 "$tmp/gen.out" > "$file.info"
  fi
  # frames=F bytes=B conns=C span_s=S
  frames=$(sed -n 's/.*frames=\([0-9]*\).*/\1/p' "$file.info")
  bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$file.info")
  for cmd in "${cmds[@]}"; do
    run=("$bin" "$cmd" --max-conns "$max_conns" "${extra[@]}" "$file")
    echo "== $cmd N=$n: ${run[*]}" >&2
    /usr/bin/time -f %M -o "$tmp/rss" "${run[@]}" > /dev/null
    rss_kb=$(tail -n 1 "$tmp/rss")
    hyperfine -N --style basic --runs "$runs" --export-json "$tmp/hf.json" "${run[*]}" >&2
    read -r med lo hi cpu < <(jq -r '.results[0] | "\(.median) \(.min) \(.max) \(.user + .system)"' "$tmp/hf.json")
    if [ -z "${base_n[$cmd]:-}" ]; then
      base_n[$cmd]=$n
      base_rss[$cmd]=$rss_kb
    fi
    row=$(awk -v c="$cmd" -v n="$n" -v b="$batches" -v f="$frames" -v by="$bytes" -v med="$med" \
      -v lo="$lo" -v hi="$hi" -v cpu="$cpu" -v rss="$rss_kb" -v n0="${base_n[$cmd]}" -v rss0="${base_rss[$cmd]}" 'BEGIN {
        d = (n > n0) ? sprintf("%.0f", (rss - rss0) * 1024 / (n - n0)) : "-"
        printf "%s\t%d\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t%.1f\t%.0f\t%s\n", c, n, b, f, by / 1e6,
          med, lo, hi, med * 1e9 / f, cpu * 1e9 / f, rss / 1024, rss * 1024 / n, d }')
    printf '%s\n' "$row" >> "$results"
    IFS=$'\t' read -r c nn bb ff mb t tlo thi nsf cnsf rmb bpc dbpc <<< "$row"
    table+=("$c $nn $bb $ff $mb $t($tlo-$thi) $nsf $cnsf $rmb $bpc $dbpc")
  done
done

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ "$rev" = unknown ] || git diff --quiet HEAD -- src || rev="$rev + uncommitted src changes"
echo
echo "wireseam $rev; $rounds rounds, $total connections per file; ${extra[*]:-default options}"
printf '%s\n' "${table[@]}" | column -t
