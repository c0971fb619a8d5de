//! What a capture on lo really shows for some scenarios (tcpdump writes, tshark reads).
//! Skipped with a message unless root with tcpdump and tshark installed.

#[path = "gen_common/mod.rs"]
mod common;

use common::{free_port, hex_decode, tshark, Capture, PcapFile};
use wireseam::gen::{self, GenConfig, GenReport, Scenario};

fn captured(sc: Scenario, tweak: impl FnOnce(&mut GenConfig)) -> (GenReport, PcapFile, u16) {
    let port = free_port();
    let cap = Capture::start(port, &format!("{sc}.pcap"));
    let mut cfg = GenConfig { port, quiet: true, ..GenConfig::new(sc) };
    tweak(&mut cfg);
    let r = gen::run(&cfg, &mut std::io::sink()).unwrap_or_else(|e| panic!("{sc}: {e}"));
    (r, cap.stop(), port)
}

/// (source port, tcp flags as tshark's 12-character string, payload length) per TCP segment.
fn segments(file: &std::path::Path) -> Vec<(u16, String, usize)> {
    tshark(file, "tcp", &["tcp.srcport", "tcp.flags.str", "tcp.len"])
        .into_iter()
        .map(|f| (f[0].parse().unwrap(), f[1].clone(), f[2].parse().unwrap()))
        .collect()
}

fn has(flags: &str, f: char) -> bool {
    flags.contains(f)
}

#[test]
fn handshake_open_and_close() {
    need_capture!();
    let (_, file, port) = captured(Scenario::Handshake, |_| {});
    let segs = segments(&file);
    let syn = segs.iter().filter(|(p, fl, _)| *p != port && has(fl, 'S') && !has(fl, 'A')).count();
    let syn_ack = segs.iter().filter(|(p, fl, _)| *p == port && has(fl, 'S') && has(fl, 'A')).count();
    let fin_c = segs.iter().filter(|(p, fl, _)| *p != port && has(fl, 'F')).count();
    let fin_s = segs.iter().filter(|(p, fl, _)| *p == port && has(fl, 'F')).count();
    assert_eq!((syn, syn_ack, fin_c, fin_s), (1, 1, 1, 1), "{segs:?}");
    assert!(!segs.iter().any(|(_, fl, _)| has(fl, 'R')), "{segs:?}");
    // textbook four-segment close: the server's ACK of the client's FIN travels alone
    let fin_at = segs.iter().position(|(p, fl, _)| *p != port && has(fl, 'F')).unwrap();
    let (p, fl, _) = &segs[fin_at + 1];
    assert!(*p == port && !has(fl, 'F') && has(fl, 'A'), "{segs:?}");
}

#[test]
fn reset_sends_rst() {
    need_capture!();
    let (_, file, port) = captured(Scenario::Reset, |_| {});
    let segs = segments(&file);
    let rst_c = segs.iter().filter(|(p, fl, _)| *p != port && has(fl, 'R')).count();
    let rst_s = segs.iter().filter(|(p, fl, _)| *p == port && has(fl, 'R')).count();
    assert_eq!((rst_c, rst_s), (1, 1), "SO_LINGER 0 on the client, unread data on the server: {segs:?}");
}

#[test]
fn refused_syn_gets_rst() {
    need_capture!();
    let (r, file, port) = captured(Scenario::Refused, |_| {});
    assert_eq!(r.refused, 2);
    let rows = tshark(&file, "tcp", &["tcp.srcport", "tcp.flags.str", "tcp.seq_raw", "tcp.ack_raw"]);
    let syns: Vec<_> = rows.iter().filter(|f| f[1].contains('S')).collect();
    let rsts: Vec<_> = rows.iter().filter(|f| f[1].contains('R')).collect();
    assert_eq!((syns.len(), rsts.len()), (2, 2), "{rows:?}");
    for (syn, rst) in syns.iter().zip(&rsts) {
        assert_eq!(rst[0], port.to_string());
        let seq: u64 = syn[2].parse().unwrap();
        let ack: u64 = rst[3].parse().unwrap();
        assert_eq!(ack, (seq + 1) % (1 << 32), "the RST acknowledges the SYN");
    }
}

