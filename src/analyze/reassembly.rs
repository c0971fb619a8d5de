//! Per-direction TCP reassembly: places payload bytes by (unwrapped) sequence
//! offset and hands them to a [`ReasmSink`] in stream order.
//!
//! * Offsets: the tracker's `rseq` (1 = first payload byte) is unwrapped to the
//!   64-bit value nearest the highest sequence seen so far; offset = unwrapped − 1.
//!   Bytes before offset 0 (keep-alive garbage at ISN) are ignored.
//! * In-order data (the common case) is handed to the sink straight from the
//!   caller's payload slice, without copying. Out-of-order data is copied into
//!   non-overlapping pieces in a `BTreeMap` until the hole before it fills.
//! * Overlaps: the first copy of every byte wins. Where a later copy overlaps a
//!   buffered piece with different bytes, a [`ReasmEvent::Conflict`] is raised.
//!   Bytes already handed on are not kept; a retransmission covering whole 64-byte
//!   blocks of the last `conflict_window` bytes is compared with them block by
//!   block (a difference only in a block it covers partly goes unnoticed). When
//!   every payload stays readable for the whole run (a [`Backing`]: the
//!   memory-mapped capture file) the first copy is read again from there, so the
//!   in-order path never touches payload bytes; otherwise (live capture) a 32-bit
//!   hash of each block is kept as it is handed on. Both report the same blocks.
//! * Holes: when the buffered bytes pass `gap_threshold`, at close, or at the end
//!   of input, the hole before the first piece is skipped and handed to the sink
//!   as a gap. The unknown tail of a payload cut by the snap length is a gap too.
//! * Memory: every piece costs its captured bytes + [`PIECE_OVERHEAD`], counted
//!   per direction (`per_dir_cap`) and globally ([`Mem`]); a piece that does not
//!   fit is dropped ([`ReasmEvent::CapDrop`]) and becomes part of a gap later.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

/// Accounting charge of one buffered piece beyond its bytes.
pub const PIECE_OVERHEAD: usize = 64;
/// Block size of the conflict-check history.
pub const HIST_BLOCK: usize = 64;

/// Global memory account shared by all directions.
#[derive(Clone, Copy, Debug)]
pub struct Mem {
    /// Bytes charged now (buffered pieces with [`PIECE_OVERHEAD`], bytes held for detection).
    pub used: usize,
    /// Most bytes that may be charged at once; a charge past it fails.
    pub cap: usize,
    /// Highest `used` so far.
    pub peak: usize,
}

impl Mem {
    /// An empty account with room for `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Mem { used: 0, cap, peak: 0 }
    }
    /// Charges `n` bytes if they fit under the cap.
    pub fn try_take(&mut self, n: usize) -> bool {
        if self.used + n > self.cap {
            return false;
        }
        self.used += n;
        self.peak = self.peak.max(self.used);
        true
    }
    /// Gives back `n` charged bytes (never below 0).
    pub fn give(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }
}

use crate::capture::Backing;

/// Where `part` starts in `backing`, if it lies inside it.
fn index_in(backing: &[u8], part: &[u8]) -> Option<usize> {
    let b = backing.as_ptr_range();
    let p = part.as_ptr_range();
    (p.start >= b.start && p.end <= b.end).then(|| p.start as usize - b.start as usize)
}

/// Reassembly limits, and where payloads can be read again.
#[derive(Clone, Copy)]
pub struct ReasmCfg<'a> {
    /// Most bytes one direction may have buffered out of order (accounted with
    /// [`PIECE_OVERHEAD`]); a piece past it is dropped ([`ReasmEvent::CapDrop`]).
    pub per_dir_cap: usize,
    /// Buffered bytes past which the hole before the first piece is given up as a gap.
    pub gap_threshold: usize,
    /// Bytes already handed on that a retransmission is compared with, in whole
    /// [`HIST_BLOCK`]s; below one block the check is off.
    pub conflict_window: usize,
    /// Every payload passed in lies in this for the whole run: the conflict check reads first
    /// copies from it instead of hashing every byte. A reassembler keeps the mode it was created
    /// with, so every call for it must pass the same.
    pub backing: Option<&'a dyn Backing>,
}

impl std::fmt::Debug for ReasmCfg<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReasmCfg")
            .field("per_dir_cap", &self.per_dir_cap)
            .field("gap_threshold", &self.gap_threshold)
            .field("conflict_window", &self.conflict_window)
            .field("backed", &self.backing.is_some())
            .finish()
    }
}

/// Why bytes of the stream are unknown.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum GapReason {
    /// Never captured (lost before the capture point, or dropped for memory).
    Lost,
    /// Cut by the capture's snap length.
    Snaplen,
}

impl GapReason {
    /// The contract's name: `lost` or `snaplen`.
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Lost => "lost",
            GapReason::Snaplen => "snaplen",
        }
    }
}

/// Things the reassembler reports besides bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReasmEvent {
    /// Frame `frame` carried bytes that differ from the first copy (frame `first`),
    /// from `offset` for `len` bytes (the compared overlap). The first copy is kept.
    Conflict {
        /// Stream offset of the first differing byte.
        offset: u64,
        /// Bytes from `offset` to the end of the compared overlap.
        len: u64,
        /// The frame that carried the first copy (0 when no longer known).
        first: u64,
        /// The frame whose copy differs.
        frame: u64,
    },
    /// `len` bytes at `offset` of frame `frame` were dropped: they did not fit
    /// under the per-direction (`global` false) or global cap.
    CapDrop {
        /// Stream offset of the first dropped byte.
        offset: u64,
        /// Bytes dropped.
        len: u64,
        /// The frame that carried them.
        frame: u64,
        /// The global cap ([`Mem`]) was full, not the direction's.
        global: bool,
    },
    /// Bytes beyond the end of a finished direction were ignored.
    Late {
        /// Stream offset of the first ignored byte.
        offset: u64,
        /// Bytes ignored.
        len: u64,
        /// The frame that carried them.
        frame: u64,
    },
}

