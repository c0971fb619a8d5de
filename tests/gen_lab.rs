//! `wireseam gen --lab` and the scripted-peer scenarios, end to end: each runs the binary (root),
//! writes the capture with -w, reads it back with `wireseam read --format json` and checks what
//! the kernel did. After every run no namespace of that process is left, also after a failure
//! injected on purpose and after Ctrl-C. Skipped with a message unless root.

#[path = "gen_common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wireseam");

fn lab_unavailable() -> Option<String> {
    if let Some(why) = common::netns_unavailable() {
        return Some(why);
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun".into());
    }
    None
}

macro_rules! need_lab {
    () => {
        if let Some(why) = lab_unavailable() {
            eprintln!("skipping: {why}");
            return;
        }
    };
}

/// Namespaces a process with this pid left behind.
fn leftovers(pid: u32) -> Vec<String> {
    wireseam::lab::netns::list(&format!("wslab-{pid}-"))
}

/// Run `wireseam ARGS`, bounded; assert that it left no namespace behind.
fn run(args: &[&str], limit: Duration) -> (Output, u32) {
    let child = Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting wireseam");
    let pid = child.id();
    let start = Instant::now();
    let out = child.wait_with_output().expect("waiting for wireseam");
    assert!(start.elapsed() < limit, "wireseam {} took {:?}", args.join(" "), start.elapsed());
    assert_eq!(leftovers(pid), Vec::<String>::new(), "namespaces left behind by wireseam {}", args.join(" "));
    (out, pid)
}

/// Run a scenario in the lab with -w; returns the narration and the capture's packets as JSON.
fn lab(scenario: &str, extra: &[&str], limit: Duration) -> (String, Vec<Value>) {
    let file = common::tmp_file(&format!("lab-{scenario}.pcap"));
    let path = file.display().to_string();
    let mut args = vec!["gen", scenario, "-w", &path];
    if !extra.contains(&"--no-lab") {
        args.push("--lab");
    }
    args.extend(extra.iter().filter(|a| **a != "--no-lab"));
    let (out, _) = run(&args, limit);
    let narration = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wireseam gen {scenario} failed:\n{narration}");
    let read = Command::new(BIN).args(["read", "--format", "json", &path]).output().expect("reading the capture");
    let _ = std::fs::remove_file(&file);
    let packets = String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|v| v["type"] == "packet")
        .collect();
    (narration, packets)
}

fn tcp(packets: &[Value]) -> Vec<&Value> {
    packets.iter().filter(|p| p["tcp"].is_object()).collect()
}

fn has(p: &Value, flag: &str) -> bool {
    p["tcp"]["analysis"].as_array().is_some_and(|a| a.iter().any(|f| f == flag))
}

