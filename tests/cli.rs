//! Errors and exit codes as a user meets them: one clear message naming the file or flag, no
//! panic, no backtrace.

mod common;
use common::*;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_clean_error(o: &std::process::Output, code: i32, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {e}");
    for n in needles {
        assert!(e.contains(n), "stderr should mention {n:?}: {e}");
    }
    assert!(!e.contains("panicked") && !e.contains("stack backtrace") && !e.contains("RUST_BACKTRACE"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
}

#[test]
fn missing_file() {
    let o = wireseam(&["read", "/nonexistent/x.pcap"]);
    assert_clean_error(&o, 1, &["/nonexistent/x.pcap", "No such file"]);
}

#[test]
fn directory() {
    let d = root().join("fixtures");
    let o = wireseam(&["read", d.to_str().unwrap()]);
    assert_clean_error(&o, 1, &["is a directory"]);
}

#[test]
fn empty_and_garbage_files() {
    let dir = tempdir();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_error(&wireseam(&["read", empty.to_str().unwrap()]), 1, &["empty.pcap", "empty"]);
    let text = dir.join("notes.txt");
    std::fs::write(&text, b"hello, this is not a capture\n").unwrap();
    assert_clean_error(&wireseam(&["read", text.to_str().unwrap()]), 1, &["notes.txt", "not a pcap or pcapng"]);
    let short = dir.join("short.pcap");
    std::fs::write(&short, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).unwrap();
    assert_clean_error(&wireseam(&["read", short.to_str().unwrap()]), 1, &["short.pcap", "header is truncated"]);
}

#[test]
fn truncated_last_record_prints_everything_before_it() {
    let f = fixture("truncated-file.pcap");
    let o = wireseam(&["read", "--color", "never", f.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().count() >= 2, "frames before the damage are printed: {out}");
    assert_clean_error(&o, 1, &["truncated-file.pcap", "truncated", "frames read"]);
}

#[test]
fn bad_filter_is_a_usage_error() {
    let f = fixture("tcp-basic.pcap");
    let o = wireseam(&["read", f.to_str().unwrap(), "tcp", "port"]);
    assert_clean_error(&o, 2, &["tcp port", "pcap-filter"]);
    assert!(o.stdout.is_empty());
}

#[test]
fn filter_selects_frames_and_keeps_numbers() {
    let f = fixture("udp.pcap");
    let o = wireseam(&["read", "--format", "json", f.to_str().unwrap(), "icmp"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.lines().count() >= 2);
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] == "conn" {
            assert_eq!(v["proto"], "icmp", "only the ICMP flows' records: {l}");
            continue;
        }
        assert!(v.get("icmp").is_some(), "{l}");
        assert!(v["n"].as_u64().unwrap() > 1, "frame numbers stay the file's");
    }
}

#[test]
fn count_stops_early() {
    let f = fixture("tcp-basic.pcap");
    let o = wireseam(&["read", "-c", "3", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 3);
    assert_clean_error(&wireseam(&["read", "-c", "0", f.to_str().unwrap()]), 2, &["--count"]);
}

#[test]
fn unsupported_linktype_is_listed_not_aborted() {
    let f = fixture("unknown-linktype.pcap");
    if !f.exists() {
        return;
    }
    let o = wireseam(&["read", "--color", "never", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(out.lines().count() >= 1 && out.lines().all(|l| l.contains("link type")), "{out}");
    assert_clean_error(&o, 0, &["link type", "not decoded"]);
}

#[test]
fn broken_pipe_exits_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // Many frames so output exceeds the pipe buffer after the reader goes away.
    let f = fixture("loss.pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["read", "-vv", "-x", f.to_str().unwrap()])
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn color_only_when_asked() {
    let f = fixture("tcp-basic.pcap");
    let o = wireseam(&["read", f.to_str().unwrap()]);
    assert!(!o.stdout.contains(&0x1b), "no escape codes in piped output");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["read", "--color", "always", f.to_str().unwrap()])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(o.stdout.contains(&0x1b), "--color always colours");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wireseam-cli-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn threads_flag_is_checked() {
    let f = fixture("tcp-basic.pcap");
    let o = wireseam(&["conns", "--threads", "0", f.to_str().unwrap()]);
    assert_clean_error(&o, 2, &["--threads", "at least 1"]);
    let o = wireseam(&["read", "--threads", "many", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--threads"));
}

#[test]
fn truncated_file_with_threads_keeps_frames_and_error() {
    let f = fixture("truncated-file.pcap");
    let one = wireseam(&["read", "--color", "never", "--threads", "1", f.to_str().unwrap()]);
    let two = wireseam(&["read", "--color", "never", "--threads", "2", f.to_str().unwrap()]);
    assert_eq!(one.stdout, two.stdout);
    assert_eq!(one.stderr, two.stderr);
    assert_clean_error(&two, 1, &["truncated-file.pcap", "truncated"]);
}

/// `--check-checksums` flags the five wrong checksums of `checksums.pcap` and names the one that
/// checksum offload left as a pseudo-header sum; `--drop-bad-checksums` leaves them out of
/// tracking (the bad data segment then is not part of the stream: its retransmission is).
#[test]
fn checksums_checked_and_dropped() {
    let f = fixture("checksums.pcap");
    let f = f.to_str().unwrap();
    let plain = wireseam(&["read", f]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("checksum"), "not checked by default");
    let o = wireseam(&["read", "--check-checksums", f]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out.matches("bad checksum").count(), 5, "{out}");
    assert_eq!(out.matches("not computed (offload?)").count(), 1, "{out}");
    assert!(stderr(&o).contains("5 frames with a bad checksum"), "{}", stderr(&o));
    let checked = wireseam(&["read", "--check-checksums", "--format", "json", f]);
    let dropped = wireseam(&["read", "--drop-bad-checksums", "--format", "json", f]);
    assert!(stderr(&dropped).contains("5 left out of tracking"), "{}", stderr(&dropped));
    let frame5 =
        |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).lines().find(|l| l.contains("\"n\":5,")).map(str::to_string).unwrap();
    // checked: frame 5 repeats the (bad) frame 4; dropped: frame 4 never counted, so 5 is new data
    assert!(frame5(&checked).contains("retransmission"), "{}", frame5(&checked));
    assert!(!frame5(&dropped).contains("retransmission"), "{}", frame5(&dropped));
}

#[test]
fn lab_options_are_checked() {
    // the lab picks its own addresses, roles and interfaces
    let o = wireseam(&["gen", "handshake", "--lab", "--addr", "10.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'--lab' cannot be used with '--addr <ADDR>'"), "{}", stderr(&o));
    assert_clean_error(&wireseam(&["gen", "rto", "--role", "server"]), 2, &["rto plays both ends itself", "leave out --role"]);
    assert_clean_error(&wireseam(&["gen", "handshake", "-w", "x.pcap"]), 2, &["-w writes the lab's capture: add --lab"]);
    assert_clean_error(&wireseam(&["gen", "syn-retry", "--count", "9"]), 2, &["--count 9 is out of range for syn-retry: 1 to 4"]);
    let o = wireseam(&["gen", "handshake", "--rate", "1mbit"]);
    assert_eq!(o.status.code(), Some(2), "--rate needs --lab");
    // the page's options (as `report` takes them) need --report
    assert_clean_error(&wireseam(&["gen", "handshake", "--lab", "--conn", "2"]), 2, &["shape the page of --report FILE"]);
    assert_clean_error(&wireseam(&["gen", "handshake", "--lab", "tcp"]), 2, &["'tcp'", "selects what --report FILE draws"]);
    let o = wireseam(&["gen", "handshake", "--lab", "--framing", "lines"]);
    assert_eq!(o.status.code(), Some(2), "--framing needs --report: {}", stderr(&o));
    assert_clean_error(&wireseam(&["gen", "handshake", "--lab", "--report", "x.html", "--top", "0"]), 2, &["--top"]);
    assert_clean_error(&wireseam(&["gen", "handshake", "--lab", "--report", "x.html", "--framing", "nope"]), 2, &["--framing"]);
    assert_clean_error(&wireseam(&["gen", "handshake", "--lab", "--report", "x.html", "tcp", "port"]), 2, &["pcap-filter(7)"]);
}

#[test]
fn peer_scenarios_are_not_for_the_library_runner() {
    let cfg = wireseam::gen::GenConfig::new(wireseam::gen::Scenario::Rto);
    let e = wireseam::gen::run(&cfg, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("needs the scripted peer"), "{e}");
}

#[test]
fn report_errors() {
    let f = fixture("tcp-basic.pcap");
    let f = f.to_str().unwrap();
    let o = wireseam(&["report", f]);
    assert_eq!(o.status.code(), Some(2), "-o is required: {}", stderr(&o));
    assert!(stderr(&o).contains("--output"));
    assert_clean_error(&wireseam(&["report", f, "-o", "-", "--top", "0"]), 2, &["--top"]);
    assert_clean_error(&wireseam(&["report", f, "-o", "-", "--recv", "0"]), 2, &["--recv"]);
    assert_clean_error(&wireseam(&["report", f, "-o", "/nonexistent/dir/x.html"]), 1, &["cannot write", "/nonexistent/dir/x.html"]);
    assert_clean_error(&wireseam(&["report", "/nonexistent/x.pcap", "-o", "-"]), 1, &["/nonexistent/x.pcap"]);
    // as flow and stream: an error, and no page
    let o = wireseam(&["report", f, "-o", "-", "--conn", "99"]);
    assert_clean_error(&o, 1, &["no TCP connection #99"]);
    assert!(o.stdout.is_empty());
}

/// An ICMP error is an event of the connection or flow it quotes: counted on its conn record and
/// drawn in its ladder, never counted as one of its packets.
#[test]
fn icmp_errors_belong_to_their_flow() {
    let f = fixture("frag-tcp.pcap");
    let o = wireseam(&["conns", "--format", "json", "--proto", "tcp", f.to_str().unwrap()]);
    let tcp: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(tcp["icmp_errors"], 2, "{tcp}");
    assert_eq!(tcp["packets"]["c2s"], 5, "the quoted headers are not segments: {tcp}");
    let ladder = String::from_utf8_lossy(&wireseam(&["flow", f.to_str().unwrap()]).stdout).into_owned();
    assert!(ladder.contains("ICMP time exceeded in transit from 198.18.0.254"), "{ladder}");
    assert!(ladder.contains("ICMP fragmentation needed from 198.18.0.254"), "{ladder}");
    let udp = fixture("udp.pcap");
    let o = wireseam(&["conns", "--format", "json", "--proto", "udp", udp.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    let closed_port = out.lines().find(|l| l.contains(":9002")).unwrap();
    assert!(closed_port.contains("\"icmp_errors\":1"), "{closed_port}");
}

/// The tunnel flags: a bad `--tunnel-port` or `--inner` is a usage error naming the flag; a
/// registered port moved with `--tunnel-port` is decoded there (the corpus's VXLAN on 8472), and
/// `--inner` selects by the innermost header.
/// `capture`'s page options are errors without `--report`, and their values are checked as for
/// `report` (before any capture starts: no root needed).
#[test]
fn capture_report_options() {
    assert_clean_error(&wireseam(&["capture", "-i", "lo", "--top", "3"]), 2, &["--top", "--report FILE"]);
    // clap's own error (several lines, with the usage)
    let o = wireseam(&["capture", "-i", "lo", "--recv", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--report <FILE>"), "{}", stderr(&o));
    assert_clean_error(&wireseam(&["capture", "-i", "lo", "--framing", "bogus"]), 2, &["--framing", "bogus"]);
    assert_clean_error(&wireseam(&["capture", "-i", "lo", "--report", "/nonexistent/x.html", "--top", "0"]), 2, &["--top"]);
    assert_clean_error(
        &wireseam(&["capture", "-i", "lo", "--report", "/nonexistent/x.html", "--recv", "0"]),
        2,
        &["--recv", "at least 1 byte"],
    );
}

#[test]
fn tunnel_flags() {
    let f = root().join("fixtures/tcp-basic.pcap");
    let f = f.to_str().unwrap();
    for (flag, needles) in [
        ("vxlan=abc", &["--tunnel-port vxlan=abc", "no UDP port"][..]),
        ("vxlan=0", &["--tunnel-port vxlan=0", "no UDP port"]),
        ("foo=1", &["--tunnel-port foo=1", "unknown tunnel `foo`", "vxlan"]),
    ] {
        assert_clean_error(&wireseam(&["read", f, "--tunnel-port", flag]), 2, needles);
    }
    assert_clean_error(&wireseam(&["read", f, "--inner", "tcp port"]), 2, &["--inner", "tcp port"]);
    assert_clean_error(&wireseam(&["read", f, "--no-decap", "--inner", "tcp"]), 2, &["--no-decap", "--inner", "trailing FILTER"]);
    assert_clean_error(&wireseam(&["read", f, "--no-decap", "--tunnel-port", "vxlan=8472"]), 2, &["--no-decap", "--tunnel-port"]);

    let corpus = root().join("../shared/corpora/tcpdump-tests/vxlan_port_8472.pcap");
    if !corpus.exists() {
        eprintln!("{} missing; the positive half skipped", corpus.display());
        return;
    }
    let c = corpus.to_str().unwrap();
    let text = |args: &[&str]| {
        let o = wireseam(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let plain = text(&["read", c, "-c", "1"]);
    assert!(!plain.contains("[vxlan") && plain.contains(":8472"), "8472 is not VXLAN's registered port: {plain}");
    let moved = text(&["read", c, "-c", "1", "--tunnel-port", "vxlan=8472"]);
    assert!(moved.contains("[vxlan 100]") && moved.contains("192.168.203.3 → 192.168.203.5"), "{moved}");
    let icmp = text(&["read", c, "--tunnel-port", "vxlan=8472", "--inner", "icmp"]);
    let lines: Vec<&str> = icmp.lines().filter(|l| l.trim_start().starts_with(char::is_numeric)).collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.contains("ICMP") && l.contains("[vxlan 100]")), "{icmp}");
    let outer = text(&["read", c, "--tunnel-port", "vxlan=8472", "--inner", "udp port 8472"]);
    assert!(!outer.lines().any(|l| l.contains("ICMP")), "--inner looks at the inner header, not the outer UDP: {outer}");
}

/// A build without the `parquet` feature says so and how to build it (the build with it is
/// tested in tests/parquet.rs).
#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_names_it() {
    let f = fixture("tcp-basic.pcap");
    for cmd in ["read", "stream", "conns"] {
        let o = wireseam(&[cmd, f.to_str().unwrap(), "-F", "parquet", "-o", "x"]);
        assert_clean_error(&o, 2, &["`parquet` feature", "--features parquet"]);
    }
}