/// Where the wire segments of a frame's payload begin, in stream offsets (see
/// [`WireSegs`](super::WireSegs)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireGrid {
    /// The frame was one wire segment.
    Whole,
    /// The wire carried the frame's payload in segments of `mss` bytes from stream offset `start`.
    Chunks {
        /// Stream offset of the frame's first payload byte.
        start: u64,
        /// Payload bytes per wire segment (at least 1).
        mss: u64,
    },
    /// The frame stands for several wire segments, where they began is unknown.
    Unknown,
}

impl WireGrid {
    /// The grid of a segment whose payload starts at stream offset `start`.
    pub fn of(wire: super::WireSegs, start: u64) -> WireGrid {
        match wire {
            super::WireSegs::Whole => WireGrid::Whole,
            super::WireSegs::Offload { mss } => WireGrid::Chunks { start, mss: u64::from(mss.max(1)) },
            super::WireSegs::Unknown => WireGrid::Unknown,
        }
    }

    /// True when the bytes at stream offsets `a` and `b` of the frame went in one wire segment
    /// (for [`Unknown`](Self::Unknown): in one frame, as captured).
    pub fn together(self, a: u64, b: u64) -> bool {
        match self {
            WireGrid::Chunks { start, mss } => a.saturating_sub(start) / mss == b.saturating_sub(start) / mss,
            WireGrid::Whole | WireGrid::Unknown => true,
        }
    }
}

/// The frame that first carried some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSpan {
    /// Its number.
    pub n: u64,
    /// The stream offset its segment ends at.
    pub end: u64,
    /// How the wire carried it.
    pub grid: WireGrid,
}

/// Receives a direction's bytes in stream order.
pub trait ReasmSink {
    /// Bytes `[off, off + bytes.len())`, first carried by frame `from`; `ts` is the time they
    /// became available in order (the capture time of the frame that completed contiguity).
    fn data(&mut self, mem: &mut Mem, off: u64, bytes: &[u8], from: FrameSpan, ts: i64);
    /// `len` unknown bytes at `off`; `n`: the frame whose captured payload was cut
    /// (snap length), if any.
    fn gap(&mut self, mem: &mut Mem, off: u64, len: u64, why: GapReason, n: Option<u64>, ts: i64);
    /// Frame `n` carried `len` bytes at `off` again (already handed on).
    fn old(&mut self, off: u64, len: u64, n: u64);
    /// A conflict, a cap drop or late bytes (see [`ReasmEvent`]).
    fn event(&mut self, ev: ReasmEvent);
}

/// One TCP segment of a direction, as [`Reassembler::segment`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct ReasmSeg<'p> {
    /// Sequence number relative to the direction's ISN, 1 = the first payload byte (the
    /// tracker's `rseq`; RFC 9293 SEG.SEQ − ISS).
    pub rseq: u32,
    /// Payload length on the wire in bytes (RFC 9293 SEG.LEN without SYN and FIN); 0: ignored.
    pub len: u32,
    /// The captured payload: the first bytes of the `len`, fewer when the snap length cut it.
    pub payload: &'p [u8],
    /// The frame that carried it (1-based, tshark's `frame.number`).
    pub n: u64,
    /// Capture time, ns: handed on with the bytes it makes available in order.
    pub ts: i64,
    /// How the wire carried it.
    pub wire: super::WireSegs,
}

/// A buffered out-of-order piece covering `[start, start + len)`, of which the first `known`
/// bytes were captured (the rest is unknown). Those bytes are held in `data`, or, when they lie
/// in the run's [`Backing`] (file input), only where: `at` (read again when the piece is
/// handed on; a bulk transfer waiting for retransmissions holds up to the per-direction cap,
/// and copies of those bytes would be most of a long capture's memory).
#[derive(Debug)]
struct Piece {
    n: u64,
    frame_end: u64,
    grid: WireGrid,
    data: Vec<u8>,
    known: usize,
    len: u64,
    /// Where the captured bytes lie in the run's [`Backing`].
    at: Option<usize>,
}

impl Piece {
    /// What it counts against the caps: the captured bytes, held or not, so that the caps
    /// (and so the output) do not depend on whether the input is a file.
    fn cost(&self) -> usize {
        self.known + PIECE_OVERHEAD
    }

    /// The captured bytes (`backing`: the run's, as every call for this reassembler passes).
    fn bytes<'s>(&'s self, backing: Option<&'s dyn Backing>) -> &'s [u8] {
        debug_assert!(self.data.len() == self.known || backing.is_some(), "a held piece read without its backing");
        match (self.at, backing) {
            (Some(a), Some(bk)) if self.data.len() != self.known => &bk.bytes()[a..a + self.known],
            _ => &self.data,
        }
    }

    /// Done reading [`bytes`](Self::bytes): pages read again from the backing go back.
    fn read(&self, backing: Option<&dyn Backing>) {
        if let (Some(a), Some(bk)) = (self.at, backing) {
            if self.data.len() != self.known {
                bk.reread(a..a + self.known);
            }
        }
    }

    /// The piece, buffered at stream offset `start`, as bytes to hand on.
    fn placed<'s>(&'s self, start: u64, backing: Option<&'s dyn Backing>) -> Placed<'s> {
        Placed { off: start, pay: self.bytes(backing), at: self.at, n: self.n, frame_end: self.frame_end, grid: self.grid }
    }
}

