//! Golden outputs: every fixture through every output format, compared byte for byte with
//! `tests/golden/`. Re-bless with `WIRESEAM_BLESS=1 cargo test --test golden` (or `make bless`)
//! and review the diff.

mod common;
use common::*;

/// (file suffix, arguments before the file)
const FORMATS: &[(&str, &[&str])] = &[
    ("txt", &["read", "--color", "never"]),
    ("jsonl", &["read", "--format", "json"]),
    ("v.txt", &["read", "--color", "never", "-vv", "-x"]),
    ("conns.txt", &["conns"]),
    ("conns.jsonl", &["conns", "--format", "json"]),
    ("flow.txt", &["flow", "--color", "never"]),
    ("stream.txt", &["stream", "--color", "never"]),
];

/// Extra goldens for particular lessons: (golden name, arguments; the fixture path is last).
const LESSONS: &[(&str, &[&str], &str)] = &[
    ("lesson-helloworld.txt", &["stream", "--color", "never", "--framing", "fixed:5", "--recv", "2,10"], "helloworld.pcap"),
    ("lesson-recv2.txt", &["stream", "--color", "never", "--recv", "2"], "sticky.pcap"),
    ("lesson-recv-slow.txt", &["stream", "--color", "never", "--recv", "1024", "--slow", "300"], "lines.pcap"),
    ("lesson-framing-override.txt", &["stream", "--color", "never", "--framing", "c2s=fixed:7,s2c=segment"], "sticky.pcap"),
    ("lesson-http-hex.txt", &["stream", "--color", "never", "-x"], "http.pcap"),
    ("lesson-hello-late.txt", &["stream", "--color", "never", "--recv", "1024", "--recv-at", "end"], "lesson-hello.pcap"),
    ("lesson-hello-2-10.txt", &["stream", "--color", "never", "--recv", "2,10", "--recv-at", "after:1"], "lesson-hello.pcap"),
    (
        "lesson-cmd-after-send.txt",
        &["stream", "--color", "never", "--recv", "1024", "--recv-at", "after-send", "--conn", "0"],
        "lesson-cmd.pcap",
    ),
    ("lesson-udp-recvfrom.txt", &["stream", "--color", "never", "--recv", "1024"], "udp.pcap"),
    ("fields-http.tsv", FIELDS_TCP, "http.pcap"),
    ("fields-loss.tsv", FIELDS_TCP, "loss.pcap"),
    (
        "fields-loss.csv",
        &[
            "read",
            "-T",
            "fields",
            "-E",
            "header=y",
            "-E",
            "separator=,",
            "-e",
            "n",
            "-e",
            "tcp.conn",
            "-e",
            "tcp.dir",
            "-e",
            "tcp.phase",
            "-e",
            "tcp.analysis",
            "-e",
            "tcp.sack",
            "-e",
            "tcp.ts",
        ],
        "loss.pcap",
    ),
    (
        "fields-udp.tsv",
        &["read", "-T", "fields", "-e", "n", "-e", "ip.src", "-e", "udp.sport", "-e", "udp.dport", "-e", "udp.len", "-e", "udp.messages"],
        "udp.pcap",
    ),
    (
        "fields-arp.tsv",
        &["read", "-T", "fields", "-e", "n", "-e", "eth.src", "-e", "eth.dst_class", "-e", "arp.op", "-e", "arp.spa", "-e", "arp.kind"],
        "arp-conflict.pcap",
    ),
    ("read-quick-loss.txt", &["read", "--color", "never", "-q"], "loss.pcap"),
    ("read-ascii-http.txt", &["read", "--color", "never", "-A"], "http.pcap"),
    ("read-hex-ascii-http.txt", &["read", "--color", "never", "-X"], "http.pcap"),
    ("read-epoch-http.txt", &["read", "--color", "never", "-tt", "-n"], "http.pcap"),
    ("read-delta-http.txt", &["read", "--color", "never", "-ttt"], "http.pcap"),
    ("read-date-http.txt", &["read", "--color", "never", "-tttt"], "http.pcap"),
    ("read-no-time-http.txt", &["read", "--color", "never", "-t"], "http.pcap"),
    ("read-link-lo.txt", &["read", "--color", "never", "-e", "-c", "3"], "offload-lo.pcap"),
    ("conns-http.csv", &["conns", "--format", "csv"], "http.pcap"),
    ("conns-many.tsv", &["conns", "--format", "tsv"], "many.pcap"),
    ("conns-http.zeek", &["conns", "--format", "zeek"], "http.pcap"),
    ("conns-many.zeek", &["conns", "--format", "zeek"], "many.pcap"),
    ("conns-refused.zeek", &["conns", "--format", "zeek"], "refused.pcap"),
    ("fields-app-dns.tsv", FIELDS_APP, "app-dns.pcap"),
    ("fields-app-tls.tsv", FIELDS_APP, "app-tls.pcap"),
    ("fields-app-http.tsv", FIELDS_APP, "app-http.pcap"),
    (
        "fields-app-lines.csv",
        &["read", "-T", "fields", "-E", "separator=,", "-E", "header=y", "-e", "n", "-e", "app.proto", "-e", "app.info"],
        "app-lines.pcap",
    ),
    ("read-filter-app-lines.txt", &["read", "--color", "never", "-Y", "app.proto == smtp && app.info contains \"250\""], "app-lines.pcap"),
    ("stats-http.txt", &["stats"], "http.pcap"),
    ("stats-http.json", &["stats", "--format", "json"], "http.pcap"),
    ("stats-loss.txt", &["stats", "--interval", "0.1"], "loss.pcap"),
    ("stats-loss.json", &["stats", "--format", "json", "--interval", "0.1"], "loss.pcap"),
    ("stats-many-top3.txt", &["stats", "--top", "3"], "many.pcap"),
    ("stats-udp.txt", &["stats"], "udp.pcap"),
    ("stats-vlan.txt", &["stats"], "vlan.pcap"),
    ("stats-tunnel-multi.txt", &["stats"], "tunnel-multi.pcap"),
    ("stats-truncated-synth.txt", &["stats"], "truncated-synth.pcap"),
    ("stats-truncated-synth.json", &["stats", "--format", "json"], "truncated-synth.pcap"),
    ("follow-http.txt", &["stream", "--follow"], "http.pcap"),
    ("follow-http-hex.txt", &["stream", "--follow", "hex"], "http.pcap"),
    ("follow-http-raw.txt", &["stream", "--follow", "raw"], "http.pcap"),
    ("follow-gaps.txt", &["stream", "--follow", "ascii"], "gaps.pcap"),
    ("follow-gaps-hex.txt", &["stream", "--follow", "hex"], "gaps.pcap"),
    ("follow-loss-raw.txt", &["stream", "--follow=raw", "--conn", "0"], "loss.pcap"),
    ("follow-sticky.txt", &["stream", "--follow"], "sticky.pcap"),
    ("follow-many-conn3.txt", &["stream", "--follow", "--conn", "3"], "many.pcap"),
];