fn flags(p: &Value) -> Vec<String> {
    p["tcp"]["flags"].as_array().map(|a| a.iter().map(|f| f.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
}

fn t(p: &Value) -> f64 {
    p["t"].as_f64().unwrap()
}

#[test]
fn lab_split_has_arp_and_mss_sized_segments() {
    need_lab!();
    let (narration, packets) = lab("split", &[], Duration::from_secs(30));
    assert!(narration.contains("a veth pair, MTU 1500, offloads off"), "{narration}");
    // ARP resolves the server's address before the first TCP segment
    assert!(packets[0]["arp"].is_object(), "first frame: {}", packets[0]);
    assert!(packets[0]["eth"]["dst"] == "ff:ff:ff:ff:ff:ff" || packets[0].to_string().contains("ff:ff:ff:ff:ff:ff"));
    let segments = tcp(&packets);
    let data: Vec<u64> = segments.iter().filter_map(|p| p["tcp"]["len"].as_u64()).filter(|&l| l > 0).collect();
    // what the narration promised is what is on the wire: 12 segments of at most 524 bytes
    assert!(narration.contains("12 segments of at most 524 bytes"), "{narration}");
    assert!(data.iter().all(|&l| l <= 524), "{data:?}");
    assert!(data.iter().filter(|&&l| l == 524).count() >= 11, "{data:?}");
}

#[test]
fn lab_handshake_and_udp_broadcast() {
    need_lab!();
    let (_, packets) = lab("handshake", &[], Duration::from_secs(30));
    let last = tcp(&packets).last().copied().unwrap().clone();
    assert_eq!(last["tcp"]["state"]["client"], "TIME-WAIT", "{last}");
    let (narration, packets) = lab("udp-broadcast", &[], Duration::from_secs(30));
    let udp: Vec<&Value> = packets.iter().filter(|p| p["udp"].is_object()).collect();
    assert!(!udp.is_empty(), "{narration}");
    assert!(udp.iter().all(|p| p["ip"]["dst"] == "198.19.0.255"), "{udp:?}");
}

#[test]
fn rto_retransmissions_back_off() {
    need_lab!();
    let (narration, packets) = lab("rto", &["--no-lab"], Duration::from_secs(30));
    let retrans: Vec<&Value> = tcp(&packets).into_iter().filter(|p| has(p, "retransmission") && p["tcp"]["dir"] == "c2s").collect();
    assert_eq!(retrans.len(), 5, "{narration}");
    let times: Vec<f64> = retrans.iter().map(|p| t(p)).collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // after the first resend (a tail loss probe or the first RTO) each wait doubles
    for w in gaps.windows(2).skip(1) {
        assert!(w[1] > 1.6 * w[0] && w[1] < 2.5 * w[0], "gaps {gaps:?}");
    }
    assert!(narration.contains("retransmission #3"), "{narration}");
}

#[test]
fn fast_retransmit_after_three_dup_acks() {
    need_lab!();
    let (narration, packets) = lab("fast-retransmit", &["--no-lab"], Duration::from_secs(30));
    let segs = tcp(&packets);
    let fast = segs.iter().position(|p| has(p, "fast_retransmission")).unwrap_or_else(|| panic!("no fast retransmission:\n{narration}"));
    let dups = segs[..fast].iter().filter(|p| has(p, "duplicate_ack")).count();
    assert!(dups >= 3, "{dups} dup ACKs before the fast retransmission");
    assert!(segs[..fast].iter().any(|p| p.to_string().contains("sack")), "the dup ACKs carry SACK");
}

#[test]
fn syn_retry_until_the_connect_error() {
    need_lab!();
    let (narration, packets) = lab("syn-retry", &["--no-lab", "--count", "2"], Duration::from_secs(30));
    let syns: Vec<&Value> = tcp(&packets).into_iter().filter(|p| flags(p) == ["SYN"]).collect();
    assert_eq!(syns.len(), 3, "{narration}");
    let gaps: Vec<f64> = syns.windows(2).map(|w| t(w[1]) - t(w[0])).collect();
    assert!((0.9..1.5).contains(&gaps[0]) && (1.8..3.0).contains(&gaps[1]), "{gaps:?}");
    assert!(syns[1..].iter().all(|p| has(p, "retransmission")), "{syns:?}");
    assert!(narration.contains("ETIMEDOUT"), "{narration}");
}

#[test]
fn simultaneous_open_and_close() {
    need_lab!();
    // Under a loaded machine the kernel may retransmit its SYN before the peer's crosses it; the
    // run is then another (valid) exchange, so one more attempt is allowed.
    let both_received = |packets: &[Value]| {
        tcp(packets).iter().any(|p| p["tcp"]["state"]["client"] == "SYN-RECEIVED" && p["tcp"]["state"]["server"] == "SYN-RECEIVED")
    };
    let (mut narration, mut packets) = lab("simultaneous-open", &["--no-lab"], Duration::from_secs(30));
    if !both_received(&packets) {
        eprintln!("simultaneous-open: the SYNs did not cross on the first run; trying once more:\n{narration}");
        (narration, packets) = lab("simultaneous-open", &["--no-lab"], Duration::from_secs(30));
    }
    assert!(both_received(&packets), "{narration}");
    let (narration, packets) = lab("simultaneous-close", &["--no-lab"], Duration::from_secs(30));
    let segs = tcp(&packets);
    assert!(segs.iter().any(|p| p["tcp"]["state"]["client"] == "CLOSING" && p["tcp"]["state"]["server"] == "CLOSING"), "{narration}");
    // each side reaches TIME-WAIT with the ACK of its FIN (the two ACKs cross, so which one the
    // capture holds last depends on timing)
    for side in ["client", "server"] {
        assert!(segs.iter().any(|p| p["tcp"]["state"][side] == "TIME-WAIT"), "{side} never in TIME-WAIT:\n{narration}");
    }
    assert!(narration.contains("CLOSING"), "the kernel's own TCP_INFO says CLOSING:\n{narration}");
}

#[test]
fn zero_window_probes_and_out_of_order() {
    need_lab!();
    let (narration, packets) = lab("zero-window-probe", &["--no-lab", "--count", "3"], Duration::from_secs(30));
    let segs = tcp(&packets);
    let probes: Vec<&&Value> =
        segs.iter().filter(|p| p["tcp"]["dir"] == "c2s" && (has(p, "zero_window_probe") || has(p, "keep_alive"))).collect();
    assert_eq!(probes.len(), 3, "{narration}");
    assert!(segs.iter().filter(|p| has(p, "zero_window")).count() >= 4);
    assert!(segs.iter().any(|p| has(p, "window_update")));
    let gaps: Vec<f64> = probes.windows(2).map(|w| t(w[1]) - t(w[0])).collect();
    assert!(gaps[1] > 1.6 * gaps[0], "{gaps:?}");
    let (narration, packets) = lab("out-of-order", &["--no-lab"], Duration::from_secs(30));
    // the kernel's ACK of segment 1 again, with segment 3 in a SACK block (Wireshark calls it a
    // duplicate ACK only if the window did not move meanwhile, which depends on when read() ran)
    assert!(tcp(&packets).iter().any(|p| p["tcp"]["dir"] == "c2s" && p["tcp"]["sack"].is_array()), "{narration}");
    assert!(narration.contains("read() returned 1000 bytes (1500 in all)"), "2 and 3 released together:\n{narration}");
    assert!(narration.contains("D-SACK"), "the duplicate is reported:\n{narration}");
    assert!(tcp(&packets).iter().any(|p| has(p, "spurious_retransmission")), "{narration}");
}

#[test]
fn half_open_is_answered_by_rst() {
    need_lab!();
    let (narration, packets) = lab("half-open", &["--no-lab"], Duration::from_secs(30));
    let last = tcp(&packets).last().copied().unwrap().clone();
    assert_eq!(flags(&last), ["RST"], "{last}");
    assert_eq!(last["tcp"]["dir"], "s2c");
    assert!(narration.contains("ECONNRESET"), "{narration}");
}

#[test]
fn reuseaddr_and_backlog_in_the_lab() {
    need_lab!();
    let (narration, _) = lab("reuseaddr", &[], Duration::from_secs(30));
    let fail = narration.find("Address already in use").unwrap_or_else(|| panic!("{narration}"));
    let works = narration.find("with SO_REUSEADDR: works").unwrap_or_else(|| panic!("{narration}"));
    assert!(fail < works);
    let (narration, packets) = lab("backlog", &["--count", "3"], Duration::from_secs(30));
    let syns: Vec<&Value> = tcp(&packets).into_iter().filter(|p| flags(p) == ["SYN"]).collect();
    assert!(syns.iter().filter(|p| has(p, "retransmission")).count() >= 2, "{narration}");
}

#[test]
fn a_failure_leaves_nothing_behind() {
    need_lab!();
    // the rate is checked by tc once the namespaces exist
    let (out, _) = run(&["gen", "handshake", "--lab", "--rate", "not-a-rate"], Duration::from_secs(30));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate not-a-rate"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn ctrl_c_leaves_nothing_behind() {
    need_lab!();
    let mut child = Command::new(BIN).args(["gen", "rto", "--count", "6"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while leftovers(pid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!leftovers(pid).is_empty(), "the lab never came up");
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn a_panic_removes_the_namespace() {
    need_lab!();
    let name = std::panic::catch_unwind(|| {
        let ns = wireseam::lab::Netns::create("panic").unwrap();
        let name = ns.name().to_string();
        assert_eq!(leftovers(std::process::id()), vec![name.clone()]);
        panic!("{name}");
    })
    .unwrap_err();
    let name = name.downcast_ref::<String>().unwrap();
    assert!(name.starts_with(&format!("wslab-{}-", std::process::id())));
    assert!(!wireseam::lab::netns::list("").contains(name));
}

#[test]
fn udp_broadcast_without_a_broadcast_address_set() {
    need_lab!();
    use wireseam::gen::{GenConfig, Scenario};
    let ns = wireseam::lab::Netns::create("bcast").unwrap();
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]).unwrap();
    // no `broadcast +`: the address has none set
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "eth0"]).unwrap();
    ns.ip(&["link", "set", "eth0", "up"]).unwrap();
    ns.ip(&["link", "set", "eth1", "up"]).unwrap();
    let cfg = GenConfig { port: 0, iface: Some("eth0".into()), ..GenConfig::new(Scenario::UdpBroadcast) };
    let (r, log) = ns
        .spawn(move || {
            let mut log = Vec::new();
            let r = wireseam::gen::run(&cfg, &mut log).map_err(|e| e.to_string());
            (r, String::from_utf8_lossy(&log).into_owned())
        })
        .unwrap()
        .join()
        .unwrap();
    let r = r.unwrap_or_else(|e| panic!("{e}\n{log}"));
    let log = log.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(r.server.unwrap().ip().to_string(), "10.77.0.255", "{log}");
    assert!(log.contains("computed the directed broadcast from the prefix"), "{log}");
    assert!(!log.contains("to 10.77.0.1:"), "{log}");
}

#[test]
fn without_root_loopback_or_a_clear_message() {
    need_lab!();
    if Command::new("setpriv").arg("--help").stdout(Stdio::null()).status().is_err() {
        eprintln!("skipping: no setpriv");
        return;
    }
    // a copy nobody-the-user may execute (the target directory may not be reachable)
    let exe = common::tmp_file("wireseam-nonroot");
    std::fs::copy(BIN, &exe).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&exe)
            .args(args)
            .current_dir("/")
            .output()
            .unwrap()
    };
    let port = common::free_port().to_string();
    let lab = as_nobody(&["gen", "handshake", "--lab", "--port", &port, "-q"]);
    let err = String::from_utf8_lossy(&lab.stderr);
    assert!(lab.status.success(), "{err}");
    assert!(err.contains("--lab needs root (network namespaces); running on loopback instead"), "{err}");
    let peer = as_nobody(&["gen", "rto"]);
    assert_eq!(peer.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&peer.stderr).contains("needs root: run it with sudo"));
    let _ = std::fs::remove_file(&exe);
}

