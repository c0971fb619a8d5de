//! Wireshark-compatible TCP sequence analysis (the `tcp.analysis.*` flags).
//!
//! This is a transcription of `tcp_analyze_sequence_number()` in Wireshark's
//! `epan/dissectors/packet-tcp.c` (the 4.0 series, which is what `tshark` on the
//! development machines runs), with the same order of checks, the same 32-bit
//! wrapping comparisons and the same per-direction bookkeeping (`nextseq`,
//! `maxseqtobeacked`, `lastack`, `dupacknum`, …). Differences:
//!
//! * Wireshark keeps a linked list of unacknowledged segments; it is used only for
//!   the RTO/bytes-in-flight displays, never for a flag. Bytes in flight only need
//!   the lowest and highest sequence numbers of that list, so here it is kept as a
//!   union of at most `UNACKED_RANGES` (16) sequence ranges, inline (no heap); past
//!   that many holes the two closest ranges merge and `bytes_in_flight` becomes
//!   an approximation.
//! * The "ta" record Wireshark creates lazily is the `Analysis` bit set here; "ta
//!   exists" is equivalent to "some flag is set" for every check that reads it.

use super::TsNanos;

/// `a > b` in 32-bit sequence space (Wireshark's `GT_SEQ`).
#[inline]
pub(crate) fn gt_seq(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}
/// `a < b` in sequence space (`LT_SEQ`).
#[inline]
pub(crate) fn lt_seq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
/// `a <= b` in sequence space (`LE_SEQ`).
#[inline]
pub(crate) fn le_seq(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

/// Set of TCP analysis flags (Wireshark's definitions), as bits of a `u32`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Analysis(pub u32);

impl Analysis {
    pub const RETRANSMISSION: u32 = 1 << 0;
    pub const FAST_RETRANSMISSION: u32 = 1 << 1;
    pub const SPURIOUS_RETRANSMISSION: u32 = 1 << 2;
    pub const OUT_OF_ORDER: u32 = 1 << 3;
    pub const LOST_SEGMENT: u32 = 1 << 4;
    pub const ACK_LOST_SEGMENT: u32 = 1 << 5;
    pub const DUPLICATE_ACK: u32 = 1 << 6;
    pub const ZERO_WINDOW: u32 = 1 << 7;
    pub const ZERO_WINDOW_PROBE: u32 = 1 << 8;
    pub const ZERO_WINDOW_PROBE_ACK: u32 = 1 << 9;
    pub const WINDOW_FULL: u32 = 1 << 10;
    pub const WINDOW_UPDATE: u32 = 1 << 11;
    pub const KEEP_ALIVE: u32 = 1 << 12;
    pub const KEEP_ALIVE_ACK: u32 = 1 << 13;
    pub const REUSED_PORTS: u32 = 1 << 14;

    /// Flag names, indexed by bit number (the fixed output order).
    pub const NAMES: [&'static str; 15] = [
        "retransmission",
        "fast_retransmission",
        "spurious_retransmission",
        "out_of_order",
        "lost_segment",
        "ack_lost_segment",
        "duplicate_ack",
        "zero_window",
        "zero_window_probe",
        "zero_window_probe_ack",
        "window_full",
        "window_update",
        "keep_alive",
        "keep_alive_ack",
        "reused_ports",
    ];

    /// True if every bit of `bits` is set.
    #[inline]
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
    /// True if no flag is set.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    #[inline]
    pub(crate) fn set(&mut self, bits: u32) {
        self.0 |= bits;
    }
    /// Names of the set flags, in the fixed order of [`Analysis::NAMES`].
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, n)| *n)
    }
}

/// Window-scale knowledge of one direction, Wireshark's `win_scale`.
pub(crate) const WS_UNKNOWN: i16 = -1;
/// Window scaling is known not to be in use (`-2` in Wireshark).
pub(crate) const WS_NONE: i16 = -2;

/// Number of disjoint unacknowledged ranges tracked per direction.
pub(crate) const UNACKED_RANGES: usize = 16;

/// The unacknowledged segments of one direction as sorted disjoint ranges
/// `[seq, nextseq)` (what Wireshark's `segments` list covers).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Unacked {
    r: [(u32, u32); UNACKED_RANGES],
    n: u8,
}

