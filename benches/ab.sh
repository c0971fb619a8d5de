#!/usr/bin/env bash
# Alternating runs: each round runs every command once, in turn, so a change in the machine's load
# (this project's VMs swing by 1.5x within minutes) hits all of them alike. Prints, per command,
# the median and the fastest wall time and the median and lowest CPU time (user + system).
#   benches/ab.sh ROUNDS "CMD A" "CMD B" ...
# e.g. benches/ab.sh 9 "/tmp/old conns big.pcap" "target/release/wireseam conns big.pcap"
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: benches/ab.sh ROUNDS CMD..." >&2; exit 2; }
python3 - "$@" <<'PY'
import resource, shlex, statistics, subprocess, sys, time
rounds = int(sys.argv[1])
cmds = sys.argv[2:]
wall = {c: [] for c in cmds}
cpu = {c: [] for c in cmds}
for _ in range(rounds):
    for c in cmds:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(shlex.split(c), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall[c].append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[c].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
for c in cmds:
    w, u = wall[c], cpu[c]
    print(f"wall {statistics.median(w)*1000:8.1f} ms (min {min(w)*1000:7.1f})  "
          f"cpu {statistics.median(u)*1000:8.1f} ms (min {min(u)*1000:7.1f})  {c}")
PY
