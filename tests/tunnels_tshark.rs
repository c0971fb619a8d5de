//! Tunnels checked against tshark: on every tcpdump corpus capture with GRE, ERSPAN, VXLAN,
//! Geneve, GTP-U, Teredo, MPLS, PPPoE or IP-in-IP traffic, and on the tunnel fixtures
//! (`fixtures/tunnel*.pcap`), every frame tshark decodes as a TCP segment or UDP datagram inside a
//! tunnel is one for wireseam too, with the same innermost addresses and ports, TCP flags,
//! sequence and acknowledgment numbers, TCP segment length and UDP length, and wireseam's
//! connection and flow numbers correspond to tshark's `tcp.stream` / `udp.stream`: each of
//! wireseam's within one of tshark's (wireseam keeps the same 4-tuple in two tunnels apart, as Zeek
//! does; tshark does not), in the same order. Skipped with a message when tshark is not installed.

mod common;
#[path = "common/flows.rs"]
mod flows;
use flows::{wireseam_flows, Flow};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Encapsulations tshark names in `frame.protocols` that wireseam peels off.
const TUNNELS: [&str; 9] = ["mpls", "gre", "vxlan", "geneve", "gtp", "teredo", "pppoes", "erspan", "ip"];

/// Corpus files by name.
const NAMES: [&str; 10] = ["vxlan", "geneve", "gre", "erspan", "mpls", "pppoe", "gtp", "teredo", "ipip", "6in4"];

fn have_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// Frames where tshark's `tcp.stream` is not a tunnel-aware connection, so only the per-frame
/// fields are compared there. tunnel-multi.pcap frames 41-60: the same 4-tuple in VXLAN VNI 100
/// and VNI 200, interleaved; tshark keys streams by the 4-tuple alone, puts frame 41 (VNI 100's
/// SYN) in stream 4 and, at frame 42 (VNI 200's SYN, another ISN), starts stream 5 for every
/// later frame of both. They are two connections (two VNIs), as Zeek counts them.
const TSHARK_MERGES: &[(&str, std::ops::RangeInclusive<u64>)] = &[("tunnel-multi.pcap", 41..=60)];

fn files() -> Vec<PathBuf> {
    let mut files = fixture_files();
    if let Ok(dir) = std::fs::read_dir(common::root().join("../shared/corpora/tcpdump-tests")) {
        files = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap")))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| NAMES.iter().any(|t| n.contains(t))))
            // VXLAN-GPE (UDP 4790) carrying NSH is not decoded
            .filter(|p| !p.to_string_lossy().contains("vxlan-gpe"))
            .collect();
        files.sort();
    }
    files.extend(fixture_files());
    files
}

/// The tunnel fixtures of this repository (real VXLAN from the kernel, the synthetic rest).
fn fixture_files() -> Vec<PathBuf> {
    common::fixtures().into_iter().filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("tunnel"))).collect()
}

/// Per frame: (TCP flags, seq, ack, TCP segment length) or (UDP length), of the innermost
/// TCP/UDP header.
#[derive(Debug, PartialEq, Eq)]
enum Fields {
    Tcp { flags: u16, seq: u32, ack: u32, len: u32 },
    Udp { len: u32 },
}

/// tshark's innermost TCP/UDP header fields by frame (the last of each repeated field).
fn tshark_fields(file: &Path) -> BTreeMap<u64, Fields> {
    let fields = ["frame.number", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "udp.length", "frame.protocols"];
    let mut args = vec!["-n".to_string(), "-r".into(), file.display().to_string(), "-T".into(), "fields".into()];
    for f in fields {
        args.push("-e".into());
        args.push(f.into());
    }
    let out = Command::new("tshark").args(&args).output().expect("run tshark");
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(Ok(n)) = cols.first().map(|c| c.parse::<u64>()) else { continue };
        let last = |i: usize| cols.get(i).and_then(|c| c.split(',').next_back()).unwrap_or("");
        let innermost_tcp = cols.get(6).and_then(|p| p.split(':').rfind(|l| matches!(*l, "tcp" | "udp"))) == Some("tcp");
        let parsed = if innermost_tcp {
            let flags = u16::from_str_radix(last(1).trim_start_matches("0x"), 16);
            match (flags, last(2).parse(), last(3).parse(), last(4).parse()) {
                (Ok(flags), Ok(seq), Ok(ack), Ok(len)) => Some(Fields::Tcp { flags: flags & 0xff, seq, ack, len }),
                _ => None,
            }
        } else {
            last(5).parse().ok().map(|len| Fields::Udp { len })
        };
        if let Some(parsed) = parsed {
            map.insert(n, parsed);
        }
    }
    map
}