#[test]
fn lab_rate_limits_the_link() {
    need_lab!();
    // 1 MB at 10 Mbit/s: at least 0.8 s on the wire (on an unshaped veth it takes milliseconds)
    let (narration, packets) = lab("bulk", &["--rate", "10mbit", "--size", "1000000"], Duration::from_secs(30));
    assert!(narration.contains("rate 10mbit"), "{narration}");
    let segs = tcp(&packets);
    assert!(segs.iter().filter_map(|p| p["tcp"]["len"].as_u64()).all(|l| l <= 1448));
    // The throughput on the wire is the rate: tbf counts whole frames (Ethernet header
    // included), and the capture on the sender's eth0 sees each frame as it leaves the qdisc.
    let data: Vec<&&Value> = segs.iter().filter(|p| p["tcp"]["dir"] == "c2s" && p["tcp"]["len"].as_u64() > Some(0)).collect();
    let (first, last) = (t(data[0]), t(data[data.len() - 1]));
    // the first frames leave in tbf's burst (32 kbit): count from the frame after it
    let bits: u64 = data[1..].iter().map(|p| p["len"].as_u64().unwrap() * 8).sum();
    let mbit = bits as f64 / (last - first) / 1e6;
    assert!((7.0..10.6).contains(&mbit), "{mbit:.2} Mbit/s on the wire for --rate 10mbit ({} frames in {:.3} s)", data.len(), last - first);
}

