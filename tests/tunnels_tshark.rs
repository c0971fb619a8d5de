//! Tunnels checked against tshark: on every tcpdump corpus capture with GRE, ERSPAN, VXLAN,
//! Geneve, GTP-U, Teredo, MPLS, PPPoE or IP-in-IP traffic, every frame tshark decodes as a TCP
//! segment or UDP datagram inside a tunnel is one for wireseam too, with the same innermost
//! addresses and ports, and wireseam's connection and flow numbers correspond to tshark's
//! `tcp.stream` / `udp.stream`: each of wireseam's within one of tshark's (wireseam keeps the same
//! 4-tuple in two tunnels apart, as Zeek does; tshark does not), in the same order. Skipped with
//! a message when tshark is not installed.

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

fn files() -> Vec<PathBuf> {
    let mut files = Vec::new();
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
    files
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
    let (mut compared, mut files_seen, mut with_flows) = (0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    for file in files() {
        files_seen += 1;
        let theirs = tshark_flows(&file);
        let ours = wireseam_flows(&file);
        with_flows += usize::from(!theirs.is_empty());
        // each of wireseam's streams lies within one of tshark's
        let mut within: BTreeMap<(&str, u64), u64> = BTreeMap::new();
        for (n, flow) in &theirs {
            compared += 1;
            let Some(mine) = ours.get(n) else {
                problems.push(format!("{} frame {n}: tshark {flow:?}, wireseam decodes no TCP/UDP", file.display()));
                continue;
            };
            let same_stream = *within.entry((flow.0, mine.5)).or_insert(flow.5) == flow.5;
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
    eprintln!("{files_seen} tunnel files ({with_flows} with TCP/UDP inside a tunnel): {compared} frames compared with tshark");
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
    assert!(files_seen >= 10 && compared >= 50, "{files_seen} files, {compared} frames: the check compared too little");
}