/// The captured bytes of one segment (or buffered piece) placed in the stream: `pay` from stream
/// offset `off`, at `at` in the run's [`Backing`] when they lie in it, first carried by frame `n`
/// whose segment ends at stream offset `frame_end`. Passed by value: a few words, no allocation.
#[derive(Clone, Copy)]
struct Placed<'p> {
    off: u64,
    pay: &'p [u8],
    at: Option<usize>,
    n: u64,
    frame_end: u64,
    grid: WireGrid,
}

/// Counters of one direction's reassembly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReasmStats {
    /// Captured bytes handed on in stream order (gaps not counted).
    pub bytes: u64,
    /// Gaps handed on (lost or cut by the snap length).
    pub gaps: u64,
    /// Bytes in those gaps.
    pub gap_bytes: u64,
    /// [`ReasmEvent::Conflict`]s raised.
    pub conflicts: u64,
    /// [`ReasmEvent::CapDrop`]s raised.
    pub cap_drops: u64,
    /// Bytes in those drops.
    pub cap_drop_bytes: u64,
    /// Bytes that arrived again after the first copy (retransmissions, overlaps).
    pub dup_bytes: u64,
    /// Most bytes buffered out of order at once (accounted, as for `per_dir_cap`).
    pub peak_buffered: usize,
}

/// Hash of one history block. Each 8-byte word goes through its own bijection
/// (xor a lane key, multiply by an odd constant) and the lanes are summed, so a
/// change confined to one word always changes the 64-bit sum; the lanes are
/// independent, so the multiplies overlap instead of forming one serial chain
/// (this runs over every delivered byte). Never 0.
fn block_hash(bytes: &[u8]) -> u32 {
    const K: [u64; 8] = [
        0x9e37_79b9_7f4a_7c15,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0x85eb_ca77_c2b2_ae63,
        0x27d4_eb2f_1656_67c5,
        0xff51_afd7_ed55_8ccd,
        0xc4ce_b9fe_1a85_ec53,
        0x94d0_49bb_1331_11eb,
    ];
    let mut h: u64 = bytes.len() as u64;
    let mut words = bytes.chunks_exact(64);
    for blk in &mut words {
        let mut acc = [0u64; 8];
        for (i, w) in blk.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            acc[i] = (x ^ K[(i + 3) & 7]).wrapping_mul(K[i] | 1);
        }
        h = h.rotate_left(29) ^ acc.iter().fold(0u64, |a, &b| a.wrapping_add(b));
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        h = h.wrapping_add((u64::from(b) ^ K[i & 7]).wrapping_mul(K[(i + 5) & 7] | 1).rotate_left(i as u32 & 63));
    }
    let h = h ^ (h >> 29);
    ((h >> 32) as u32 ^ h as u32) | 1
}

/// The conflict check's memory of the bytes already handed on.
#[derive(Debug)]
enum History {
    Hashed(Hashed),
    Backed(Backed),
}

impl History {
    fn new(window: usize, backed: bool) -> Self {
        if backed {
            History::Backed(Backed { window_blocks: (window / HIST_BLOCK) as u64, pos: 0, chunks: VecDeque::new() })
        } else {
            History::Hashed(Hashed::new(window))
        }
    }
    /// Bytes `b` at `off` from frame `n`, handed on; `at`: where they lie in the backing.
    fn data(&mut self, off: u64, b: &[u8], n: u64, at: Option<usize>) {
        match self {
            History::Hashed(h) => h.data(off, b, n),
            History::Backed(h) => h.data(off, b.len(), n, at),
        }
    }
    fn unknown(&mut self, len: u64) {
        match self {
            History::Hashed(h) => h.unknown(len),
            History::Backed(h) => h.pos += len,
        }
    }
    fn check(&self, off: u64, b: &[u8], backing: Option<&dyn Backing>) -> Option<(u64, u64)> {
        match (self, backing) {
            (History::Hashed(h), _) => h.check(off, b),
            (History::Backed(h), Some(bk)) => h.check(off, b, bk),
            (History::Backed(_), None) => None,
        }
    }
    /// A direction of many small segments would need more chunk records than block hashes
    /// (one record per segment of the window against one hash per 64 bytes): past
    /// [`MAX_CHUNKS`] records it switches to hashes, made from the first copies in `backing`,
    /// and goes on as a live capture does. Same answers either way.
    fn bound(&mut self, backing: &dyn Backing) {
        if let History::Backed(b) = self {
            if b.chunks.len() > MAX_CHUNKS {
                *self = History::Hashed(b.to_hashed(backing));
            }
        }
    }
}

/// Most chunk records a [`Backed`] history keeps (32 bytes each: 16 KiB, what the block hashes of
/// the default window cost at most) before it turns into a [`Hashed`] one.
const MAX_CHUNKS: usize = 512;

/// Delivered bytes of one run-long backing: a chunk of the stream lies at `at`, first carried
/// by `frame`.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    off: u64,
    len: u64,
    at: usize,
    frame: u64,
}

/// The first copies of the last delivered blocks, found again in the [`Backing`]: one record
/// per delivered chunk (about one per segment) instead of a hash per 64 bytes, and no byte
/// touched until a retransmission needs them. Checks exactly the blocks [`Hashed`] checks.
#[derive(Debug)]
struct Backed {
    window_blocks: u64,
    /// Stream bytes handed on (known or not).
    pos: u64,
    /// Known chunks, in stream order, that still reach into the window.
    chunks: VecDeque<Chunk>,
}