impl Unacked {
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Add `[lo, hi)`.
    pub fn add(&mut self, lo: u32, hi: u32) {
        let n = self.n as usize;
        // first range that ends at or after lo
        let mut i = 0;
        while i < n && lt_seq(self.r[i].1, lo) {
            i += 1;
        }
        if i < n && !gt_seq(self.r[i].0, hi) {
            // overlaps or touches range i: grow it, then swallow followers
            if lt_seq(lo, self.r[i].0) {
                self.r[i].0 = lo;
            }
            if gt_seq(hi, self.r[i].1) {
                self.r[i].1 = hi;
            }
            let mut j = i + 1;
            while j < n && !gt_seq(self.r[j].0, self.r[i].1) {
                if gt_seq(self.r[j].1, self.r[i].1) {
                    self.r[i].1 = self.r[j].1;
                }
                j += 1;
            }
            let gone = j - i - 1;
            self.r.copy_within(j..n, i + 1);
            self.n -= gone as u8;
            return;
        }
        if n == UNACKED_RANGES {
            // full: merge the two closest neighbours to make room
            let k = (0..n - 1).min_by_key(|&k| self.r[k + 1].0.wrapping_sub(self.r[k].1)).unwrap_or(0);
            self.r[k].1 = self.r[k + 1].1;
            self.r.copy_within(k + 2..n, k + 1);
            self.n -= 1;
            return self.add(lo, hi);
        }
        self.r.copy_within(i..n, i + 1);
        self.r[i] = (lo, hi);
        self.n += 1;
    }

    /// An acknowledgement `ack` arrived: drop what it covers, trim what it splits.
    pub fn ack(&mut self, ack: u32) {
        let n = self.n as usize;
        let mut drop = 0;
        while drop < n && !gt_seq(self.r[drop].1, ack) {
            drop += 1;
        }
        self.r.copy_within(drop..n, 0);
        self.n -= drop as u8;
        if self.n > 0 && gt_seq(ack, self.r[0].0) {
            self.r[0].0 = ack;
        }
    }

    /// Highest minus lowest sequence number covered.
    pub fn span(&self) -> u32 {
        if self.n == 0 {
            0
        } else {
            self.r[self.n as usize - 1].1.wrapping_sub(self.r[0].0)
        }
    }
}

/// Per-direction state of the sequence analysis (Wireshark's `tcp_flow_t` plus its
/// `tcp_analyze_seq_flow_info_t`), for segments *sent* in that direction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlowSeq {
    /// Relative-numbering base (ISN of this direction), valid if `base_set`.
    pub base_seq: u32,
    pub base_set: bool,
    /// `win_scale`: shift announced by this direction, `WS_UNKNOWN` or `WS_NONE`.
    pub win_scale: i16,
    /// Last raw window this direction advertised (`u32::MAX` before any).
    pub window: u32,
    /// True between a SYN of this direction and its first non-SYN ACK (issue 14690).
    pub is_first_ack: bool,
    pub lastack: u32,
    pub lastacktime: TsNanos,
    pub lastnondupack: u64,
    /// Wireshark keeps it as `guint32` and stores -1 in it: so do we.
    pub dupacknum: u32,
    pub nextseq: u32,
    pub maxseqtobeacked: u32,
    pub nextseqtime: TsNanos,
    pub lastsegmentflags: u32,
    // bytes-in-flight summary of the unacked segment list
    pub valid_bif: bool,
    pub unacked: Unacked,
    /// Total length of the SACK blocks of the last segment from this direction.
    pub sack_sum: u32,
}

impl Default for FlowSeq {
    fn default() -> Self {
        FlowSeq {
            base_seq: 0,
            base_set: false,
            win_scale: WS_UNKNOWN,
            window: u32::MAX,
            is_first_ack: false,
            lastack: 0,
            lastacktime: 0,
            lastnondupack: 0,
            dupacknum: 0,
            nextseq: 0,
            maxseqtobeacked: 0,
            nextseqtime: 0,
            lastsegmentflags: 0,
            valid_bif: true,
            unacked: Unacked::default(),
            sack_sum: 0,
        }
    }
}

