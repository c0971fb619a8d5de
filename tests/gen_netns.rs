//! arp, udp-broadcast and a TCP scenario between two network namespaces joined by a veth
//! (198.18.N.0/24, created and deleted by each test). Skipped with a message unless root.

#[path = "gen_common/mod.rs"]
mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{in_netns, tshark, until_listening, Capture, NsPair};
use wireseam::gen::{self, GenConfig, GenReport, Role, Scenario};

fn run_in(ns: &str, cfg: GenConfig) -> std::thread::JoinHandle<(Result<GenReport, String>, String)> {
    in_netns(ns, move || {
        let mut log = Vec::new();
        let r = gen::run(&cfg, &mut log).map_err(|e| e.to_string());
        (r, String::from_utf8_lossy(&log).into_owned())
    })
}

fn capture_in(ns: &NsPair, iface: &str, filter: &str, name: &str) -> Option<Capture> {
    if common::capture_unavailable().is_some() {
        return None;
    }
    Some(Capture::start_with(&["ip", "netns", "exec", &ns.b], iface, filter, name))
}

#[test]
fn arp_request_announcement_probe() {
    need_netns!();
    let ns = NsPair::new(61);
    let cap = capture_in(&ns, &ns.vb, "arp", "arp.pcap");
    let cfg = GenConfig { iface: Some(ns.va.clone()), addr: IpAddr::V4(ns.addr_b()), ..GenConfig::new(Scenario::Arp) };
    let (r, log) = run_in(&ns.a, cfg).join().unwrap();
    let r = r.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(r.messages, 3);
    // b's kernel answers the request and the probe for its own address
    assert_eq!(r.replies, 2, "{log}");
    assert!(r.notes.iter().all(|n| n.starts_with(&ns.addr_b().to_string())), "{:?}", r.notes);
    if let Some(cap) = cap {
        let file = cap.stop();
        let rows = tshark(&file, "arp.opcode == 1", &["arp.src.proto_ipv4", "arp.dst.proto_ipv4", "eth.dst"]);
        let (a, b) = (ns.addr_a().to_string(), ns.addr_b().to_string());
        let shapes: Vec<(&str, &str)> = rows.iter().map(|f| (f[0].as_str(), f[1].as_str())).collect();
        assert!(shapes.contains(&(a.as_str(), b.as_str())), "request: {rows:?}");
        assert!(shapes.contains(&(a.as_str(), a.as_str())), "announcement: {rows:?}");
        assert!(shapes.contains(&("0.0.0.0", b.as_str())), "probe: {rows:?}");
        assert!(rows.iter().all(|f| f[2] == "ff:ff:ff:ff:ff:ff"));
    }
}

#[test]
fn arp_picks_a_neighbour_by_itself() {
    need_netns!();
    let ns = NsPair::new(62);
    // the default address (127.0.0.1) is not on the subnet: the first other host (.2) is asked
    let cfg = GenConfig { iface: Some(ns.va.clone()), ..GenConfig::new(Scenario::Arp) };
    let (r, log) = run_in(&ns.a, cfg).join().unwrap();
    let r = r.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(r.server.unwrap().ip(), IpAddr::V4(ns.addr_b()));
    assert_eq!(r.replies, 2, "{log}");
}

#[test]
fn udp_broadcast_across_the_veth() {
    need_netns!();
    let ns = NsPair::new(63);
    let port = 40_000 + (std::process::id() % 10_000) as u16;
    let cap = capture_in(&ns, &ns.vb, &format!("udp port {port}"), "bcast.pcap");
    let server =
        run_in(&ns.b, GenConfig { role: Role::Server, port, iface: Some(ns.vb.clone()), ..GenConfig::new(Scenario::UdpBroadcast) });
    std::thread::sleep(Duration::from_millis(300));
    let client =
        run_in(&ns.a, GenConfig { role: Role::Client, port, iface: Some(ns.va.clone()), ..GenConfig::new(Scenario::UdpBroadcast) });
    let (c, clog) = client.join().unwrap();
    let (s, slog) = server.join().unwrap();
    let c = c.unwrap_or_else(|e| panic!("{e}\n{clog}"));
    let s = s.unwrap_or_else(|e| panic!("{e}\n{slog}"));
    assert_eq!(c.messages, 3);
    assert_eq!(c.server.unwrap().ip().to_string(), format!("198.18.{}.255", ns.net));
    assert_eq!(s.server_tally.messages_received, 3, "{slog}");
    if let Some(cap) = cap {
        let rows = tshark(&cap.stop(), "udp", &["eth.dst", "ip.dst"]);
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert!(rows.iter().all(|f| f[0] == "ff:ff:ff:ff:ff:ff" && f[1] == format!("198.18.{}.255", ns.net)));
    }
}

#[test]
fn udp_broadcast_both_in_one_namespace() {
    need_netns!();
    let ns = NsPair::new(64);
    let cfg = GenConfig { port: 0, iface: Some(ns.va.clone()), ..GenConfig::new(Scenario::UdpBroadcast) };
    let (r, log) = run_in(&ns.a, cfg).join().unwrap();
    let r = r.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(r.messages, 3);
    assert_eq!(r.replies, 3, "a host receives its own broadcasts:\n{log}");
}

#[test]
fn tcp_between_namespaces() {
    need_netns!();
    let ns = NsPair::new(65);
    for sc in [Scenario::Handshake, Scenario::Sticky, Scenario::Split] {
        let addr = IpAddr::V4(ns.addr_b());
        let server = run_in(&ns.b, GenConfig { role: Role::Server, addr, ..GenConfig::new(sc) });
        // (the server listens once its thread has entered the namespace and bound)
        let (c, clog) = until_listening(
            || run_in(&ns.a, GenConfig { role: Role::Client, addr, ..GenConfig::new(sc) }).join().unwrap(),
            |(c, _)| matches!(c, Err(e) if e.contains("connection refused")),
        );
        let (s, slog) = server.join().unwrap();
        let c = c.unwrap_or_else(|e| panic!("{sc} client: {e}\n{clog}"));
        let s = s.unwrap_or_else(|e| panic!("{sc} server: {e}\n{slog}"));
        assert_eq!(c.bytes_sent, s.server_tally.bytes_received, "{sc}");
        assert_eq!(c.client.unwrap().ip(), IpAddr::V4(ns.addr_a()));
    }
}