impl Backed {
    fn data(&mut self, off: u64, len: usize, n: u64, at: Option<usize>) {
        debug_assert_eq!(off, self.pos);
        let len = len as u64;
        self.pos = off + len;
        if let Some(at) = at {
            match self.chunks.back_mut() {
                Some(c) if c.frame == n && c.off + c.len == off && c.at + c.len as usize == at => c.len += len,
                _ => self.chunks.push_back(Chunk { off, len, at, frame: n }),
            }
        }
        let (start, _) = self.window();
        while self.chunks.front().is_some_and(|c| c.off + c.len <= start) {
            self.chunks.pop_front();
        }
    }
    /// The whole blocks remembered: `[start, end)`.
    fn window(&self) -> (u64, u64) {
        let bs = HIST_BLOCK as u64;
        let end = self.pos / bs * bs;
        (end.saturating_sub(self.window_blocks * bs), end)
    }
    /// Copies the first copy of `[lo, hi)` into `out` when every byte of it is known, and returns
    /// the span of the backing it was read from; `None` when a byte is unknown. Starts at chunk
    /// `k`, which it advances past chunks that end at or before `lo` (callers go forward).
    fn copy_of(&self, all: &[u8], lo: u64, hi: u64, k: &mut usize, out: &mut Vec<u8>) -> Option<Range<usize>> {
        out.clear();
        while self.chunks.get(*k).is_some_and(|c| c.off + c.len <= lo) {
            *k += 1;
        }
        let (mut first, mut last) = (usize::MAX, 0);
        let mut at = lo;
        let mut j = *k;
        while at < hi {
            let c = self.chunks.get(j).filter(|c| c.off <= at)?;
            let upto = (c.off + c.len).min(hi);
            let from = c.at + (at - c.off) as usize;
            let to = from + (upto - at) as usize;
            out.extend_from_slice(all.get(from..to)?);
            (first, last) = (first.min(from), last.max(to));
            at = upto;
            j += 1;
        }
        Some(first..last)
    }

    /// The same history as block hashes (what a live capture would hold now).
    fn to_hashed(&self, backing: &dyn Backing) -> Hashed {
        let bs = HIST_BLOCK as u64;
        let all = backing.bytes();
        let (start, end) = self.window();
        let mut hashed = Hashed::new(self.window_blocks as usize * HIST_BLOCK);
        hashed.start = start;
        let mut chunk = 0;
        let mut buf = Vec::with_capacity(HIST_BLOCK);
        let mut blk = start;
        while blk < end {
            let known = self.copy_of(all, blk, blk + bs, &mut chunk, &mut buf).is_some();
            hashed.hashes.push_back(if known { block_hash(&buf) } else { 0 });
            blk += bs;
        }
        if self.pos > end {
            if self.copy_of(all, end, self.pos, &mut chunk, &mut buf).is_none() {
                buf.clear();
                buf.resize((self.pos - end) as usize, 0);
                hashed.cur_bad = true;
            }
            hashed.cur = buf;
        }
        for c in &self.chunks {
            if hashed.frames.back().map(|f| f.1) != Some(c.frame) {
                hashed.frames.push_back((c.off, c.frame));
            }
        }
        let lo = self.chunks.iter().map(|c| c.at).min();
        let hi = self.chunks.iter().map(|c| c.at + c.len as usize).max();
        if let (Some(lo), Some(hi)) = (lo, hi) {
            backing.reread(lo..hi);
        }
        hashed
    }

    /// As [`Hashed::check`], comparing with the first copy's bytes.
    fn check(&self, off: u64, b: &[u8], backing: &dyn Backing) -> Option<(u64, u64)> {
        let bs = HIST_BLOCK as u64;
        let (start, hist_end) = self.window();
        let last = (off + b.len() as u64).min(hist_end);
        let mut blk = off.max(start).div_ceil(bs) * bs;
        let all = backing.bytes();
        let mut k = self.chunks.partition_point(|c| c.off + c.len <= blk);
        let mut first = Vec::with_capacity(HIST_BLOCK);
        let (mut lo, mut hi) = (usize::MAX, 0);
        let mut found = None;
        while blk + bs <= last {
            // A block not wholly known is skipped (a hash of 0).
            if let Some(span) = self.copy_of(all, blk, blk + bs, &mut k, &mut first) {
                (lo, hi) = (lo.min(span.start), hi.max(span.end));
                let i = (blk - off) as usize;
                if first[..] != b[i..i + HIST_BLOCK] {
                    // `copy_of` left `k` at the chunk holding the block's first byte.
                    found = Some((blk, self.chunks[k].frame));
                    break;
                }
            }
            blk += bs;
        }
        if lo < hi {
            backing.reread(lo..hi);
        }
        found
    }
}

/// Hashes of the last delivered 64-byte blocks, and which frame first carried them.
#[derive(Debug, Default)]
struct Hashed {
    window_blocks: usize,
    /// Offset of the block of `hashes[0]`.
    start: u64,
    /// 0 = the block held unknown bytes.
    hashes: VecDeque<u32>,
    cur: Vec<u8>,
    cur_bad: bool,
    /// (offset, frame) of delivered chunks, oldest first.
    frames: VecDeque<(u64, u64)>,
}