/// wireseam's innermost TCP/UDP header fields by frame, and the frames it warned were nested
/// past its depth limit.
fn wireseam_fields(file: &Path) -> (BTreeMap<u64, Fields>, Vec<u64>) {
    let out = common::wireseam(&["read", &file.display().to_string(), "--format", "json"]);
    let (mut map, mut too_deep) = (BTreeMap::new(), Vec::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if v["type"] != "packet" {
            continue;
        }
        let n = v["n"].as_u64().unwrap();
        let warned = v["warnings"].as_array().into_iter().flatten();
        if warned.filter_map(|w| w.as_str()).any(|w| w.contains("nested more than")) {
            too_deep.push(n);
        }
        let num = |x: &serde_json::Value| x.as_u64().unwrap_or(0) as u32;
        if let Some(tcp) = v.get("tcp") {
            const BITS: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
            let flags = tcp["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| BITS.iter().position(|b| f == b))
                .fold(0u16, |acc, bit| acc | 1 << bit);
            map.insert(n, Fields::Tcp { flags, seq: num(&tcp["seq"]), ack: num(&tcp["ack"]), len: num(&tcp["len"]) });
        } else if let Some(udp) = v.get("udp") {
            map.insert(n, Fields::Udp { len: num(&udp["len"]) });
        }
    }
    (map, too_deep)
}

/// tshark's TCP/UDP frames inside tunnels (innermost layers).
fn tshark_flows(file: &Path) -> BTreeMap<u64, Flow> {
    let fields = [
        "frame.number",
        "frame.protocols",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.stream",
        "udp.srcport",
        "udp.dstport",
        "udp.stream",
    ];
    let mut args = vec!["-n".to_string(), "-r".into(), file.display().to_string(), "-T".into(), "fields".into()];
    for f in fields {
        args.push("-e".into());
        args.push(f.into());
    }
    let out = Command::new("tshark").args(&args).output().expect("run tshark");
    let mut flows = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(Ok(n)) = cols.first().map(|c| c.parse::<u64>()) else { continue };
        let last = |i: usize| cols.get(i).and_then(|c| c.split(',').next_back()).unwrap_or("");
        let layers: Vec<&str> = cols.get(1).copied().unwrap_or("").split(':').collect();
        let Some(ip_at) = layers.iter().rposition(|l| matches!(*l, "ip" | "ipv6")) else { continue };
        let proto = match layers.get(ip_at + 1) {
            Some(&"tcp") => "tcp",
            Some(&"udp") => "udp",
            _ => continue,
        };
        // inside a tunnel: a tunnel layer, or a second IP layer, before the innermost IP
        let before = &layers[..ip_at];
        if !before.iter().any(|l| TUNNELS.contains(l) || *l == "ipv6") {
            continue;
        }
        // ICMP quoting a header is not a segment; nor is a layer tshark could not finish
        if layers.iter().any(|l| matches!(*l, "icmp" | "icmpv6" | "_ws.malformed")) {
            continue;
        }
        let (src, dst) = if layers[ip_at] == "ip" { (last(2), last(3)) } else { (last(4), last(5)) };
        let (ports, stream) = if proto == "tcp" { ((last(6), last(7)), last(8)) } else { ((last(9), last(10)), last(11)) };
        let (Ok(sport), Ok(dport), Ok(stream)) = (ports.0.parse(), ports.1.parse(), stream.parse()) else { continue };
        flows.insert(n, (proto, src.to_string(), sport, dst.to_string(), dport, stream));
    }
    flows
}

#[test]
fn flows_inside_tunnels_agree_with_tshark() {
    if !have_tshark() {
        eprintln!("tshark not installed; skipped");
        return;
    }
    let (mut compared, mut files_seen, mut with_flows, mut fixtures_seen) = (0usize, 0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    for file in files() {
        files_seen += 1;
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let is_fixture = file.starts_with(common::root().join("fixtures"));
        fixtures_seen += usize::from(is_fixture);
        let theirs = tshark_flows(&file);
        let ours = wireseam_flows(&file);
        let (their_fields, our_fields) = (tshark_fields(&file), wireseam_fields(&file));
        let merged = |n: u64| TSHARK_MERGES.iter().any(|(f, frames)| *f == name && frames.contains(&n));
        with_flows += usize::from(!theirs.is_empty());
        // each of wireseam's streams lies within one of tshark's
        let mut within: BTreeMap<(&str, u64), u64> = BTreeMap::new();
        for (n, flow) in &theirs {
            compared += 1;
            let Some(mine) = ours.get(n) else {
                // past the depth limit wireseam stops, with its warning; tshark goes on
                if !our_fields.1.contains(n) {
                    problems.push(format!("{} frame {n}: tshark {flow:?}, wireseam decodes no TCP/UDP", file.display()));
                }
                continue;
            };
            if their_fields.get(n) != our_fields.0.get(n) {
                problems.push(format!(
                    "{} frame {n}: tshark {:?}, wireseam {:?}",
                    file.display(),
                    their_fields.get(n),
                    our_fields.0.get(n)
                ));
            }
            let same_stream = merged(*n) || *within.entry((flow.0, mine.5)).or_insert(flow.5) == flow.5;
            if (mine.0, &mine.1, mine.2, &mine.3, mine.4) != (flow.0, &flow.1, flow.2, &flow.3, flow.4)
                || !same_stream
                || mine.5 == u64::MAX
            {
                problems.push(format!("{} frame {n}: tshark {flow:?}, wireseam {mine:?}", file.display()));
            }
        }
        for proto in ["tcp", "udp"] {
            let theirs_in_our_order: Vec<u64> = within.iter().filter(|((p, _), _)| *p == proto).map(|(_, t)| *t).collect();
            if !theirs_in_our_order.windows(2).all(|w| w[0] <= w[1]) {
                problems.push(format!("{}: {proto} streams not in tshark's order: {theirs_in_our_order:?}", file.display()));
            }
        }
    }
    eprintln!(
        "{files_seen} tunnel files ({fixtures_seen} fixtures; {with_flows} with TCP/UDP inside a tunnel): {compared} frames compared with tshark"
    );
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
    assert!(files_seen >= 10 && compared >= 50, "{files_seen} files, {compared} frames: the check compared too little");
    assert!(fixtures_seen >= 3, "the tunnel fixtures are missing: {fixtures_seen} found");
}
