//! The command-line habits of tcpdump and tshark users (issue 22): options anywhere, their
//! flags, -w, -Y, and the same answer to odd inputs everywhere. Checked against tshark where it
//! reads the same thing.

mod common;
use common::*;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> String {
    let o = wireseam(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Exit status and stderr of a run that must fail without output on stdout.
fn fails(args: &[&str], code: i32, needles: &[&str]) -> String {
    let o = wireseam(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {e}");
    for n in needles {
        assert!(e.contains(n), "{args:?}: stderr should mention {n:?}: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
    assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout: {}", stdout(&o));
    e
}

fn tshark(args: &[&str]) -> Option<String> {
    let o = Command::new("tshark").args(args).env("LC_ALL", "C").output().ok()?;
    assert!(o.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn frame_numbers(text: &str) -> Vec<u64> {
    text.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect()
}

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

#[test]
fn options_after_the_file_and_the_filter() {
    let f = path("http.pcap");
    let before = ok(&["read", "--color", "never", "-c", "1", &f, "tcp", "and", "port", "9000"]);
    let after = ok(&["read", "--color", "never", &f, "tcp", "and", "port", "9000", "-c", "1"]);
    assert_eq!(before.lines().count(), 1, "{before}");
    assert_eq!(before, after);
    // the same for the other commands that take a trailing filter
    assert_eq!(ok(&["conns", &f, "tcp", "--format", "json"]), ok(&["conns", "--format", "json", &f, "tcp"]));
    assert_eq!(ok(&["flow", &f, "tcp", "--fold", "0", "--color", "never"]), ok(&["flow", "--fold", "0", "--color", "never", &f, "tcp"]));
    assert_eq!(
        ok(&["stream", &f, "port", "9000", "--conn", "0", "--color", "never"]),
        ok(&["stream", "--conn", "0", "--color", "never", &f, "port", "9000"])
    );
}

#[test]
fn unknown_option_after_a_filter_is_an_option_error() {
    let e = fails(&["capture", "-i", "lo", "tcp", "port", "9000", "--durtion", "5"], 2, &["--durtion", "--duration"]);
    assert!(!e.contains("pcap-filter"), "not a BPF error: {e}");
    let f = path("http.pcap");
    let e = fails(&["read", &f, "tcp", "--cuont", "1"], 2, &["--cuont", "--count"]);
    assert!(!e.contains("pcap-filter"), "{e}");
    fails(&["read", &f, "tcp", "and", "port", "9000", "--durtion", "5"], 2, &["--durtion", "--duration"]);
}

#[test]
fn a_filter_word_with_a_dash_follows_double_dash() {
    let f = path("http.pcap");
    // after --, `-c` is a filter word (so libpcap rejects it), not the count option
    fails(&["read", &f, "--", "tcp", "-c"], 2, &["`tcp -c`", "pcap-filter"]);
    assert_eq!(ok(&["read", &f, "-c", "2", "--", "tcp"]).lines().count(), 2);
}

#[test]
fn dash_r_names_the_file() {
    let f = path("http.pcap");
    let positional = ok(&["read", "--color", "never", &f, "tcp", "port", "9000", "-c", "3"]);
    assert_eq!(ok(&["read", "--color", "never", "-r", &f, "tcp", "port", "9000", "-c", "3"]), positional);
    assert_eq!(ok(&["read", "--color", "never", "tcp", "port", "9000", "-r", &f, "-c", "3"]), positional, "-r anywhere");
    assert_eq!(ok(&["conns", "-r", &f]), ok(&["conns", &f]));
    fails(&["read"], 2, &["FILE"]);
}

#[test]
fn dash_n_is_accepted_and_changes_nothing() {
    let f = path("http.pcap");
    let plain = ok(&["read", "--color", "never", &f]);
    assert_eq!(ok(&["read", "--color", "never", "-n", &f]), plain);
    assert_eq!(ok(&["read", "--color", "never", "-nn", &f]), plain);
    let help = ok(&["read", "--help"]);
    assert!(help.contains("never resolves"), "{help}");
}

#[test]
fn link_column_on_loopback_only_with_dash_e() {
    let lo = path("offload-lo.pcap");
    let plain = ok(&["read", "--color", "never", &lo, "-c", "1"]);
    assert!(!plain.contains("00:00:00:00:00:00"), "zero MACs left out: {plain}");
    let e = ok(&["read", "--color", "never", "-e", &lo, "-c", "1"]);
    assert!(e.contains("00:00:00:00:00:00 → 00:00:00:00:00:00"), "{e}");
    assert_eq!(ok(&["read", "--color", "never", "-nne", &lo, "-c", "1"]), e, "in a cluster of flags");
    // Ethernet with real MACs: shown without -e, as before
    let eth = ok(&["read", "--color", "never", &path("http.pcap"), "-c", "1"]);
    assert!(eth.contains("02:77:73:00:00:0a → 02:77:73:00:00:0b"), "{eth}");
    // -e with -T fields stays tshark's field
    assert_eq!(ok(&["read", &lo, "-c", "1", "-T", "fields", "-e", "ip.src"]).trim(), "127.0.0.1");
}

#[test]
fn quick_ascii_and_hex_lines() {
    let f = path("http.pcap");
    let full = ok(&["read", "--color", "never", &f]);
    let quick = ok(&["read", "--color", "never", "-q", &f]);
    assert_eq!(frame_numbers(&quick), frame_numbers(&full));
    for line in quick.lines() {
        assert!(!line.contains(" seq ") && !line.contains("client ") && !line.contains("02:77"), "{line}");
        assert!(line.contains(" len "), "{line}");
    }
    let ascii = ok(&["read", "--color", "never", "-A", &f]);
    assert!(ascii.lines().any(|l| l == "GET /a HTTP/1.1"), "request lines as text, CR before LF left out: {ascii}");
    assert!(!ascii.contains('\r'));
    let x = ok(&["read", "--color", "never", "-x", &f]);
    assert_eq!(ok(&["read", "--color", "never", "-X", &f]), x, "-X is -x's hex and ASCII");
    fails(&["read", "-A", "-x", &f], 2, &["--ascii", "--hex"]);
    fails(&["read", "-q", "-v", &f], 2, &["--quick", "--verbose"]);
}

#[test]
fn time_formats_as_tcpdump() {
    let f = path("nanosecond.pcap");
    let times = |flag: &str| -> Vec<String> {
        ok(&["read", "--color", "never", flag, &f]).lines().map(|l| l.split_whitespace().nth(1).unwrap().to_string()).collect()
    };
    let Some(epoch) = tshark(&["-r", &f, "-T", "fields", "-e", "frame.time_epoch"]) else {
        eprintln!("skipped: tshark not installed");
        return;
    };
    let delta = tshark(&["-r", &f, "-T", "fields", "-e", "frame.time_delta_displayed"]).unwrap();
    let relative = tshark(&["-r", &f, "-T", "fields", "-e", "frame.time_relative"]).unwrap();
    let num = |s: &str| s.parse::<f64>().unwrap();
    for (ours, theirs) in [(times("-tt"), &epoch), (times("-ttt"), &delta), (times("-ttttt"), &relative)] {
        let theirs: Vec<&str> = theirs.lines().collect();
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(theirs) {
            assert!((num(a) - num(b)).abs() < 1e-6, "{a} vs tshark {b}");
            assert_eq!(a.split('.').nth(1).unwrap().len(), 9, "nanosecond digits: {a}");
        }
    }
    let dates = times("-tttt");
    let iso = tshark(&["-r", &f, "-T", "fields", "-e", "frame.time_epoch", "-t", "u"]).unwrap();
    assert_eq!(dates.len(), iso.lines().count());
    assert!(dates.iter().all(|d| d.ends_with('Z') && d.contains('T')), "{dates:?}");
    let none = ok(&["read", "--color", "never", "-t", &f]);
    assert!(none.lines().all(|l| !l.contains("0.0000")), "no time column: {none}");
    fails(&["read", "-tttttt", &f], 2, &["-tttttt"]);
}

#[test]
fn text_only_options_are_refused_for_other_formats() {
    let f = path("http.pcap");
    fails(&["read", "-F", "json", "-x", &f], 2, &["-x", "json"]);
    fails(&["read", "-F", "json", "-A", &f], 2, &["-A", "json"]);
    fails(&["read", "-F", "json", "-v", &f], 2, &["-v", "json"]);
    fails(&["read", "-T", "fields", "-e", "n", "-q", &f], 2, &["-q", "-T fields"]);
    fails(&["read", "-F", "json", "-tt", &f], 2, &["-t", "json"]);
    fails(&["capture", "-i", "lo", "-w", "-", "-C", "1"], 2, &["-C/-G", "-w -"]);
    fails(&["capture", "-i", "lo", "-C", "1"], 2, &["-w"]);
    fails(&["capture", "-i", "lo", "-w", "-", "-F", "json"], 2, &["-w -", "-F"]);
    fails(&["capture", "-i", "lo", "-w", "-", "-A"], 2, &["-A", "-w -"]);
    fails(&["capture", "-i", "lo", "-w", "-", "--report", "-"], 2, &["--report"]);
    fails(&["read", &f, "-w", "-", "-q"], 2, &["-q", "-w -"]);
    fails(&["read", "-F", "json", "-w", "/tmp/never-written.pcap", &f], 2, &["-w"]);
    assert!(!std::path::Path::new("/tmp/never-written.pcap").exists());
}

/// `-w FILE` keeps the frames that pass: tshark reads the same frames (lengths, times, bytes)
/// as it selects from the original with the same display filter.
#[test]
fn write_keeps_the_frames_shown() {
    let dir = tempdir();
    for (input, expr, theirs) in [
        ("http.pcap", "tcp.len > 0", "tcp.len > 0"),
        ("loss.pcap", "ip.src == 198.18.0.2 && tcp.len == 0", "ip.src == 198.18.0.2 && tcp.len == 0"),
        ("multi.pcapng", "ip.version == 4", "ip.version == 4"),
    ] {
        let out = dir.join(format!("{input}.out"));
        let o = wireseam(&["read", &path(input), "-Y", expr, "-w", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "-w lists nothing");
        assert!(stderr(&o).contains("frames written to"), "{}", stderr(&o));
        let fields = [
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.time_epoch",
            "-e",
            "tcp.payload",
            "-e",
            "frame.interface_id",
        ];
        let Some(written) = tshark(&[&["-r", out.to_str().unwrap()][..], &fields[..]].concat()) else {
            eprintln!("skipped: tshark not installed");
            return;
        };
        let original = tshark(&[&["-r", &path(input), "-Y", theirs][..], &fields[..]].concat()).unwrap();
        assert!(!written.is_empty(), "{input}: some frames pass");
        assert_eq!(written, original, "{input}");
        let magic = &std::fs::read(&out).unwrap()[..4];
        if input.ends_with(".pcapng") {
            assert_eq!(magic, [0x0a, 0x0d, 0x0d, 0x0a], "pcapng from pcapng");
        } else {
            assert_ne!(magic, [0x0a, 0x0d, 0x0d, 0x0a], "pcap from pcap");
        }
    }
    // nothing passes: still a capture file, with no frames
    let none = dir.join("none.pcap");
    ok(&["read", &path("http.pcap"), "udp", "-w", none.to_str().unwrap()]);
    if let Some(t) = tshark(&["-r", none.to_str().unwrap()]) {
        assert!(t.is_empty());
    }
}

/// `-w` keeps the input's format also when the input is a pipe (`cat x.pcapng | read - -w`):
/// both link types of multi.pcapng are kept; and `--merge` of files of two link types writes a
/// pcapng (a pcap holds one).
#[test]
fn write_follows_the_input_through_a_pipe_and_a_merge() {
    let dir = tempdir();
    let magic = |p: &std::path::Path| std::fs::read(p).unwrap()[..4].to_vec();
    let piped = dir.join("piped.out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["read", "-", "-w", piped.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(path("multi.pcapng")).unwrap()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("(pcapng)"));
    assert_eq!(magic(&piped), [0x0a, 0x0d, 0x0d, 0x0a], "pcapng from a piped pcapng");
    let direct = dir.join("direct.out");
    ok(&["read", &path("multi.pcapng"), "-w", direct.to_str().unwrap()]);
    assert_eq!(std::fs::read(&piped).unwrap(), std::fs::read(&direct).unwrap(), "the same file as from the file itself");
    let merged = dir.join("merged.out");
    ok(&["read", &path("tcp-basic.pcap"), "--merge", &path("sll.pcap"), "-w", merged.to_str().unwrap()]);
    assert_eq!(magic(&merged), [0x0a, 0x0d, 0x0d, 0x0a], "pcapng for two link types");
    let same = dir.join("same.out");
    ok(&["read", &path("tcp-basic.pcap"), "--merge", &path("http.pcap"), "-w", same.to_str().unwrap()]);
    assert_ne!(magic(&same), [0x0a, 0x0d, 0x0d, 0x0a], "pcap for pcaps of one link type");
}

/// `read -w - | tshark -r -`: the pcap alone on standard output.
#[test]
fn write_to_stdout_pipes_into_tshark() {
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("skipped: tshark not installed");
        return;
    }
    let f = path("loss.pcap");
    let mut ours = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["read", &f, "tcp", "-w", "-", "-c", "7"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let piped = Command::new("tshark")
        .args(["-r", "-", "-T", "fields", "-e", "frame.len", "-e", "tcp.seq_raw"])
        .stdin(ours.stdout.take().unwrap())
        .output()
        .unwrap();
    assert_eq!(ours.wait().unwrap().code(), Some(0));
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    let direct = tshark(&["-r", &f, "-c", "7", "-T", "fields", "-e", "frame.len", "-e", "tcp.seq_raw"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&piped.stdout), direct);
}

#[test]
fn display_filter_selects_by_wireseams_fields() {
    let loss = path("loss.pcap");
    // every frame flagged a retransmission by -T fields, and no other
    let fields = ok(&["read", &loss, "-T", "fields", "-e", "n", "-e", "tcp.analysis"]);
    let flagged: Vec<u64> = fields
        .lines()
        .filter(|l| l.split('\t').nth(1).unwrap_or("").split(',').any(|a| a == "retransmission"))
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert!(!flagged.is_empty(), "loss.pcap has retransmissions");
    assert_eq!(frame_numbers(&ok(&["read", "--color", "never", &loss, "-Y", "tcp.analysis == retransmission"])), flagged);
    // a quoted state
    let tw = ok(&["read", "--color", "never", &path("tcp-basic.pcap"), "-Y", "tcp.state.client == \"TIME-WAIT\""]);
    assert!(!tw.is_empty());
    assert!(tw.lines().all(|l| l.contains("client TIME-WAIT")), "{tw}");
    // the same frames as tshark's filter of the same meaning
    let ours = frame_numbers(&ok(&["read", "--color", "never", &loss, "-Y", "ip.src == 198.18.0.1 && tcp.len > 0"]));
    if let Some(theirs) = tshark(&["-r", &loss, "-Y", "ip.src == 198.18.0.1 && tcp.len > 0", "-T", "fields", "-e", "frame.number"]) {
        assert_eq!(ours, frame_numbers(&theirs));
    }
    let words = frame_numbers(&ok(&["read", "--color", "never", &loss, "-Y", "not (ip.src != 198.18.0.1 or tcp.len le 0)"]));
    assert_eq!(words, ours, "and/or/not and word operators");
    // -c counts the frames shown
    assert_eq!(frame_numbers(&ok(&["read", "--color", "never", &loss, "-Y", "tcp.analysis == retransmission", "-c", "1"])), flagged[..1]);
}

#[test]
fn display_filter_errors_point_at_the_token() {
    let f = path("http.pcap");
    let e = fails(&["read", &f, "-Y", "ip.src == 10.0.0.1 && tcp.lne > 0"], 2, &["unknown field `tcp.lne`", "tcp.len"]);
    let lines: Vec<&str> = e.lines().collect();
    let at = lines[1].find("tcp.lne").unwrap();
    assert_eq!(lines[2].find('^'), Some(at), "caret under the token:\n{e}");
    assert_eq!(lines[2].trim(), "^^^^^^^");
    let e = fails(&["read", &f, "-Y", "tcp.len = 3"], 2, &["=="]);
    assert_eq!(e.lines().nth(2).unwrap().find('^'), e.lines().nth(1).unwrap().find('='));
}

#[test]
fn duration_on_read_keeps_the_first_seconds() {
    let f = path("loss.pcap");
    let times = ok(&["read", &f, "-T", "fields", "-e", "n", "-e", "t"]);
    let within: Vec<u64> = times
        .lines()
        .filter(|l| l.split('\t').nth(1).unwrap().parse::<f64>().unwrap() <= 0.05)
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert!(!within.is_empty() && within.len() < times.lines().count());
    assert_eq!(frame_numbers(&ok(&["read", "--color", "never", &f, "--duration", "0.05"])), within);
    fails(&["read", &f, "--duration", "0"], 2, &["--duration"]);
}

#[test]
fn conn_host_and_port_on_read() {
    let f = path("many.pcap");
    let conns = ok(&[
        "read",
        &f,
        "-T",
        "fields",
        "-e",
        "n",
        "-e",
        "tcp.conn",
        "-e",
        "ip.src",
        "-e",
        "ip.dst",
        "-e",
        "tcp.sport",
        "-e",
        "tcp.dport",
    ]);
    let rows: Vec<Vec<&str>> = conns.lines().map(|l| l.split('\t').collect()).collect();
    let of = |pred: &dyn Fn(&Vec<&str>) -> bool| -> Vec<u64> { rows.iter().filter(|r| pred(r)).map(|r| r[0].parse().unwrap()).collect() };
    let conn1 = of(&|r| r[1] == "1");
    assert!(!conn1.is_empty());
    assert_eq!(frame_numbers(&ok(&["read", "--color", "never", &f, "--conn", "1"])), conn1);
    let ours = ok(&["read", "-F", "json", &f, "--conn", "1"]);
    assert!(ours.lines().filter(|l| l.contains("\"type\":\"conn\"")).all(|l| l.contains("\"conn\":1,")), "only conn 1's record: {ours}");
    let host = rows[0][2];
    assert_eq!(frame_numbers(&ok(&["read", "--color", "never", &f, "--host", host])), of(&|r| r[2] == host || r[3] == host));
    let port = rows[0][4];
    assert_eq!(frame_numbers(&ok(&["read", "--color", "never", &f, "--port", port])), of(&|r| r[4] == port || r[5] == port));
}

#[test]
fn odd_inputs_answered_the_same_everywhere() {
    // no TCP: flow and stream say so on stderr, exit 0
    let arp = path("arp.pcap");
    for cmd in ["flow", "stream"] {
        let o = wireseam(&[cmd, &arp]);
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty());
        assert!(stderr(&o).contains("arp.pcap: no TCP connection"), "{cmd}: {}", stderr(&o));
    }
    let o = wireseam(&["conns", &arp]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty() && stderr(&o).contains("no connection or flow"), "{}", stderr(&o));
    let o = wireseam(&["flow", &path("udp.pcap")]);
    assert!(o.stdout.is_empty() && stderr(&o).contains("no TCP connection"), "{}", stderr(&o));
    // --conn 99: an error
    let f = path("http.pcap");
    for cmd in ["flow", "stream", "read"] {
        fails(&[cmd, &f, "--conn", "99"], 1, &["no TCP connection #99", "wireseam conns"]);
    }
    fails(&["read", &f, "--conn", "99", "-c", "1"], 1, &["no TCP connection #99"]);
    let o = wireseam(&["read", &f, "--conn", "0", "-c", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let page = tempdir().join("conn99.html");
    fails(&["report", &f, "--conn", "99", "-o", page.to_str().unwrap()], 1, &["no TCP connection #99"]);
    assert!(!page.exists(), "no page left that only says so");
    // an unknown state
    fails(&["conns", &f, "--filter", "state=XX"], 2, &["state=XX", "SF", "REJ"]);
    fails(&["conns", &f, "--filter", "client_state=WAITING"], 2, &["WAITING", "TIME-WAIT"]);
    assert!(ok(&["conns", &f, "--filter", "server_state=time-wait"]).contains("TIME-WAIT"), "names in any case");
    // an empty file: its error, not an empty table
    let dir = tempdir();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    for cmd in ["conns", "flow", "stream", "read"] {
        fails(&[cmd, empty.to_str().unwrap()], 1, &["empty.pcap", "empty"]);
    }
}

#[test]
fn simultaneous_close_names_one_closer() {
    let out = ok(&["flow", "--color", "never", &path("peer-simultaneous-close.pcap")]);
    assert!(out.contains("closed at once"), "{out}");
    assert!(!(out.contains("client closed first") && out.contains("server closed first")), "{out}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// `capture -w -`: a pcap on standard output and nothing else there; tshark reads it.
#[test]
fn capture_writes_a_pcap_to_stdout() {
    if !is_root() || Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("skipped: needs root and tshark");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("tcp port {port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["capture", "-i", "lo", "-w", "-", "--duration", "5", "-c", "6", &filter])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut first = [0u8; 256];
    let n = err.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).contains("listening on"), "{}", String::from_utf8_lossy(&first[..n]));
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
    });
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"hello").unwrap();
    server.join().unwrap();
    drop(c);
    let mut pcap = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut pcap).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(&pcap[..4], &0xa1b2_3c4du32.to_le_bytes(), "a nanosecond pcap, nothing before it");
    let mut t = Command::new("tshark")
        .args(["-r", "-", "-T", "fields", "-e", "tcp.len"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    t.stdin.take().unwrap().write_all(&pcap).unwrap();
    let read = t.wait_with_output().unwrap();
    let lens: Vec<String> = String::from_utf8_lossy(&read.stdout).lines().map(str::to_string).collect();
    assert_eq!(lens.len(), 6, "{lens:?}");
    assert!(lens.contains(&"5".to_string()), "the hello segment: {lens:?}");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wireseam-habits-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A capture on lo (root) of `tcp port P` with `args`, while `traffic(P)` runs; its exit status.
fn capture_during(args: &[&str], traffic: impl FnOnce(u16)) -> Option<i32> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let filter = format!("tcp port {port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["capture", "-i", "lo", "-q"])
        .args(args)
        .arg(&filter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut first = [0u8; 256];
    let n = err.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).contains("listening on"), "{}", String::from_utf8_lossy(&first[..n]));
    traffic(port);
    child.wait().unwrap().code()
}

/// `bytes` from a client to a server on lo, in `chunks` writes `pause` apart.
fn send(port: u16, bytes: usize, chunks: usize, pause: std::time::Duration) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    for _ in 0..chunks {
        c.write_all(&vec![b'x'; bytes / chunks]).unwrap();
        std::thread::sleep(pause);
    }
    drop(c);
    assert_eq!(server.join().unwrap(), bytes / chunks * chunks);
}

fn frames_in(file: &std::path::Path) -> usize {
    tshark(&["-r", file.to_str().unwrap(), "-T", "fields", "-e", "frame.number"]).unwrap().lines().count()
}

/// `-C 1`: FILE, FILE1, FILE2 ... each closed once past a million bytes; together every frame.
#[test]
fn capture_rotates_by_size() {
    if !is_root() || Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("skipped: needs root and tshark");
        return;
    }
    let dir = tempdir().join("size");
    std::fs::create_dir_all(&dir).unwrap();
    // the files after the first are opened after root is dropped
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let ring = dir.join("ring.pcap");
    let code = capture_during(&["-w", ring.to_str().unwrap(), "-C", "1", "--duration", "4"], |port| {
        send(port, 3_000_000, 30, std::time::Duration::from_millis(20))
    });
    assert_eq!(code, Some(0));
    let files: Vec<std::path::PathBuf> = ["ring.pcap", "ring.pcap1", "ring.pcap2"].iter().map(|n| dir.join(n)).collect();
    for f in &files[..2] {
        let len = std::fs::metadata(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())).len();
        assert!(len > 1_000_000 && len < 1_000_000 + 70_000, "{}: {len} bytes: past the limit by one record at most", f.display());
    }
    assert!(files[2].exists(), "3 MB make a third file");
    assert!(files.iter().all(|f| frames_in(f) > 0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-G 1` with an strftime pattern: a file per second of the capture, named by its time.
#[test]
fn capture_rotates_by_time() {
    if !is_root() || Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("skipped: needs root and tshark");
        return;
    }
    let dir = tempdir().join("time");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let pattern = dir.join("cap-%s.pcap");
    let code = capture_during(&["-w", pattern.to_str().unwrap(), "-G", "1", "--duration", "4"], |port| {
        send(port, 30_000, 10, std::time::Duration::from_millis(300))
    });
    assert_eq!(code, Some(0));
    let mut names: Vec<i64> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|n| n.strip_prefix("cap-").and_then(|n| n.strip_suffix(".pcap")).unwrap_or_else(|| panic!("{n}")).parse().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "3 s of traffic in 1 s files: {names:?}");
    assert!(names.windows(2).all(|w| w[1] > w[0]), "{names:?}");
    let total: usize = names.iter().map(|t| frames_in(&dir.join(format!("cap-{t}.pcap")))).sum();
    assert!(total >= 20, "every segment of 10 writes is in some file: {total}");
    let _ = std::fs::remove_dir_all(&dir);
}