impl Hashed {
    fn new(window: usize) -> Self {
        Hashed { window_blocks: window / HIST_BLOCK, ..Default::default() }
    }
    fn enabled(&self) -> bool {
        self.window_blocks > 0
    }
    fn push_block(&mut self, h: u32) {
        self.hashes.push_back(h);
        if self.hashes.len() > self.window_blocks {
            self.hashes.pop_front();
            self.start += HIST_BLOCK as u64;
            let keep_from = self.start;
            while self.frames.len() > 1 && self.frames[1].0 <= keep_from {
                self.frames.pop_front();
            }
        }
    }
    fn data(&mut self, off: u64, mut b: &[u8], n: u64) {
        if !self.enabled() {
            return;
        }
        if self.frames.back().map(|f| f.1) != Some(n) {
            self.frames.push_back((off, n));
        }
        while !b.is_empty() {
            let take = (HIST_BLOCK - self.cur.len()).min(b.len());
            if self.cur.is_empty() && take == HIST_BLOCK && !self.cur_bad {
                self.push_block(block_hash(&b[..take]));
            } else {
                self.cur.extend_from_slice(&b[..take]);
                if self.cur.len() == HIST_BLOCK {
                    let h = if self.cur_bad { 0 } else { block_hash(&self.cur) };
                    self.cur.clear();
                    self.cur_bad = false;
                    self.push_block(h);
                }
            }
            b = &b[take..];
        }
    }
    fn unknown(&mut self, mut len: u64) {
        if !self.enabled() {
            return;
        }
        while len > 0 {
            let room = (HIST_BLOCK - self.cur.len()) as u64;
            if self.cur.is_empty() && len >= HIST_BLOCK as u64 {
                let bs = HIST_BLOCK as u64;
                let blocks = len / bs;
                if blocks >= self.window_blocks as u64 {
                    // The whole window is unknown: forget it.
                    let end = self.start + self.hashes.len() as u64 * bs;
                    self.hashes.clear();
                    self.frames.clear();
                    self.start = end + blocks * bs;
                } else {
                    for _ in 0..blocks {
                        self.push_block(0);
                    }
                }
                len -= blocks * bs;
                continue;
            }
            let take = room.min(len);
            self.cur.resize(self.cur.len() + take as usize, 0);
            self.cur_bad = true;
            len -= take;
            if self.cur.len() == HIST_BLOCK {
                self.cur.clear();
                self.cur_bad = false;
                self.push_block(0);
            }
        }
    }
    /// Compares `b` (at `off`, already delivered) with the history: the first
    /// whole block that differs, as (offset, first frame).
    fn check(&self, off: u64, b: &[u8]) -> Option<(u64, u64)> {
        if !self.enabled() || self.hashes.is_empty() {
            return None;
        }
        let bs = HIST_BLOCK as u64;
        let end = off + b.len() as u64;
        let hist_end = self.start + self.hashes.len() as u64 * bs;
        let mut blk = off.max(self.start).div_ceil(bs) * bs;
        while blk + bs <= end.min(hist_end) {
            let stored = self.hashes[((blk - self.start) / bs) as usize];
            let i = (blk - off) as usize;
            if stored != 0 && stored != block_hash(&b[i..i + HIST_BLOCK]) {
                let k = self.frames.partition_point(|&(o, _)| o <= blk);
                let first = if k == 0 { 0 } else { self.frames[k - 1].1 };
                return Some((blk, first));
            }
            blk += bs;
        }
        None
    }
}

/// A conflict where the captured bytes of `seg` (up to stream offset `end`) and piece `p` (at
/// `ps`) overlap with different captured bytes.
fn diff(seg: Placed<'_>, ps: u64, p: &Piece, end: u64, backing: Option<&dyn Backing>) -> Option<ReasmEvent> {
    let base = seg.off;
    let lo = ps.max(base);
    let hi = (ps + p.known as u64).min(base + seg.pay.len() as u64).min(end);
    if hi <= lo {
        return None;
    }
    let new_copy = &seg.pay[(lo - base) as usize..(hi - base) as usize];
    let first_copy = &p.bytes(backing)[(lo - ps) as usize..(hi - ps) as usize];
    let differs_at = new_copy.iter().zip(first_copy).position(|(x, y)| x != y);
    p.read(backing);
    let i = differs_at?;
    Some(ReasmEvent::Conflict { offset: lo + i as u64, len: hi - lo - i as u64, first: p.n, frame: seg.n })
}

/// Reassembly state of one direction.
#[derive(Debug)]
pub struct Reassembler {
    /// Next in-order offset: everything before it has been handed on.
    next: u64,
    /// Highest unwrapped sequence end seen (reference for unwrapping).
    head: i64,
    ooo: BTreeMap<u64, Piece>,
    /// Accounted bytes in `ooo`.
    buffered: usize,
    /// `None` when the conflict window is 0, and once finished (boxed: a finished
    /// direction lingers with its connection and should cost little).
    hist: Option<Box<History>>,
    /// Offset where the stream ends (FIN), when known.
    end: Option<u64>,
    /// No more bytes are accepted.
    finished: bool,
    /// What it has done so far.
    pub stats: ReasmStats,
}

impl Reassembler {
    /// An empty direction for `cfg` (whose `backing` every later call must pass too).
    pub fn new(cfg: &ReasmCfg) -> Self {
        Reassembler {
            next: 0,
            head: 1,
            ooo: BTreeMap::new(),
            buffered: 0,
            hist: (cfg.conflict_window >= HIST_BLOCK).then(|| Box::new(History::new(cfg.conflict_window, cfg.backing.is_some()))),
            end: None,
            finished: false,
            stats: ReasmStats::default(),
        }
    }

    /// Next in-order stream offset.
    pub fn next(&self) -> u64 {
        self.next
    }
    /// Accounted bytes held out of order.
    pub fn buffered(&self) -> usize {
        self.buffered
    }
    /// Number of buffered pieces.
    pub fn pieces(&self) -> usize {
        self.ooo.len()
    }
    /// Stream offset of the FIN, once [`set_end_rseq`](Self::set_end_rseq) gave it.
    pub fn end(&self) -> Option<u64> {
        self.end
    }
    /// [`finish`](Self::finish) was called: no more bytes are taken.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Unwraps a relative sequence number to the nearest 64-bit value.
    pub fn unwrap_seq(&self, rseq: u32) -> i64 {
        let d = rseq.wrapping_sub(self.head as u32) as i32;
        self.head + i64::from(d)
    }

