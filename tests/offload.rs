//! Segmentation offload against tshark: `tcp.len` of every TCP frame (tshark presumes TSO when
//! the IPv4 total length is 0, `ip.tso_support`) and the analysis flags that a misread length
//! would make false (lost segment, ACKed lost segment, retransmission, out of order, dup ACK),
//! on the offload fixtures; and the `offload` key where a frame exceeds the MSS in force.
//! Skipped with a message when tshark is not installed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::{fixture, wireseam};

const FILES: [&str; 4] = ["offload-tx.pcap", "offload-rx.pcap", "offload-lo.pcap", "offload-zero-len.pcap"];

const FLAGS: [(&str, &str); 5] = [
    ("lost_segment", "tcp.analysis.lost_segment"),
    ("ack_lost_segment", "tcp.analysis.ack_lost_segment"),
    ("retransmission", "tcp.analysis.retransmission"),
    ("out_of_order", "tcp.analysis.out_of_order"),
    ("duplicate_ack", "tcp.analysis.duplicate_ack"),
];

fn have_tshark() -> bool {
    Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// tshark's lines of `fields` for the frames `filter` selects.
fn tshark(file: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(file).args(["-Y", filter, "-T", "fields", "-E", "separator=\t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

/// Our packet records with TCP, by frame number.
fn ours(file: &Path) -> BTreeMap<u64, serde_json::Value> {
    let out = wireseam(&["read", "--format", "json", file.to_str().unwrap()]);
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "packet" && v.get("tcp").is_some())
        .map(|v| (v["n"].as_u64().unwrap(), v))
        .collect()
}

#[test]
fn tcp_len_and_analysis_flags_agree_with_tshark() {
    if !have_tshark() {
        eprintln!("skipped: tshark is not installed");
        return;
    }
    for name in FILES {
        let file = fixture(name);
        let ours = ours(&file);
        let lens = tshark(&file, "tcp", &["frame.number", "tcp.len"]);
        assert_eq!(lens.len(), ours.len(), "{name}: TCP frames");
        for row in &lens {
            let n: u64 = row[0].parse().unwrap();
            let len: u64 = row[1].parse().unwrap();
            assert_eq!(ours[&n]["tcp"]["len"].as_u64(), Some(len), "{name} frame {n}: tcp.len");
        }
        for (ours_name, field) in FLAGS {
            let theirs: BTreeSet<u64> = tshark(&file, field, &["frame.number"]).iter().map(|r| r[0].parse().unwrap()).collect();
            let mine: BTreeSet<u64> = ours
                .iter()
                .filter(|(_, v)| v["tcp"]["analysis"].as_array().unwrap().iter().any(|f| f == ours_name))
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(mine, theirs, "{name}: frames flagged {ours_name}");
        }
    }
}

/// Frames larger than the MSS in force carry `offload` = {mss, segments}; loopback's large
/// segments (MSS 65495) carry none; total length 0 without a handshake has an unknown MSS.
#[test]
fn offload_key_marks_super_segments() {
    for (name, mss) in [("offload-tx.pcap", 1448), ("offload-rx.pcap", 1448), ("offload-zero-len.pcap", 1460)] {
        let ours = ours(&fixture(name));
        let mut flagged = 0;
        for (n, v) in &ours {
            let len = v["tcp"]["len"].as_u64().unwrap();
            let known_mss = !v["tcp"]["conn"].as_u64().is_some_and(|c| c == 1 && name == "offload-zero-len.pcap");
            match v.get("offload") {
                Some(o) if known_mss => {
                    assert_eq!((o["mss"].as_u64(), o["segments"].as_u64()), (Some(mss), Some(len.div_ceil(mss))), "{name} frame {n}");
                    flagged += 1;
                }
                Some(o) => assert!(o["mss"].is_null() && o["segments"].is_null(), "{name} frame {n}"),
                None => assert!(len <= mss || !known_mss, "{name} frame {n}: {len} bytes, not flagged"),
            }
        }
        assert!(flagged > 0, "{name}: no offloaded frame");
    }
    let lo = ours(&fixture("offload-lo.pcap"));
    assert!(lo.values().any(|v| v["tcp"]["len"].as_u64().unwrap() > 1448), "loopback has a large segment");
    assert!(lo.values().all(|v| v.get("offload").is_none()), "loopback segments are real");
}

/// The seams see the wire segments: in offload-zero-len.pcap's one 4380-byte frame (3 × 1460),
/// line A ends at the first wire boundary (alone), B and C share the second wire segment
/// (sticky), and C runs into the third (split); without an MSS the verdicts are unknown.
#[test]
fn seams_judge_wire_segments() {
    let out = wireseam(&["read", "--format", "json", fixture("offload-zero-len.pcap").to_str().unwrap()]);
    let msgs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "message")
        .collect();
    let verdicts: Vec<(u64, serde_json::Value, serde_json::Value)> =
        msgs.iter().map(|m| (m["conn"].as_u64().unwrap(), m["sticky"].clone(), m["split"].clone())).collect();
    use serde_json::Value::{Bool, Null};
    assert_eq!(
        verdicts,
        [(0, Bool(false), Bool(false)), (0, Bool(true), Bool(false)), (0, Bool(true), Bool(true)), (1, Null, Null), (1, Null, Null)]
    );
}

/// The captures of tcpdump's test suite with IPv4 total length 0 (TSO, and BIG TCP's 80 KB
/// segment): `tcp.len` as tshark gives it, and `offload` with the MSS unknown (no handshake).
#[test]
fn corpus_tso_frames_agree_with_tshark() {
    let dir = Path::new("/work/shared/corpora/tcpdump-tests");
    if !have_tshark() || !dir.is_dir() {
        eprintln!("skipped: tshark or the tcpdump corpus is missing");
        return;
    }
    for name in ["ipv4_tcp_http_xml_tso.pcap", "bigtcp-ipv4.pcap"] {
        let file = dir.join(name);
        let ours = ours(&file);
        for row in tshark(&file, "tcp", &["frame.number", "tcp.len"]) {
            let n: u64 = row[0].parse().unwrap();
            assert_eq!(ours[&n]["tcp"]["len"].as_u64(), Some(row[1].parse().unwrap()), "{name} frame {n}: tcp.len");
            let offload = &ours[&n]["offload"];
            assert!(offload["mss"].is_null() && offload["segments"].is_null(), "{name} frame {n}: {offload}");
        }
    }
}
