//! Hostile traffic keeps memory bounded and time linear: SYN floods, many connections each with
//! unacknowledged data, sequence numbers jumping by 2 GB, a length field announcing 4 GB. The
//! captures are written here by a deterministic writer (etherparse), not committed blobs.
//!
//! Sizes: `WIRESEAM_FLOOD=N` (default 200,000 connections; the note reports runs with 1,000,000
//! in release mode).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wireseam::capture::FileSource;
use wireseam::output::conns::ConnsSink;
use wireseam::pipeline::{run, ReadOptions, Sink};

mod common;
use common::{pcap, tcp};

/// Tracks live heap bytes and their peak.
struct Peak;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = NOW.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Peak = Peak;

fn flood_size() -> usize {
    std::env::var("WIRESEAM_FLOOD").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000)
}

/// Run a capture through the full pipeline (tracking and seams) into the conns sink, returning
/// (connections summarised, peak heap growth in bytes, seconds).
fn measure(bytes: Vec<u8>) -> (usize, usize, f64) {
    let opts = ReadOptions::new("hostile.pcap".into());
    let mut src = FileSource::from_bytes("hostile.pcap", bytes).unwrap();
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    // count connections without keeping them: the table's memory is what is measured
    struct Count(usize);
    impl Sink for Count {
        fn packet(&mut self, _p: &wireseam::pipeline::PacketView<'_, '_>) -> std::io::Result<()> {
            Ok(())
        }
        fn conn(&mut self, _record: &wireseam::pipeline::ConnRecord) -> std::io::Result<()> {
            self.0 += 1;
            Ok(())
        }
    }
    let mut sink = Count(0);
    run(&mut src, &opts, &mut sink).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let _ = ConnsSink::default();
    (sink.0, peak, start.elapsed().as_secs_f64())
}

const CAP: usize = 64 << 20;

/// The heap counters are process-wide: one test at a time (generation included).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn ip(i: usize) -> [u8; 4] {
    [10, (i >> 16) as u8, (i >> 8) as u8, i as u8]
}

#[test]
fn syn_flood_from_distinct_ports() {
    let _serial = serial();
    let n = flood_size();
    let frames =
        (0..n).map(|i| (i as u64, tcp(ip(i / 60_000), 1024 + (i % 60_000) as u16, [10, 255, 0, 1], 80, i as u32 * 7919, None, true, b"")));
    let bytes = pcap(frames);
    let (conns, peak, secs) = measure(bytes);
    eprintln!("SYN flood: {n} SYNs, {conns} connections summarised, peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert_eq!(conns, n, "every half-open connection is still summarised (evicted ones too)");
    assert!(peak < CAP, "peak heap {peak} bytes over the 64 MB cap");
}

#[test]
fn many_connections_with_unacknowledged_data() {
    let _serial = serial();
    let n = flood_size() / 2;
    let frames = (0..n).flat_map(|i| {
        let (c, p) = (ip(i / 60_000), 1024 + (i % 60_000) as u16);
        let t = i as u64 * 3;
        [
            (t, tcp(c, p, [10, 255, 0, 1], 80, 1000, None, true, b"")),
            (t + 1, tcp([10, 255, 0, 1], 80, c, p, 5000, Some(1001), true, b"")),
            // data the server never acknowledges, with a hole before it (out of order)
            (t + 2, tcp(c, p, [10, 255, 0, 1], 80, 1101, Some(5001), false, &[b'x'; 200])),
        ]
    });
    let bytes = pcap(frames);
    let (conns, peak, secs) = measure(bytes);
    eprintln!(
        "{n} connections with unacknowledged out-of-order data: {conns} summarised, peak heap {:.1} MB, {secs:.2} s",
        peak as f64 / 1e6
    );
    assert_eq!(conns, n);
    assert!(peak < CAP, "peak heap {peak} bytes over the 64 MB cap");
}

#[test]
fn sequence_jumps_of_two_gigabytes() {
    let _serial = serial();
    let mut frames = vec![
        (0u64, tcp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 80, 0, None, true, b"")),
        (1, tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 4000, 0, Some(1), true, b"")),
    ];
    let mut seq = 1u32;
    for i in 0..2000u64 {
        frames.push((2 + i, tcp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 80, seq, Some(1), false, &[b'a'; 1000])));
        seq = seq.wrapping_add(0x8000_0000 - 7); // about 2 GB ahead each time
    }
    let (conns, peak, secs) = measure(pcap(frames.into_iter()));
    eprintln!("2 GB sequence jumps: peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert_eq!(conns, 1);
    assert!(peak < CAP, "peak heap {peak}");
}