    /// Offset of the FIN (stream end) from its relative sequence number.
    pub fn set_end_rseq(&mut self, rseq: u32) {
        let fin = (self.unwrap_seq(rseq) - 1).max(0) as u64;
        self.end = Some(self.end.map_or(fin, |known| known.min(fin)));
    }

    /// All bytes up to the known end have been handed on (or there is no known
    /// end and nothing is buffered).
    pub fn is_complete(&self) -> bool {
        self.ooo.is_empty() && self.end.is_none_or(|e| self.next >= e)
    }

    /// One TCP segment: `seg.len` bytes at `seg.rseq`, of which `seg.payload` (maybe shorter)
    /// were captured.
    pub fn segment<S: ReasmSink>(&mut self, cfg: &ReasmCfg, mem: &mut Mem, sink: &mut S, seg: ReasmSeg<'_>) {
        let ReasmSeg { rseq, len, payload, n, ts, wire } = seg;
        if len == 0 {
            return;
        }
        let start = self.unwrap_seq(rseq) - 1;
        self.head = self.head.max(start + 1 + i64::from(len));
        let mut len = u64::from(len);
        let mut pay = &payload[..payload.len().min(len as usize)];
        if start < 0 {
            let cut = start.unsigned_abs();
            if cut >= len {
                return;
            }
            len -= cut;
            pay = &pay[(cut as usize).min(pay.len())..];
        }
        let mut off = start.max(0) as u64;
        let end = off + len;
        let frame_end = end;
        let grid = WireGrid::of(wire, start.max(0) as u64);
        if off < self.next {
            let dup = end.min(self.next) - off;
            sink.old(off, dup, n);
            self.stats.dup_bytes += dup;
            let known = &pay[..(dup as usize).min(pay.len())];
            if let Some((at, first)) = self.hist.as_ref().and_then(|h| h.check(off, known, cfg.backing)) {
                self.stats.conflicts += 1;
                sink.event(ReasmEvent::Conflict { offset: at, len: end.min(self.next) - at, first, frame: n });
            }
            if end <= self.next {
                return;
            }
            pay = &pay[(dup as usize).min(pay.len())..];
            off = self.next;
        }
        if self.finished {
            sink.event(ReasmEvent::Late { offset: off, len: end - off, frame: n });
            return;
        }
        let mut global_drop = false;
        let at = cfg.backing.and_then(|bk| index_in(bk.bytes(), pay));
        let own = Placed { off, pay, at, n, frame_end, grid };
        if off == self.next {
            self.in_order(cfg.backing, mem, sink, own, end, ts);
            self.drain_contiguous(cfg.backing, mem, sink, ts);
        } else {
            global_drop = self.buffer(cfg, mem, sink, own, end);
        }
        if global_drop {
            // Make room: give up waiting for this direction's holes.
            while !self.ooo.is_empty() {
                self.skip_hole(cfg.backing, mem, sink, ts);
            }
        }
        while self.buffered > cfg.gap_threshold && !self.ooo.is_empty() {
            self.skip_hole(cfg.backing, mem, sink, ts);
        }
        if let (Some(h), Some(bk)) = (&mut self.hist, cfg.backing) {
            h.bound(bk);
        }
    }

    /// Hands on `[cur, stop)` of `src` (which covers it): its captured bytes, then the part the
    /// snap length cut as a gap.
    fn emit_own<S: ReasmSink>(&mut self, mem: &mut Mem, sink: &mut S, src: Placed<'_>, cur: u64, stop: u64, ts: i64) {
        let base = src.off;
        let known_end = (base + src.pay.len() as u64).min(stop);
        if known_end > cur {
            let bytes = &src.pay[(cur - base) as usize..(known_end - base) as usize];
            if let Some(h) = &mut self.hist {
                h.data(cur, bytes, src.n, src.at.map(|a| a + (cur - base) as usize));
            }
            self.stats.bytes += bytes.len() as u64;
            sink.data(mem, cur, bytes, FrameSpan { n: src.n, end: src.frame_end, grid: src.grid }, ts);
        }
        let from = known_end.max(cur);
        if stop > from {
            self.gap_out(mem, sink, from..stop, GapReason::Snaplen, Some(src.n), ts);
        }
        self.next = stop;
    }

    /// Hands on the unknown bytes `span` as a gap; `n`: the frame whose payload was cut, if any.
    fn gap_out<S: ReasmSink>(&mut self, mem: &mut Mem, sink: &mut S, span: Range<u64>, why: GapReason, n: Option<u64>, ts: i64) {
        let len = span.end - span.start;
        if let Some(h) = &mut self.hist {
            h.unknown(len);
        }
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        sink.gap(mem, span.start, len, why, n, ts);
    }

    fn deliver_piece<S: ReasmSink>(&mut self, backing: Option<&dyn Backing>, mem: &mut Mem, sink: &mut S, start: u64, p: Piece, ts: i64) {
        mem.give(p.cost());
        self.buffered -= p.cost();
        let end = start + p.len;
        self.emit_own(mem, sink, p.placed(start, backing), start, end, ts);
        p.read(backing);
    }

    /// Hands on `[own.off, end)`, which starts at the next in-order offset: the segment's own
    /// bytes, and the buffered pieces inside the range in their place (the first copy wins).
    fn in_order<S: ReasmSink>(&mut self, backing: Option<&dyn Backing>, mem: &mut Mem, sink: &mut S, own: Placed<'_>, end: u64, ts: i64) {
        let mut cur = own.off;
        while cur < end {
            let nxt = self.ooo.range(cur..end).next().map(|(&s, _)| s);
            let stop = nxt.unwrap_or(end);
            if stop > cur {
                self.emit_own(mem, sink, own, cur, stop, ts);
            }
            let Some(ps) = nxt else { break };
            let p = self.ooo.remove(&ps).expect("piece");
            let pend = ps + p.len;
            let ev = diff(own, ps, &p, end, backing);
            self.conflict(sink, ev);
            self.stats.dup_bytes += pend.min(end) - ps;
            self.deliver_piece(backing, mem, sink, ps, p, ts);
            cur = pend;
        }
    }

