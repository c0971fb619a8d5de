//! `--threads N` for connection summaries (`pipeline::sharded`): the capture is walked once, a
//! step of 1 Ki frames at a time, by whichever thread needs the next step; the walker files each
//! frame for the thread that owns its flow, and each thread decodes, tracks and reassembles the
//! frames filed for it. The merged connections must be those of one thread, in the same order
//! with the same ids. The fixtures are too short to reach the places where that can go wrong
//! (rounds of 16 Ki frames, expiry points every 1 Ki frames, threads walking steps ahead of one
//! another, the end of input sent in parts), so the capture here is written with thousands of
//! interleaved connections: IPv4, IPv6, VLAN-tagged (whose flow is found by decoding, not by
//! peeking), reset, left open, with UDP and ARP frames between them.

use std::io;
use std::path::PathBuf;

use etherparse::PacketBuilder;
use wireseam::pipeline::{run_file, PacketView, ReadOptions, RunSummary, Sink};

mod common;
use common::pcap;

/// Keeps every connection as text; wants neither packets nor messages, so runs with threads
/// take the sharded path.
#[derive(Default)]
struct Conns(Vec<String>);

impl Sink for Conns {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, record: &wireseam::pipeline::ConnRecord) -> io::Result<()> {
        let (c, seams) = (&record.summary, &record.seams);
        self.0.push(format!("{c:?} {seams:?}"));
        Ok(())
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn wants_messages(&self) -> bool {
        false
    }
}

#[derive(Clone, Copy)]
enum Fate {
    Close,
    Reset,
    Open,
}

/// The frames of connection `i`, in order: handshake, two client messages, an answer, and a
/// close, a reset or nothing.
fn conn_frames(i: u32) -> Vec<Vec<u8>> {
    let fate = match i {
        _ if i.is_multiple_of(11) => Fate::Reset,
        _ if i.is_multiple_of(7) => Fate::Open,
        _ => Fate::Close,
    };
    let sport = 20_000 + (i % 40_000) as u16;
    let dport = if i.is_multiple_of(3) { 80 } else { 9000 };
    let eth = |c2s: bool| {
        let (a, b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        if c2s {
            PacketBuilder::ethernet2(a, b)
        } else {
            PacketBuilder::ethernet2(b, a)
        }
    };
    // one segment: (from the client?, seq, ack, SYN, FIN, RST, payload)
    let seg = |c2s: bool, seq: u32, ack: Option<u32>, syn: bool, fin: bool, rst: bool, payload: &[u8]| {
        let (s, d, sp, dp) = if c2s { (0u8, 1u8, sport, dport) } else { (1, 0, dport, sport) };
        let ip = if i.is_multiple_of(10) {
            let addr = |side: u8| {
                let mut a = [0u8; 16];
                a[0] = 0x20;
                a[1] = 0x01;
                a[2] = 0x0d;
                a[3] = 0xb8;
                a[12..16].copy_from_slice(&i.to_be_bytes());
                a[15] ^= side;
                a[11] = side;
                a
            };
            if i.is_multiple_of(13) {
                eth(c2s).single_vlan(etherparse::VlanId::try_new(7).unwrap()).ipv6(addr(s), addr(d), 64)
            } else {
                eth(c2s).ipv6(addr(s), addr(d), 64)
            }
        } else {
            let addr = |side: u8| if side == 0 { [10, (i >> 16) as u8, (i >> 8) as u8, i as u8] } else { [10, 200, 0, (i % 4) as u8 + 1] };
            if i.is_multiple_of(13) {
                eth(c2s).single_vlan(etherparse::VlanId::try_new(7).unwrap()).ipv4(addr(s), addr(d), 64)
            } else {
                eth(c2s).ipv4(addr(s), addr(d), 64)
            }
        };
        let mut t = ip.tcp(sp, dp, seq, 64240);
        if syn {
            t = t.syn();
        }
        if fin {
            t = t.fin();
        }
        if rst {
            t = t.rst();
        }
        if let Some(a) = ack {
            t = t.ack(a);
        }
        let mut v = Vec::new();
        t.write(&mut v, payload).unwrap();
        v
    };
    let (c, s) = (1000 * i, 5000 * i + 7);
    let m1 = format!("hello {i}\n");
    let m2 = format!("second message of connection {i}\n");
    let answer = format!("ok {i}\nok again\n");
    let (c1, c2) = (c + 1 + m1.len() as u32, c + 1 + (m1.len() + m2.len()) as u32);
    let s1 = s + 1 + answer.len() as u32;
    let mut f = vec![
        seg(true, c, None, true, false, false, b""),
        seg(false, s, Some(c + 1), true, false, false, b""),
        seg(true, c + 1, Some(s + 1), false, false, false, b""),
        seg(true, c + 1, Some(s + 1), false, false, false, m1.as_bytes()),
        seg(true, c1, Some(s + 1), false, false, false, m2.as_bytes()),
        seg(false, s + 1, Some(c2), false, false, false, answer.as_bytes()),
    ];
    match fate {
        Fate::Close => {
            f.push(seg(true, c2, Some(s1), false, true, false, b""));
            f.push(seg(false, s1, Some(c2 + 1), false, true, false, b""));
            f.push(seg(true, c2 + 1, Some(s1 + 1), false, false, false, b""));
        }
        Fate::Reset => f.push(seg(false, s1, None, false, false, true, b"")),
        Fate::Open => {}
    }
    f
}

fn udp(i: u32) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([10, 9, 0, 1], [10, 9, 0, (i % 5) as u8 + 2], 64)
        .udp(5353, 6000 + (i % 3) as u16);
    let mut v = Vec::new();
    b.write(&mut v, format!("datagram {i}\n").as_bytes()).unwrap();
    v
}

