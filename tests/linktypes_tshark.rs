//! The link types beyond Ethernet checked against tshark: on every tcpdump corpus capture of
//! link type PPP (9), FDDI (10), PPP/HDLC (50), Cisco HDLC (104), 802.11 (105), radiotap (127),
//! PPI (192) and NFLOG (239), and on the fixtures made for them, every frame tshark decodes
//! as a TCP segment or UDP datagram is one for wireseam too: same addresses, same ports, and the
//! same connection or flow number (tshark's `tcp.stream` / `udp.stream`). Skipped with a
//! message when tshark is not installed.
//!
//! Frames that tshark finds inside a tunnel (MPLS, GRE, ...: `frame.protocols` names it before
//! the IP layer) are counted apart and not compared: decapsulation is a layer of its own, not
//! the link layer's. An ICMP error's quoted header is not a segment (tshark lists its ports).

mod common;
#[path = "common/flows.rs"]
mod flows;
use flows::{wireseam_flows, Flow};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const LINKTYPES: [u32; 8] = [9, 10, 50, 104, 105, 127, 192, 239];

/// Encapsulations tshark decodes between the link layer and the IP layer that carries the flow.
const TUNNELS: [&str; 10] = ["mpls", "gre", "vxlan", "geneve", "gtp", "teredo", "pppoes", "erspan", "l2tp", "eth"];

fn have_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// The link type of a capture's first packet, read by wireseam's own capture layer.
fn linktype(path: &Path) -> Option<u32> {
    let mut src = wireseam::capture::FileSource::open(path).ok()?;
    let (meta, _) = src.next_packet()?.ok()?;
    Some(meta.linktype)
}

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        ["ppi-tcp.pcap", "fddi-tcp.pcap", "wifi-tcp.pcap", "radiotap-tcp.pcap"].iter().map(|f| common::fixture(f)).collect();
    if let Ok(dir) = std::fs::read_dir(common::root().join("../shared/corpora/tcpdump-tests")) {
        let mut corpus: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap")))
            .filter(|p| linktype(p).is_some_and(|lt| LINKTYPES.contains(&lt)))
            .collect();
        corpus.sort();
        files.extend(corpus);
    }
    files
}

/// tshark's TCP/UDP frames, and how many it found inside a tunnel.
fn tshark_flows(file: &Path) -> (BTreeMap<u64, Flow>, usize) {
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
    let (mut flows, mut tunnelled) = (BTreeMap::new(), 0);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(Ok(n)) = cols.first().map(|c| c.parse::<u64>()) else { continue };
        let col = |i: usize| cols.get(i).and_then(|c| c.split(',').next()).unwrap_or("");
        let layers: Vec<&str> = col(1).split(':').collect();
        // the first transport-ish layer decides: a segment, a datagram, or an ICMP message
        let Some(at) = layers.iter().position(|l| matches!(*l, "tcp" | "udp" | "icmp" | "icmpv6")) else { continue };
        let proto = match layers[at] {
            "tcp" => "tcp",
            "udp" => "udp",
            _ => continue,
        };
        let ip_at = layers[..at].iter().position(|l| matches!(*l, "ip" | "ipv6")).unwrap_or(at);
        if layers[..ip_at].iter().any(|l| TUNNELS.contains(l)) || layers[..at].iter().filter(|l| matches!(**l, "ip" | "ipv6")).count() > 1 {
            tunnelled += 1;
            continue;
        }
        let (src, dst) = if layers[ip_at] == "ip" { (col(2), col(3)) } else { (col(4), col(5)) };
        let (ports, stream) = if proto == "tcp" { ((col(6), col(7)), col(8)) } else { ((col(9), col(10)), col(11)) };
        let (Ok(sport), Ok(dport), Ok(stream)) = (ports.0.parse(), ports.1.parse(), stream.parse()) else { continue };
        flows.insert(n, (proto, src.to_string(), sport, dst.to_string(), dport, stream));
    }
    (flows, tunnelled)
}

#[test]
fn tcp_and_udp_on_other_link_types_agree_with_tshark() {
    if !have_tshark() {
        eprintln!("tshark not installed; skipped");
        return;
    }
    let (mut compared, mut tunnelled, mut with_flows, mut files_seen) = (0usize, 0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    for file in files() {
        if !file.exists() {
            problems.push(format!("{}: missing", file.display()));
            continue;
        }
        files_seen += 1;
        let (theirs, inside_tunnels) = tshark_flows(&file);
        tunnelled += inside_tunnels;
        let ours = wireseam_flows(&file);
        with_flows += usize::from(!theirs.is_empty());
        // tshark numbers the streams inside tunnels too: with tunnels in the file the numbers
        // must correspond one to one, in the same order, rather than be equal
        let mut matched: BTreeMap<(&str, u64), u64> = BTreeMap::new();
        for (n, flow) in &theirs {
            compared += 1;
            let Some(mine) = ours.get(n) else {
                problems.push(format!("{} frame {n}: tshark {flow:?}, wireseam decodes no TCP/UDP", file.display()));
                continue;
            };
            let same_stream =
                if inside_tunnels == 0 { mine.5 == flow.5 } else { *matched.entry((flow.0, flow.5)).or_insert(mine.5) == mine.5 };
            if (mine.0, &mine.1, mine.2, &mine.3, mine.4) != (flow.0, &flow.1, flow.2, &flow.3, flow.4) || !same_stream {
                problems.push(format!("{} frame {n}: tshark {flow:?}, wireseam {mine:?}", file.display()));
            }
        }
        for proto in ["tcp", "udp"] {
            let ids: Vec<(u64, u64)> =
                matched.iter().filter(|((p, _), _)| *p == proto).map(|((_, theirs), mine)| (*theirs, *mine)).collect();
            let mut mine: Vec<u64> = ids.iter().map(|(_, m)| *m).collect();
            let in_order = mine.windows(2).all(|w| w[0] < w[1]);
            mine.dedup();
            if !in_order || mine.len() != ids.len() {
                problems.push(format!("{}: {proto} streams do not correspond one to one in order: {ids:?}", file.display()));
            }
        }
    }
    eprintln!(
        "{files_seen} files ({with_flows} with TCP/UDP): {compared} TCP/UDP frames compared with tshark, \
         {tunnelled} inside tunnels not compared"
    );
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
    assert!(files_seen >= 4 && compared >= 10, "{files_seen} files, {compared} frames: the check compared too little");
}
