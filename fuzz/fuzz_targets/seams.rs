//! The reassembly and framing engine fed arbitrary segment sequences: random offsets (reorder,
//! overlap, retransmission, holes, wrap), lengths longer than the captured bytes, FIN/RST closes,
//! a framing chosen by the input, and random payload bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wireseam::track::Dir;
use wireseam::analyze::{FramingChoice, Message, SeamConfig, Seams, SegIn, SegOut};

const SPECS: [&str; 10] = ["auto", "lines", "crlf", "len:1:be", "len:2:le", "len:4:be+2", "jsonhdr", "http", "tls", "fixed:7"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let spec = SPECS[data[0] as usize % SPECS.len()];
    let cfg = SeamConfig {
        framing: FramingChoice::parse(spec).expect("valid spec"),
        per_dir_cap: 64 << 10,
        global_cap: 256 << 10,
        gap_threshold: 48 << 10,
        keep_timeline: data[1] & 1 == 1,
        keep_bytes: if data[1] & 2 == 2 { 4096 } else { 0 },
        ..SeamConfig::default()
    };
    let mut s = Seams::new(cfg);
    let mut out = SegOut::default();
    let mut msgs: Vec<Message> = Vec::new();
    let mut rest = &data[2..];
    let mut n = 0u64;
    let mut next = [1u32; 2];
    while rest.len() >= 6 {
        let (h, tail) = rest.split_at(6);
        n += 1;
        let slot = (h[0] & 1) as usize;
        let dir = if slot == 0 { Dir::C2S } else { Dir::S2C };
        let conn = ((h[0] >> 1) & 3) as u32;
        let take = (h[1] as usize).min(tail.len());
        let (payload, tail2) = tail.split_at(take);
        rest = tail2;
        // mostly in order, sometimes back (retransmission/overlap) or ahead (hole), sometimes wild
        let delta = i16::from_be_bytes([h[2], h[3]]) as i32;
        let rseq = match h[4] & 3 {
            0 | 1 => next[slot],
            2 => next[slot].wrapping_add(delta as u32),
            _ => u32::from_be_bytes([h[2], h[3], h[4], h[5]]),
        };
        let len = payload.len() as u32 + if h[5] & 0x80 != 0 { (h[5] & 0x3f) as u32 } else { 0 };
        let seg = SegIn { n, ts: n as i64 * 1000, conn, dir, rseq, len, payload, retransmission: h[5] & 0x40 != 0, wire: Default::default() };
        s.tcp_segment(&seg, &mut out);
        next[slot] = rseq.wrapping_add(len);
        match h[0] >> 5 {
            1 => s.close_dir(conn, dir, Some(next[slot]), &mut out),
            2 => s.close_dir(conn, dir, None, &mut out),
            3 => s.udp_datagram(&wireseam::analyze::Datagram { flow: conn, dir: dir, n: n, ts: 0, payload: payload, fragments: &[] }, &mut out),
            4 => {
                let _ = s.summary(conn, dir);
                s.release(conn, &mut out);
            }
            _ => {}
        }
        s.drain(&mut msgs);
        msgs.clear();
    }
    s.finish(&mut out, &mut msgs);
});