/// `-T fields` with the application-layer fields (tshark's names).
const FIELDS_APP: &[&str] = &[
    "read",
    "-T",
    "fields",
    "-E",
    "header=y",
    "-e",
    "n",
    "-e",
    "app.proto",
    "-e",
    "app.info",
    "-e",
    "http.request.method",
    "-e",
    "http.request.uri",
    "-e",
    "http.response.code",
    "-e",
    "tls.handshake.extensions_server_name",
    "-e",
    "tls.handshake.extensions_alpn_str",
    "-e",
    "dns.id",
    "-e",
    "dns.qry.name",
    "-e",
    "dns.qry.type",
    "-e",
    "dns.a",
    "-e",
    "dns.aaaa",
    "-e",
    "dns.cname",
];

/// `-T fields` with the TCP fields that tshark also has.
const FIELDS_TCP: &[&str] = &[
    "read",
    "-T",
    "fields",
    "-e",
    "n",
    "-e",
    "t",
    "-e",
    "ip.src",
    "-e",
    "tcp.sport",
    "-e",
    "tcp.flags",
    "-e",
    "tcp.rseq",
    "-e",
    "tcp.rack",
    "-e",
    "tcp.len",
    "-e",
    "tcp.win_scaled",
    "-e",
    "tcp.state.client",
    "-e",
    "tcp.state.server",
    "-e",
    "tcp.analysis",
    "-e",
    "tcp.messages",
];