/// Whether tc can add a netem qdisc here (the kernel's sch_netem).
fn netem_available() -> bool {
    let ns = wireseam::lab::Netns::create("netem-probe").unwrap();
    ns.exec(&["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]).is_ok()
}

/// `--delay` needs netem: where the kernel has it, the handshake's round trip is twice the
/// delay; where it does not, the run fails (exit 1) naming the flag and the missing module,
/// and leaves no namespace behind.
#[test]
fn lab_delay_uses_netem_or_says_it_is_missing() {
    need_lab!();
    if netem_available() {
        let (_, packets) = lab("handshake", &["--delay", "40"], Duration::from_secs(30));
        let segs = tcp(&packets);
        let syn = segs.iter().find(|p| flags(p) == ["SYN"]).unwrap();
        let syn_ack = segs.iter().find(|p| flags(p) == ["SYN", "ACK"]).unwrap();
        // captured on the client: the SYN leaves, the SYN-ACK comes back after both delays
        let rtt = t(syn_ack) - t(syn);
        assert!((0.075..0.2).contains(&rtt), "round trip {rtt} s with --delay 40 each way");
    } else {
        let (out, _) = run(&["gen", "handshake", "--lab", "--delay", "40"], Duration::from_secs(30));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("--delay 40 needs the kernel's netem queueing discipline (kernel module sch_netem)"), "{err}");
        assert!(err.contains("leave out --delay"), "{err}");
    }
}

#[test]
fn two_labs_at_once_do_not_collide() {
    need_lab!();
    let start = |scenario: &str| {
        Command::new(BIN).args(["gen", scenario, "--lab", "-q"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let (a, b) = (start("sticky"), start("sticky"));
    let (pa, pb) = (a.id(), b.id());
    for (child, pid) in [(a, pa), (b, pb)] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(leftovers(pid), Vec::<String>::new());
    }
}

#[test]
fn demo_runs_in_the_lab() {
    need_lab!();
    let (out, _) = run(&["demo", "--color", "never"], Duration::from_secs(120));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Capturing in a private lab network"), "{text}");
    assert!(!text.contains("failed:"), "{text}");
    assert!(!text.contains("(no frames captured for this scenario)"), "{text}");
    // segments of a real link: the lab's MSS, not loopback's
    assert!(text.contains("<mss 1460"), "{text}");
}

/// `gen SCENARIO --lab --report FILE`: the lab's capture drawn as the report page, with the
/// handshake's states and one ladder arrow per TCP frame; no temporary capture left behind.
#[test]
fn lab_report_draws_the_capture() {
    need_lab!();
    let page = common::tmp_file("lab-report.html");
    let page_s = page.display().to_string();
    let (out, pid) = run(&["gen", "handshake", "--lab", "--report", &page_s], Duration::from_secs(30));
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains(&format!("wrote {page_s}")), "{said}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("SYN-SENT") && html.contains("TIME-WAIT") && html.contains("<svg"), "the page draws the handshake and the close");
    assert!(!std::env::temp_dir().join(format!("wireseam-lab-{pid}.pcap")).exists(), "temporary capture removed");
    // the same options as `wireseam report`: framing, the simulated reader, the connection, a filter
    let args = [
        "gen",
        "hello-world",
        "--lab",
        "-q",
        "--report",
        &page_s,
        "--recv",
        "3",
        "--recv-at",
        "end",
        "--framing",
        "segment",
        "--conn",
        "0",
        "tcp",
    ];
    let (out, _) = run(&args, Duration::from_secs(30));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("recv(3) calls by the server, which calls recv() only once everything has arrived"), "--recv and --recv-at");
    assert!(html.contains("framing segment"), "--framing");
    assert!(html.contains("2 messages glued"), "recv(3) at the end glues hello and world");
    assert!(html.contains("· ARP 0 ·") && html.contains("· UDP 0 ·"), "the filter keeps TCP only (the lab's capture starts with ARP)");
    let _ = std::fs::remove_file(&page);
    let (o, _) = run(&["gen", "handshake", "--report", &page_s], Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(2), "--report without --lab is a usage error");
}
