//! Every TCP and UDP scenario on loopback with `Role::Both` and port 0: what the sockets report.

use std::net::{IpAddr, TcpListener};
use std::time::Duration;

use wireseam::gen::{self, GenConfig, GenError, GenReport, Role, Scenario};

#[path = "gen_common/mod.rs"]
mod common;
use common::until_listening;

fn run_with(cfg: GenConfig) -> (GenReport, String) {
    let mut log = Vec::new();
    let r = gen::run(&cfg, &mut log).unwrap_or_else(|e| panic!("{}: {e}", cfg.scenario));
    let text = String::from_utf8(log).unwrap();
    assert!(text.starts_with(&format!("{}: ", cfg.scenario)), "{text}");
    assert!(text.contains("   why  "), "no explanation in:\n{text}");
    assert!(r.elapsed < Duration::from_secs(10), "{}: {:?}", cfg.scenario, r.elapsed);
    (r, text)
}

fn cfg(sc: Scenario) -> GenConfig {
    GenConfig { port: 0, ..GenConfig::new(sc) }
}

fn run(sc: Scenario) -> (GenReport, String) {
    run_with(cfg(sc))
}

/// Both sides agree on what crossed the connection.
fn symmetric(r: &GenReport) {
    assert_eq!(r.client_tally.bytes_sent, r.server_tally.bytes_received, "{r:#?}");
    assert_eq!(r.server_tally.bytes_sent, r.client_tally.bytes_received, "{r:#?}");
}

#[test]
fn handshake() {
    let (r, log) = run(Scenario::Handshake);
    assert_eq!((r.connections, r.messages, r.replies), (1, 1, 1));
    assert_eq!(r.client_tally.bytes_sent, 6);
    symmetric(&r);
    assert!(r.client.is_some() && r.server.is_some());
    assert_ne!(r.server.unwrap().port(), 0);
    assert!(r.elapsed >= Duration::from_millis(200), "the server pauses in CLOSE-WAIT");
    assert!(log.contains("TIME-WAIT") && log.contains("CLOSE-WAIT"));
    assert!(log.ends_with(&format!("done in {:.2} s\n", r.elapsed.as_secs_f64())) || log.contains("done in"));
}

#[test]
fn half_close() {
    let (r, _) = run(Scenario::HalfClose);
    assert_eq!(r.replies, 5);
    symmetric(&r);
    let (r, _) = run_with(GenConfig { count: Some(2), ..cfg(Scenario::HalfClose) });
    assert_eq!(r.replies, 2);
    assert_eq!(r.server_tally.messages_sent, 2);
}

#[test]
fn server_close() {
    let (r, log) = run(Scenario::ServerClose);
    assert_eq!((r.connections, r.replies), (1, 1));
    symmetric(&r);
    assert_eq!(r.tcp.map(|t| t.state), Some(8), "the client was in CLOSE-WAIT (8) before closing");
    assert!(r.elapsed >= Duration::from_millis(200));
    assert!(log.contains("CLOSE-WAIT"));
}

#[test]
fn reset() {
    let (r, log) = run(Scenario::Reset);
    assert_eq!(r.connections, 2);
    assert_eq!(r.resets, 2, "the server sees the client's RST and the client the server's:\n{log}");
    assert!(log.contains("ECONNRESET"));
}

#[test]
fn refused() {
    let (r, _) = run(Scenario::Refused);
    assert_eq!((r.refused, r.messages, r.connections), (2, 2, 0));
    assert!(r.client.is_none());
    let (r, _) = run_with(GenConfig { count: Some(3), ..cfg(Scenario::Refused) });
    assert_eq!(r.refused, 3);
}

#[test]
fn refused_needs_a_closed_port() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let e = gen::run(&GenConfig { port, ..cfg(Scenario::Refused) }, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("refused needs a closed port"), "{e}");
}

#[test]
fn keepalive() {
    let (r, log) = run_with(GenConfig { count: Some(2), ..cfg(Scenario::Keepalive) });
    assert!(r.elapsed >= Duration::from_millis(2500) && r.elapsed < Duration::from_secs(4), "{:?}", r.elapsed);
    let note = r.notes.iter().find(|n| n.contains("keep-alive")).expect(&log);
    let probes: u32 = note.split_whitespace().nth(5).unwrap().parse().unwrap();
    assert!((1..=3).contains(&probes), "{note}");
    symmetric(&r);
}

#[test]
fn zero_window() {
    let (r, log) = run(Scenario::ZeroWindow);
    assert_eq!(r.client_tally.bytes_sent, 64 * 1024);
    assert_eq!(r.server_tally.bytes_received, 64 * 1024);
    assert!(r.server_reads.unwrap() >= 64, "1 KiB reads");
    assert!(r.elapsed >= Duration::from_millis(1500), "{:?}", r.elapsed);
    assert!(log.contains("zero window") || log.contains("window 0"));
}