    fn conflict<S: ReasmSink>(&mut self, sink: &mut S, ev: Option<ReasmEvent>) {
        if let Some(ev) = ev {
            self.stats.conflicts += 1;
            sink.event(ev);
        }
    }

    fn drain_contiguous<S: ReasmSink>(&mut self, backing: Option<&dyn Backing>, mem: &mut Mem, sink: &mut S, ts: i64) {
        while let Some(entry) = self.ooo.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let (start, piece) = entry.remove_entry();
            self.deliver_piece(backing, mem, sink, start, piece, ts);
        }
    }

    /// Buffers the parts of `[own.off, end)` not yet covered. Returns true when a part
    /// was dropped for the global cap.
    fn buffer<S: ReasmSink>(&mut self, cfg: &ReasmCfg, mem: &mut Mem, sink: &mut S, own: Placed<'_>, end: u64) -> bool {
        let Placed { off, pay, at, n, frame_end, grid } = own;
        let mut cur = off;
        let mut global_drop = false;
        if let Some((&ps, p)) = self.ooo.range(..off).next_back() {
            let pend = ps + p.len;
            if pend > cur {
                let ev = diff(own, ps, p, end, cfg.backing);
                self.conflict(sink, ev);
                self.stats.dup_bytes += pend.min(end) - cur;
                cur = pend;
            }
        }
        while cur < end {
            let nxt = self.ooo.range(cur..end).next().map(|(&s, p)| (s, s + p.len));
            let stop = nxt.map_or(end, |x| x.0);
            if stop > cur {
                let known_end = (off + pay.len() as u64).clamp(cur, stop);
                let known = (known_end - cur) as usize;
                let at = at.map(|a| a + (cur - off) as usize);
                let data = if known == 0 || (at.is_some() && cfg.backing.is_some()) {
                    Vec::new()
                } else {
                    pay[(cur - off) as usize..(known_end - off) as usize].to_vec()
                };
                let piece = Piece { n, frame_end, grid, data, known, len: stop - cur, at };
                let cost = piece.cost();
                if self.buffered + cost > cfg.per_dir_cap {
                    self.drop_piece(sink, cur, stop - cur, n, false);
                } else if !mem.try_take(cost) {
                    self.drop_piece(sink, cur, stop - cur, n, true);
                    global_drop = true;
                } else {
                    self.buffered += cost;
                    self.stats.peak_buffered = self.stats.peak_buffered.max(self.buffered);
                    self.ooo.insert(cur, piece);
                }
            }
            let Some((ps, pend)) = nxt else { break };
            let ev = diff(own, ps, &self.ooo[&ps], end, cfg.backing);
            self.conflict(sink, ev);
            self.stats.dup_bytes += pend.min(end) - ps;
            cur = pend;
        }
        global_drop
    }

    fn drop_piece<S: ReasmSink>(&mut self, sink: &mut S, off: u64, len: u64, n: u64, global: bool) {
        self.stats.cap_drops += 1;
        self.stats.cap_drop_bytes += len;
        sink.event(ReasmEvent::CapDrop { offset: off, len, frame: n, global });
    }

    /// Skips the hole before the first buffered piece (a gap), then hands on
    /// everything contiguous after it.
    fn skip_hole<S: ReasmSink>(&mut self, backing: Option<&dyn Backing>, mem: &mut Mem, sink: &mut S, ts: i64) {
        let Some((&ps, _)) = self.ooo.first_key_value() else {
            return;
        };
        if ps > self.next {
            let from = self.next;
            self.gap_out(mem, sink, from..ps, GapReason::Lost, None, ts);
            self.next = ps;
        }
        self.drain_contiguous(backing, mem, sink, ts);
    }

    /// Gives up on every hole: skips them all, then (when the end is known) the
    /// missing tail up to the end. Nothing is buffered afterwards.
    pub fn flush<S: ReasmSink>(&mut self, backing: Option<&dyn Backing>, mem: &mut Mem, sink: &mut S, ts: i64) {
        while !self.ooo.is_empty() {
            self.skip_hole(backing, mem, sink, ts);
        }
        if let Some(end) = self.end {
            if end > self.next {
                let from = self.next;
                self.gap_out(mem, sink, from..end, GapReason::Lost, None, ts);
                self.next = end;
            }
        }
    }

    /// Flushes and refuses further bytes.
    pub fn finish<S: ReasmSink>(&mut self, backing: Option<&dyn Backing>, mem: &mut Mem, sink: &mut S, ts: i64) {
        self.flush(backing, mem, sink, ts);
        self.finished = true;
        // No byte is accepted any more: the conflict history is not needed while the
        // connection lingers (tens of thousands may linger in a long capture).
        self.hist = None;
    }

    /// Frees everything buffered without handing it on.
    pub fn discard(&mut self, mem: &mut Mem) {
        for p in self.ooo.values() {
            mem.give(p.cost());
        }
        self.ooo.clear();
        self.buffered = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        bytes: Vec<u8>,
        gaps: Vec<(u64, u64)>,
        events: Vec<ReasmEvent>,
    }

    impl ReasmSink for Collect {
        fn data(&mut self, _m: &mut Mem, off: u64, b: &[u8], _from: FrameSpan, _ts: i64) {
            assert_eq!(off, self.bytes.len() as u64);
            self.bytes.extend_from_slice(b);
        }
        fn gap(&mut self, _m: &mut Mem, off: u64, len: u64, _w: GapReason, _n: Option<u64>, _ts: i64) {
            assert_eq!(off, self.bytes.len() as u64);
            self.gaps.push((off, len));
            self.bytes.resize(self.bytes.len() + len as usize, b'?');
        }
        fn old(&mut self, _o: u64, _l: u64, _n: u64) {}
        fn event(&mut self, ev: ReasmEvent) {
            self.events.push(ev);
        }
    }

    const CFG: ReasmCfg = ReasmCfg { per_dir_cap: 1 << 20, gap_threshold: 768 << 10, conflict_window: 4096, backing: None };

    /// `len` bytes at `rseq` carried by frame `n`, `payload` of them captured, at time 0.
    fn seg(rseq: u32, len: u32, payload: &[u8], n: u64) -> ReasmSeg<'_> {
        ReasmSeg { rseq, len, payload, n, ts: 0, wire: crate::analyze::WireSegs::Whole }
    }

    #[test]
    fn reorder_overlap_and_conflict() {
        let mut r = Reassembler::new(&CFG);
        let mut m = Mem::new(1 << 30);
        let mut c = Collect::default();
        r.segment(&CFG, &mut m, &mut c, seg(6, 5, b"world", 2));
        assert_eq!(r.pieces(), 1);
        r.segment(&CFG, &mut m, &mut c, seg(4, 4, b"loXo", 3));
        r.segment(&CFG, &mut m, &mut c, seg(1, 5, b"hello", 1));
        assert_eq!(c.bytes, b"helloworld");
        assert_eq!(m.used, 0);
        assert!(matches!(c.events[0], ReasmEvent::Conflict { offset: 5, first: 2, frame: 3, .. }));
    }

    #[test]
    fn truncated_payload_is_a_gap() {
        let mut r = Reassembler::new(&CFG);
        let mut m = Mem::new(1 << 30);
        let mut c = Collect::default();
        r.segment(&CFG, &mut m, &mut c, seg(1, 10, b"abc", 1));
        r.segment(&CFG, &mut m, &mut c, seg(11, 2, b"de", 2));
        assert_eq!(c.bytes, b"abc???????de");
        assert_eq!(c.gaps, vec![(3, 7)]);
    }

    #[test]
    fn truncated_out_of_order_around_pieces() {
        let mut r = Reassembler::new(&CFG);
        let mut m = Mem::new(1 << 30);
        let mut c = Collect::default();
        r.segment(&CFG, &mut m, &mut c, seg(21, 10, b"0123456789", 1));
        // 100 bytes at offset 10, only 4 captured; overlaps the piece at 20..30.
        r.segment(&CFG, &mut m, &mut c, seg(11, 100, b"abcd", 2));
        r.segment(&CFG, &mut m, &mut c, seg(1, 10, b"ABCDEFGHIJ", 3));
        assert_eq!(&c.bytes[..14], b"ABCDEFGHIJabcd");
        assert_eq!(&c.bytes[20..30], b"0123456789");
        assert_eq!(c.bytes.len(), 110);
        assert_eq!(c.gaps, vec![(14, 6), (30, 80)]);
        assert_eq!(m.used, 0);
    }

    struct Bytes(Vec<u8>);
    impl Backing for Bytes {
        fn bytes(&self) -> &[u8] {
            &self.0
        }
    }

    /// One record per segment while there are few; many small segments turn the history into
    /// block hashes (bounded memory), which still catch a changed retransmission.
    #[test]
    fn backed_history_is_bounded() {
        let data = Bytes((0..20_000u32).map(|i| (i * 7 % 251) as u8).collect());
        let cfg = ReasmCfg { conflict_window: 256 << 10, backing: Some(&data), ..CFG };
        let mut r = Reassembler::new(&cfg);
        let mut m = Mem::new(1 << 30);
        let mut c = Collect::default();
        for i in 0..100u32 {
            r.segment(&cfg, &mut m, &mut c, seg(i * 10 + 1, 10, &data.0[(i * 10) as usize..(i * 10 + 10) as usize], u64::from(i) + 1));
        }
        assert!(matches!(r.hist.as_deref(), Some(History::Backed(b)) if b.chunks.len() == 100));
        for i in 100..2000u32 {
            r.segment(&cfg, &mut m, &mut c, seg(i * 10 + 1, 10, &data.0[(i * 10) as usize..(i * 10 + 10) as usize], u64::from(i) + 1));
        }
        assert!(matches!(r.hist.as_deref(), Some(History::Hashed(_))), "past {MAX_CHUNKS} records: hashes");
        let mut bad = data.0[640..768].to_vec();
        bad[70] ^= 1;
        r.segment(&cfg, &mut m, &mut c, seg(641, 128, &bad, 9999));
        assert!(matches!(c.events[..], [ReasmEvent::Conflict { offset: 704, first: 71, frame: 9999, .. }]), "{:?}", c.events);
    }

    #[test]
    fn history_catches_changed_retransmission() {
        let mut r = Reassembler::new(&CFG);
        let mut m = Mem::new(1 << 30);
        let mut c = Collect::default();
        let a = vec![7u8; 300];
        r.segment(&CFG, &mut m, &mut c, seg(1, 300, &a, 1));
        r.segment(&CFG, &mut m, &mut c, seg(1, 300, &a, 2));
        assert!(c.events.is_empty());
        let mut b = a.clone();
        b[200] = 8;
        r.segment(&CFG, &mut m, &mut c, seg(1, 300, &b, 3));
        assert!(matches!(c.events[0], ReasmEvent::Conflict { offset: 192, first: 1, frame: 3, .. }));
    }
}
