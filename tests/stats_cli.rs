//! `stats` and `stream --follow` as a user meets them: errors name the flag or file with the
//! CLI's exit codes (usage 2, runtime 1), and what each prints on the fixtures adds up.

mod common;
use common::*;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_clean_error(o: &std::process::Output, code: i32, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {e}");
    for n in needles {
        assert!(e.contains(n), "stderr should mention {n:?}: {e}");
    }
    assert!(!e.contains("panicked") && !e.contains("stack backtrace"), "{e}");
}

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

#[test]
fn bad_interval_is_a_usage_error() {
    for bad in ["0", "-1", "abc", "inf", "NaN", "0.0000001", "1e9"] {
        let o = wireseam(&["stats", &path("http.pcap"), "--interval", bad]);
        assert_clean_error(&o, 2, &["--interval", bad]);
        assert!(o.stdout.is_empty(), "nothing on stdout for --interval {bad}");
    }
}

#[test]
fn stats_errors_name_the_file_or_filter() {
    assert_clean_error(&wireseam(&["stats", "/nonexistent/x.pcap"]), 1, &["/nonexistent/x.pcap"]);
    assert_clean_error(&wireseam(&["stats", &path("http.pcap"), "tcp", "port"]), 2, &["pcap-filter"]);
    assert_clean_error(&wireseam(&["stats", &path("http.pcap"), "--format", "xml"]), 2, &["--format"]);
    // a file cut short: the stats of every frame before the damage, then the error
    let o = wireseam(&["stats", &path("truncated-file.pcap")]);
    assert_clean_error(&o, 1, &["truncated"]);
    assert!(stdout(&o).starts_with("9 frames, 522 bytes in "), "{}", stdout(&o));
}