/// Messages "msg-" in each client data segment.
fn msgs_per_segment(file: &std::path::Path, port: u16) -> Vec<usize> {
    tshark(file, &format!("tcp.dstport == {port} && tcp.len > 0"), &["tcp.payload"])
        .iter()
        .map(|f| {
            let p = hex_decode(&f[0]);
            p.windows(4).filter(|w| w == b"msg-").count()
        })
        .filter(|&n| n > 0)
        .collect()
}

#[test]
fn sticky_shares_segments() {
    need_capture!();
    let (r, file, port) = captured(Scenario::Sticky, |_| {});
    let per = msgs_per_segment(&file, port);
    assert_eq!(per.iter().sum::<usize>(), 20, "{per:?}");
    assert!(per.iter().any(|&n| n >= 2), "no segment carries two messages: {per:?}");
    assert!(per.len() <= 4, "expected msg-01 alone, msg-02..10 together, msg-11..20 corked: {per:?}");
    assert_eq!(r.bursts[1].segments, 1);
}

#[test]
fn nodelay_mostly_one_segment_per_write() {
    need_capture!();
    let (_, file, port) = captured(Scenario::Nodelay, |_| {});
    let per = msgs_per_segment(&file, port);
    // a tail loss probe may resend the last message: count the segments, not the sum
    assert!(per.len() >= 15, "{per:?}");
}

#[test]
fn split_over_several_segments() {
    need_capture!();
    let (r, file, port) = captured(Scenario::Split, |_| {});
    let lens: Vec<usize> =
        tshark(&file, &format!("tcp.dstport == {port} && tcp.len > 0"), &["tcp.len"]).iter().map(|f| f[0].parse().unwrap()).collect();
    assert!(lens.len() >= 2, "{lens:?}");
    assert_eq!(lens.iter().sum::<usize>(), 6004, "{lens:?}");
    let mss = r.mss.unwrap() as usize;
    let (last, full) = lens.split_last().unwrap();
    assert!(full.iter().all(|&l| l % mss == 0), "whole MSS-sized segments (or GSO bundles of them): {lens:?}");
    assert_eq!(last % mss, 6004 % mss, "{lens:?}");
    let syn_mss = tshark(&file, "tcp.flags.syn == 1 && tcp.flags.ack == 0", &["tcp.options.mss_val"]);
    assert_eq!(syn_mss[0][0], "536", "the client's SYN announces TCP_MAXSEG");
}

#[test]
fn zero_window_advertised() {
    need_capture!();
    let (_, file, port) = captured(Scenario::ZeroWindow, |_| {});
    let zero = tshark(&file, &format!("tcp.srcport == {port} && tcp.window_size == 0 && tcp.flags.syn == 0"), &["tcp.len"]);
    assert!(!zero.is_empty(), "no zero window from the receiver");
    let probes = tshark(&file, &format!("tcp.dstport == {port} && tcp.analysis.keep_alive"), &["tcp.len"]);
    assert!(!probes.is_empty(), "no zero-window probe");
    let updates = tshark(&file, &format!("tcp.srcport == {port} && tcp.analysis.window_update"), &["tcp.len"]);
    assert!(!updates.is_empty(), "no window update");
}

#[test]
fn keepalive_probes_and_acks() {
    need_capture!();
    let (_, file, port) = captured(Scenario::Keepalive, |c| c.count = Some(2));
    let probes = tshark(&file, &format!("tcp.dstport == {port} && tcp.analysis.keep_alive"), &["tcp.len"]);
    let acks = tshark(&file, &format!("tcp.srcport == {port} && tcp.analysis.keep_alive_ack"), &["tcp.len"]);
    assert!((1..=3).contains(&probes.len()), "{probes:?}");
    assert_eq!(probes.len(), acks.len());
}

#[test]
fn udp_echo_one_datagram_per_send() {
    need_capture!();
    let (r, file, port) = captured(Scenario::UdpEcho, |_| {});
    let to_server = tshark(&file, &format!("udp.dstport == {port}"), &["udp.length"]);
    let from_server = tshark(&file, &format!("udp.srcport == {port}"), &["udp.length"]);
    assert_eq!((to_server.len(), from_server.len()), (5, 5));
    let bytes: usize = to_server.iter().map(|f| f[0].parse::<usize>().unwrap() - 8).sum();
    assert_eq!(bytes as u64, r.bytes_sent);
}
