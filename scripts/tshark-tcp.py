#!/usr/bin/env python3
"""Cross-check the TCP tracker's per-frame JSON against tshark.

Usage:
    tshark-tcp.py --cmd 'target/release/trackdump {}' FILE...
    tshark-tcp.py --cmd 'wireseam read {} --format json' FILE...

For every FILE, runs tshark (fields below) and the command ({} is replaced by the
file path; the command prints one JSON object per line, and those with
"type": "packet" carry a "tcp" object with conn, rseq, rack, win, win_scaled,
mss, ws, analysis [names], dup_ack_num). Compares frame by frame and prints
per-field agreement counts and per-flag agreement (frames flagged by tshark, by
us, both, only-tshark, only-us with frame numbers).

Rules:
  * conn, rseq, mss, ws, dup_ack_num must agree on every TCP frame;
  * rack is compared where tshark has tcp.flags.ack set (else ours must be null);
  * win_scaled is compared where ours is not null; where it is null ("scale
    unknown") tshark's tcp.window_size must equal the raw window (it shows the
    unscaled value when its scale factor is -1, unknown) - counted as "unknown";
    where tshark applied a shift from a handshake we consider incomplete (one
    SYN seen, its answer not captured) the frame is counted as "one-sided" and
    not as a disagreement (documented difference);
  * the connection records' irtt_ns must equal tshark's tcp.analysis.initial_rtt
    (last value seen in the stream), within 1 us;
  * each analysis flag must agree on >= 95% of the frames either side flagged
    (both / union);
  * bytes_in_flight is reported for information only.
Exit status 1 if a field disagrees or a flag is below 95%; 2 on usage errors.
Frames whose TCP header tshark found inside ICMP errors, and frames with a bogus
TCP header length (< 20, no analysis in tshark either) are skipped.
"""

import json
import shlex
import subprocess
import sys

FLAGS = [
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "ack_lost_segment",
    "duplicate_ack",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "window_full",
    "window_update",
    "keep_alive",
    "keep_alive_ack",
    "reused_ports",
]

BASE_FIELDS = [
    "frame.number",
    "tcp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.flags.ack",
    "tcp.window_size",
    "tcp.window_size_value",
    "tcp.window_size_scalefactor",
    "tcp.analysis.initial_rtt",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.analysis.duplicate_ack_num",
    "tcp.analysis.bytes_in_flight",
    "tcp.hdr_len",
    "icmp.type",
    "icmpv6.type",
]
FIELDS = BASE_FIELDS + ["tcp.analysis." + f for f in FLAGS]
THRESHOLD = 0.95
SHOW = 12  # frame numbers listed per disagreement


def run_tshark(path):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        err = " ".join(l for l in res.stderr.splitlines() if "Running as user" not in l)
        if not res.stdout:
            raise RuntimeError("tshark failed on %s: %s" % (path, err))
        print("   (tshark exit %d: %s; using what it read)" % (res.returncode, err.strip()))
    frames = {}
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        row = dict(zip(FIELDS, cols))
        if row["tcp.stream"] == "" or row["icmp.type"] or row["icmpv6.type"]:
            continue
        if row["tcp.hdr_len"] != "" and int(row["tcp.hdr_len"]) < 20:
            continue  # bogus header length: tshark stops before the analysis
        frames[int(row["frame.number"])] = row
    return frames


def run_ours(cmd_template, path):
    argv = [a.replace("{}", path) for a in shlex.split(cmd_template)]
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode != 0 and not res.stdout:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), res.stderr.strip()))
    if res.returncode != 0:
        # a damaged file: wireseam prints every frame before the damage, then exits 1
        print("   (exit %d: %s; using what it printed)" % (res.returncode, res.stderr.strip()))
    frames = {}
    conns = []
    for line in res.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if obj.get("type") == "packet" and isinstance(obj.get("tcp"), dict):
            frames[int(obj["n"])] = obj["tcp"]
        elif obj.get("type") == "conn":
            conns.append(obj)
    return frames, conns


