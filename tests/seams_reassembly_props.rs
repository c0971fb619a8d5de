//! Property tests of the reassembler alone: reordering, duplicates and
//! overlapping retransmissions give back the original bytes; a dropped segment
//! gives exactly one gap; a differing copy is reported and the first one kept;
//! the memory caps hold at every step; sequence numbers wrap.

use proptest::prelude::*;
use wireseam::analyze::reassembly::{GapReason, Mem, ReasmCfg, ReasmEvent, ReasmSeg, ReasmSink, ReasmStats, Reassembler};
use wireseam::capture::Backing;

#[derive(Default)]
struct Collect {
    bytes: Vec<u8>,
    gaps: Vec<(u64, u64)>,
    events: Vec<ReasmEvent>,
    /// (offset, len) of every gap byte range, without materialising them.
    end: u64,
    store: bool,
}

impl ReasmSink for Collect {
    fn data(&mut self, _m: &mut Mem, off: u64, b: &[u8], from: wireseam::analyze::reassembly::FrameSpan, _ts: i64) {
        let frame_end = from.end;
        assert_eq!(off, self.end, "bytes handed on in order");
        assert!(frame_end >= off + b.len() as u64);
        if self.store {
            self.bytes.extend_from_slice(b);
        }
        self.end += b.len() as u64;
    }
    fn gap(&mut self, _m: &mut Mem, off: u64, len: u64, _w: GapReason, _n: Option<u64>, _ts: i64) {
        assert_eq!(off, self.end, "gaps handed on in order");
        self.gaps.push((off, len));
        if self.store {
            self.bytes.resize(self.bytes.len() + len as usize, 0);
        }
        self.end += len;
    }
    fn old(&mut self, _o: u64, _l: u64, _n: u64) {}
    fn event(&mut self, ev: ReasmEvent) {
        self.events.push(ev);
    }
}

const BIG: ReasmCfg = ReasmCfg { per_dir_cap: 1 << 20, gap_threshold: 768 << 10, conflict_window: 256 << 10, backing: None };

/// A stream and its cut into segments (offset, len).
fn stream_and_segments() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, usize)>)> {
    prop::collection::vec(1usize..1500, 1..40).prop_flat_map(|sizes| {
        let total: usize = sizes.iter().sum();
        let mut segs = Vec::new();
        let mut o = 0;
        for s in sizes {
            segs.push((o, s));
            o += s;
        }
        (prop::collection::vec(any::<u8>(), total), Just(segs))
    })
}

/// A schedule: the segments shuffled, plus duplicates and overlapping
/// retransmissions (ranges of the same bytes).
fn schedule() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, usize)>)> {
    stream_and_segments().prop_flat_map(|(bytes, segs)| {
        let total = bytes.len();
        let extra = prop::collection::vec((0..total, 1usize..2000), 0..10);
        let dups = prop::collection::vec(0..segs.len(), 0..6);
        (Just(bytes), Just(segs), extra, dups).prop_flat_map(move |(bytes, segs, extra, dups)| {
            let mut all = segs.clone();
            for (a, l) in extra {
                all.push((a, l.min(total - a)));
            }
            for d in dups {
                all.push(segs[d]);
            }
            (Just(bytes), Just(all).prop_shuffle())
        })
    })
}