#[test]
fn stats_without_tcp_still_counts_everything() {
    let o = wireseam(&["stats", &path("arp.pcap")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("5 frames, 264 bytes in "), "{out}");
    assert!(out.contains("\n  arp "), "{out}");
    assert!(out.contains("(no IP traffic)") && out.contains("(no TCP connection or UDP flow)"), "{out}");
    let o = wireseam(&["stats", &path("arp.pcap"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["conversations_total"], 0);
    assert_eq!(v["hierarchy"][1]["path"], "eth:arp");
}

/// The sections add up: the I/O graph's rows and the top layer hold every frame and byte, the
/// hosts' tx and rx each sum to the IP frames, and --interval sets the rows.
#[test]
fn stats_json_adds_up() {
    for name in ["loss.pcap", "udp.pcap", "null.pcap", "many.pcap"] {
        let o = wireseam(&["stats", &path(name), "--format", "json", "--top", "0"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let (frames, bytes) = (v["frames"].as_u64().unwrap(), v["bytes"].as_u64().unwrap());
        let rows = v["io"]["rows"].as_array().unwrap();
        assert!((1..=61).contains(&rows.len()), "{name}: {} rows", rows.len());
        assert_eq!(rows.iter().map(|r| r["frames"].as_u64().unwrap()).sum::<u64>(), frames, "{name}");
        assert_eq!(rows.iter().map(|r| r["bytes"].as_u64().unwrap()).sum::<u64>(), bytes, "{name}");
        let hosts = v["hosts"].as_array().unwrap();
        let tx: u64 = hosts.iter().map(|h| h["tx"]["frames"].as_u64().unwrap()).sum();
        let rx: u64 = hosts.iter().map(|h| h["rx"]["frames"].as_u64().unwrap()).sum();
        let ip: u64 = v["hierarchy"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["path"].as_str().unwrap().ends_with(":ip") || n["path"].as_str().unwrap().ends_with(":ipv6"))
            .map(|n| n["frames"].as_u64().unwrap())
            .sum();
        assert_eq!((tx, rx), (ip, ip), "{name}");
    }
    let o = wireseam(&["stats", &path("loss.pcap"), "--format", "json", "--interval", "0.5"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["io"]["interval"], serde_json::json!(0.5));
    assert_eq!(v["io"]["rows"].as_array().unwrap().len(), 3, "1.17 s in 0.5 s rows");
    // --top keeps the largest and says how many there were
    let o = wireseam(&["stats", &path("many.pcap"), "--format", "json", "--top", "2"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["conversations"].as_array().unwrap().len(), 2);
    assert!(v["conversations_total"].as_u64().unwrap() > 2);
}

#[test]
fn stats_graph_fits_the_width() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["stats", &path("loss.pcap")])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    // piped: the fixed width, whatever COLUMNS says
    let out = stdout(&o);
    let graph = out.split("I/O graph").nth(1).unwrap().split("\n\n").next().unwrap();
    assert!(graph.lines().skip(1).all(|l| l.chars().count() <= 80), "{graph}");
    assert!(graph.lines().any(|l| l.chars().count() > 70), "bars use the width: {graph}");
}

#[test]
fn stats_expert_lists_flags_with_first_frames() {
    let o = wireseam(&["stats", &path("loss.pcap"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let expert = v["expert"].as_array().unwrap();
    let retrans = expert.iter().find(|e| e["item"] == "retransmission").expect("retransmissions");
    assert_eq!(retrans["group"], "tcp.analysis");
    assert_eq!(retrans["first_frames"].as_array().unwrap().len(), 5);
    // the same count tshark would give is checked by `read -Y` on the same flag
    let r = wireseam(&["read", &path("loss.pcap"), "-Y", "tcp.analysis == retransmission", "-q"]);
    assert_eq!(retrans["count"].as_u64().unwrap() as usize, stdout(&r).lines().count());
}

#[test]
fn follow_conn_out_of_range_is_an_error() {
    let o = wireseam(&["stream", &path("http.pcap"), "--follow", "--conn", "7"]);
    assert_clean_error(&o, 1, &["no TCP connection #7", "conns"]);
    assert!(o.stdout.is_empty());
}

#[test]
fn follow_without_tcp_says_so() {
    for name in ["udp.pcap", "arp.pcap"] {
        let o = wireseam(&["stream", "--follow", &path(name)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "{name}: a UDP flow is not followed");
        assert!(stderr(&o).contains("no TCP connection to follow"), "{}", stderr(&o));
    }
}

#[test]
fn follow_options_are_checked() {
    assert_clean_error(&wireseam(&["stream", &path("http.pcap"), "--follow", "bogus"]), 2, &["bogus"]);
    assert_clean_error(&wireseam(&["stream", &path("http.pcap"), "--follow=bogus"]), 2, &["bogus"]);
    assert_clean_error(&wireseam(&["stream", &path("http.pcap"), "--follow", "-x"]), 2, &["--hex"]);
    assert_clean_error(&wireseam(&["stream", &path("http.pcap"), "--follow", "hex", "--recv", "10"]), 2, &["--recv"]);
}

/// Every mode and place of `--follow` gives the same connection: the file first or last, a
/// filter, and no control byte of the payload reaches the output.
#[test]
fn follow_forms_agree_and_escape_the_payload() {
    let a = wireseam(&["stream", "--follow", &path("http.pcap")]);
    let b = wireseam(&["stream", &path("http.pcap"), "tcp", "port", "9000", "--follow"]);
    let c = wireseam(&["stream", &path("http.pcap"), "--follow", "ascii", "--conn", "0"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
    for mode in ["ascii", "hex", "raw"] {
        for name in ["http.pcap", "sticky.pcap", "gaps.pcap", "lossy-stream.pcap", "jsonhdr.pcap"] {
            let o = wireseam(&["stream", &path(name), "--follow", mode]);
            assert_eq!(o.status.code(), Some(0), "{name} {mode}: {}", stderr(&o));
            assert!(o.stdout.iter().all(|&b| b == b'\n' || b == b'\t' || b >= 0x20 && b != 0x7f), "{name} {mode}: a control byte");
        }
    }
}

/// Threads change nothing, and `-c` and a filter narrow what is counted.
#[test]
fn stats_threads_count_and_filter() {
    for name in ["loss.pcap", "many.pcap", "truncated-synth.pcap"] {
        let one = wireseam(&["stats", &path(name), "--format", "json"]);
        let three = wireseam(&["stats", &path(name), "--format", "json", "--threads", "3"]);
        assert_eq!(String::from_utf8_lossy(&one.stdout), String::from_utf8_lossy(&three.stdout), "{name}");
    }
    let o = wireseam(&["stats", &path("loss.pcap"), "-c", "5", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"], 5);
    let o = wireseam(&["stats", &path("udp.pcap"), "icmp", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"], 5);
    assert_eq!(v["hierarchy"][2]["path"], "eth:ip:icmp");
    assert_eq!(v["hierarchy"].as_array().unwrap().len(), 3, "only ICMP passed the filter");
}

/// An empty file is its error for both (exit 1, naming it); standard input and a compressed
/// capture are read as any file.
#[test]
fn empty_stdin_and_compressed_inputs() {
    let dir = std::env::temp_dir().join(format!("wireseam-stats-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    for args in [&["stats"][..], &["stream", "--follow"]] {
        let mut all = args.to_vec();
        all.push(empty.to_str().unwrap());
        assert_clean_error(&wireseam(&all), 1, &["empty.pcap", "empty"]);
    }
    let whole = wireseam(&["stats", &path("http.pcap")]);
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["stats", "-"])
        .stdin(std::fs::File::open(fixture("http.pcap")).unwrap())
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0));
    assert_eq!(piped.stdout, whole.stdout);
    std::fs::remove_dir_all(&dir).ok();
}