#[test]
fn sticky_coalesces() {
    let (r, log) = run(Scenario::Sticky);
    assert_eq!(r.messages, 21, "big-00 and msg-01..20");
    assert_eq!(r.server_tally.messages_received, 21);
    symmetric(&r);
    let nagle = &r.bursts[0];
    assert_eq!((nagle.mode, nagle.messages), ("nagle", 10));
    assert!(nagle.segments < 10 && nagle.segments >= 1, "Nagle merged nothing:\n{log}");
    let cork = &r.bursts[1];
    assert_eq!((cork.mode, cork.messages, cork.segments), ("cork", 10, 1), "{log}");
    assert!(r.server_reads.unwrap() <= 3, "the lazy reader gets everything in one or few reads");
}

#[test]
fn sticky_counts() {
    let (r, _) = run_with(GenConfig { count: Some(2), ..cfg(Scenario::Sticky) });
    assert_eq!(r.bursts.len(), 2);
    assert_eq!(r.bursts.iter().map(|b| b.messages).sum::<usize>(), 2);
    let (r, _) = run_with(GenConfig { count: Some(101), ..cfg(Scenario::Sticky) });
    assert_eq!(r.server_tally.messages_received, 102);
}

#[test]
fn nodelay_keeps_writes_apart() {
    let (r, log) = run(Scenario::Nodelay);
    assert_eq!(r.messages, 20);
    assert_eq!(r.server_tally.messages_received, 20);
    let b = &r.bursts[0];
    assert_eq!(b.mode, "nodelay");
    assert!(b.segments as usize > b.messages / 2, "{log}");
}

#[test]
fn split_over_segments() {
    let (r, log) = run(Scenario::Split);
    assert!(r.mss.unwrap() <= 536, "{:?}", r.mss);
    assert_eq!(r.client_tally.bytes_sent, 6004);
    assert_eq!(r.server_tally.bytes_received, 6004);
    assert!(r.bursts[0].segments >= 12, "{log}");
    // on lo the capture is not seen here: the narration gives the kernel's count and what a
    // capture's GSO packets are made of, never a number of packets of its own
    let flat = log.split_whitespace().collect::<Vec<_>>().join(" ");
    let mss = r.mss.unwrap();
    assert!(flat.contains(&format!("each a whole number of {mss}-byte segments, but the last")), "{log}");
    assert!(!flat.contains(&format!(" x {mss} bytes")), "{log}");
    let (_, log) = run_with(GenConfig { size: Some(100), ..cfg(Scenario::Split) });
    assert!(!log.contains("GSO"), "one segment: nothing to bundle:\n{log}");
    let (r, _) = run_with(GenConfig { mss: Some(1000), size: Some(10_000), ..cfg(Scenario::Split) });
    assert!(r.mss.unwrap() <= 1000);
    assert!(r.bursts[0].segments >= 10);
    assert!(r.server_reads.is_some());
}

#[test]
fn framed_echoes_every_frame() {
    let (r, _) = run(Scenario::Framed);
    assert_eq!((r.messages, r.replies), (20, 20));
    symmetric(&r);
    let (r2, _) = run_with(GenConfig { seed: 99, count: Some(50), size: Some(100), ..cfg(Scenario::Framed) });
    assert_eq!(r2.replies, 50);
    assert!(r2.bytes_sent <= 50 * 104);
    let (r3, _) = run_with(GenConfig { seed: 99, count: Some(50), size: Some(100), ..cfg(Scenario::Framed) });
    assert_eq!(r2.bytes_sent, r3.bytes_sent, "same seed, same sizes");
}

#[test]
fn jsonhdr_round_trips() {
    let (r, log) = run(Scenario::Jsonhdr);
    assert_eq!((r.messages, r.replies), (8, 8));
    symmetric(&r);
    assert!(log.contains("\"len\": ") && log.contains("\"name\": \"file-00."), "{log}");
    let (r, _) = run_with(GenConfig { count: Some(30), size: Some(20_000), ..cfg(Scenario::Jsonhdr) });
    assert_eq!(r.replies, 30);
}

