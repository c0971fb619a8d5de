//! Zeek's content gaps of one direction: sequence space that the stream will never have, because
//! the peer acknowledged it (or a later segment's bytes were handed on past it) without it being
//! captured, or because the snap length cut a segment's payload. Each hole is one gap (Zeek's
//! reassembler reports it once, when it skips it: `TCP_Reassembler::Undelivered`), however many
//! ACKs pass it; its bytes are Zeek's `missed_bytes`.
//!
//! The model is Zeek's `last_reassem_seq`: `next`, below which every byte is accounted for
//! (captured, or counted missed), and a few captured ranges above it waiting for the hole below
//! them to be filled. Fixed size, no heap: when more ranges wait than it holds, the new one is
//! joined to the nearest held one, over the hole between them (which then never counts).

/// Captured ranges held above the in-order point.
const BLOCKS: usize = 8;

/// `a` is before `b` in sequence space (RFC 9293 3.4: arithmetic modulo 2^32).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// One direction's gaps (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StreamGaps {
    /// Every sequence number before it is accounted for; `None` before the first segment.
    next: Option<u32>,
    /// Captured `[start, end)` ranges after `next`, unordered; the first `held` are set.
    blocks: [(u32, u32); BLOCKS],
    held: u8,
    /// Bytes never captured (Zeek's `missed_bytes`).
    pub missed: u64,
}

impl StreamGaps {
    /// A segment of this direction: `len` payload bytes at `seq` of which `captured` were
    /// captured. Returns the gaps it makes (0 or 1: a payload cut by the snap length).
    pub fn segment(&mut self, seq: u32, len: u32, captured: u32, syn: bool, fin: bool) -> u32 {
        // The common segment, first and cheaply: in order, whole, nothing held above it (a
        // capture without gaps has only these). Same result as the general path below.
        if !syn && !fin && captured >= len && self.held == 0 && self.next == Some(seq) {
            self.next = Some(seq.wrapping_add(len));
            return 0;
        }
        self.segment_general(seq, len, captured, syn, fin)
    }

    /// [`segment`](Self::segment) for any segment.
    fn segment_general(&mut self, seq: u32, len: u32, captured: u32, syn: bool, fin: bool) -> u32 {
        let data = if syn { seq.wrapping_add(1) } else { seq };
        let next = *self.next.get_or_insert(data);
        if syn && before(next, data) {
            self.next = Some(data);
        }
        let captured = captured.min(len);
        let cap_end = data.wrapping_add(captured);
        let data_end = data.wrapping_add(len);
        if captured > 0 {
            self.captured(data, cap_end);
        }
        let mut gaps = 0;
        let next = self.next.unwrap_or(data);
        if captured < len && !before(next, cap_end) && before(next, data_end) {
            // the cut tail follows what is accounted for: it can never be captured now
            self.missed += u64::from(data_end.wrapping_sub(next));
            self.next = Some(data_end);
            self.merge();
            gaps = 1;
        }
        if fin {
            // the FIN takes one sequence number, captured (RFC 9293 3.4)
            self.captured(data_end, data_end.wrapping_add(1));
        }
        gaps
    }

    /// The peer acknowledged this direction up to `ack`: each hole before it is a gap.
    /// Returns how many.
    pub fn acked(&mut self, ack: u32) -> u32 {
        let mut gaps = 0;
        while let Some(next) = self.next {
            if !before(next, ack) {
                break;
            }
            let first_block = self.blocks[..self.held as usize].iter().map(|b| b.0).min_by_key(|start| start.wrapping_sub(next));
            let hole_end = match first_block {
                Some(start) if before(start, ack) => start,
                _ => ack,
            };
            self.missed += u64::from(hole_end.wrapping_sub(next));
            self.next = Some(hole_end);
            self.merge();
            gaps += 1;
        }
        gaps
    }