/// The parts of a segment the sequence analysis looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeqInput {
    pub frame: u64,
    pub ts: TsNanos,
    pub seq: u32,
    /// Raw acknowledgement field (used even when ACK is clear, like Wireshark).
    pub ack: u32,
    pub seglen: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub ack_flag: bool,
    /// Raw (unscaled) window field.
    pub window: u32,
}

/// What the analysis says about one segment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeqOutput {
    pub flags: Analysis,
    pub dup_ack_num: u32,
    pub dup_ack_of: u64,
    pub bytes_in_flight: Option<u32>,
}

/// Wireshark's out-of-order threshold: the initial RTT when known, else 3 ms.
#[inline]
fn ooo_threshold(first_rtt: Option<TsNanos>) -> u64 {
    match first_rtt {
        Some(r) if r != 0 => r as u64,
        _ => 3_000_000,
    }
}

/// `tcp_analyze_sequence_number()`: analyse one segment sent in the `fwd`
/// direction. `preset` carries flags set before the analysis (reused ports).
pub(crate) fn analyze(fwd: &mut FlowSeq, rev: &mut FlowSeq, s: &SeqInput, first_rtt: Option<TsNanos>, preset: Analysis) -> SeqOutput {
    let mut out = SeqOutput { flags: preset, ..SeqOutput::default() };
    let f = &mut out.flags;
    let seq = s.seq;
    let ack = s.ack;
    let seglen = s.seglen;
    let window = s.window;
    let sfr = s.syn || s.fin || s.rst;

    if s.ack_flag {
        rev.valid_bif = true;
    }

    'fwd: {
        // ZERO WINDOW PROBE: next expected seq, 1 byte, peer window 0.
        if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
            f.set(Analysis::ZERO_WINDOW_PROBE);
            break 'fwd;
        }
        // ZERO WINDOW: window 0 without SYN/FIN/RST.
        if window == 0 && !sfr {
            f.set(Analysis::ZERO_WINDOW);
        }
        // LOST PACKET: beyond the last seen nextseq (not for RST).
        if fwd.nextseq != 0 && gt_seq(seq, fwd.nextseq) && !s.rst {
            f.set(Analysis::LOST_SEGMENT);
            fwd.valid_bif = false;
        }
        // KEEP ALIVE: 0 or 1 byte starting one before nextseq.
        if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !sfr {
            f.set(Analysis::KEEP_ALIVE);
        }
        // WINDOW UPDATE: empty, same seq/ack, new non-zero window.
        if seglen == 0 && window != 0 && window != fwd.window && seq == fwd.nextseq && ack == fwd.lastack && !sfr {
            f.set(Analysis::WINDOW_UPDATE);
        }
        // WINDOW FULL: data up to the right edge of the peer's window.
        if seglen > 0 && rev.win_scale != WS_UNKNOWN && !sfr {
            let shift = if rev.is_first_ack || rev.win_scale == WS_NONE { 0 } else { rev.win_scale as u32 };
            let edge = rev.lastack.wrapping_add(rev.window.wrapping_shl(shift));
            if seq.wrapping_add(seglen) == edge {
                f.set(Analysis::WINDOW_FULL);
            }
        }
        // KEEP ALIVE ACK: repeats the previous ACK after a keep-alive from the peer.
        if seglen == 0
            && window != 0
            && window == fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && rev.lastsegmentflags & Analysis::KEEP_ALIVE != 0
            && !sfr
        {
            f.set(Analysis::KEEP_ALIVE_ACK);
            break 'fwd;
        }
        // ZERO WINDOW PROBE ACK: repeats the zero window after a probe.
        if seglen == 0
            && window == 0
            && window == fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && rev.lastsegmentflags & Analysis::ZERO_WINDOW_PROBE != 0
            && !sfr
        {
            f.set(Analysis::ZERO_WINDOW_PROBE_ACK);
            break 'fwd;
        }
        // DUPLICATE ACK: empty, same window/seq/ack as the previous segment.
        if seglen == 0 && window != 0 && window == fwd.window && seq == fwd.nextseq && ack == fwd.lastack && !sfr {
            fwd.dupacknum = if fwd.dupacknum == u32::MAX { 1 } else { fwd.dupacknum.wrapping_add(1) };
            f.set(Analysis::DUPLICATE_ACK);
            out.dup_ack_num = fwd.dupacknum;
            out.dup_ack_of = fwd.lastnondupack;
        }
    }
    // finished_fwd: a changed ack resets the dup-ack counter.
    if ack != fwd.lastack {
        fwd.lastnondupack = s.frame;
        fwd.dupacknum = 0;
    }

    // ACKED LOST PACKET: acks beyond what the other direction was seen sending.
    if rev.maxseqtobeacked != 0 && gt_seq(ack, rev.maxseqtobeacked) && s.ack_flag {
        if lt_seq(rev.maxseqtobeacked, rev.nextseq) {
            rev.maxseqtobeacked = rev.nextseq;
            f.set(Analysis::ACK_LOST_SEGMENT);
        } else {
            if rev.dupacknum == 0 {
                f.set(Analysis::ACK_LOST_SEGMENT);
            }
            rev.dupacknum = u32::MAX;
        }
    }

    // RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER
    'retx: {
        if !(seglen > 0 || s.syn || s.fin) {
            break 'retx;
        }
        let mut seq_not_advanced = fwd.nextseq != 0 && lt_seq(seq, fwd.nextseq);
        if f.has(Analysis::KEEP_ALIVE) {
            break 'retx;
        }
        // One byte less than nextseq after a zero window probe is new data.
        if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
            seq_not_advanced = false;
        }
        // SPURIOUS: all of it was already acknowledged.
        if seglen > 0 && rev.lastack != 0 && le_seq(seq.wrapping_add(seglen), rev.lastack) {
            f.set(Analysis::SPURIOUS_RETRANSMISSION | Analysis::RETRANSMISSION);
            break 'retx;
        }
        // FAST RETRANSMISSION (takes precedence over OOO by default): >= 2 dup acks
        // from the peer for this seq, within 20 ms of the last one.
        // (Wireshark computes these deltas as guint64: a negative one is huge.)
        let t = s.ts.wrapping_sub(rev.lastacktime) as u64;
        if seq_not_advanced && rev.dupacknum >= 2 && rev.lastack == seq && t < 20_000_000 {
            f.set(Analysis::FAST_RETRANSMISSION | Analysis::RETRANSMISSION);
            break 'retx;
        }
        // OUT-OF-ORDER: close in time to the segment that advanced nextseq.
        let t = s.ts.wrapping_sub(fwd.nextseqtime) as u64;
        // (Wireshark >= 4.2 also calls it out-of-order when it ends exactly at
        // nextseq after a pure ACK (issue 17214); 4.0 does not.)
        let synfin = u32::from(s.syn || s.fin);
        if seq_not_advanced && t < ooo_threshold(first_rtt) && fwd.nextseq != seq.wrapping_add(seglen).wrapping_add(synfin) {
            f.set(Analysis::OUT_OF_ORDER);
            break 'retx;
        }
        if seq_not_advanced {
            f.set(Analysis::RETRANSMISSION);
        }
    }

    let synfin = u32::from(s.syn || s.fin);
    let nextseq = seq.wrapping_add(seglen).wrapping_add(synfin);
    let zwp = f.has(Analysis::ZERO_WINDOW_PROBE);
    if seglen > 0 || s.syn || s.fin {
        fwd.unacked.add(seq, nextseq);
    }
    // highest nextseq seen (zero window probes do not advance it)
    if (gt_seq(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !zwp {
        fwd.nextseq = nextseq;
        fwd.nextseqtime = s.ts;
    }
    // highest continuous seq, for ACKED LOST PACKET
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !zwp {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = window;
    fwd.lastack = ack;
    fwd.lastacktime = s.ts;
    fwd.lastsegmentflags = f.0;

    // This ack (the raw field, like Wireshark) removes acknowledged segments
    // from the peer's list.
    rev.unacked.ack(ack);
    // bytes in flight after this segment (payload-based method, the default)
    if seglen != 0 && !fwd.unacked.is_empty() && fwd.valid_bif {
        let in_flight = fwd.unacked.span().wrapping_sub(rev.sack_sum);
        if in_flight > 0 && in_flight < 2_000_000_000 {
            out.bytes_in_flight = Some(in_flight - synfin);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(frame: u64, ts_ms: i64, seq: u32, ack: u32, len: u32, win: u32) -> SeqInput {
        SeqInput { frame, ts: ts_ms * 1_000_000, seq, ack, seglen: len, syn: false, fin: false, rst: false, ack_flag: true, window: win }
    }

    fn names(a: Analysis) -> String {
        a.names().collect::<Vec<_>>().join(",")
    }

    #[test]
    fn seq_compare_wraps() {
        assert!(gt_seq(5, u32::MAX - 5));
        assert!(lt_seq(u32::MAX - 5, 5));
        assert!(le_seq(7, 7));
        assert!(!gt_seq(7, 7));
    }

    #[test]
    fn names_in_fixed_order() {
        let a = Analysis(Analysis::REUSED_PORTS | Analysis::RETRANSMISSION | Analysis::DUPLICATE_ACK);
        assert_eq!(names(a), "retransmission,duplicate_ack,reused_ports");
        assert!(a.has(Analysis::RETRANSMISSION));
        assert!(Analysis::default().is_empty());
    }

    /// Data a→b with the ack stream b→a; return the flags per segment.
    struct Pair {
        a: FlowSeq,
        b: FlowSeq,
    }
    impl Pair {
        fn new() -> Self {
            Pair { a: FlowSeq::default(), b: FlowSeq::default() }
        }
        fn ab(&mut self, s: SeqInput) -> SeqOutput {
            analyze(&mut self.a, &mut self.b, &s, Some(50_000_000), Analysis::default())
        }
        fn ba(&mut self, s: SeqInput) -> SeqOutput {
            analyze(&mut self.b, &mut self.a, &s, Some(50_000_000), Analysis::default())
        }
    }

    #[test]
    fn retransmission_dupacks_fast_retransmission() {
        let mut p = Pair::new();
        assert!(p.ab(seg(1, 0, 1000, 5000, 100, 500)).flags.is_empty());
        assert!(p.ba(seg(2, 1, 5000, 1100, 0, 500)).flags.is_empty());
        // 1100..1200 lost before the capture point: 1200 shows a hole
        assert_eq!(names(p.ab(seg(3, 2, 1200, 5000, 100, 500)).flags), "lost_segment");
        let d1 = p.ba(seg(4, 3, 5000, 1100, 0, 500));
        assert_eq!(names(d1.flags), "duplicate_ack");
        assert_eq!((d1.dup_ack_num, d1.dup_ack_of), (1, 2));
        let d2 = p.ba(seg(5, 4, 5000, 1100, 0, 500));
        assert_eq!(d2.dup_ack_num, 2);
        let fr = p.ab(seg(6, 5, 1100, 5000, 100, 500));
        assert_eq!(names(fr.flags), "retransmission,fast_retransmission");
        // the same segment again much later: plain retransmission
        let r = p.ab(seg(7, 900, 1100, 5000, 100, 500));
        assert_eq!(names(r.flags), "retransmission");
    }

    #[test]
    fn out_of_order_and_spurious() {
        let mut p = Pair::new();
        p.ab(seg(1, 0, 1000, 5000, 100, 500));
        p.ab(seg(2, 1, 1200, 5000, 100, 500)); // lost_segment
        let o = p.ab(seg(3, 2, 1100, 5000, 100, 500));
        assert_eq!(names(o.flags), "out_of_order");
        p.ba(seg(4, 3, 5000, 1300, 0, 500));
        let s = p.ab(seg(5, 400, 1100, 5000, 100, 500));
        assert_eq!(names(s.flags), "retransmission,spurious_retransmission");
    }

    #[test]
    fn keepalive_and_ack() {
        let mut p = Pair::new();
        p.ab(seg(1, 0, 1000, 5000, 10, 500));
        p.ba(seg(2, 1, 5000, 1010, 0, 500));
        let ka = p.ab(seg(3, 2000, 1009, 5000, 0, 500));
        assert_eq!(names(ka.flags), "keep_alive");
        let kaa = p.ba(seg(4, 2001, 5000, 1010, 0, 500));
        assert_eq!(names(kaa.flags), "keep_alive_ack");
        let ka1 = p.ab(seg(5, 4000, 1009, 5000, 1, 500));
        assert_eq!(names(ka1.flags), "keep_alive");
    }

    #[test]
    fn zero_window_probe_update_full() {
        let mut p = Pair::new();
        p.b.win_scale = 0;
        p.a.win_scale = 0;
        p.ab(seg(1, 0, 1000, 5000, 100, 500));
        // b acks 1100 with window 100: a fills it exactly
        p.ba(seg(2, 1, 5000, 1100, 0, 100));
        assert_eq!(names(p.ab(seg(3, 2, 1100, 5000, 100, 500)).flags), "window_full");
        assert_eq!(names(p.ba(seg(4, 3, 5000, 1200, 0, 0)).flags), "zero_window");
        let zwp = p.ab(seg(5, 200, 1200, 5000, 1, 500));
        assert_eq!(names(zwp.flags), "zero_window_probe");
        assert_eq!(p.a.nextseq, 1200, "probes do not advance nextseq");
        let zwpa = p.ba(seg(6, 201, 5000, 1200, 0, 0));
        assert_eq!(names(zwpa.flags), "zero_window,zero_window_probe_ack");
        let upd = p.ba(seg(7, 300, 5000, 1200, 0, 400));
        assert_eq!(names(upd.flags), "window_update");
    }

    #[test]
    fn ack_lost_segment_once() {
        let mut p = Pair::new();
        p.ab(seg(1, 0, 1000, 5000, 100, 500));
        // b acks data a never was seen sending
        assert_eq!(names(p.ba(seg(2, 1, 5000, 1300, 0, 500)).flags), "ack_lost_segment");
        // a's own dupacknum is now "-1"
        assert_eq!(p.a.dupacknum, u32::MAX);
    }

    #[test]
    fn wraparound_isn() {
        let mut p = Pair::new();
        let isn = u32::MAX - 50;
        let mut s = seg(1, 0, isn, 0, 0, 500);
        s.syn = true;
        s.ack_flag = false;
        assert!(p.ab(s).flags.is_empty());
        let d = p.ab(seg(2, 1, isn.wrapping_add(1), 7, 100, 500));
        assert!(d.flags.is_empty(), "{:?}", d.flags);
        let d = p.ab(seg(3, 2, isn.wrapping_add(101), 7, 100, 500));
        assert!(d.flags.is_empty());
        let r = p.ab(seg(4, 400, isn.wrapping_add(1), 7, 100, 500));
        assert_eq!(names(r.flags), "retransmission");
    }

    #[test]
    fn unacked_ranges() {
        let mut u = Unacked::default();
        u.add(100, 200);
        u.add(300, 400);
        u.add(200, 300); // fills the hole
        assert_eq!((u.n, u.span()), (1, 300));
        u.add(500, 600);
        u.ack(450);
        assert_eq!((u.n, u.span(), u.r[0].0), (1, 100, 500));
        u.ack(520);
        assert_eq!(u.span(), 80);
        u.ack(600);
        assert!(u.is_empty());
        for k in 0..20u32 {
            u.add(k * 1000, k * 1000 + 10);
        }
        assert_eq!(u.n as usize, UNACKED_RANGES);
        assert_eq!(u.span(), 19_010);
        let mut w = Unacked::default();
        w.add(u32::MAX - 5, 5);
        w.add(5, 10);
        assert_eq!((w.n, w.span()), (1, 16));
    }

    #[test]
    fn bytes_in_flight() {
        let mut p = Pair::new();
        assert_eq!(p.ab(seg(1, 0, 1000, 5000, 100, 500)).bytes_in_flight, Some(100));
        assert_eq!(p.ab(seg(2, 0, 1100, 5000, 100, 500)).bytes_in_flight, Some(200));
        p.ba(seg(3, 1, 5000, 1100, 0, 500));
        assert_eq!(p.ab(seg(4, 2, 1200, 5000, 100, 500)).bytes_in_flight, Some(200));
        p.ba(seg(5, 3, 5000, 1300, 0, 500));
        assert_eq!(p.ab(seg(6, 4, 1300, 5000, 50, 500)).bytes_in_flight, Some(50));
    }
}
