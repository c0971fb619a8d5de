//! IP reassembly and ICMP quoted headers checked against tshark: every datagram wireseam
//! reassembles, tshark reassembles in the same frame from the same fragments, with the same UDP
//! length; every ICMP error's quoted addresses and ports are tshark's. On the fragment and
//! ICMP fixtures and on the tcpdump corpus files named for fragments or ICMP. Skipped with a
//! message when tshark is not installed.
//!
//! (tshark names the fields `ip.reassembled_in` and `ipv6.reassembled.in`; two passes, `-2`,
//! put them on the earlier fragments.) Where wireseam does not reassemble and tshark does (a datagram that timed out after 30 s of
//! capture time; overlapping IPv6 fragments, discarded by RFC 5722), only wireseam's side is
//! checked: the datagrams it does reassemble.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn have_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// Per frame, tshark's values of `fields` (all occurrences, comma-separated).
fn tshark_fields(file: &Path, fields: &[&str]) -> BTreeMap<u64, Vec<String>> {
    let mut args = vec![
        "-n".to_string(),
        "-2".into(),
        "-r".into(),
        file.display().to_string(),
        "-T".into(),
        "fields".into(),
        "-e".into(),
        "frame.number".into(),
    ];
    for f in fields {
        args.push("-e".into());
        args.push((*f).into());
    }
    let out = Command::new("tshark").args(&args).output().expect("run tshark");
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut cols = line.split('\t');
        let Some(Ok(n)) = cols.next().map(str::parse::<u64>) else { continue };
        map.insert(n, cols.map(str::to_string).collect());
    }
    map
}

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        ["ipv4-frag.pcap", "lesson-udp.pcap", "udp.pcap", "frag-ipv4.pcap", "frag-ipv6.pcap", "frag-tcp.pcap", "icmp6-errors.pcap"]
            .iter()
            .map(|f| common::fixture(f))
            .collect();
    let corpus = common::root().join("../shared/corpora/tcpdump-tests");
    if let Ok(dir) = std::fs::read_dir(&corpus) {
        let mut extra: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_lowercase();
                ["frag", "icmp", "unreach"].iter().any(|k| name.contains(k))
            })
            .collect();
        extra.sort();
        files.extend(extra);
    }
    files
}

fn last(v: &str) -> &str {
    v.rsplit(',').next().unwrap_or("")
}

#[test]
fn reassembly_and_quoted_headers_agree_with_tshark() {
    if !have_tshark() {
        eprintln!("tshark not installed; skipped");
        return;
    }
    let (mut datagrams, mut quotes) = (0, 0);
    for file in files() {
        let out = common::wireseam(&["read", "--format", "json", file.to_str().unwrap()]);
        let ts = tshark_fields(
            &file,
            &[
                "ip.reassembled_in",
                "ipv6.reassembled.in",
                "udp.length",
                "ip.src",
                "ipv6.src",
                "udp.srcport",
                "tcp.srcport",
                "icmp.type",
                "icmpv6.type",
            ],
        );
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if std::env::var_os("DEBUG_T").is_some() {
            eprintln!("{name}: {} lines, {} tshark frames, {}", out.stdout.len(), ts.len(), String::from_utf8_lossy(&out.stderr));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            if v["type"] != "packet" {
                continue;
            }
            let n = v["n"].as_u64().unwrap();
            let Some(t) = ts.get(&n) else { continue };
            if let Some(frames) = v["ip"]["reassembled"]["frames"].as_array() {
                datagrams += 1;
                for f in frames.iter().map(|f| f.as_u64().unwrap()).filter(|&f| f != n) {
                    let tf = &ts[&f];
                    let inn = if tf[0].is_empty() { &tf[1] } else { &tf[0] };
                    assert_eq!(inn, &n.to_string(), "{name}: frame {f} reassembled in {n} (tshark says {inn:?})");
                }
                if let Some(len) = v["udp"]["len"].as_u64() {
                    assert_eq!(last(&t[2]), len.to_string(), "{name} frame {n}: udp.length");
                }
            }
            if let Some(q) = v["icmp"]["quoted"].as_object() {
                quotes += 1;
                let src = if q["src"].as_str().unwrap().contains(':') { &t[4] } else { &t[3] };
                assert_eq!(last(src), q["src"].as_str().unwrap(), "{name} frame {n}: quoted source");
                if let Some(sport) = q.get("sport").and_then(|p| p.as_u64()) {
                    let port = if q["proto"] == 6 { &t[6] } else { &t[5] };
                    // tshark does not dissect every quoted transport (a checksum it rejects,
                    // a header it finds cut): compare where it did
                    if !port.is_empty() {
                        assert_eq!(last(port), sport.to_string(), "{name} frame {n}: quoted source port");
                    }
                }
            }
        }
    }
    eprintln!("{datagrams} reassembled datagrams and {quotes} quoted headers agree with tshark");
    assert!(datagrams >= 9 && quotes >= 5, "{datagrams} datagrams, {quotes} quotes");
}

/// The same output for any thread count on the fragment fixtures, in every mode (the
/// sharded `conns` reassembles in its walk, the others in the front).
#[test]
fn fragments_give_the_same_output_for_any_thread_count() {
    for f in ["frag-ipv4.pcap", "frag-ipv6.pcap", "frag-tcp.pcap", "icmp6-errors.pcap", "ipv4-frag.pcap", "lesson-udp.pcap"] {
        let path = common::fixture(f);
        let path = path.to_str().unwrap();
        for cmd in [&["conns", "--format", "json"][..], &["conns"], &["read", "--format", "json"], &["stream"], &["read"]] {
            let run = |threads: &str| {
                let mut args = cmd.to_vec();
                args.extend(["--threads", threads, path]);
                let o = common::wireseam(&args);
                (o.status.code(), o.stdout, o.stderr)
            };
            let one = run("1");
            for t in ["2", "3", "4"] {
                assert!(one == run(t), "{f} {cmd:?}: --threads {t} differs from one thread");
            }
        }
    }
}
