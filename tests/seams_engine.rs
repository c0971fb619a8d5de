//! The engine end to end: messages, sticky/split, frames, carried indices,
//! gaps, FIN handling, caps, HTTP pairing, UDP, recv simulation.

use std::collections::{BTreeMap, BTreeSet};
use wireseam::track::Dir::{self, C2S, S2C};
use wireseam::track::FlowId;

use proptest::prelude::*;
use wireseam::analyze::{
    render_recv, simulate_recv_sizes, Event, FramingChoice, FramingSpec, Level, Message, SeamConfig, SeamReports, Seams, SegIn, SegOut,
};

fn cfg(framing: &str) -> SeamConfig {
    SeamConfig { framing: FramingChoice::parse(framing).unwrap(), keep_timeline: true, keep_bytes: 1 << 20, ..SeamConfig::default() }
}

/// Feeds one segment (conn 0, dir 0) and returns what it reported.
fn one(s: &mut Seams, n: u64, off: usize, p: &[u8], retransmission: bool) -> SegOut {
    let mut so = SegOut::default();
    s.tcp_segment(
        &SegIn {
            n,
            ts: n as i64 * 1_000_000,
            conn: 0,
            dir: C2S,
            rseq: off as u32 + 1,
            len: p.len() as u32,
            payload: p,
            retransmission,
            wire: Default::default(),
        },
        &mut so,
    );
    so
}

/// Feeds `(n, off, payload)` segments of one direction (conn 0, dir 0).
fn feed(s: &mut Seams, segs: &[(u64, usize, &[u8])], out: &mut Vec<Message>, so_all: &mut Vec<SegOut>) {
    for &(n, off, p) in segs {
        so_all.push(one(s, n, off, p, false));
        s.drain(out);
    }
}

fn finish(s: &mut Seams, out: &mut Vec<Message>) -> SegOut {
    let mut so = SegOut::default();
    s.finish(&mut so, out);
    so
}

#[test]
fn nagle_hello_world_and_recv() {
    // "hello\n" and "world\n" written separately, sent in one segment.
    let mut s = Seams::new(cfg("lines"));
    let mut msgs = Vec::new();
    let mut sos = Vec::new();
    feed(&mut s, &[(4, 0, b"hello\nworld\n")], &mut msgs, &mut sos);
    // The segment ends exactly at the end of message 1: both are final at once.
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().all(|m| m.sticky && !m.split && m.complete && m.frames == vec![4]));
    let c = sos[0].carried[0];
    assert_eq!((c.n, c.first, c.last, c.first_part, c.continues), (4, 0, 1, 1, false));
    let tl = s.timeline(0, C2S).unwrap();
    let calls = simulate_recv_sizes(tl, &msgs, &[2, 10], None, 100);
    let bytes = s.kept_bytes(0, C2S).unwrap();
    let shown: Vec<String> = calls.iter().map(|c| render_recv(c, bytes, &msgs, 80)).collect();
    assert_eq!(shown, vec!["recv #1 (2) → \"he\" (msg 0 part)", "recv #2 (10) → \"llo\\n|world\\n\" (msg 0 end, msg 1)"]);
}

#[test]
fn split_message_parts_and_finality() {
    let mut body = vec![0u8, 0, 0x0b, 0xb8];
    body.extend(std::iter::repeat_n(b'x', 3000));
    body.extend([0, 0, 0, 1, b'y']);
    let mut s = Seams::new(cfg("len:4:be"));
    let mut msgs = Vec::new();
    let mut sos = Vec::new();
    feed(&mut s, &[(1, 0, &body[..1448]), (2, 1448, &body[1448..2896])], &mut msgs, &mut sos);
    assert!(msgs.is_empty());
    assert_eq!(sos[1].carried[0].first_part, 2);
    assert!(sos[1].carried[0].continues);
    feed(&mut s, &[(3, 2896, &body[2896..])], &mut msgs, &mut sos);
    // Frame 3 ends message 0 and carries message 1: both final, both sticky.
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].frames, vec![1, 2, 3]);
    assert!(msgs[0].split && msgs[0].sticky && msgs[0].complete);
    assert_eq!((msgs[1].offset, msgs[1].len, msgs[1].sticky), (3004, 5, true));
    let c = sos[2].carried[0];
    assert_eq!((c.first, c.last, c.first_part, c.continues), (0, 1, 3, false));
    let sum = s.summary(0, C2S).unwrap();
    assert_eq!((sum.messages, sum.sticky, sum.split, sum.largest, sum.max_segments_per_message), (2, 2, 1, 3004, 3));
}