def num(s):
    return int(s) if s != "" else None


def fmt_frames(frames):
    frames = sorted(frames)
    s = ",".join(str(f) for f in frames[:SHOW])
    if len(frames) > SHOW:
        s += ",… (+%d)" % (len(frames) - SHOW)
    return s or "-"


class Field:
    def __init__(self, name):
        self.name = name
        self.agree = 0
        self.total = 0
        self.unknown = 0
        self.onesided = 0
        self.bad = []
        self.examples = []

    def add(self, frame, ok, ours=None, theirs=None):
        self.total += 1
        if ok:
            self.agree += 1
        else:
            self.bad.append(frame)
            if len(self.examples) < 3:
                self.examples.append("#%d ours=%s tshark=%s" % (frame, ours, theirs))


def check_file(path, cmd, verbose):
    ts = run_tshark(path)
    ours, conns = run_ours(cmd, path)
    fields = {n: Field(n) for n in ["conn", "rseq", "rack", "win_scaled", "mss", "ws", "dup_ack_num", "irtt"]}
    irtt_ts = {}
    bif = Field("bytes_in_flight")
    flag_sets = {f: (set(), set()) for f in FLAGS}
    missing_ours = sorted(set(ts) - set(ours))
    extra_ours = sorted(set(ours) - set(ts))
    for n in sorted(set(ts) & set(ours)):
        t, o = ts[n], ours[n]
        if t["tcp.analysis.initial_rtt"] != "":
            irtt_ts[num(t["tcp.stream"])] = float(t["tcp.analysis.initial_rtt"])
        fields["conn"].add(n, o.get("conn") == num(t["tcp.stream"]), o.get("conn"), t["tcp.stream"])
        fields["rseq"].add(n, o.get("rseq") == num(t["tcp.seq"]), o.get("rseq"), t["tcp.seq"])
        if t["tcp.flags.ack"] in ("1", "True"):
            fields["rack"].add(n, o.get("rack") == num(t["tcp.ack"]), o.get("rack"), t["tcp.ack"])
        else:
            fields["rack"].add(n, o.get("rack") is None, o.get("rack"), "(no ACK)")
        tw = num(t["tcp.window_size"])
        if o.get("win_scaled") is None:
            f = fields["win_scaled"]
            raw = num(t["tcp.window_size_value"])
            sf = num(t["tcp.window_size_scalefactor"])
            if sf is not None and sf > 0 and tw == raw * sf:
                f.onesided += 1
            else:
                f.unknown += 1
                f.add(n, tw == raw, "null(raw %s)" % raw, tw)
        else:
            fields["win_scaled"].add(n, o.get("win_scaled") == tw, o.get("win_scaled"), tw)
        fields["mss"].add(n, o.get("mss") == num(t["tcp.options.mss_val"]), o.get("mss"), t["tcp.options.mss_val"])
        fields["ws"].add(n, o.get("ws") == num(t["tcp.options.wscale.shift"]), o.get("ws"), t["tcp.options.wscale.shift"])
        tdup = num(t["tcp.analysis.duplicate_ack_num"]) or 0
        fields["dup_ack_num"].add(n, (o.get("dup_ack_num") or 0) == tdup, o.get("dup_ack_num"), tdup)
        tb = num(t["tcp.analysis.bytes_in_flight"])
        if tb is not None or o.get("bytes_in_flight") is not None:
            bif.add(n, tb == o.get("bytes_in_flight"), o.get("bytes_in_flight"), tb)
        names = set(o.get("analysis") or [])
        for fl in FLAGS:
            if t["tcp.analysis." + fl] != "":
                flag_sets[fl][0].add(n)
            if fl in names:
                flag_sets[fl][1].add(n)

    for c in conns:
        want = irtt_ts.get(c.get("conn"))
        got = c.get("irtt_ns")
        if got is None and c.get("irtt") is not None:
            got = round(c["irtt"] * 1e9)  # wireseam's conn record: seconds
        ok = (want is None and got is None) or (want is not None and got is not None and abs(got / 1e9 - want) < 1e-6)
        fields["irtt"].add(c.get("first_frame", 0), ok, got, want)
    failed = False
    print("== %s  (tshark TCP frames %d, ours %d, connections %d)" % (path, len(ts), len(ours), len(conns)))
    if missing_ours or extra_ours:
        failed = True
        print("   FRAMES MISSING in ours: %s; only in ours: %s" % (fmt_frames(missing_ours), fmt_frames(extra_ours)))
    print("   %-16s %9s %7s  %s" % ("field", "agree", "total", "notes"))
    for f in fields.values():
        note = ""
        if f.name == "win_scaled":
            note = "unknown-scale frames (null, tshark raw): %d, one-sided (null, tshark scaled): %d" % (f.unknown, f.onesided)
        if f.bad:
            failed = True
            note += ("; " if note else "") + "DISAGREE at %s e.g. %s" % (fmt_frames(f.bad), " | ".join(f.examples))
        print("   %-16s %9d %7d  %s" % (f.name, f.agree, f.total, note))
    note = "(info) differs at %s e.g. %s" % (fmt_frames(bif.bad), " | ".join(bif.examples)) if bif.bad else "(info)"
    print("   %-16s %9d %7d  %s" % ("bytes_in_flight", bif.agree, bif.total, note))
    print("   %-24s %7s %5s %5s %6s  %-30s %s" % ("flag", "tshark", "ours", "both", "agree", "only-tshark", "only-ours"))
    flag_summary = {}
    for fl in FLAGS:
        t, o = flag_sets[fl]
        union = t | o
        both = t & o
        pct = 100.0 if not union else 100.0 * len(both) / len(union)
        flag_summary[fl] = (len(t), len(o), len(both), pct)
        if not union and not verbose:
            continue
        mark = ""
        if pct < THRESHOLD * 100:
            failed = True
            mark = "  <-- below 95%"
        print("   %-24s %7d %5d %5d %5.1f%%  %-30s %s%s" % (fl, len(t), len(o), len(both), pct, fmt_frames(t - o), fmt_frames(o - t), mark))
    print("   result: %s" % ("FAIL" if failed else "ok"))
    return failed, fields, flag_summary, len(ts)


