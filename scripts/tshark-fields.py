#!/usr/bin/env python3
"""Cross-check wireseam's JSON packet fields against tshark on the same captures.

Usage: scripts/tshark-fields.py [--bin target/release/wireseam] FILE...

For every frame compares: Ethernet src/dst and EtherType, IP version/src/dst/ttl/proto/id,
fragment offset/MF, UDP ports/length, ICMP type/code, TCP ports/flags/seq/ack (absolute)/payload
length/raw window/MSS/window-scale shift/SACK-permitted/timestamps, ARP opcode and addresses.
Prints per-field agreement and exits non-zero on any disagreement. Needs tshark.
"""
import argparse, json, subprocess, sys
from collections import defaultdict

FIELDS = [
    "frame.number", "frame.len", "frame.cap_len",
    "eth.src", "eth.dst", "eth.type", "vlan.id",
    "ip.version", "ip.src", "ip.dst", "ip.ttl", "ip.proto", "ip.id", "ip.frag_offset", "ip.flags.mf",
    "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.nxt",
    "udp.srcport", "udp.dstport", "udp.length",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
    "tcp.window_size_value", "tcp.options.mss_val", "tcp.options.wscale.shift",
    "tcp.options.sack_perm", "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
    "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
]


def tshark(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "tcp.relative_sequence_numbers:FALSE", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    # tshark exits 2 on a cut-short file after printing what it read; keep that
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        vals = line.split("\t")
        vals += [""] * (len(FIELDS) - len(vals))
        row = dict(zip(FIELDS, vals))
        rows[int(row["frame.number"])] = row
    return rows


def num(s):
    if s == "":
        return None
    return int(s, 16) if s.startswith("0x") else int(s)


def compare(path, binary):
    ts = tshark(path)
    out = subprocess.run([binary, "read", "--format", "json", path], capture_output=True, text=True).stdout
    agree, differ = defaultdict(int), defaultdict(list)

    def check(field, ours, theirs, n):
        if theirs is None or theirs == "":
            return  # tshark did not decode it (e.g. inner layers of fragments)
        if ours == theirs:
            agree[field] += 1
        else:
            differ[field].append((n, ours, theirs))

    for line in out.splitlines():
        p = json.loads(line)
        if p.get("type") != "packet":
            continue
        n = p["n"]
        t = ts.get(n)
        if t is None:
            differ["frame"].append((n, "present", "absent"))
            continue
        check("len", p["len"], num(t["frame.len"]), n)
        check("caplen", p["caplen"], num(t["frame.cap_len"]), n)
        eth = p.get("eth")
        if eth:
            check("eth.src", eth["src"], t["eth.src"], n)
            check("eth.dst", eth["dst"], t["eth.dst"], n)
            if not eth.get("vlan"):
                check("eth.type", eth.get("type"), num(t["eth.type"]), n)
            else:
                # tshark's vlan.id is the 802.1Q tag (the inner one under an 802.1ad outer tag)
                theirs = num(t["vlan.id"])
                check("vlan.id", theirs if theirs in eth["vlan"] else eth["vlan"], theirs, n)
        ip = p.get("ip")
        if ip:
            if ip["version"] == 4 and t["ip.src"]:
                check("ip.src", ip["src"], t["ip.src"], n)
                check("ip.dst", ip["dst"], t["ip.dst"], n)
                check("ip.ttl", ip["ttl"], num(t["ip.ttl"]), n)
                check("ip.proto", ip["proto"], num(t["ip.proto"]), n)
                check("ip.id", ip.get("id"), num(t["ip.id"]), n)
                frag = ip.get("frag") or {"offset": 0, "more": False}
                if t["ip.frag_offset"]:
                    # tshark's field is in 8-byte units; wireseam gives bytes (as tcpdump prints)
                    check("ip.frag_offset", frag["offset"], num(t["ip.frag_offset"]) * 8, n)
                if t["ip.flags.mf"]:
                    check("ip.mf", frag["more"], t["ip.flags.mf"] in ("1", "True"), n)
            elif ip["version"] == 6 and t["ipv6.src"]:
                check("ipv6.src", ip["src"], t["ipv6.src"], n)
                check("ipv6.dst", ip["dst"], t["ipv6.dst"], n)
                check("ipv6.hlim", ip["ttl"], num(t["ipv6.hlim"]), n)
        udp = p.get("udp")
        if udp:
            check("udp.sport", udp["sport"], num(t["udp.srcport"]), n)
            check("udp.dport", udp["dport"], num(t["udp.dstport"]), n)
            check("udp.len", udp["len"], num(t["udp.length"]), n)
        icmp = p.get("icmp")
        if icmp:
            ty = t["icmp.type"] or t["icmpv6.type"]
            co = t["icmp.code"] or t["icmpv6.code"]
            check("icmp.type", icmp["type"], num(ty), n)
            check("icmp.code", icmp["code"], num(co), n)
        tcp = p.get("tcp")
        if tcp:
            check("tcp.sport", tcp["sport"], num(t["tcp.srcport"]), n)
            check("tcp.dport", tcp["dport"], num(t["tcp.dstport"]), n)
            names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"]
            bits = sum(1 << names.index(f) for f in tcp["flags"])
            theirs = num(t["tcp.flags"])
            check("tcp.flags", bits, None if theirs is None else theirs & 0xff, n)
            check("tcp.seq", tcp["seq"], num(t["tcp.seq_raw"]), n)
            if "ACK" in tcp["flags"]:
                check("tcp.ack", tcp["ack"], num(t["tcp.ack_raw"]), n)
            check("tcp.len", tcp["len"], num(t["tcp.len"]), n)
            check("tcp.win", tcp["win"], num(t["tcp.window_size_value"]), n)
            check("tcp.mss", tcp.get("mss"), num(t["tcp.options.mss_val"]) if t["tcp.options.mss_val"] else "absent", n) if ("mss" in tcp or t["tcp.options.mss_val"]) else None
            if "ws" in tcp or t["tcp.options.wscale.shift"]:
                check("tcp.ws", tcp.get("ws"), num(t["tcp.options.wscale.shift"]), n)
            if tcp.get("sack_perm") or t["tcp.options.sack_perm"]:
                check("tcp.sack_perm", bool(tcp.get("sack_perm")), bool(t["tcp.options.sack_perm"]), n)
            if "ts" in tcp or t["tcp.options.timestamp.tsval"]:
                check("tcp.ts", tcp.get("ts"), [num(t["tcp.options.timestamp.tsval"]), num(t["tcp.options.timestamp.tsecr"])], n)
        arp = p.get("arp")
        if arp:
            op = {"request": 1, "reply": 2}.get(arp["op"], arp["op"])
            check("arp.op", op, num(t["arp.opcode"]), n)
            if "sha" in arp:
                check("arp.sha", arp["sha"], t["arp.src.hw_mac"], n)
                check("arp.spa", arp["spa"], t["arp.src.proto_ipv4"], n)
                check("arp.tha", arp["tha"], t["arp.dst.hw_mac"], n)
                check("arp.tpa", arp["tpa"], t["arp.dst.proto_ipv4"], n)
    return agree, differ


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/wireseam")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    bad = 0
    total = defaultdict(int)
    for f in a.files:
        agree, differ = compare(f, a.bin)
        n_agree = sum(agree.values())
        n_differ = sum(len(v) for v in differ.values())
        for k, v in agree.items():
            total[k] += v
        print(f"{f}: {n_agree} field values agree, {n_differ} differ")
        for field, lst in sorted(differ.items()):
            bad += len(lst)
            for n, ours, theirs in lst[:5]:
                print(f"  frame {n} {field}: wireseam {ours!r} tshark {theirs!r}")
            if len(lst) > 5:
                print(f"  ... {len(lst) - 5} more {field} differences")
    print("per field:", ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    print(f"{'OK' if bad == 0 else 'DIFFERENCES'}: {bad} disagreements")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