#[test]
fn auto_detection_holds_then_reports_late() {
    let mut stream = Vec::new();
    for i in 0..20u32 {
        let b = vec![b'a' + (i % 26) as u8; 100 + i as usize * 37];
        stream.extend((b.len() as u32).to_be_bytes());
        stream.extend(b);
    }
    let mut s = Seams::new(cfg("auto"));
    let mut msgs = Vec::new();
    let mut sos = Vec::new();
    let segs: Vec<(u64, usize, &[u8])> = stream.chunks(500).enumerate().map(|(i, c)| (i as u64 + 1, i * 500, c)).collect();
    feed(&mut s, &segs, &mut msgs, &mut sos);
    // The first segments were held for detection, then reported together.
    assert!(sos[0].carried.is_empty());
    let decided = sos.iter().position(|so| !so.carried.is_empty()).unwrap();
    assert!(sos[decided].carried.len() > 1, "held frames reported when framed");
    let det = sos[decided]
        .events
        .iter()
        .find_map(|e| match e {
            Event::Detected { detection, .. } => Some(detection.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(det.spec.to_string(), "len:4:be");
    assert_eq!(det.level, Level::High);
    finish(&mut s, &mut msgs);
    assert_eq!(msgs.len(), 20);
    assert!(msgs.iter().all(|m| m.complete && m.framing.to_string() == "len:4:be"));
}

#[test]
fn fin_waits_for_the_retransmission() {
    let mut s = Seams::new(cfg("lines"));
    let mut msgs = Vec::new();
    let mut sos = Vec::new();
    feed(&mut s, &[(1, 0, b"ab\ncd"), (3, 8, b"gh\n")], &mut msgs, &mut sos);
    let mut so = SegOut::default();
    s.close_dir(0, C2S, Some(12), &mut so); // FIN after byte 11 (rseq 12)
    assert!(!s.summary(0, C2S).unwrap().finished);
    feed(&mut s, &[(5, 5, b"ef\n")], &mut msgs, &mut sos);
    let sum = s.summary(0, C2S).unwrap();
    assert!(sum.finished);
    assert_eq!((sum.gaps, sum.messages, sum.incomplete), (0, 3, 0));
    assert_eq!(msgs.iter().map(|m| m.len).collect::<Vec<_>>(), vec![3, 5, 3]);
    assert_eq!(msgs[1].frames, vec![1, 5]);
}

#[test]
fn lost_segment_makes_incomplete_messages() {
    let mut s = Seams::new(cfg("lines"));
    let mut msgs = Vec::new();
    let mut sos = Vec::new();
    feed(&mut s, &[(1, 0, b"one\ntw"), (3, 10, b"ee\nfour\n")], &mut msgs, &mut sos);
    let so = finish(&mut s, &mut msgs);
    assert!(so.events.iter().any(|e| matches!(e, Event::Gap { offset: 6, len: 4, .. })));
    let v: Vec<(u64, u64, bool)> = msgs.iter().map(|m| (m.offset, m.len, m.complete)).collect();
    // "tw" + 4 unknown bytes + "ee\n": one incomplete message.
    assert_eq!(v, vec![(0, 4, true), (4, 9, false), (13, 5, true)]);
}

#[test]
fn truncated_payload_segment_framing() {
    let mut s = Seams::new(cfg("segment"));
    let mut msgs = Vec::new();
    let mut so = SegOut::default();
    for (n, off, len) in [(1u64, 0u32, 100u32), (2, 100, 50)] {
        s.tcp_segment(
            &SegIn { n, ts: 0, conn: 0, dir: C2S, rseq: off + 1, len, payload: b"abcd", retransmission: false, wire: Default::default() },
            &mut so,
        );
    }
    finish(&mut s, &mut msgs);
    let v: Vec<(u64, u64, bool, Vec<u64>)> = msgs.iter().map(|m| (m.offset, m.len, m.complete, m.frames.clone())).collect();
    assert_eq!(v, vec![(0, 100, false, vec![1]), (100, 50, false, vec![2])]);
}

#[test]
fn http_head_pairing_across_directions() {
    let mut s = Seams::new(cfg("auto"));
    let mut so = SegOut::default();
    let req = b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    s.tcp_segment(
        &SegIn {
            n: 1,
            ts: 0,
            conn: 7,
            dir: C2S,
            rseq: 1,
            len: req.len() as u32,
            payload: req,
            retransmission: false,
            wire: Default::default(),
        },
        &mut so,
    );
    s.tcp_segment(
        &SegIn {
            n: 2,
            ts: 1,
            conn: 7,
            dir: S2C,
            rseq: 1,
            len: resp.len() as u32,
            payload: resp,
            retransmission: false,
            wire: Default::default(),
        },
        &mut so,
    );
    let mut msgs = Vec::new();
    finish(&mut s, &mut msgs);
    let resp_lens: Vec<u64> = msgs.iter().filter(|m| m.dir == S2C).map(|m| m.len).collect();
    assert_eq!(resp_lens, vec![41, 40]);
    assert!(msgs.iter().all(|m| m.complete && m.framing == FramingSpec::Http));
}

#[test]
fn udp_datagrams_are_messages() {
    let mut s = Seams::new(SeamConfig::default());
    let mut so = SegOut::default();
    s.udp_datagram(&wireseam::analyze::Datagram { flow: 3, dir: C2S, n: 10, ts: 0, payload: b"ping", fragments: &[] }, &mut so);
    s.udp_datagram(&wireseam::analyze::Datagram { flow: 3, dir: S2C, n: 11, ts: 0, payload: b"pong!", fragments: &[] }, &mut so);
    s.udp_datagram(&wireseam::analyze::Datagram { flow: 3, dir: C2S, n: 12, ts: 0, payload: b"again", fragments: &[] }, &mut so);
    let mut msgs = Vec::new();
    s.drain(&mut msgs);
    let v: Vec<(Dir, u64, u64, FlowId)> = msgs.iter().map(|m| (m.dir, m.index, m.len, m.flow)).collect();
    let udp = FlowId::Udp(3);
    assert_eq!(v, vec![(C2S, 0, 4, udp), (S2C, 0, 5, udp), (C2S, 1, 5, udp)]);
    assert!(msgs.iter().all(|m| m.framing == FramingSpec::Datagram));
}

#[test]
fn global_cap_holds_across_connections() {
    let cap = 20_000;
    let mut s = Seams::new(SeamConfig { framing: FramingChoice::parse("lines").unwrap(), global_cap: cap, ..SeamConfig::default() });
    let mut so = SegOut::default();
    let data = vec![b'x'; 1000];
    let mut n = 0;
    let mut drops = 0;
    // 30 connections, each missing its first segment: everything else waits.
    for round in 1..10u32 {
        for conn in 0..30u32 {
            n += 1;
            s.tcp_segment(
                &SegIn {
                    n,
                    ts: 0,
                    conn,
                    dir: C2S,
                    rseq: 1 + round * 1000,
                    len: 1000,
                    payload: &data,
                    retransmission: false,
                    wire: Default::default(),
                },
                &mut so,
            );
            drops += so.events.iter().filter(|e| matches!(e, Event::CapDrop { global: true, .. })).count();
            assert!(s.memory().0 <= cap);
        }
    }
    assert!(drops > 0);
    let mut msgs = Vec::new();
    finish(&mut s, &mut msgs);
    assert_eq!(s.memory().0, 0);
    assert!(s.memory().1 <= cap);
    assert!(msgs.iter().any(|m| !m.complete));
}

/// The expected messages: byte ownership by first arrival (the first copy wins).
fn model(stream: &[u8], ends: &[u64], sched: &[(u64, usize, usize)]) -> Vec<(u64, u64, Vec<u64>, bool, bool)> {
    let mut owner = vec![0u64; stream.len()];
    for &(n, o, l) in sched {
        for x in &mut owner[o..o + l] {
            if *x == 0 {
                *x = n;
            }
        }
    }
    let mut msgs = Vec::new();
    let mut start = 0u64;
    let mut frame_msgs: BTreeMap<u64, BTreeSet<usize>> = BTreeMap::new();
    for (i, &e) in ends.iter().enumerate() {
        let mut frames: Vec<u64> = Vec::new();
        for &f in &owner[start as usize..e as usize] {
            if !frames.contains(&f) {
                frames.push(f);
            }
            frame_msgs.entry(f).or_default().insert(i);
        }
        msgs.push((start, e - start, frames, false, false));
        start = e;
    }
    for m in &mut msgs {
        m.3 = m.2.iter().any(|f| frame_msgs[f].len() > 1);
        m.4 = m.2.len() > 1;
    }
    msgs
}

fn len_messages() -> impl Strategy<Value = (Vec<u8>, Vec<u64>)> {
    prop::collection::vec(0usize..3000, 1..25).prop_map(|sizes| {
        let mut b = Vec::new();
        let mut ends = Vec::new();
        for (i, s) in sizes.into_iter().enumerate() {
            b.extend((s as u32).to_be_bytes());
            b.extend((0..s).map(|k| (i * 7 + k) as u8));
            ends.push(b.len() as u64);
        }
        (b, ends)
    })
}

fn segmentation(total: usize) -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec(1usize..1460, total / 200 + 1).prop_map(move |sizes| {
        let mut v = Vec::new();
        let mut o = 0;
        let mut i = 0;
        while o < total {
            let l = sizes[i % sizes.len()].min(total - o);
            v.push((o, l));
            o += l;
            i += 1;
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random messages, random segmentation, local reordering, duplicates and
    /// overlapping retransmissions: the engine's message records match the
    /// ownership model (offset, len, frames, sticky, split), all complete, and
    /// the carried indices of each frame are exactly the messages it owns bytes of.
    #[test]
    fn engine_matches_model(((stream, ends), segs, swaps, retrans) in len_messages()
        .prop_flat_map(|(s, e)| { let t = s.len(); ((Just(s), Just(e)), segmentation(t),
            prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            prop::collection::vec((any::<prop::sample::Index>(), 1usize..3000), 0..5)) }),
        auto in any::<bool>())
    {
        let total = stream.len();
        let mut order: Vec<(usize, usize)> = segs.clone();
        for ix in &swaps {
            let i = ix.index(order.len());
            if i + 1 < order.len() { order.swap(i, i + 1); }
        }
        for (ix, l) in &retrans {
            let a = ix.index(total);
            let at = ix.index(order.len() + 1);
            order.insert(at, (a, (*l).min(total - a)));
        }
        let sched: Vec<(u64, usize, usize)> = order.iter().enumerate().map(|(i, &(o, l))| (i as u64 + 1, o, l)).collect();
        let mut s = Seams::new(cfg(if auto { "auto" } else { "len:4:be" }));
        let mut msgs = Vec::new();
        let mut sos = Vec::new();
        let input: Vec<(u64, usize, &[u8])> = sched.iter().map(|&(n, o, l)| (n, o, &stream[o..o + l])).collect();
        feed(&mut s, &input, &mut msgs, &mut sos);
        sos.push(finish(&mut s, &mut msgs));
        // Without frame lists (as `conns` runs) every count is the same.
        let mut s0 = Seams::new(SeamConfig { max_frames: 0, ..cfg(if auto { "auto" } else { "len:4:be" }) });
        let (mut msgs0, mut sos0) = (Vec::new(), Vec::new());
        feed(&mut s0, &input, &mut msgs0, &mut sos0);
        finish(&mut s0, &mut msgs0);
        let counts = |ms: &[Message]| ms.iter().map(|m| (m.offset, m.len, m.nframes, m.sticky, m.split, m.complete)).collect::<Vec<_>>();
        prop_assert_eq!(counts(&msgs0), counts(&msgs));
        prop_assert!(msgs0.iter().all(|m| m.frames.is_empty()));
        prop_assert_eq!(format!("{:?}", s0.summary(0, C2S)), format!("{:?}", s.summary(0, C2S)));
        // With only the counters reported (as `conns` runs): the same summary, and no message
        // record or frame note made.
        let mut sc = Seams::new(SeamConfig { max_frames: 0, reports: SeamReports::Counts, ..cfg(if auto { "auto" } else { "len:4:be" }) });
        let (mut msgsc, mut sosc) = (Vec::new(), Vec::new());
        feed(&mut sc, &input, &mut msgsc, &mut sosc);
        sosc.push(finish(&mut sc, &mut msgsc));
        prop_assert!(msgsc.is_empty());
        prop_assert!(sosc.iter().all(|so| so.carried.is_empty()));
        prop_assert_eq!(format!("{:?}", sc.summary(0, C2S)), format!("{:?}", s.summary(0, C2S)));
        let det = s.summary(0, C2S).unwrap().framing.unwrap();
        if det.spec.to_string() != "len:4:be" {
            // auto may choose otherwise on a tiny stream; nothing more to check then.
            prop_assert!(auto && (ends.len() < 3 || det.level < Level::High), "{:?}", det);
            return Ok(());
        }
        let exp = model(&stream, &ends, &sched);
        let got: Vec<(u64, u64, Vec<u64>, bool, bool)> = msgs.iter().map(|m| (m.offset, m.len, m.frames.clone(), m.sticky, m.split)).collect();
        prop_assert_eq!(&got, &exp);
        prop_assert!(msgs.iter().enumerate().all(|(i, m)| m.index == i as u64 && m.complete));
        let sum = s.summary(0, C2S).unwrap();
        prop_assert_eq!(sum.gaps, 0);
        prop_assert_eq!(sum.conflicts, 0);
        prop_assert_eq!(s.memory().0, 0);
        // Carried: per frame, the union of reported indices = the messages it owns bytes of.
        let mut carried: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for so in &sos {
            for c in so.carried.iter().filter(|c| !c.dup) {
                carried.entry(c.n).or_default().extend(c.indices());
            }
        }
        let mut owned: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for (i, m) in exp.iter().enumerate() {
            for f in &m.2 {
                owned.entry(*f).or_default().insert(i as u64);
            }
        }
        prop_assert_eq!(carried, owned);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any framing over arbitrary bytes, cut payloads, reordering and an early
    /// FIN: no panic; messages are numbered 0.., tile the stream without holes or
    /// overlaps; nothing stays accounted after the end.
    #[test]
    fn any_framing_any_bytes_tiles_the_stream(
        framing in prop::sample::select(vec!["auto", "lines", "crlf", "len:2:le", "len:4:be+2", "jsonhdr", "http", "tls", "fixed:7", "segment", "c2s=http,s2c=len:1:be"]),
        structured in any::<bool>(),
        (stream, ends) in len_messages(),
        noise in prop::collection::vec(any::<u8>(), 1..6000),
        sizes in prop::collection::vec(1usize..1500, 1..50),
        caps in prop::collection::vec(0usize..1600, 1..8),
        swaps in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        fin in any::<bool>(),
    ) {
        let _ = ends;
        let bytes = if structured { stream } else { noise };
        let mut segs = Vec::new();
        let mut o = 0;
        let mut i = 0;
        while o < bytes.len() {
            let l = sizes[i % sizes.len()].min(bytes.len() - o);
            segs.push((o, l));
            o += l;
            i += 1;
        }
        for ix in &swaps {
            let i = ix.index(segs.len());
            if i + 1 < segs.len() { segs.swap(i, i + 1); }
        }
        let mut s = Seams::new(SeamConfig { framing: FramingChoice::parse(framing).unwrap(), keep_timeline: true, ..SeamConfig::default() });
        let mut so = SegOut::default();
        let mut msgs = Vec::new();
        let half = segs.len() / 2;
        for (k, &(o, l)) in segs.iter().enumerate() {
            let cap = caps[k % caps.len()].min(l);
            for dir in [C2S, S2C] {
                s.tcp_segment(&SegIn { n: k as u64 * 2 + dir.idx() as u64 + 1, ts: k as i64, conn: 1, dir, rseq: o as u32 + 1, len: l as u32, payload: &bytes[o..o + cap], retransmission: false, wire: Default::default() }, &mut so);
            }
            if fin && k == half {
                s.close_dir(1, C2S, Some(bytes.len() as u32 + 1), &mut so);
            }
            s.drain(&mut msgs);
        }
        let mut rest = Vec::new();
        s.finish(&mut so, &mut rest);
        msgs.extend(rest);
        prop_assert_eq!(s.memory().0, 0);
        for dir in [C2S, S2C] {
            let v: Vec<&Message> = msgs.iter().filter(|m| m.dir == dir).collect();
            let sum = s.summary(1, dir).unwrap();
            let mut at = sum.framing.as_ref().map(|_| v.first().map_or(0, |m| m.offset)).unwrap_or(0);
            for (i, m) in v.iter().enumerate() {
                prop_assert_eq!(m.index, i as u64);
                prop_assert_eq!(m.offset, at);
                prop_assert!(m.len > 0);
                prop_assert_eq!(m.split, m.nframes > 1);
                at += m.len;
            }
            prop_assert_eq!(at, bytes.len() as u64);
            prop_assert_eq!(sum.messages, v.len() as u64);
            let tl = s.timeline(1, dir).unwrap();
            prop_assert_eq!(tl.last().map_or(0, |a| a.end), bytes.len() as u64);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A finished direction is reduced to a small record while its connection lingers (not when
    /// timelines are kept). Segments that come after the FIN — retransmissions of old bytes, bytes
    /// beyond the end, both — must be reported and counted exactly as by the full stream state.
    #[test]
    fn finished_direction_reports_late_segments_like_a_live_one(
        (stream, _ends) in len_messages(),
        cut in any::<prop::sample::Index>(),
        hole in any::<bool>(),
        late in prop::collection::vec((any::<prop::sample::Index>(), 1usize..3000, any::<bool>()), 1..6),
        framing in prop::sample::select(vec!["auto", "len:4:be", "lines", "segment"]),
    ) {
        let total = stream.len();
        let at = cut.index(total);
        let mut results = Vec::new();
        for keep in [false, true] {
            let c = SeamConfig { framing: FramingChoice::parse(framing).unwrap(), keep_timeline: keep, keep_bytes: 0, ..SeamConfig::default() };
            let mut s = Seams::new(c);
            let mut log: Vec<String> = Vec::new();
            let mut msgs = Vec::new();
            // The stream in two segments (the first maybe missing: a hole the FIN gives up on at finish).
            if !hole && at > 0 {
                log.push(format!("{:?}", one(&mut s, 1, 0, &stream[..at], false)));
            }
            log.push(format!("{:?}", one(&mut s, 2, at, &stream[at..], false)));
            let mut so = SegOut::default();
            s.close_dir(0, C2S, Some(total as u32 + 1), &mut so);
            log.push(format!("{so:?}"));
            if hole {
                // Nothing finishes while the hole is open; a reset gives up on it.
                s.close_dir(0, C2S, None, &mut so);
                log.push(format!("{so:?}"));
            }
            s.drain(&mut msgs);
            for (i, (ix, len, retr)) in late.iter().enumerate() {
                let off = ix.index(total + 100);
                let bytes = vec![b'z'; *len];
                log.push(format!("{:?}", one(&mut s, 10 + i as u64, off, &bytes, *retr)));
                log.push(format!("{:?}", s.summary(0, C2S)));
            }
            s.drain(&mut msgs);
            log.push(format!("{:?}", finish(&mut s, &mut msgs)));
            log.push(format!("{:?} {:?}", s.summary(0, C2S), msgs));
            results.push(log);
        }
        prop_assert_eq!(&results[0], &results[1]);
    }
}

/// With the global reassembly cap full (here: 0 bytes), nothing can be held for framing
/// detection; a new direction is still detected on the bytes of the segment in hand instead of
/// falling back to `segment` (seen at 1M open connections in the scale benchmark).
#[test]
fn detection_with_the_global_cap_full_uses_the_segment_in_hand() {
    let mut stream = Vec::new();
    for i in 0..6u8 {
        let body = vec![b'a' + i; 20 + usize::from(i) * 3];
        stream.extend((body.len() as u32).to_be_bytes());
        stream.extend(body);
    }
    let c = SeamConfig { global_cap: 0, keep_timeline: false, ..SeamConfig::default() };
    let mut s = Seams::new(c);
    let mut msgs = Vec::new();
    let mut sos = Vec::new();
    feed(&mut s, &[(1, 0, &stream[..]), (2, stream.len(), &stream[..])], &mut msgs, &mut sos);
    let det = s.summary(0, C2S).unwrap().framing.unwrap();
    assert_eq!(det.spec.to_string(), "len:4:be", "{det:?}");
    finish(&mut s, &mut msgs);
    assert_eq!(msgs.len(), 12);
    assert!(msgs.iter().all(|m| m.complete));
}
