//! `wireseam gen long-short | threads | fork | select | epoll`, end to end: each runs the binary on
//! loopback (tcpdump capturing, root) and in the lab (`--lab -w`, root), then reads the capture
//! back with `wireseam conns --format json` and `wireseam read --format json` and checks what the
//! wire shows: connections, handshakes, who closed first, and whether connection lifetimes
//! overlap. Skipped with a message unless root (with tcpdump for the loopback runs).

#[path = "gen_common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wireseam");

/// Ports of the loopback runs: below Linux's ephemeral range (32768-60999), so no client socket
/// of a parallel test holds one.
const PORT_LONG_SHORT: u16 = 29_450;
const PORT_SERVERS: u16 = 29_451;

fn loopback_unavailable() -> Option<String> {
    if std::env::var_os("WIRESEAM_SKIP_CAPTURE").is_some() {
        return Some("WIRESEAM_SKIP_CAPTURE is set".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (tcpdump needs CAP_NET_RAW)".into());
    }
    let tcpdump = Command::new("sh").args(["-c", "command -v tcpdump"]).stdout(Stdio::null()).status();
    if !tcpdump.is_ok_and(|s| s.success()) {
        return Some("tcpdump is not installed".into());
    }
    None
}

fn lab_unavailable() -> Option<String> {
    common::netns_unavailable()
}

/// Run `wireseam ARGS` (bounded); the narration, with its line wrapping undone.
fn wireseam(args: &[&str]) -> String {
    let start = Instant::now();
    let child = Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting wireseam");
    let pid = child.id();
    let out = child.wait_with_output().expect("waiting for wireseam");
    assert!(start.elapsed() < Duration::from_secs(30), "wireseam {} took {:?}", args.join(" "), start.elapsed());
    assert_eq!(wireseam::lab::netns::list(&format!("wslab-{pid}-")), Vec::<String>::new(), "namespaces left by {}", args.join(" "));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wireseam {} failed:\n{text}", args.join(" "));
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The JSON lines of `wireseam CMD --format json FILE` whose type is `kind`.
fn records(cmd: &str, file: &Path, kind: &str) -> Vec<Value> {
    let out = Command::new(BIN).args([cmd, "--format", "json"]).arg(file).output().expect("reading the capture");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|v| v["type"] == kind)
        .collect()
}

/// What a capture of a scenario shows.
struct Wire {
    conns: Vec<Value>,
    packets: Vec<Value>,
}

impl Wire {
    fn read(file: &Path) -> Wire {
        Wire {
            conns: records("conns", file, "conn"),
            packets: records("read", file, "packet").into_iter().filter(|p| p["tcp"].is_object()).collect(),
        }
    }

    fn flags(p: &Value) -> Vec<&str> {
        p["tcp"]["flags"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    /// Segments with exactly these flags.
    fn count(&self, flags: &[&str]) -> usize {
        self.packets.iter().filter(|p| Wire::flags(p) == flags).count()
    }

    /// Direction of the first FIN of connection `conn`.
    fn first_fin(&self, conn: u64) -> String {
        let fin = self.packets.iter().find(|p| p["tcp"]["conn"] == conn && Wire::flags(p).contains(&"FIN"));
        fin.map_or_else(|| "none".into(), |p| p["tcp"]["dir"].as_str().unwrap_or("?").to_string())
    }

    /// (first frame, last frame) of each connection, in order of their first frame.
    fn lifetimes(&self) -> Vec<(u64, u64)> {
        let mut spans: Vec<(u64, u64)> =
            self.conns.iter().map(|c| (c["first_frame"].as_u64().unwrap(), c["last_frame"].as_u64().unwrap())).collect();
        spans.sort_unstable();
        spans
    }

    /// The most connections alive at one frame.
    fn max_overlap(&self) -> usize {
        let spans = self.lifetimes();
        spans.iter().map(|&(first, _)| spans.iter().filter(|&&(a, b)| a <= first && first <= b).count()).max().unwrap_or(0)
    }

    /// Every connection: opened by a three-way handshake, closed by FIN both ways, the client
    /// first (it ends in TIME-WAIT, the server CLOSED).
    fn clean_closes_client_first(&self) {
        for c in &self.conns {
            let history = c["history"].as_str().unwrap();
            assert!(history.starts_with("ShA") && history.contains('F') && history.contains('f'), "{c}");
            assert_eq!((c["client_state"].as_str(), c["server_state"].as_str()), (Some("TIME-WAIT"), Some("CLOSED")), "{c}");
            assert_eq!(self.first_fin(c["conn"].as_u64().unwrap()), "c2s", "the client closes first: {c}");
        }
    }
}

/// Run `wireseam gen SCENARIO EXTRA...` on loopback port `port` while tcpdump captures.
fn on_loopback(scenario: &str, port: u16, extra: &[&str]) -> (String, Wire) {
    let capture = common::Capture::start(port, &format!("conc-{scenario}.pcap"));
    let port_text = port.to_string();
    let mut args = vec!["gen", scenario, "--port", &port_text];
    args.extend(extra);
    let narration = wireseam(&args);
    let file = capture.stop();
    (narration, Wire::read(&file))
}

/// Run `wireseam gen SCENARIO --lab -w FILE EXTRA...`.
fn in_lab(scenario: &str, extra: &[&str]) -> (String, Wire) {
    let file = common::tmp_file(&format!("conc-lab-{scenario}.pcap"));
    let path = file.display().to_string();
    let mut args = vec!["gen", scenario, "--lab", "-w", &path];
    args.extend(extra);
    let narration = wireseam(&args);
    let wire = Wire::read(&file);
    let _ = std::fs::remove_file(&file);
    (narration, wire)
}

fn check_long_short(narration: &str, wire: &Wire) {
    // 1 long connection and 4 short ones: 5 handshakes, 5 closes, none overlapping
    assert_eq!(wire.conns.len(), 5, "{narration}");
    assert_eq!(wire.count(&["SYN"]), 5, "{narration}");
    assert_eq!(wire.count(&["SYN", "ACK"]), 5, "{narration}");
    wire.clean_closes_client_first();
    let spans = wire.lifetimes();
    assert!(spans.windows(2).all(|w| w[0].1 < w[1].0), "the connections follow one another: {spans:?}");
    let messages: Vec<u64> = wire.conns.iter().map(|c| c["messages"]["c2s"].as_u64().unwrap()).collect();
    assert_eq!(messages, vec![4, 1, 1, 1, 1], "{narration}");
    assert!(narration.contains("1 connect() (1 handshake), 1 close"), "{narration}");
    assert!(narration.contains("4 connect() calls (4 handshakes), 4 closes"), "{narration}");
    assert!(narration.contains("holds 4 of the 4 short connections in TIME-WAIT, and 1 for the long one"), "{narration}");
    assert!(narration.contains("holds 0 connections in TIME-WAIT on port"), "{narration}");
}

fn check_server(model: &str, narration: &str, wire: &Wire) {
    assert_eq!(wire.conns.len(), 4, "{model}: {narration}");
    assert_eq!(wire.count(&["SYN"]), 4, "{model}: {narration}");
    wire.clean_closes_client_first();
    for c in &wire.conns {
        assert_eq!((c["messages"]["c2s"].as_u64(), c["messages"]["s2c"].as_u64()), (Some(3), Some(3)), "{model}: {c}");
    }
    // every connection is open while each other one is: the server served them at once
    assert_eq!(wire.max_overlap(), 4, "{model}: {:?}", wire.lifetimes());
    // the requests of different connections alternate on the wire
    let order: Vec<u64> = wire
        .packets
        .iter()
        .filter(|p| p["tcp"]["dir"] == "c2s" && p["tcp"]["len"].as_u64().unwrap_or(0) > 0)
        .map(|p| p["tcp"]["conn"].as_u64().unwrap())
        .collect();
    let runs = order.windows(2).filter(|w| w[0] != w[1]).count() + 1;
    assert!(runs > 4, "{model}: requests by connection {order:?}");
    assert!(narration.contains("4 connections served, at most 4 in progress at the same time"), "{model}: {narration}");
    assert!(narration.contains("interleaved, the connections were served side by side"), "{model}: {narration}");
    assert!(narration.contains("The capture looks the same whatever the server's model"), "{model}: {narration}");
}

const MODELS: [&str; 4] = ["threads", "fork", "select", "epoll"];

#[test]
fn long_short_on_loopback() {
    if let Some(why) = loopback_unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let (narration, wire) = on_loopback("long-short", PORT_LONG_SHORT, &["--count", "4"]);
    check_long_short(&narration, &wire);
}

#[test]
fn long_short_in_the_lab() {
    if let Some(why) = lab_unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let (narration, wire) = in_lab("long-short", &["--count", "4"]);
    check_long_short(&narration, &wire);
    assert!(narration.contains("a veth pair, MTU 1500, offloads off"), "{narration}");
    // the lab says what its capture holds, counted from the capture
    let said = "lab: the capture holds 5 TCP connections: 5 opened with a three-way handshake, 5 closed with a FIN each \
                way; in 5 the client closed first (it ends in TIME-WAIT); at most 1 open at the same time, one after the other";
    assert!(narration.contains(said), "{narration}");
}

#[test]
fn concurrent_servers_on_loopback() {
    if let Some(why) = loopback_unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    for model in MODELS {
        let (narration, wire) = on_loopback(model, PORT_SERVERS, &["--count", "4"]);
        check_server(model, &narration, &wire);
    }
}

#[test]
fn concurrent_servers_in_the_lab() {
    if let Some(why) = lab_unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    for model in MODELS {
        let (narration, wire) = in_lab(model, &["--count", "4"]);
        check_server(model, &narration, &wire);
        let said = "lab: the capture holds 4 TCP connections: 4 opened with a three-way handshake, 4 closed with a FIN \
                    each way; in 4 the client closed first (it ends in TIME-WAIT); at most 4 open at the same time";
        assert!(narration.contains(said), "{model}: {narration}");
    }
}

#[test]
fn counts_out_of_range_are_refused() {
    for (scenario, count) in [("long-short", "51"), ("epoll", "0"), ("fork", "33")] {
        let out = Command::new(BIN).args(["gen", scenario, "--count", count]).env("RUST_BACKTRACE", "0").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{scenario} --count {count}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("--count {count} is out of range for {scenario}")), "{err}");
    }
}