    /// Bytes `[start, end)` were captured.
    fn captured(&mut self, start: u32, end: u32) {
        let Some(next) = self.next else { return };
        if !before(next, start) {
            if before(next, end) {
                self.next = Some(end);
                self.merge();
            }
        } else if (self.held as usize) < BLOCKS {
            self.blocks[self.held as usize] = (start, end);
            self.held += 1;
        } else {
            // Full: widen the held range nearest to it over the hole between them, so that
            // hole is never called a gap (fewer missed bytes rather than a false gap).
            let distance = |b: &(u32, u32)| {
                if before(b.1, start) {
                    start.wrapping_sub(b.1)
                } else if before(end, b.0) {
                    b.0.wrapping_sub(end)
                } else {
                    0
                }
            };
            let nearest = (0..BLOCKS).min_by_key(|&i| distance(&self.blocks[i])).unwrap_or(0);
            let block = &mut self.blocks[nearest];
            let from = next;
            if start.wrapping_sub(from) < block.0.wrapping_sub(from) {
                block.0 = start;
            }
            if end.wrapping_sub(from) > block.1.wrapping_sub(from) {
                block.1 = end;
            }
        }
    }

    /// Take in the held ranges that now touch `next`.
    fn merge(&mut self) {
        let Some(mut next) = self.next else { return };
        let mut i = 0;
        while i < self.held as usize {
            let (start, end) = self.blocks[i];
            if !before(next, start) {
                if before(next, end) {
                    next = end;
                }
                self.held -= 1;
                self.blocks[i] = self.blocks[self.held as usize];
                i = 0;
            } else {
                i += 1;
            }
        }
        self.next = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five holes acknowledged ten times are five gaps and their bytes.
    #[test]
    fn holes_count_once_however_often_acked() {
        let mut g = StreamGaps::default();
        g.segment(1000, 0, 0, true, false);
        let mut gaps = 0;
        for i in 0..10u32 {
            if i % 2 == 1 {
                gaps += g.segment(1001 + i * 100, 100, 100, false, false);
            }
        }
        for _ in 0..10 {
            gaps += g.acked(2001);
        }
        assert_eq!((gaps, g.missed), (5, 500));
    }

    /// A hole filled by a retransmission before the ACK passes it is no gap.
    #[test]
    fn filled_hole_is_no_gap() {
        let mut g = StreamGaps::default();
        g.segment(0, 0, 0, true, false);
        g.segment(101, 100, 100, false, false);
        g.segment(1, 100, 100, false, false);
        assert_eq!((g.acked(201), g.missed), (0, 0));
    }

    /// A payload cut by the snap length is a gap at once, and its retransmission (cut again) is
    /// not another one.
    #[test]
    fn snap_length_cut_is_a_gap() {
        let mut g = StreamGaps::default();
        g.segment(0, 0, 0, true, false);
        assert_eq!(g.segment(1, 100, 4, false, false), 1);
        assert_eq!(g.segment(1, 100, 4, false, false), 0);
        assert_eq!((g.acked(101), g.missed), (0, 96));
    }

    /// The in-order fast path leaves the state as the general path does, on random mixes of
    /// in-order, overlapping, out-of-order, cut, SYN and FIN segments and ACKs.
    #[test]
    fn fast_path_agrees_with_the_general_one() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u32| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % u64::from(n)) as u32
        };
        for round in 0..200 {
            let (mut fast, mut general) = (StreamGaps::default(), StreamGaps::default());
            let mut at = next(u32::MAX);
            for step in 0..300 {
                let len = if next(4) == 0 { 0 } else { next(1500) };
                let seq = match next(10) {
                    0 => at.wrapping_add(next(3000)),
                    1 => at.wrapping_sub(next(3000)),
                    _ => at,
                };
                let captured = if next(20) == 0 { next(len + 1) } else { len };
                let (syn, fin) = (step == 0 || next(100) == 0, next(100) == 0);
                let a = fast.segment(seq, len, captured, syn, fin);
                let b = general.segment_general(seq, len, captured, syn, fin);
                assert_eq!(a, b, "round {round} step {step}");
                if next(3) == 0 {
                    let ack = at.wrapping_add(next(4000));
                    assert_eq!(fast.acked(ack), general.acked(ack), "round {round} step {step}");
                }
                let state = |g: &StreamGaps| (g.next, g.held, g.blocks, g.missed);
                assert_eq!(state(&fast), state(&general), "round {round} step {step}");
                if seq == at {
                    at = at.wrapping_add(len);
                }
            }
        }
    }

    /// The FIN's sequence number is accounted for: acknowledging it is no gap; sequence
    /// numbers wrap.
    #[test]
    fn fin_and_wrap() {
        let mut g = StreamGaps::default();
        g.segment(u32::MAX - 10, 0, 0, true, false);
        g.segment(u32::MAX - 9, 20, 20, false, true);
        assert_eq!((g.acked(11), g.missed), (0, 0));
    }
}