fn arp(i: u32) -> Vec<u8> {
    let mut v = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 5, 0x08, 0x06];
    v.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2, 2, 0, 0, 0, 0, 5, 10, 9, 0, (i % 7) as u8, 0, 0, 0, 0, 0, 0, 10, 9, 0, 1]);
    v
}

/// `conns` connections, a new one every 3 ms, each sending a frame every 5 ms; a UDP datagram
/// every 7 ms and an ARP reply every 97 ms in between. Frames at one instant keep their order.
fn capture(conns: u32) -> Vec<u8> {
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    for i in 0..conns {
        for (j, f) in conn_frames(i).into_iter().enumerate() {
            frames.push((u64::from(i) * 3_000 + j as u64 * 5_000, f));
        }
    }
    let end = frames.iter().map(|f| f.0).max().unwrap_or(0);
    for k in 0..(end / 7_000) as u32 {
        frames.push((u64::from(k) * 7_000 + 1, udp(k)));
        if k.is_multiple_of(14) {
            frames.push((u64::from(k) * 7_000 + 2, arp(k)));
        }
    }
    frames.sort_by_key(|f| f.0);
    pcap(frames.into_iter())
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn conns(opts: &ReadOptions) -> (Vec<String>, RunSummary) {
    let mut sink = Conns::default();
    let sum = run_file(opts, &mut sink).unwrap();
    (sink.0, sum)
}

/// The parts of a run's summary that must not depend on the thread count.
fn counts(s: &RunSummary) -> String {
    format!(
        "frames {} shown {} malformed {} unsupported {:?} damage {:?} evicted {} dropped {}",
        s.frames,
        s.shown,
        s.malformed,
        s.unsupported_linktypes,
        s.damage.is_some(),
        s.evicted,
        s.cap_dropped_bytes
    )
}

/// Everything lingers to the end of input (sent in parts), or closed connections expire at
/// expiry points all along; with and without a filter that drops some of those points.
#[test]
fn sharded_conns_equal_one_thread() {
    let path = write("sharded.pcap", &capture(4_000));
    for linger_ms in [60_000, 200] {
        for filter in [None, Some("tcp or arp")] {
            let mut opts = ReadOptions::new(path.clone());
            opts.track.close_linger = linger_ms * 1_000_000;
            opts.filter = filter.map(String::from);
            let (one, sum1) = conns(&opts);
            assert!(sum1.frames > 2 * 16_384, "{} frames", sum1.frames);
            // (BPF's `tcp` does not match VLAN-tagged frames)
            let want = if filter.is_some() { 4_000 - 4_000 / 13 - 1 } else { 4_000 };
            assert_eq!(one.len(), want, "linger {linger_ms} ms, filter {filter:?}");
            for threads in [2, 3] {
                opts.threads = threads;
                let (many, sum) = conns(&opts);
                assert_eq!(counts(&sum1), counts(&sum), "linger {linger_ms} ms, filter {filter:?}, {threads} threads");
                if let Some(k) = (0..one.len()).find(|&k| one.get(k) != many.get(k)) {
                    panic!(
                        "linger {linger_ms} ms, filter {filter:?}, {threads} threads: connection {k} differs\n one: {:?}\n {threads}: {:?}",
                        one.get(k),
                        many.get(k)
                    );
                }
                assert_eq!(one.len(), many.len());
            }
        }
    }
}

/// Past `--max-conns` each thread evicts from its share of the table: which connections are
/// evicted may differ from one thread, but every segment is still counted in exactly one
/// connection and the evictions are reported.
#[test]
fn sharded_evictions_lose_no_segment() {
    let path = write("sharded-evict.pcap", &capture(1_500));
    let mut opts = ReadOptions::new(path);
    opts.track.max_conns = 40;
    for threads in [1, 2, 3] {
        opts.threads = threads;
        let mut sink = CountPackets::default();
        let sum = run_file(&opts, &mut sink).unwrap();
        assert!(sum.evicted > 100, "{threads} threads: {} evicted", sum.evicted);
        assert_eq!(sink.segments, sink.expected(), "{threads} threads");
    }
}

/// Sums the segments of every connection.
#[derive(Default)]
struct CountPackets {
    segments: u64,
}

impl CountPackets {
    /// Segments in `capture(1_500)`.
    fn expected(&self) -> u64 {
        (0..1_500).map(|i| conn_frames(i).len() as u64).sum()
    }
}

impl Sink for CountPackets {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, record: &wireseam::pipeline::ConnRecord) -> io::Result<()> {
        let c = &record.summary;
        self.segments += c.packets[0] + c.packets[1];
        Ok(())
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn wants_messages(&self) -> bool {
        false
    }
}

/// Below `--max-conns` in all, no thread evicts: threads are not held to an equal share of the
/// table (flows are placed by load, not by count), so 96 lingering connections under a cap of
/// 100 give the single run's output with 2, 3 and 4 threads.
#[test]
fn sharded_tables_fit_what_one_table_fits() {
    let path = write("sharded-fit.pcap", &capture(96));
    let mut opts = ReadOptions::new(path);
    opts.track.max_conns = 100;
    let (one, sum1) = conns(&opts);
    assert_eq!((one.len(), sum1.evicted), (96, 0));
    for threads in [2, 3, 4] {
        opts.threads = threads;
        let (many, sum) = conns(&opts);
        assert_eq!(sum.evicted, 0, "evicted with {threads} threads");
        assert_eq!(one, many, "{threads} threads");
    }
}

/// A sink that fails stops the run with its error, whatever the threads are doing: early, in
/// the middle, and among the end of input's connections (the threads must not wait for one
/// that has stopped).
#[test]
fn sharded_sink_error_stops_the_run() {
    struct FailAt(usize, usize);
    impl Sink for FailAt {
        fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
            Ok(())
        }
        fn conn(&mut self, _record: &wireseam::pipeline::ConnRecord) -> io::Result<()> {
            self.0 += 1;
            if self.0 == self.1 {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"));
            }
            Ok(())
        }
        fn wants_packets(&self) -> bool {
            false
        }
        fn wants_messages(&self) -> bool {
            false
        }
    }
    let path = write("sharded-fail.pcap", &capture(3_000));
    for (linger_ms, at) in [(200, 1), (200, 1_500), (60_000, 10), (60_000, 2_999)] {
        let mut opts = ReadOptions::new(path.clone());
        opts.track.close_linger = linger_ms * 1_000_000;
        for threads in [2, 3] {
            opts.threads = threads;
            let mut sink = FailAt(0, at);
            let r = run_file(&opts, &mut sink);
            assert!(r.is_err(), "linger {linger_ms} ms, fail at {at}, {threads} threads: no error");
            assert_eq!(sink.0, at, "nothing after the error");
        }
    }
}
