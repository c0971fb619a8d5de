//! Wireshark-compatible TCP sequence analysis (the `tcp.analysis.*` flags).
//!
//! This is a transcription of `tcp_analyze_sequence_number()` in Wireshark's
//! `epan/dissectors/packet-tcp.c` (the 4.0 series, the tshark `scripts/tshark-tcp.py`
//! checks the tracker against), with the same order of checks, the same 32-bit
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

use super::{TcpFlags, TsNanos};

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
    /// Data, SYN or FIN that does not advance the sequence space (`tcp.analysis.retransmission`).
    pub const RETRANSMISSION: u32 = 1 << 0;
    /// A retransmission after at least two duplicate ACKs for it within 20 ms.
    pub const FAST_RETRANSMISSION: u32 = 1 << 1;
    /// A retransmission of data the peer had already acknowledged.
    pub const SPURIOUS_RETRANSMISSION: u32 = 1 << 2;
    /// Below the highest sequence seen, within the out-of-order threshold (initial RTT or 3 ms).
    pub const OUT_OF_ORDER: u32 = 1 << 3;
    /// Starts beyond the next expected sequence number: a previous segment was not captured.
    pub const LOST_SEGMENT: u32 = 1 << 4;
    /// Acknowledges data that was not captured.
    pub const ACK_LOST_SEGMENT: u32 = 1 << 5;
    /// Empty, with the same window, sequence and acknowledgment numbers as the previous segment.
    pub const DUPLICATE_ACK: u32 = 1 << 6;
    /// Advertises a zero window (no SYN, FIN or RST).
    pub const ZERO_WINDOW: u32 = 1 << 7;
    /// One byte at the next expected sequence number while the peer's window is zero.
    pub const ZERO_WINDOW_PROBE: u32 = 1 << 8;
    /// Repeats the zero window in answer to a zero-window probe.
    pub const ZERO_WINDOW_PROBE_ACK: u32 = 1 << 9;
    /// Data that fills the peer's advertised window exactly.
    pub const WINDOW_FULL: u32 = 1 << 10;
    /// Empty, same sequence and acknowledgment numbers, a new non-zero window.
    pub const WINDOW_UPDATE: u32 = 1 << 11;
    /// Zero or one byte starting one below the next expected sequence number.
    pub const KEEP_ALIVE: u32 = 1 << 12;
    /// Repeats the previous ACK in answer to a keep-alive.
    pub const KEEP_ALIVE_ACK: u32 = 1 << 13;
    /// A SYN (or SYN,ACK) on a known 4-tuple with a new ISN (see the module documentation of [`super`]).
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
    /// Set every bit of `bits`.
    #[inline]
    pub(crate) fn set(&mut self, bits: u32) {
        self.0 |= bits;
    }
    /// Names of the set flags, in the fixed order of [`Analysis::NAMES`].
    /// Walks the set bits only (most segments have none: the iterator ends at once).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let mut bits = self.0 & ((1 << Self::NAMES.len()) - 1);
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(Self::NAMES[bit])
        })
    }
}

/// What is known about the window scaling of one direction (Wireshark's `win_scale`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum WindowScale {
    /// No SYN of the connection seen yet (Wireshark's `-1`).
    #[default]
    Unknown,
    /// Not in use: RFC 7323 2.2 scales only when both SYNs carry the option (Wireshark's `-2`).
    Absent,
    /// The shift count announced by this direction, at most 14 (RFC 7323 2.3).
    Shift(u8),
}

/// Number of disjoint unacknowledged ranges tracked per direction.
pub(crate) const UNACKED_RANGES: usize = 16;

/// The unacknowledged segments of one direction as sorted disjoint ranges
/// `[seq, nextseq)` (what Wireshark's `segments` list covers).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Unacked {
    ranges: [(u32, u32); UNACKED_RANGES],
    count: u8,
}

