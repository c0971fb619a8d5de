//! The connection tracker fed arbitrary sequences of segments: random flags, seq/ack, windows,
//! options, lengths and directions on a handful of 4-tuples.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use wireseam::track::tcp::{Segment, TcpFlags, TrackConfig, Tracker};

fuzz_target!(|data: &[u8]| {
    let mut t = Tracker::new(TrackConfig { max_conns: 8, close_linger: 1_000_000_000 });
    let mut out = Vec::new();
    let payload = [0u8; 64];
    for (i, c) in data.chunks_exact(20).enumerate() {
        let u32at = |o: usize| u32::from_be_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + (c[0] & 1)));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 - (c[0] & 1)));
        let (src, dst) = if c[0] & 2 == 0 { (a, b) } else { (b, a) };
        let ports = (1000 + (c[0] >> 4) as u16, 80);
        let (sport, dport) = if c[0] & 2 == 0 { ports } else { (ports.1, ports.0) };
        let sack = [(u32at(4), u32at(8))];
        let len = (c[17] as u32) << (c[18] & 7);
        let seg = Segment {
            n: i as u64 + 1,
            encaps: None,
            ts: i as i64 * (1 + c[19] as i64) * 1_000_000,
            src,
            dst,
            sport,
            dport,
            flags: TcpFlags(c[1]),
            seq: u32at(4),
            ack: u32at(8),
            win: u16::from_be_bytes([c[12], c[13]]),
            mss: (c[14] & 1 == 1).then_some(u16::from_be_bytes([c[15], c[16]])),
            ws: (c[14] & 2 == 2).then_some(c[15]),
            sack_perm: c[14] & 4 == 4,
            sack: if c[14] & 8 == 8 { &sack } else { &[] },
            tsopt: (c[14] & 16 == 16).then_some((u32at(4), u32at(8))),
            len,
            payload: &payload[..(len as usize).min(64)],
            len_from_frame: false,
        };
        let info = t.segment(&seg);
        let _ = info.phase.to_string();
        if i % 16 == 0 {
            t.expire(seg.ts, &mut out);
        }
    }
    out.extend(t.finish());
});