def main(argv):
    cmd = None
    verbose = False
    files = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--cmd":
            i += 1
            cmd = argv[i] if i < len(argv) else None
        elif a.startswith("--cmd="):
            cmd = a[len("--cmd="):]
        elif a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            files.append(a)
        i += 1
    if not cmd or not files or "{}" not in cmd:
        print(__doc__, file=sys.stderr)
        return 2
    any_failed = False
    rows = []
    for path in files:
        try:
            failed, fields, flags, nframes = check_file(path, cmd, verbose)
        except (RuntimeError, ValueError) as e:
            print("== %s: ERROR %s" % (path, e))
            any_failed = True
            continue
        any_failed |= failed
        worst = min((v[3] for v in flags.values() if v[0] or v[1]), default=100.0)
        flagged = sum(v[0] for v in flags.values())
        rows.append((path, nframes, all(not f.bad for f in fields.values()), flagged, worst, failed))
    if len(rows) > 1:
        print("\n%-40s %7s %12s %13s %10s %s" % ("file", "frames", "fields", "tshark-flags", "worst-flag", "result"))
        for path, nframes, fields_ok, flagged, worst, failed in rows:
            print("%-40s %7d %12s %13d %9.1f%% %s" % (path[-40:], nframes, "all agree" if fields_ok else "DISAGREE", flagged, worst, "FAIL" if failed else "ok"))
    return 1 if any_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
