//! End-to-end: capture real traffic on loopback (CI runs as root). Each test is bounded in time
//! and stops by itself; without root they are skipped with a message.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// Start a capture and wait for its "listening on" line.
fn start_capture(args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .arg("capture")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "capture did not start: {line}");
    // keep draining stderr in the background so the child never blocks on it
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        let _ = std::fs::write(std::env::temp_dir().join(format!("wireseam-live-stderr-{}", std::process::id())), rest);
    });
    child
}

fn wait_with_timeout(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            return (st.code(), out);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("capture did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tiny exchange: connect, hello, world, client closes first.
fn exchange(port_hint: u16) -> u16 {
    let l = TcpListener::bind(("127.0.0.1", port_hint)).unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 16];
        let _ = s.read(&mut b).unwrap();
        s.write_all(b"world\n").unwrap();
        let _ = s.read(&mut b); // wait for the client's FIN
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"hello\n").unwrap();
    let mut b = [0u8; 16];
    let _ = c.read(&mut b).unwrap();
    drop(c);
    t.join().unwrap();
    port
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn capture_loopback_handshake_json_and_savefile() {
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("wireseam-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("out.pcap");
    let filter = format!("tcp port {port}");
    let child = start_capture(&["-i", "lo", "--format", "json", "-w", pcap.to_str().unwrap(), "-c", "10", &filter]);
    exchange(port);
    let (code, out) = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let recs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let pkts: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "packet").collect();
    assert_eq!(pkts.len(), 10, "{out}");
    let phases: Vec<&str> = pkts.iter().map(|p| p["tcp"]["phase"].as_str().unwrap()).collect();
    assert_eq!(&phases[..3], &["handshake 1/3", "handshake 2/3", "handshake 3/3"]);
    assert_eq!(pkts[0]["tcp"]["state"]["client"], "SYN-SENT");
    assert_eq!(pkts[2]["tcp"]["state"]["server"], "ESTABLISHED");
    assert!(phases.iter().any(|p| p.starts_with("teardown")));
    let conn = recs.iter().find(|r| r["type"] == "conn").expect("conn record at the end");
    assert_eq!(conn["conn_state"], "SF");
    // the -w file is a valid pcap that `read` opens, with the same frames
    let o = common::wireseam(&["read", "--format", "json", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let n = String::from_utf8(o.stdout).unwrap().lines().filter(|l| l.contains("\"type\":\"packet\"")).count();
    assert_eq!(n, 10);
}

#[test]
fn sigint_drains_and_exits_zero_and_drops_privileges() {
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let child = start_capture(&["-i", "lo", "--format", "json", &filter]);
    let pid = child.id();
    // the capture runs as an unprivileged user with no capabilities once it listens
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(!uid.split_whitespace().skip(1).any(|u| u == "0"), "still root: {uid}");
    let capeff = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    assert!(capeff.ends_with("0000000000000000"), "capabilities kept: {capeff}");
    let nnp = status.lines().find(|l| l.starts_with("NoNewPrivs:")).unwrap();
    assert!(nnp.ends_with('1'), "{nnp}");
    exchange(port);
    std::thread::sleep(Duration::from_millis(200));
    nix_kill(pid, "INT");
    let (code, out) = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(code, Some(0), "SIGINT ends the capture cleanly");
    let pkts = out.lines().filter(|l| l.contains("\"type\":\"packet\"")).count();
    assert_eq!(pkts, 10, "every frame of the exchange was delivered before exit: {out}");
    assert!(out.lines().any(|l| l.contains("\"type\":\"conn\"")));
}

#[test]
fn duration_stops_an_idle_capture() {
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let start = Instant::now();
    let child = start_capture(&["-i", "lo", "--duration", "0.5", "tcp port 1"]);
    let (code, _) = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn unknown_interface_lists_real_ones() {
    let o = common::wireseam(&["capture", "-i", "nosuchif0", "-c", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("nosuchif0") && e.contains("lo"), "{e}");
}

fn nix_kill(pid: u32, sig: &str) {
    let st = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap();
    assert!(st.success());
}

/// Issue 5's proof: capture on loopback while the generators run, then check the JSON records of
/// each scenario (kept apart by port).
#[test]
fn generators_under_capture_show_their_lessons() {
    use wireseam::gen::{self, GenConfig, Scenario};
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let base = 47_300u16;
    let plan = [
        (Scenario::Handshake, base),
        (Scenario::Sticky, base + 1),
        (Scenario::Nodelay, base + 2),
        (Scenario::Reset, base + 3),
        (Scenario::Refused, base + 4),
        (Scenario::ServerClose, base + 5),
    ];
    let dir = std::env::temp_dir().join(format!("wireseam-gen-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("gen.pcap");
    let filter = format!("portrange {}-{}", base, base + 5);
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(["capture", "-i", "lo", "--format", "json", "-w", pcap.to_str().unwrap(), &filter])
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    // read stdout while the capture runs: the JSON exceeds a pipe buffer
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    for (s, port) in plan {
        let cfg = GenConfig { port, quiet: true, ..GenConfig::new(s) };
        gen::run(&cfg, &mut std::io::sink()).unwrap_or_else(|e| panic!("{}: {e}", s.name()));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix_kill(child.id(), "TERM");
    let mut stderr_rest = String::new();
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("capture did not stop within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = err.read_to_string(&mut stderr_rest);
    let out = reader.join().unwrap();
    assert_eq!(code, Some(0), "{stderr_rest}");
    assert!(stderr_rest.contains(" 0 dropped by kernel"), "drops: {stderr_rest}");
    let recs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let port_of = |r: &serde_json::Value| -> Option<u16> {
        let t = r.get("tcp")?;
        let (s, d) = (t["sport"].as_u64()? as u16, t["dport"].as_u64()? as u16);
        [s, d].into_iter().find(|p| (base..=base + 5).contains(p))
    };
    let packets =
        |port: u16| -> Vec<&serde_json::Value> { recs.iter().filter(|r| r["type"] == "packet" && port_of(r) == Some(port)).collect() };
    // handshake: the three steps in order, then a four-way close, client in TIME-WAIT
    let hs = packets(base);
    let phases: Vec<&str> = hs.iter().map(|p| p["tcp"]["phase"].as_str().unwrap()).collect();
    assert_eq!(&phases[..3], &["handshake 1/3", "handshake 2/3", "handshake 3/3"], "{phases:?}");
    assert_eq!(hs[0]["tcp"]["state"]["client"], "SYN-SENT");
    assert_eq!(hs[2]["tcp"]["state"]["server"], "ESTABLISHED");
    assert!(hs.iter().any(|p| p["tcp"]["state"]["client"] == "TIME-WAIT"));
    // sticky: a client segment carries several messages; nodelay: none does
    let sticky_segments = |port: u16| {
        packets(port).iter().filter(|p| p["tcp"]["dir"] == "c2s" && p["tcp"]["messages"].as_array().is_some_and(|m| m.len() >= 2)).count()
    };
    assert!(sticky_segments(base + 1) >= 1, "sticky: no segment carried several messages");
    assert_eq!(sticky_segments(base + 2), 0, "nodelay: a segment carried several messages");
    // reset and refused: RSTs
    let has_rst = |port: u16| packets(port).iter().any(|p| p["tcp"]["flags"].as_array().unwrap().iter().any(|f| f == "RST"));
    assert!(has_rst(base + 3), "reset: no RST");
    assert!(has_rst(base + 4), "refused: no RST");
    let conn_states: Vec<&str> = recs
        .iter()
        .filter(|r| r["type"] == "conn" && r["server"].as_str().unwrap().ends_with(&format!(":{}", base + 4)))
        .map(|r| r["conn_state"].as_str().unwrap())
        .collect();
    assert!(!conn_states.is_empty() && conn_states.iter().all(|s| *s == "REJ"), "{conn_states:?}");
    // server-close: the client sits in CLOSE-WAIT
    assert!(packets(base + 5).iter().any(|p| p["tcp"]["state"]["client"] == "CLOSE-WAIT"));
    // the -w file holds the same frames, readable by read
    let total = recs.iter().filter(|r| r["type"] == "packet").count();
    let o = common::wireseam(&["read", "--format", "json", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let n = String::from_utf8(o.stdout).unwrap().lines().filter(|l| l.contains("\"type\":\"packet\"")).count();
    assert_eq!(n, total);
}

/// A capture killed with SIGKILL part-way through a bulk transfer leaves a readable pcap: every
/// record but possibly the one being written is whole. (The kernel stops a write(2) at a page
/// boundary on a fatal signal, so a 64 KiB loopback record can be cut; one write per record
/// makes that the only possible damage, and `read` prints everything before it.)
#[test]
fn sigkill_leaves_a_valid_savefile() {
    use wireseam::gen::{self, GenConfig, Scenario};
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let dir = std::env::temp_dir().join(format!("wireseam-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for round in 0..3u16 {
        let port = 29_410 + round; // below the ephemeral range (32768-60999): no client socket holds it
        let pcap = dir.join(format!("killed-{round}.pcap"));
        let filter = format!("tcp port {port}");
        let child = start_capture(&["-i", "lo", "--format", "json", "-w", pcap.to_str().unwrap(), &filter]);
        // discard stdout as it comes so the capture never blocks on the pipe
        let mut child = child;
        let mut stdout = child.stdout.take().unwrap();
        let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let bulk = std::thread::spawn(move || {
            let cfg = GenConfig { port, quiet: true, size: Some(64 << 20), ..GenConfig::new(Scenario::Bulk) };
            let _ = gen::run(&cfg, &mut std::io::sink());
        });
        std::thread::sleep(Duration::from_millis(60 + 40 * round as u64));
        nix_kill(child.id(), "KILL");
        let _ = child.wait();
        let _ = drain.join();
        let _ = bulk.join();
        let o = common::wireseam(&["read", "--format", "json", pcap.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        match o.status.code() {
            Some(0) => assert!(err.is_empty(), "round {round}: {err}"),
            Some(1) => assert!(err.contains("last record is truncated") && err.lines().count() == 1, "round {round}: {err}"),
            other => panic!("round {round}: exit {other:?}: {err}"),
        }
        let frames = String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.contains("\"type\":\"packet\"")).count();
        assert!(frames > 0, "round {round}: nothing was written before the kill");
    }
}

/// Without the right to capture: one clear line saying how to get it, exit 1.
#[test]
fn no_permission_says_how_to_get_it() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to run as an unprivileged user");
        return;
    }
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            env!("CARGO_BIN_EXE_wireseam"),
            "capture",
            "-i",
            "lo",
            "-c",
            "1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("no permission to capture on lo") && e.contains("setcap cap_net_raw,cap_net_admin=eip"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
}

/// `capture --report`: the page is written when the capture stops, from the same records (it
/// draws every frame captured), after privileges were dropped (the file was opened before).
#[test]
fn capture_writes_the_report_when_it_stops() {
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("wireseam-live-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("live.html");
    let filter = format!("tcp port {port}");
    let child = start_capture(&["-i", "lo", "--report", page.to_str().unwrap(), "-c", "10", &filter]);
    exchange(port);
    let (code, _) = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let html = std::fs::read_to_string(&page).expect("the report was written");
    assert!(html.contains("wireseam report: live capture on lo"));
    assert!(html.contains("id=\"conn-0\""));
    assert_eq!(html.matches("class=\"seg arrow").count(), 10, "one arrow per captured frame");
    assert!(html.contains(">SYN-SENT<") && html.contains(">TIME-WAIT<"));
}

/// `capture --report` takes the page options of `report`: the reader of `--recv`, `--framing`
/// (also the lines' message notes), `--conn`.
#[test]
fn capture_report_takes_the_page_options() {
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("wireseam-live-report-opts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("live.html");
    let filter = format!("tcp port {port}");
    let args = ["-i", "lo", "--report", page.to_str().unwrap(), "--recv", "4", "--framing", "fixed:3", "--conn", "0", "-c", "10", &filter];
    let child = start_capture(&args);
    exchange(port);
    let (code, text) = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(text.contains("msg 0-1 (2 stuck together)"), "fixed:3 cuts hello\\n in two messages on the line: {text}");
    let html = std::fs::read_to_string(&page).expect("the report was written");
    assert!(html.contains("framing fixed:3"), "the page uses --framing");
    assert!(html.contains("recv(4) calls by the server"), "the page draws the reader of --recv");
    // "hello\n" and "world\n" read 4 bytes at a time: 4 + 2 each way
    assert_eq!(html.matches("data-call=").count(), 4, "four recv() calls drawn");
    std::fs::remove_dir_all(&dir).ok();
}