#[test]
fn golden_lessons() {
    let mut failures = Vec::new();
    for (name, args, fixture) in LESSONS {
        let mut a: Vec<&str> = args.to_vec();
        let f = fixture_path(fixture);
        a.push(f.to_str().unwrap());
        let out = wireseam(&a);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(m) = check_golden(&root().join("tests/golden").join(name), &out.stdout) {
            failures.push(m);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    fixture(name)
}

#[test]
fn golden_outputs() {
    let mut failures = Vec::new();
    let fixtures = fixtures();
    assert!(fixtures.len() >= 10, "fixtures missing");
    for f in &fixtures {
        let name = f.file_name().unwrap().to_str().unwrap();
        for (suffix, args) in FORMATS {
            let mut a: Vec<&str> = args.to_vec();
            a.push(f.to_str().unwrap());
            let out = wireseam(&a);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name}: panic: {stderr}");
            let golden = root().join("tests/golden").join(format!("{name}.{suffix}"));
            if let Some(m) = check_golden(&golden, &out.stdout) {
                failures.push(m);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `args` + `--threads N` + `file` for 1 and each of `threads`; notes every N whose exit
/// status, stdout or stderr differs from one thread's.
fn compare_threads(label: &str, args: &[&str], file: &std::path::Path, threads: &[&str], failures: &mut Vec<String>) {
    let run = |n: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--threads", n, file.to_str().unwrap()]);
        let out = wireseam(&a);
        (out.status.code(), out.stdout, out.stderr)
    };
    let one = run("1");
    for t in threads {
        if run(t) != one {
            failures.push(format!("{label}: --threads {t} differs from --threads 1"));
        }
    }
}

/// `--threads N` shards connections over threads; the output must not change with N (nor
/// match the goldens less). Every fixture, every sharded format, 1 vs 2 vs 5 threads.
#[test]
fn threads_do_not_change_output() {
    let mut failures = Vec::new();
    for f in &fixtures() {
        let name = f.file_name().unwrap().to_str().unwrap();
        for (suffix, args) in FORMATS.iter().filter(|(s, _)| !s.starts_with("stream")) {
            compare_threads(&format!("{name}.{suffix}"), args, f, &["2", "5"], &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A full connection table evicts the connection idle the longest: one table (tracking runs in
/// one thread), so the same connections are evicted, with the same ids after them, for any N.
#[test]
fn threads_do_not_change_evictions() {
    let mut failures = Vec::new();
    for f in &fixtures() {
        let name = f.file_name().unwrap().to_str().unwrap();
        compare_threads(&format!("{name} --max-conns 1"), &["read", "--format", "json", "--max-conns", "1"], f, &["2", "3"], &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_lines_parse_and_follow_the_contract() {
    for f in fixtures() {
        let out = wireseam(&["read", "--format", "json", f.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let mut n = 0;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: bad JSON {e}: {line}", f.display()));
            if v["type"] == "message" {
                for key in ["conn", "dir", "index", "offset", "len", "framing", "frames", "sticky", "split", "complete"] {
                    assert!(v.get(key).is_some(), "message record lacks {key}: {line}");
                }
                continue;
            }
            if v["type"] == "conn" {
                for key in [
                    "conn",
                    "client",
                    "server",
                    "conn_state",
                    "history",
                    "client_state",
                    "server_state",
                    "mss",
                    "ws",
                    "irtt",
                    "packets",
                    "bytes",
                    "missed_bytes",
                    "retransmissions",
                ] {
                    if v.get("proto").is_some_and(|p| p != "tcp") {
                        // UDP and ICMP flows: the contract's keys for them, TCP-only keys absent
                        let tcp_only = ["client_state", "server_state", "mss", "ws", "irtt", "missed_bytes", "retransmissions"];
                        assert_eq!(v.get(key).is_some(), !tcp_only.contains(&key), "flow record and {key}: {line}");
                        continue;
                    }
                    assert!(v.get(key).is_some(), "conn record lacks {key}: {line}");
                }
                continue;
            }
            assert_eq!(v["type"], "packet");
            n += 1;
            assert_eq!(v["n"], n, "frames numbered in order");
            // null only for a block without a timestamp (pcapng Simple Packet Block), and then `t` too
            match v["ts"].as_str() {
                Some(ts) => assert!(ts.ends_with('Z')),
                None => assert!(v["ts"].is_null() && v["t"].is_null(), "ts and t null together: {line}"),
            }
            if let Some(offload) = v.get("offload") {
                let (mss, segments) = (&offload["mss"], &offload["segments"]);
                assert!(mss.is_null() == segments.is_null(), "offload mss and segments known together: {line}");
                if let (Some(mss), Some(segments)) = (mss.as_u64(), segments.as_u64()) {
                    let len = v["tcp"]["len"].as_u64().unwrap();
                    assert!(len > mss && segments == len.div_ceil(mss), "offload {mss} x {segments} for len {len}");
                }
            }
            for key in ["eth", "arp", "ip", "udp", "icmp", "tcp"] {
                assert!(!v.get(key).is_some_and(|x| x.is_null()), "absent layers are absent, not null");
            }
            if let Some(tcp) = v.get("tcp") {
                let flags = tcp["flags"].as_array().unwrap();
                let order = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
                let idx: Vec<usize> = flags.iter().map(|f| order.iter().position(|o| f == o).unwrap()).collect();
                assert!(idx.windows(2).all(|w| w[0] < w[1]), "flags in bit order");
                for key in ["conn", "dir", "phase", "state", "analysis", "rseq", "win_scaled"] {
                    assert!(tcp.get(key).is_some(), "tcp lacks {key}: {line}");
                }
                let phase = tcp["phase"].as_str().unwrap();
                let first = phase.split(' ').next().unwrap();
                assert!(["handshake", "data", "teardown", "reset", "other"].contains(&first), "{phase}");
                assert_eq!(tcp.get("rack").is_some(), flags.iter().any(|f| f == "ACK"), "rack only with ACK: {line}");
            }
        }
    }
}

/// The offline tour (bundled captures) is deterministic: pin it.
#[test]
fn golden_demo_offline() {
    let out = wireseam(&["demo", "--offline", "--color", "never"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    if let Some(m) = check_golden(&root().join("tests/golden/demo-offline.txt"), &out.stdout) {
        panic!("{m}");
    }
}