#[test]
fn length_field_announcing_four_gigabytes() {
    let _serial = serial();
    let mut frames = vec![
        (0u64, tcp([10, 0, 0, 1], 4001, [10, 0, 0, 2], 80, 0, None, true, b"")),
        (1, tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 4001, 0, Some(1), true, b"")),
    ];
    // a few well-formed len:4:be messages so auto-detection picks the framing, then 0xFFFFFFF0
    let mut stream = Vec::new();
    for k in 0..20u32 {
        stream.extend_from_slice(&(10 + k).to_be_bytes());
        stream.extend(std::iter::repeat_n(b'm', 10 + k as usize));
    }
    stream.extend_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    stream.extend(std::iter::repeat_n(b'z', 3_000_000));
    let mut seq = 1u32;
    for (i, chunk) in stream.chunks(1448).enumerate() {
        frames.push((2 + i as u64, tcp([10, 0, 0, 1], 4001, [10, 0, 0, 2], 80, seq, Some(1), false, chunk)));
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    let (conns, peak, secs) = measure(pcap(frames.into_iter()));
    eprintln!("4 GB length field: peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert_eq!(conns, 1);
    assert!(peak < 16 << 20, "a 4 GB length must not allocate: peak heap {peak}");
}

/// An Ethernet frame holding a first IPv4 fragment (more fragments follow) of a UDP datagram
/// that is never completed: 1,000 bytes from `src`, identification `id`.
fn first_fragment(src: [u8; 4], id: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = 20u16 + 1000;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, (id >> 8) as u8, id as u8, 0x20, 0x00, 64, 17, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[10, 255, 0, 1]);
    // the UDP header of a 4,000-byte datagram, then its first bytes
    f.extend_from_slice(&[0x9c, 0x40, 0x23, 0x29, 0x0f, 0xa8, 0, 0]);
    f.resize(14 + 20 + 1000, b'f');
    f
}

/// A flood of first fragments that never complete (a million with WIRESEAM_FLOOD=1000000): the
/// datagrams held and their bytes stay within the reassembly caps, and the run stays linear.
#[test]
fn fragments_that_never_complete() {
    let _serial = serial();
    let n = flood_size();
    let frames = (0..n).map(|i| (i as u64, first_fragment(ip(i / 65_536), i as u16)));
    let (_, peak, secs) = measure(pcap(frames));
    eprintln!("{n} incomplete fragmented datagrams: peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert!(peak < CAP, "peak heap {peak} bytes over the 64 MB cap");
}

// ---------------------------------------------------------------- hostile strings
// Wire strings that try to drive the terminal or break the line format: ESC[2J (clear screen),
// an OSC title with BEL, CR, TAB, LF, NUL, U+202E (right-to-left override), the C1 CSI (U+009B)
// and bytes that are not UTF-8, in an HTTP reason phrase, DNS names, a TLS server name, an SSH
// banner and an SMTP command. Every output format must keep them inert.

/// What a terminal must never get: C0 controls but LF, DEL, C1 controls, bidi overrides.
fn terminal_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

const EVIL: &[u8] = b"\x1b[2J\x1b]0;pwned\x07\r\t\x00\xe2\x80\xae\xc2\x9b\xff";

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4([198, 51, 100, 1], [198, 51, 100, 2], 64);
    let mut v = Vec::new();
    b.udp(sport, dport).write(&mut v, payload).unwrap();
    v
}

fn dns_query(label: &[u8]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    m.push(label.len() as u8);
    m.extend_from_slice(label);
    m.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
    m
}

fn client_hello(sni: &[u8]) -> Vec<u8> {
    let n = sni.len() as u16;
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(n + 5).to_be_bytes());
    ext.extend_from_slice(&(n + 3).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&n.to_be_bytes());
    ext.extend_from_slice(sni);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// The hostile capture: (frames, how many of them carry an annotation).
fn hostile_strings_pcap() -> (Vec<u8>, usize) {
    let (c, s) = ([198, 51, 100, 1], [198, 51, 100, 2]);
    let cat = |a: &[u8], b: &[u8], z: &[u8]| [a, b, z].concat();
    let frames = vec![
        tcp(s, 80, c, 40000, 1, Some(1), false, &cat(b"HTTP/1.1 200 ", b"\xe2\x80\xae\xc2\x9b\tok\xff", b"\r\nX: y\r\n\r\n")),
        udp(40001, 53, &dns_query(EVIL)),
        udp(40001, 53, &dns_query(b"a.b\n2nd line")),
        tcp(c, 40002, s, 443, 1, Some(1), false, &client_hello(EVIL)),
        tcp(s, 22, c, 40003, 1, Some(1), false, &cat(b"SSH-2.0-", EVIL, b"\r\n")),
        tcp(c, 40004, s, 25, 1, Some(1), false, &cat(b"EHLO ", EVIL, b"\r\n")),
        // the same bytes where no protocol is expected: only the -A/-X previews show them
        tcp(c, 40005, s, 9000, 1, Some(1), false, &cat(b"GET / HTTP/1.1 ", EVIL, b"\n")),
    ];
    let n = frames.len();
    (pcap(frames.into_iter().enumerate().map(|(i, f)| (i as u64 * 1000, f))), n - 1)
}