#[test]
fn echo_upper_cases() {
    let (r, log) = run(Scenario::Echo);
    assert_eq!((r.messages, r.replies), (5, 5));
    symmetric(&r);
    assert!(log.contains("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), "{log}");
    let (r, _) = run_with(GenConfig { count: Some(7), size: Some(100), ..cfg(Scenario::Echo) });
    assert_eq!(r.bytes_sent, 700);
    assert_eq!(r.client_tally.bytes_received, 700);
}

#[test]
fn many_clients() {
    let (r, _) = run(Scenario::Many);
    assert_eq!((r.connections, r.messages, r.replies), (10, 10, 10));
    symmetric(&r);
    let (r, _) = run_with(GenConfig { count: Some(60), ..cfg(Scenario::Many) });
    assert_eq!((r.connections, r.replies), (60, 60));
}

#[test]
fn bulk_transfer() {
    let (r, _) = run_with(GenConfig { size: Some(1 << 20), ..cfg(Scenario::Bulk) });
    assert_eq!(r.server_tally.bytes_received, 1 << 20);
    assert_eq!(r.bytes_sent, 1 << 20);
    assert!(r.tcp.unwrap().data_segs_out >= 2);
    let (r, _) = run(Scenario::Bulk);
    assert_eq!(r.server_tally.bytes_received, 8 << 20);
}

#[test]
fn udp_echo_keeps_boundaries() {
    let (r, log) = run(Scenario::UdpEcho);
    assert_eq!((r.messages, r.replies), (5, 5));
    assert_eq!(r.server_tally.messages_received, 5, "one recvfrom per datagram");
    symmetric(&r);
    assert!(log.contains("exactly one datagram each"));
    let (r, _) = run_with(GenConfig { count: Some(10), size: Some(1000), ..cfg(Scenario::UdpEcho) });
    assert_eq!(r.bytes_sent, 10_000);
    assert_eq!(r.replies, 10);
}

#[test]
fn ipv6_loopback() {
    let v6: IpAddr = "::1".parse().unwrap();
    for sc in [Scenario::Handshake, Scenario::Sticky, Scenario::Split, Scenario::UdpEcho, Scenario::Refused] {
        let (r, _) = run_with(GenConfig { addr: v6, ..cfg(sc) });
        assert!(r.server.unwrap().is_ipv6(), "{sc}");
    }
}

#[test]
fn separate_server_and_client() {
    for sc in [Scenario::Echo, Scenario::Many, Scenario::UdpEcho, Scenario::Reset] {
        let port = free_port();
        let server = std::thread::spawn(move || gen::run(&GenConfig { role: Role::Server, port, ..GenConfig::new(sc) }, &mut Vec::new()));
        let c = until_listening(
            || gen::run(&GenConfig { role: Role::Client, port, ..GenConfig::new(sc) }, &mut Vec::new()),
            |r| matches!(r, Err(e) if e.to_string().contains("connection refused")),
        )
        .unwrap_or_else(|e| panic!("{sc} client: {e}"));
        let s = server.join().unwrap().unwrap_or_else(|e| panic!("{sc} server: {e}"));
        assert_eq!(c.role, Role::Client);
        assert_eq!(s.role, Role::Server);
        if sc == Scenario::Reset {
            assert_eq!((c.resets, s.resets), (1, 1));
        } else {
            assert_eq!(c.bytes_sent, s.server_tally.bytes_received, "{sc}");
        }
        assert_eq!(c.server.unwrap().port(), port);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn quiet_prints_nothing() {
    let mut log = Vec::new();
    let r = gen::run(&GenConfig { quiet: true, ..cfg(Scenario::Echo) }, &mut log).unwrap();
    assert!(log.is_empty());
    assert_eq!(r.replies, 5);
}

#[test]
fn errors_are_clear() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let err = |c: GenConfig| gen::run(&c, &mut Vec::new()).unwrap_err();

    let e = err(GenConfig { port, ..GenConfig::new(Scenario::Handshake) });
    assert_eq!(e.to_string(), format!("port {port} is in use; pick another with --port"));

    drop(l);
    let e = err(GenConfig { role: Role::Client, port, ..GenConfig::new(Scenario::Echo) });
    assert!(matches!(e, GenError::Refused { .. }), "{e}");
    assert!(e.to_string().contains("start the server side first"), "{e}");

    let e = err(GenConfig { role: Role::Client, port: 0, ..GenConfig::new(Scenario::Echo) });
    assert!(e.to_string().contains("give --port"), "{e}");

    let e = err(GenConfig { iface: Some("lo".into()), ..GenConfig::new(Scenario::Arp) });
    assert_eq!(e.to_string(), "arp needs an Ethernet interface; loopback has no link layer");

    let e = err(GenConfig { iface: Some("lo".into()), ..GenConfig::new(Scenario::UdpBroadcast) });
    assert!(e.to_string().contains("loopback has none"), "{e}");

    let e = err(GenConfig { iface: Some("nonexistent9".into()), ..GenConfig::new(Scenario::Arp) });
    assert!(e.to_string().contains("no interface named nonexistent9"), "{e}");

    let e = err(GenConfig::new(Scenario::UdpBroadcast));
    assert!(e.to_string().contains("give --iface"), "{e}");

    let e = err(GenConfig { role: Role::Server, iface: Some("lo".into()), ..GenConfig::new(Scenario::Arp) });
    assert!(e.to_string().contains("arp has no server side"), "{e}");

    let e = err(GenConfig { addr: "198.18.255.254".parse().unwrap(), port: 0, ..GenConfig::new(Scenario::Echo) });
    assert!(e.to_string().contains("not an address of this machine"), "{e}");
}