impl Unacked {
    /// True when no unacknowledged range is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Add `[lo, hi)`.
    pub fn add(&mut self, lo: u32, hi: u32) {
        let count = self.count as usize;
        // first range that ends at or after lo
        let mut at = 0;
        while at < count && lt_seq(self.ranges[at].1, lo) {
            at += 1;
        }
        if at < count && !gt_seq(self.ranges[at].0, hi) {
            // overlaps or touches range `at`: grow it, then swallow followers
            let grown = &mut self.ranges[at];
            if lt_seq(lo, grown.0) {
                grown.0 = lo;
            }
            if gt_seq(hi, grown.1) {
                grown.1 = hi;
            }
            let mut next = at + 1;
            while next < count && !gt_seq(self.ranges[next].0, self.ranges[at].1) {
                if gt_seq(self.ranges[next].1, self.ranges[at].1) {
                    self.ranges[at].1 = self.ranges[next].1;
                }
                next += 1;
            }
            let swallowed = next - at - 1;
            self.ranges.copy_within(next..count, at + 1);
            self.count -= swallowed as u8;
            return;
        }
        if count == UNACKED_RANGES {
            // full: merge the two closest neighbours to make room
            let closest = (0..count - 1).min_by_key(|&k| self.ranges[k + 1].0.wrapping_sub(self.ranges[k].1)).unwrap_or(0);
            self.ranges[closest].1 = self.ranges[closest + 1].1;
            self.ranges.copy_within(closest + 2..count, closest + 1);
            self.count -= 1;
            return self.add(lo, hi);
        }
        self.ranges.copy_within(at..count, at + 1);
        self.ranges[at] = (lo, hi);
        self.count += 1;
    }

    /// An acknowledgement `ack` arrived: drop what it covers, trim what it splits.
    pub fn ack(&mut self, ack: u32) {
        let count = self.count as usize;
        let mut covered = 0;
        while covered < count && !gt_seq(self.ranges[covered].1, ack) {
            covered += 1;
        }
        self.ranges.copy_within(covered..count, 0);
        self.count -= covered as u8;
        if self.count > 0 && gt_seq(ack, self.ranges[0].0) {
            self.ranges[0].0 = ack;
        }
    }

    /// Highest minus lowest sequence number covered.
    pub fn span(&self) -> u32 {
        if self.count == 0 {
            0
        } else {
            self.ranges[self.count as usize - 1].1.wrapping_sub(self.ranges[0].0)
        }
    }
}

/// Per-direction state of the sequence analysis (Wireshark's `tcp_flow_t` plus its
/// `tcp_analyze_seq_flow_info_t`), for segments *sent* in that direction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlowSeq {
    /// Base of the relative numbers of this direction (`tcp.seq` = seq - base): its ISN when
    /// its SYN was seen, else one below the first sequence number seen; `None` until then.
    pub seq_base: Option<u32>,
    /// What this direction announced about window scaling.
    pub win_scale: WindowScale,
    /// Last raw window this direction advertised (`u32::MAX` before any).
    pub window: u32,
    /// True between a SYN of this direction and its first non-SYN ACK (issue 14690).
    pub is_first_ack: bool,
    /// Raw acknowledgement field of this direction's last segment.
    pub lastack: u32,
    /// Capture time of this direction's last segment.
    pub lastacktime: TsNanos,
    /// Frame that last changed this direction's acknowledgement number.
    pub lastnondupack: u64,
    /// Duplicate ACKs since that frame. An ACK of data never seen from this direction sets
    /// it to `u32::MAX`, Wireshark's -1 in a `guint32`, with the same effects.
    pub dupacknum: u32,
    /// Highest sequence number past the data, SYN or FIN seen (0 before any).
    pub nextseq: u32,
    /// End of the contiguous sequence space seen, what an ACK may cover without a gap.
    pub maxseqtobeacked: u32,
    /// Capture time of the segment that last advanced `nextseq`.
    pub nextseqtime: TsNanos,
    /// [`Analysis`] bits of this direction's last segment.
    pub lastsegmentflags: u32,
    /// False from a lost segment of this direction until the peer's next ACK: no
    /// `bytes_in_flight` is reported meanwhile.
    pub valid_bif: bool,
    /// Sent and not yet acknowledged sequence ranges, for `bytes_in_flight`.
    pub unacked: Unacked,
    /// Total length of the SACK blocks of the last segment from this direction.
    pub sack_sum: u32,
}