#[allow(clippy::too_many_arguments)]
fn feed(r: &mut Reassembler, cfg: &ReasmCfg, m: &mut Mem, c: &mut Collect, bytes: &[u8], o: usize, l: usize, n: u64) {
    r.segment(
        cfg,
        m,
        c,
        ReasmSeg { rseq: (o as u32).wrapping_add(1), len: l as u32, payload: &bytes[o..o + l], n, ts: n as i64, wire: Default::default() },
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn reorder_dups_overlaps_give_the_original((bytes, sched) in schedule()) {
        let mut r = Reassembler::new(&BIG);
        let mut m = Mem::new(64 << 20);
        let mut c = Collect { store: true, ..Default::default() };
        for (i, &(o, l)) in sched.iter().enumerate() {
            feed(&mut r, &BIG, &mut m, &mut c, &bytes, o, l, i as u64 + 1);
        }
        r.flush(None, &mut m, &mut c, 0);
        prop_assert_eq!(&c.bytes, &bytes);
        prop_assert!(c.gaps.is_empty());
        prop_assert!(c.events.is_empty(), "{:?}", c.events);
        prop_assert_eq!(m.used, 0);
        prop_assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn dropped_segment_is_one_gap(((bytes, segs), drop, order) in stream_and_segments()
        .prop_flat_map(|(b, s)| { let n = s.len(); ((Just(b), Just(s)), 0..n, Just((0..n).collect::<Vec<_>>()).prop_shuffle()) }),
        dup in any::<bool>())
    {
        let mut r = Reassembler::new(&BIG);
        let mut m = Mem::new(64 << 20);
        let mut c = Collect { store: true, ..Default::default() };
        let mut k = 0;
        for &i in &order {
            if i == drop { continue; }
            k += 1;
            feed(&mut r, &BIG, &mut m, &mut c, &bytes, segs[i].0, segs[i].1, k);
            if dup {
                k += 1;
                feed(&mut r, &BIG, &mut m, &mut c, &bytes, segs[i].0, segs[i].1, k);
            }
        }
        r.flush(None, &mut m, &mut c, 0);
        let (o, l) = segs[drop];
        if drop + 1 == segs.len() {
            // A lost tail is not known without the FIN.
            prop_assert!(c.gaps.is_empty());
            prop_assert_eq!(&c.bytes[..], &bytes[..o]);
        } else {
            prop_assert_eq!(&c.gaps, &vec![(o as u64, l as u64)]);
            prop_assert_eq!(&c.bytes[..o], &bytes[..o]);
            prop_assert_eq!(&c.bytes[o + l..], &bytes[o + l..]);
        }
        prop_assert!(c.events.is_empty());
        prop_assert_eq!(m.used, 0);
    }

    #[test]
    fn differing_copy_is_reported_first_kept((bytes, segs) in stream_and_segments().prop_filter("2+ segments", |(_, s)| s.len() >= 2),
                                              pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(),
                                              buffered in any::<bool>()) {
        let j = 1 + pick.index(segs.len() - 1);
        let (o, l) = segs[j];
        let mut bad = bytes[o..o + l].to_vec();
        let k = at.index(l);
        bad[k] ^= 0x5a;
        let mut r = Reassembler::new(&BIG);
        let mut m = Mem::new(64 << 20);
        let mut c = Collect { store: true, ..Default::default() };
        let mut n = 0;
        let first = if buffered { 1 } else { 0 };
        if !buffered {
            n += 1;
            feed(&mut r, &BIG, &mut m, &mut c, &bytes, segs[0].0, segs[0].1, n);
        }
        let mut orig_frame = 0;
        for (i, &(so, sl)) in segs.iter().enumerate().skip(1) {
            n += 1;
            feed(&mut r, &BIG, &mut m, &mut c, &bytes, so, sl, n);
            if i == j {
                orig_frame = n;
                n += 1;
                r.segment(&BIG, &mut m, &mut c, ReasmSeg { rseq: o as u32 + 1, len: l as u32, payload: &bad, n, ts: 0, wire: Default::default() });
            }
        }
        if buffered {
            n += 1;
            feed(&mut r, &BIG, &mut m, &mut c, &bytes, segs[0].0, segs[0].1, n);
        }
        let _ = first;
        r.flush(None, &mut m, &mut c, 0);
        prop_assert_eq!(&c.bytes, &bytes);
        // Buffered (out of order): always caught. Already handed on: caught when
        // the changed byte lies in a 64-byte block the copy covers entirely.
        let block = (o + k) / 64 * 64;
        let whole_block = block >= o && block + 64 <= o + l;
        if buffered || whole_block {
            prop_assert_eq!(c.events.len(), 1, "{:?}", c.events);
            match c.events[0] {
                ReasmEvent::Conflict { offset, first, frame, .. } => {
                    prop_assert_eq!(first, orig_frame);
                    prop_assert_eq!(frame, orig_frame + 1);
                    if buffered { prop_assert_eq!(offset, (o + k) as u64); } else { prop_assert_eq!(offset, block as u64); }
                }
                _ => prop_assert!(false, "not a conflict"),
            }
        } else {
            prop_assert!(c.events.len() <= 1);
        }
    }

    #[test]
    fn caps_hold((bytes, sched) in schedule(), per_dir in 1000usize..6000, global in 500usize..8000) {
        let cfg = ReasmCfg { per_dir_cap: per_dir, gap_threshold: per_dir * 3 / 4, conflict_window: 4096, backing: None };
        let mut r = Reassembler::new(&cfg);
        let mut m = Mem::new(global);
        let mut c = Collect { store: false, ..Default::default() };
        for (i, &(o, l)) in sched.iter().enumerate() {
            feed(&mut r, &cfg, &mut m, &mut c, &bytes, o, l, i as u64 + 1);
            prop_assert!(m.used <= global, "global {} > {}", m.used, global);
            prop_assert!(r.buffered() <= per_dir, "per dir {} > {}", r.buffered(), per_dir);
            prop_assert!(m.peak <= global);
        }
        r.flush(None, &mut m, &mut c, 0);
        prop_assert_eq!(m.used, 0);
        let gap_bytes: u64 = c.gaps.iter().map(|g| g.1).sum();
        prop_assert!(c.end <= bytes.len() as u64);
        // Everything handed on is either bytes or a gap, in order.
        prop_assert!(gap_bytes <= c.end);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Payloads cut by the snap length: every byte is handed on once, in order;
    /// a byte is known exactly when its first copy captured it.
    #[test]
    fn snaplen_cut_payloads((bytes, sched) in schedule(), caps in prop::collection::vec(0usize..1600, 64)) {
        let mut r = Reassembler::new(&BIG);
        let mut m = Mem::new(64 << 20);
        let mut c = Collect { store: true, ..Default::default() };
        let mut known = vec![None::<bool>; bytes.len()];
        for (i, &(o, l)) in sched.iter().enumerate() {
            let cap = caps[i % caps.len()].min(l);
            for (k, x) in known[o..o + l].iter_mut().enumerate() {
                x.get_or_insert(k < cap);
            }
            r.segment(&BIG, &mut m, &mut c, ReasmSeg { rseq: o as u32 + 1, len: l as u32, payload: &bytes[o..o + cap], n: i as u64 + 1, ts: 0, wire: Default::default() });
        }
        r.flush(None, &mut m, &mut c, 0);
        prop_assert_eq!(c.bytes.len(), bytes.len());
        let mut unknown = vec![false; bytes.len()];
        for &(o, l) in &c.gaps {
            for u in &mut unknown[o as usize..(o + l) as usize] { *u = true; }
        }
        for i in 0..bytes.len() {
            prop_assert_eq!(unknown[i], known[i] == Some(false), "byte {}", i);
            if !unknown[i] { prop_assert_eq!(c.bytes[i], bytes[i]); }
        }
        prop_assert_eq!(m.used, 0);
    }
}

#[test]
fn sequence_wraps_past_2_pow_32() {
    // Jump ahead 1e9 bytes at a time (gaps are counted, not stored): the 5th
    // segment's rseq wraps, and must land at offset 5e9.
    let cfg = ReasmCfg { per_dir_cap: 1 << 20, gap_threshold: 0, conflict_window: 4096, backing: None };
    let mut r = Reassembler::new(&cfg);
    let mut m = Mem::new(1 << 20);
    let mut c = Collect::default();
    let step: u64 = 1_000_000_000;
    for k in 0..=6u64 {
        let off = k * step;
        let rseq = (off + 1) as u32; // wraps modulo 2^32
        r.segment(&cfg, &mut m, &mut c, ReasmSeg { rseq, len: 100, payload: &[k as u8; 100], n: k + 1, ts: 0, wire: Default::default() });
        assert_eq!(r.next(), off + 100, "segment {k}");
    }
    // And a stream that crosses the wrap with contiguous segments.
    let mut r = Reassembler::new(&cfg);
    let mut c = Collect::default();
    r.segment(&cfg, &mut m, &mut c, ReasmSeg { rseq: 1, len: 10, payload: &[0; 10], n: 1, ts: 0, wire: Default::default() });
    for k in 1..=3u64 {
        r.segment(
            &cfg,
            &mut m,
            &mut c,
            ReasmSeg { rseq: (k * step + 1) as u32, len: 10, payload: &[0; 10], n: 1, ts: 0, wire: Default::default() },
        );
    }
    let mut off: u64 = 4_294_967_000;
    r.segment(&cfg, &mut m, &mut c, ReasmSeg { rseq: (off + 1) as u32, len: 10, payload: &[1; 10], n: 2, ts: 0, wire: Default::default() });
    assert_eq!(r.next(), off + 10);
    off += 10;
    for i in 0..100u64 {
        r.segment(
            &cfg,
            &mut m,
            &mut c,
            ReasmSeg { rseq: (off + 1) as u32, len: 10, payload: &[2; 10], n: 3 + i, ts: 0, wire: Default::default() },
        );
        off += 10;
        assert_eq!(r.next(), off);
    }
    assert!(off > 1 << 32);
    assert_eq!(c.gaps.len(), 4);
}

/// Every payload of a run laid out one after the other, like frames in a capture file.
struct Arena(Vec<u8>);

impl Backing for Arena {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

type Outcome = (Vec<u8>, Vec<(u64, u64)>, Vec<ReasmEvent>, ReasmStats);

/// Feeds `segs` — (stream offset, length on the wire, where the captured bytes lie in `arena`,
/// how many were captured), frame i + 1 each — once with block hashes and once reading first
/// copies from `arena`.
fn hashed_and_backed(arena: &Arena, window: usize, segs: &[(usize, usize, usize, usize)]) -> (Outcome, Outcome) {
    let hashed = ReasmCfg { conflict_window: window, ..BIG };
    let backed = ReasmCfg { backing: Some(arena), ..hashed };
    let run = |cfg: &ReasmCfg| {
        let mut r = Reassembler::new(cfg);
        let mut m = Mem::new(64 << 20);
        let mut c = Collect { store: true, ..Default::default() };
        for (i, &(o, l, at, cap)) in segs.iter().enumerate() {
            r.segment(
                cfg,
                &mut m,
                &mut c,
                ReasmSeg {
                    rseq: o as u32 + 1,
                    len: l as u32,
                    payload: &arena.0[at..at + cap],
                    n: i as u64 + 1,
                    ts: 0,
                    wire: Default::default(),
                },
            );
        }
        r.flush(cfg.backing, &mut m, &mut c, 0);
        (c.bytes, c.gaps, c.events, r.stats)
    };
    (run(&hashed), run(&backed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The conflict check reading first copies again from the backing reports exactly what
    /// the hashed history reports: the same blocks, offsets and first frames, through
    /// reordering, retransmissions with changed bytes, snap-length cuts, lost segments and a
    /// window small enough to slide.
    #[test]
    fn backed_history_reports_what_hashes_report((bytes, sched) in schedule(),
                                                 caps in prop::collection::vec(0usize..1600, 16),
                                                 flips in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..12),
                                                 lost in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
                                                 window in prop::sample::select(vec![64usize, 128, 1000, 4096, 256 << 10])) {
        // The segments as a capture would hold them: cut to a snap length, some with changed bytes.
        let mut sched = sched;
        for i in &lost {
            if sched.len() > 1 {
                sched.remove(i.index(sched.len()));
            }
        }
        let mut arena = Vec::new();
        let mut at = Vec::new();
        for (i, &(o, l)) in sched.iter().enumerate() {
            let cap = if i % 3 == 0 { caps[i % caps.len()].min(l) } else { l };
            at.push((arena.len(), cap));
            arena.extend_from_slice(&bytes[o..o + cap]);
            arena.extend_from_slice(&[0xee; 7]);
        }
        for (seg, byte) in &flips {
            let k = seg.index(sched.len());
            let (a, cap) = at[k];
            if cap > 0 {
                arena[a + byte.index(cap)] ^= 0x5a;
            }
        }
        let segs: Vec<_> = sched.iter().zip(&at).map(|(&(o, l), &(a, cap))| (o, l, a, cap)).collect();
        let (hashed, backed) = hashed_and_backed(&Arena(arena), window, &segs);
        prop_assert_eq!(hashed, backed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    /// Many tiny segments: the backed history passes its record limit and turns into block
    /// hashes made from the first copies; it still reports what the hashed history reports.
    #[test]
    fn backed_history_turned_hashed_reports_the_same(sizes in prop::collection::vec(1usize..24, 600..1400),
                                                     seed in any::<u64>(),
                                                     flips in prop::collection::vec(any::<prop::sample::Index>(), 1..20),
                                                     window in prop::sample::select(vec![1000usize, 4096, 256 << 10])) {
        let total: usize = sizes.iter().sum();
        let mut x = seed | 1;
        let bytes: Vec<u8> = (0..total).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
        let mut sched = Vec::new();
        let mut o = 0;
        for (i, &l) in sizes.iter().enumerate() {
            sched.push((o, l));
            // now and then a retransmission of a stretch up to 600 bytes back
            if i % 37 == 36 {
                let back = o.min(600);
                sched.push((o - back, back + l));
            }
            if i % 91 == 90 && i > 0 {
                let n = sched.len();
                sched.swap(n - 1, n - 2);
            }
            o += l;
        }
        let mut arena = Vec::new();
        let mut at = Vec::new();
        for &(so, sl) in &sched {
            at.push(arena.len());
            arena.extend_from_slice(&bytes[so..so + sl]);
            arena.push(0xee);
        }
        for f in &flips {
            // change a byte of a retransmission (one that repeats earlier bytes)
            let k = f.index(sched.len());
            if sched[k].1 > 64 {
                arena[at[k] + f.index(sched[k].1)] ^= 0x77;
            }
        }
        let segs: Vec<_> = sched.iter().zip(&at).map(|(&(o, l), &a)| (o, l, a, l)).collect();
        let (hashed, backed) = hashed_and_backed(&Arena(arena), window, &segs);
        prop_assert_eq!(hashed, backed);
    }
}