/// The capture in a file of its own per test (the tests run in parallel and remove theirs).
fn hostile_file(test: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("wireseam-hostile-{test}-{}.pcap", std::process::id()));
    std::fs::write(&path, hostile_strings_pcap().0).unwrap();
    path
}

fn run_ok(args: &[&str]) -> String {
    let out = common::wireseam(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{args:?}: output is not UTF-8: {e}"))
}

#[test]
fn hostile_strings_stay_inert_on_the_terminal() {
    let path = hostile_file("text");
    let file = path.to_str().unwrap();
    let (_, annotated) = hostile_strings_pcap();
    for extra in [&[][..], &["-A"], &["-X"], &["-v"]] {
        let mut args = vec!["read", "--color", "never"];
        args.extend_from_slice(extra);
        args.push(file);
        let text = run_ok(&args);
        // -A keeps tabs, as tcpdump -A: a tab moves the cursor, it is no control sequence
        let bad: Vec<char> = text.chars().filter(|&c| terminal_unsafe(c) && !(c == '\t' && extra == ["-A"])).collect();
        assert!(bad.is_empty(), "{extra:?}: {bad:?} reached the terminal:\n{text}");
        if extra.is_empty() {
            // one line per frame: no wire LF broke a line
            assert_eq!(text.lines().count(), 7, "{text}");
            let shown = ["  HTTP ", "  DNS ", "  TLS ", "  SSH ", "  SMTP "];
            let with = text.lines().filter(|l| shown.iter().any(|s| l.contains(s))).count();
            assert_eq!(with, annotated, "{text}");
            assert!(text.contains(r"SSH SSH-2.0-\x1b[2J\x1b]0;pwned\x07\x0d\x09\x00\u{202e}\x9b\xff"), "{text}");
            assert!(text.contains(r"a.b\x0a2nd line"), "{text}");
        }
        if extra == ["-v"] {
            // the application layer's own -v line, escaped as the summary is
            assert!(text.contains(r"ssh  banner version 2.0 line SSH-2.0-\x1b[2J\x1b]0;pwned\x07\x0d"), "{text}");
        }
    }
    std::fs::remove_file(path).ok();
}

#[test]
fn hostile_strings_keep_json_valid() {
    let path = hostile_file("json");
    let text = run_ok(&["read", "--format", "json", path.to_str().unwrap()]);
    let mut apps = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(app) = v.get("app") {
            apps.push(app.clone());
        }
    }
    assert_eq!(apps.len(), hostile_strings_pcap().1);
    // the reader gets the wire's characters back; bytes that are not UTF-8 as U+FFFD
    let evil = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\t\u{0}\u{202e}\u{9b}\u{fffd}";
    assert_eq!(apps[3]["sni"], evil);
    assert_eq!(apps[4]["info"], format!("SSH-2.0-{evil}"));
    assert_eq!(apps[1]["queries"][0]["name"], format!("{evil}.example"));
    assert_eq!(apps[0]["reason"], "\u{202e}\u{9b}\tok\u{fffd}");
    // and the raw line holds no control byte, no bidi override unescaped
    assert!(!text.chars().any(terminal_unsafe), "{text}");
    std::fs::remove_file(path).ok();
}

#[test]
fn hostile_strings_keep_fields_and_logs_in_their_columns() {
    let path = hostile_file("fields");
    let file = path.to_str().unwrap();
    let fields = [
        "-e",
        "n",
        "-e",
        "app.proto",
        "-e",
        "app.info",
        "-e",
        "dns.qry.name",
        "-e",
        "tls.handshake.extensions_server_name",
        "-e",
        "ssh.protocol",
    ];
    for (sep, cols) in [(None, '\t'), (Some("separator=,"), ',')] {
        let mut args = vec!["read", "-T", "fields"];
        if let Some(sep) = sep {
            args.extend(["-E", sep]);
        }
        args.extend(fields);
        args.push(file);
        let text = run_ok(&args);
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(!text.chars().any(|c| terminal_unsafe(c) && c != '\t'), "{text}");
        for line in text.lines() {
            // quoted CSV cells may hold the separator; the rest never
            let mut n = 0;
            let mut quoted = false;
            for ch in line.chars() {
                match ch {
                    '"' => quoted = !quoted,
                    c if c == cols && !quoted => n += 1,
                    _ => {}
                }
            }
            assert_eq!(n, 5, "{line}");
        }
        assert!(text.contains(r"\x1b[2J\x1b]0;pwned\x07\x0d\x09\x00\xe2\x80\xae\xc2\x9b\xff.example"), "{text}");
    }
    for format in ["zeek", "csv"] {
        let text = run_ok(&["conns", "--format", format, file]);
        assert!(!text.chars().any(|c| terminal_unsafe(c) && c != '\t'), "{format}: {text}");
    }
    std::fs::remove_file(path).ok();
}