impl Default for FlowSeq {
    fn default() -> Self {
        FlowSeq {
            seq_base: None,
            win_scale: WindowScale::Unknown,
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
    /// Frame number.
    pub frame: u64,
    /// Capture time.
    pub ts: TsNanos,
    /// Absolute sequence number.
    pub seq: u32,
    /// Raw acknowledgement field (used even when ACK is clear, like Wireshark).
    pub ack: u32,
    /// Payload length (`tcp.len`).
    pub seglen: u32,
    /// Header flags (SYN, FIN, RST and ACK are read).
    pub flags: TcpFlags,
    /// Raw (unscaled) window field.
    pub window: u32,
}

/// What the analysis says about one segment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeqOutput {
    /// The flags, including the preset ones.
    pub flags: Analysis,
    /// As [`super::SegInfo::dup_ack_num`].
    pub dup_ack_num: u32,
    /// As [`super::SegInfo::dup_ack_of`].
    pub dup_ack_of: u64,
    /// As [`super::SegInfo::bytes_in_flight`].
    pub bytes_in_flight: Option<u32>,
}

/// Wireshark's out-of-order threshold: the initial RTT when known, else 3 ms.
#[inline]
fn ooo_threshold(first_rtt: Option<TsNanos>) -> u64 {
    match first_rtt {
        Some(rtt) if rtt != 0 => rtt as u64,
        _ => 3_000_000,
    }
}

/// `tcp_analyze_sequence_number()`: analyse one segment sent in the `fwd`
/// direction. `preset` carries flags set before the analysis (reused ports).
pub(crate) fn analyze(fwd: &mut FlowSeq, rev: &mut FlowSeq, seg: &SeqInput, first_rtt: Option<TsNanos>, preset: Analysis) -> SeqOutput {
    let mut out = SeqOutput { flags: preset, ..SeqOutput::default() };
    let flags = &mut out.flags;
    let SeqInput { frame, ts, seq, ack, seglen, window, .. } = *seg;
    let syn = seg.flags.has(TcpFlags::SYN);
    let fin = seg.flags.has(TcpFlags::FIN);
    let rst = seg.flags.has(TcpFlags::RST);
    let ack_flag = seg.flags.has(TcpFlags::ACK);
    let syn_fin_rst = syn || fin || rst;
    // SYN and FIN each occupy one sequence number
    let synfin = u32::from(syn || fin);

    if ack_flag {
        rev.valid_bif = true;
    }

    'fwd: {
        // ZERO WINDOW PROBE: next expected seq, 1 byte, peer window 0.
        if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
            flags.set(Analysis::ZERO_WINDOW_PROBE);
            break 'fwd;
        }
        // ZERO WINDOW: window 0 without SYN/FIN/RST.
        if window == 0 && !syn_fin_rst {
            flags.set(Analysis::ZERO_WINDOW);
        }
        // LOST PACKET: beyond the last seen nextseq (not for RST).
        if fwd.nextseq != 0 && gt_seq(seq, fwd.nextseq) && !rst {
            flags.set(Analysis::LOST_SEGMENT);
            fwd.valid_bif = false;
        }
        // KEEP ALIVE: 0 or 1 byte starting one before nextseq.
        if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !syn_fin_rst {
            flags.set(Analysis::KEEP_ALIVE);
        }
        // WINDOW UPDATE: empty, same seq/ack, new non-zero window.
        if seglen == 0 && window != 0 && window != fwd.window && seq == fwd.nextseq && ack == fwd.lastack && !syn_fin_rst {
            flags.set(Analysis::WINDOW_UPDATE);
        }
        // WINDOW FULL: data up to the right edge of the peer's window.
        if seglen > 0 && rev.win_scale != WindowScale::Unknown && !syn_fin_rst {
            let shift = match rev.win_scale {
                WindowScale::Shift(shift) if !rev.is_first_ack => u32::from(shift),
                _ => 0,
            };
            let edge = rev.lastack.wrapping_add(rev.window.wrapping_shl(shift));
            if seq.wrapping_add(seglen) == edge {
                flags.set(Analysis::WINDOW_FULL);
            }
        }
        // KEEP ALIVE ACK: repeats the previous ACK after a keep-alive from the peer.
        if seglen == 0
            && window != 0
            && window == fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && rev.lastsegmentflags & Analysis::KEEP_ALIVE != 0
            && !syn_fin_rst
        {
            flags.set(Analysis::KEEP_ALIVE_ACK);
            break 'fwd;
        }
        // ZERO WINDOW PROBE ACK: repeats the zero window after a probe.
        if seglen == 0
            && window == 0
            && window == fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && rev.lastsegmentflags & Analysis::ZERO_WINDOW_PROBE != 0
            && !syn_fin_rst
        {
            flags.set(Analysis::ZERO_WINDOW_PROBE_ACK);
            break 'fwd;
        }
        // DUPLICATE ACK: empty, same window/seq/ack as the previous segment.
        if seglen == 0 && window != 0 && window == fwd.window && seq == fwd.nextseq && ack == fwd.lastack && !syn_fin_rst {
            fwd.dupacknum = if fwd.dupacknum == u32::MAX { 1 } else { fwd.dupacknum.wrapping_add(1) };
            flags.set(Analysis::DUPLICATE_ACK);
            out.dup_ack_num = fwd.dupacknum;
            out.dup_ack_of = fwd.lastnondupack;
        }
    }
    // finished_fwd: a changed ack resets the dup-ack counter.
    if ack != fwd.lastack {
        fwd.lastnondupack = frame;
        fwd.dupacknum = 0;
    }

    // ACKED LOST PACKET: acks beyond what the other direction was seen sending.
    if rev.maxseqtobeacked != 0 && gt_seq(ack, rev.maxseqtobeacked) && ack_flag {
        if lt_seq(rev.maxseqtobeacked, rev.nextseq) {
            rev.maxseqtobeacked = rev.nextseq;
            flags.set(Analysis::ACK_LOST_SEGMENT);
        } else {
            if rev.dupacknum == 0 {
                flags.set(Analysis::ACK_LOST_SEGMENT);
            }
            rev.dupacknum = u32::MAX;
        }
    }

    // RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER
    'retx: {
        if !(seglen > 0 || syn || fin) {
            break 'retx;
        }
        let mut seq_not_advanced = fwd.nextseq != 0 && lt_seq(seq, fwd.nextseq);
        if flags.has(Analysis::KEEP_ALIVE) {
            break 'retx;
        }
        // One byte less than nextseq after a zero window probe is new data.
        if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
            seq_not_advanced = false;
        }
        // SPURIOUS: all of it was already acknowledged.
        if seglen > 0 && rev.lastack != 0 && le_seq(seq.wrapping_add(seglen), rev.lastack) {
            flags.set(Analysis::SPURIOUS_RETRANSMISSION | Analysis::RETRANSMISSION);
            break 'retx;
        }
        // FAST RETRANSMISSION (takes precedence over OOO by default): >= 2 dup acks
        // from the peer for this seq, within 20 ms of the last one.
        // (Wireshark computes these deltas as guint64: a negative one is huge.)
        let since_peer_ack = ts.wrapping_sub(rev.lastacktime) as u64;
        if seq_not_advanced && rev.dupacknum >= 2 && rev.lastack == seq && since_peer_ack < 20_000_000 {
            flags.set(Analysis::FAST_RETRANSMISSION | Analysis::RETRANSMISSION);
            break 'retx;
        }
        // OUT-OF-ORDER: close in time to the segment that advanced nextseq.
        let since_advance = ts.wrapping_sub(fwd.nextseqtime) as u64;
        // (Wireshark >= 4.2 also calls it out-of-order when it ends exactly at
        // nextseq after a pure ACK (issue 17214); 4.0 does not.)
        if seq_not_advanced && since_advance < ooo_threshold(first_rtt) && fwd.nextseq != seq.wrapping_add(seglen).wrapping_add(synfin) {
            flags.set(Analysis::OUT_OF_ORDER);
            break 'retx;
        }
        if seq_not_advanced {
            flags.set(Analysis::RETRANSMISSION);
        }
    }

    let nextseq = seq.wrapping_add(seglen).wrapping_add(synfin);
    let zero_window_probe = flags.has(Analysis::ZERO_WINDOW_PROBE);
    if seglen > 0 || syn || fin {
        fwd.unacked.add(seq, nextseq);
    }
    // highest nextseq seen (zero window probes do not advance it)
    if (gt_seq(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !zero_window_probe {
        fwd.nextseq = nextseq;
        fwd.nextseqtime = ts;
    }
    // highest continuous seq, for ACKED LOST PACKET
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !zero_window_probe {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = window;
    fwd.lastack = ack;
    fwd.lastacktime = ts;
    fwd.lastsegmentflags = flags.0;

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

    #[test]
    fn names_in_bit_order_for_every_set() {
        for bits in 0..(1u32 << Analysis::NAMES.len()) {
            let want: Vec<_> = Analysis::NAMES.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, n)| *n).collect();
            assert_eq!(Analysis(bits).names().collect::<Vec<_>>(), want);
        }
    }

    fn seg(frame: u64, ts_ms: i64, seq: u32, ack: u32, len: u32, win: u32) -> SeqInput {
        SeqInput { frame, ts: ts_ms * 1_000_000, seq, ack, seglen: len, flags: TcpFlags(TcpFlags::ACK), window: win }
    }

    fn names(flags: Analysis) -> String {
        flags.names().collect::<Vec<_>>().join(",")
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
        let flags = Analysis(Analysis::REUSED_PORTS | Analysis::RETRANSMISSION | Analysis::DUPLICATE_ACK);
        assert_eq!(names(flags), "retransmission,duplicate_ack,reused_ports");
        assert!(flags.has(Analysis::RETRANSMISSION));
        assert!(Analysis::default().is_empty());
    }

    /// Data from `sender` with the ack stream of `replier`; each call returns the analysis of
    /// one segment.
    struct Pair {
        sender: FlowSeq,
        replier: FlowSeq,
    }
    impl Pair {
        fn new() -> Self {
            Pair { sender: FlowSeq::default(), replier: FlowSeq::default() }
        }
        fn send(&mut self, seg: SeqInput) -> SeqOutput {
            analyze(&mut self.sender, &mut self.replier, &seg, Some(50_000_000), Analysis::default())
        }
        fn reply(&mut self, seg: SeqInput) -> SeqOutput {
            analyze(&mut self.replier, &mut self.sender, &seg, Some(50_000_000), Analysis::default())
        }
    }

    #[test]
    fn retransmission_dupacks_fast_retransmission() {
        let mut pair = Pair::new();
        assert!(pair.send(seg(1, 0, 1000, 5000, 100, 500)).flags.is_empty());
        assert!(pair.reply(seg(2, 1, 5000, 1100, 0, 500)).flags.is_empty());
        // 1100..1200 lost before the capture point: 1200 shows a hole
        assert_eq!(names(pair.send(seg(3, 2, 1200, 5000, 100, 500)).flags), "lost_segment");
        let d1 = pair.reply(seg(4, 3, 5000, 1100, 0, 500));
        assert_eq!(names(d1.flags), "duplicate_ack");
        assert_eq!((d1.dup_ack_num, d1.dup_ack_of), (1, 2));
        let d2 = pair.reply(seg(5, 4, 5000, 1100, 0, 500));
        assert_eq!(d2.dup_ack_num, 2);
        let fr = pair.send(seg(6, 5, 1100, 5000, 100, 500));
        assert_eq!(names(fr.flags), "retransmission,fast_retransmission");
        // the same segment again much later: plain retransmission
        let again = pair.send(seg(7, 900, 1100, 5000, 100, 500));
        assert_eq!(names(again.flags), "retransmission");
    }

    #[test]
    fn out_of_order_and_spurious() {
        let mut pair = Pair::new();
        pair.send(seg(1, 0, 1000, 5000, 100, 500));
        pair.send(seg(2, 1, 1200, 5000, 100, 500)); // lost_segment
        let early = pair.send(seg(3, 2, 1100, 5000, 100, 500));
        assert_eq!(names(early.flags), "out_of_order");
        pair.reply(seg(4, 3, 5000, 1300, 0, 500));
        let acked = pair.send(seg(5, 400, 1100, 5000, 100, 500));
        assert_eq!(names(acked.flags), "retransmission,spurious_retransmission");
    }

    #[test]
    fn keepalive_and_ack() {
        let mut pair = Pair::new();
        pair.send(seg(1, 0, 1000, 5000, 10, 500));
        pair.reply(seg(2, 1, 5000, 1010, 0, 500));
        let ka = pair.send(seg(3, 2000, 1009, 5000, 0, 500));
        assert_eq!(names(ka.flags), "keep_alive");
        let kaa = pair.reply(seg(4, 2001, 5000, 1010, 0, 500));
        assert_eq!(names(kaa.flags), "keep_alive_ack");
        let ka1 = pair.send(seg(5, 4000, 1009, 5000, 1, 500));
        assert_eq!(names(ka1.flags), "keep_alive");
    }

    #[test]
    fn zero_window_probe_update_full() {
        let mut pair = Pair::new();
        pair.replier.win_scale = WindowScale::Shift(0);
        pair.sender.win_scale = WindowScale::Shift(0);
        pair.send(seg(1, 0, 1000, 5000, 100, 500));
        // the replier acks 1100 with window 100: the sender fills it exactly
        pair.reply(seg(2, 1, 5000, 1100, 0, 100));
        assert_eq!(names(pair.send(seg(3, 2, 1100, 5000, 100, 500)).flags), "window_full");
        assert_eq!(names(pair.reply(seg(4, 3, 5000, 1200, 0, 0)).flags), "zero_window");
        let zwp = pair.send(seg(5, 200, 1200, 5000, 1, 500));
        assert_eq!(names(zwp.flags), "zero_window_probe");
        assert_eq!(pair.sender.nextseq, 1200, "probes do not advance nextseq");
        let zwpa = pair.reply(seg(6, 201, 5000, 1200, 0, 0));
        assert_eq!(names(zwpa.flags), "zero_window,zero_window_probe_ack");
        let upd = pair.reply(seg(7, 300, 5000, 1200, 0, 400));
        assert_eq!(names(upd.flags), "window_update");
    }

    #[test]
    fn ack_lost_segment_once() {
        let mut pair = Pair::new();
        pair.send(seg(1, 0, 1000, 5000, 100, 500));
        // the replier acks data the sender was never seen sending
        assert_eq!(names(pair.reply(seg(2, 1, 5000, 1300, 0, 500)).flags), "ack_lost_segment");
        // which sets the sender's own dupacknum to "-1"
        assert_eq!(pair.sender.dupacknum, u32::MAX);
    }

    #[test]
    fn wraparound_isn() {
        let mut pair = Pair::new();
        let isn = u32::MAX - 50;
        let syn = SeqInput { flags: TcpFlags(TcpFlags::SYN), ..seg(1, 0, isn, 0, 0, 500) };
        assert!(pair.send(syn).flags.is_empty());
        let first = pair.send(seg(2, 1, isn.wrapping_add(1), 7, 100, 500));
        assert!(first.flags.is_empty(), "{:?}", first.flags);
        let second = pair.send(seg(3, 2, isn.wrapping_add(101), 7, 100, 500));
        assert!(second.flags.is_empty());
        let again = pair.send(seg(4, 400, isn.wrapping_add(1), 7, 100, 500));
        assert_eq!(names(again.flags), "retransmission");
    }

    #[test]
    fn unacked_ranges() {
        let mut unacked = Unacked::default();
        unacked.add(100, 200);
        unacked.add(300, 400);
        unacked.add(200, 300); // fills the hole
        assert_eq!((unacked.count, unacked.span()), (1, 300));
        unacked.add(500, 600);
        unacked.ack(450);
        assert_eq!((unacked.count, unacked.span(), unacked.ranges[0].0), (1, 100, 500));
        unacked.ack(520);
        assert_eq!(unacked.span(), 80);
        unacked.ack(600);
        assert!(unacked.is_empty());
        for k in 0..20u32 {
            unacked.add(k * 1000, k * 1000 + 10);
        }
        assert_eq!(unacked.count as usize, UNACKED_RANGES);
        assert_eq!(unacked.span(), 19_010);
        let mut wrapped = Unacked::default();
        wrapped.add(u32::MAX - 5, 5);
        wrapped.add(5, 10);
        assert_eq!((wrapped.count, wrapped.span()), (1, 16));
    }

    #[test]
    fn bytes_in_flight() {
        let mut pair = Pair::new();
        assert_eq!(pair.send(seg(1, 0, 1000, 5000, 100, 500)).bytes_in_flight, Some(100));
        assert_eq!(pair.send(seg(2, 0, 1100, 5000, 100, 500)).bytes_in_flight, Some(200));
        pair.reply(seg(3, 1, 5000, 1100, 0, 500));
        assert_eq!(pair.send(seg(4, 2, 1200, 5000, 100, 500)).bytes_in_flight, Some(200));
        pair.reply(seg(5, 3, 5000, 1300, 0, 500));
        assert_eq!(pair.send(seg(6, 4, 1300, 5000, 50, 500)).bytes_in_flight, Some(50));
    }
}
