//! One direction of a TCP connection: reassembly, framing (or detection), and the
//! message tracker that turns framer boundaries into [`Message`] records.
//!
//! Message life: a message is opened when its first byte (or a gap byte) is
//! framed, and gets its index then. It is closed when the framer reports its end.
//! It is final, and emitted, once it is closed and every frame that carried its
//! bytes has been handed on completely (the stream position has passed the end of
//! each of those segments): by then every other message sharing one of its frames
//! is known, so `sticky` cannot change any more.

use smallvec::SmallVec;
use std::collections::VecDeque;

use super::framing::detect::{detect, detect_more, Detection, Level, TextScan};
use super::framing::{make_framer, FrameCx, Framer, PairState};
use super::reassembly::{FrameSpan, GapReason, Mem, ReasmCfg, ReasmEvent, ReasmSink, Reassembler, WireGrid};
use super::spec::{DirFraming, FramingSpec};
use super::{Arrival, Carried, Event, Message, SeamConfig, SeamReports, SegOut};
use crate::capture::Backing;
use crate::track::{Dir, FlowId};

/// Recent message starts remembered for mapping retransmitted bytes to messages.
const RECENT_STARTS: usize = 1024;

/// Bytes at the start of a stream that [`StreamHead`] looks at.
pub const STREAM_HEAD_LEN: usize = 4096;

/// What the first [`STREAM_HEAD_LEN`] bytes kept of a direction's stream (gaps as zeros) look
/// like, for suggesting a framing when none was recognised: taken as the bytes pass, so that
/// it needs neither the bytes nor the messages kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamHead {
    /// The first 5 bytes (as many as `len` says).
    pub first: [u8; 5],
    /// How many of the first [`STREAM_HEAD_LEN`] bytes were kept.
    pub len: u16,
    /// A `\n` is among them.
    pub newline: bool,
}

impl StreamHead {
    /// The head of `bytes`, a stream's first bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = StreamHead::default();
        h.add(0, Some(bytes), bytes.len());
        h
    }

    /// Adds `len` bytes at stream offset `at` (`None`: zeros), which must be `self.len` or
    /// beyond [`STREAM_HEAD_LEN`].
    fn add(&mut self, at: usize, bytes: Option<&[u8]>, len: usize) {
        if at >= STREAM_HEAD_LEN {
            return;
        }
        debug_assert_eq!(at, usize::from(self.len));
        let take = len.min(STREAM_HEAD_LEN - at);
        let b = bytes.map(|b| &b[..take]);
        for i in at..(at + take).min(5) {
            self.first[i] = b.map_or(0, |b| b[i - at]);
        }
        self.newline |= b.is_some_and(|b| b.contains(&b'\n'));
        self.len = (at + take) as u16;
    }

    /// Its first bytes: the first 5 when at least 5 were kept.
    pub fn first5(&self) -> Option<[u8; 5]> {
        (self.len >= 5).then_some(self.first)
    }
}

/// A message opened and not yet emitted (see the module documentation for its life).
#[derive(Debug)]
struct OpenMsg {
    index: u64,
    offset: u64,
    /// Where the framer said it ends (`None` while open).
    end: Option<u64>,
    /// Frames that carried its bytes, at most `max_frames` listed (inline up to 4: most
    /// messages are carried by one or two frames).
    frames: SmallVec<[u64; 4]>,
    nframes: u64,
    last_frame: Option<u64>,
    sticky: bool,
    /// It crossed a wire-segment boundary inside an offloaded frame.
    wire_split: bool,
    /// An offloaded frame of unknown wire segmentation carried it.
    wire_unknown: bool,
    complete: bool,
    /// The furthest end of a segment that carried its bytes: it is final once the stream
    /// position passes it.
    max_frame_end: u64,
    first_ts: i64,
    last_ts: i64,
    framing: FramingSpec,
    /// Its first bytes, with [`SeamConfig::message_heads`].
    head: Vec<u8>,
}

/// Where bytes being assigned to messages came from: frame `n` (`None` for a gap), whose segment
/// ends at stream offset `frame_end` (0 for a gap), available in order at capture time `ts`;
/// `gap`: the bytes are unknown.
#[derive(Clone, Copy, Debug)]
struct Origin {
    n: Option<u64>,
    frame_end: u64,
    /// How the wire carried the frame.
    grid: WireGrid,
    ts: i64,
    gap: bool,
}

impl Origin {
    /// Captured bytes of frame `n`.
    fn frame(n: u64, frame_end: u64, grid: WireGrid, ts: i64) -> Self {
        Origin { n: Some(n), frame_end, grid, ts, gap: false }
    }

    /// Unknown bytes.
    fn gap(ts: i64) -> Self {
        Origin { n: None, frame_end: 0, grid: WireGrid::Whole, ts, gap: true }
    }
}

/// A chunk held for detection.
#[derive(Clone, Copy, Debug)]
struct Held {
    off: u64,
    len: usize,
    n: u64,
    frame_end: u64,
    grid: WireGrid,
    ts: i64,
}

/// What a stage does with the bytes it is handed.
enum Mode {
    /// `auto` is still looking: the bytes are held in `buf` (charged to [`Mem`]), each chunk's
    /// origin in `held`. `next_try`: detection runs again once `buf` reaches this length — on
    /// every chunk while `buf` holds under 8 KiB (prompt live output), then each time it has
    /// grown by half (by [`DETECT_MAX`](super::framing::detect::DETECT_MAX) at the latest), so
    /// the rescans of the buffer cost linear time in all. Detection is monotone (a longer prefix
    /// gives the answer a shorter one gave), so trying less often only delays the same decision.
    Detect { buf: Vec<u8>, held: Vec<Held>, next_try: usize, scan: TextScan },
    /// Framing with this framer.
    Frame(Box<dyn Framer>),
    /// The direction is finished.
    Done,
}

/// Counters over the messages emitted so far.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MsgStats {
    /// Messages emitted.
    pub messages: u64,
    /// Of them, sticky ones (sharing a frame with another message).
    pub sticky: u64,
    /// Of them, split ones (carried by more than one wire segment).
    pub split: u64,
    /// Of them, ones carried by an offloaded frame of unknown wire segmentation.
    pub wire_unknown: u64,
    /// Of them, incomplete ones.
    pub incomplete: u64,
    /// Length of the longest, bytes.
    pub largest: u64,
    /// Most frames that carried one.
    pub max_segments: u64,
    /// Frames that carried them, summed (for the mean).
    pub sum_segments: u64,
}

/// The message tracker of one direction: framing (or detection) of the bytes the reassembler
/// hands on, and the messages they make.
pub(super) struct Stage {
    conn: u32,
    dir: Dir,
    mode: Mode,
    /// The framing decided (or given with `--framing`); `None` while `auto` looks.
    pub detection: Option<Detection>,
    /// Offset of the next byte to frame.
    pos: u64,
    next_index: u64,
    /// Messages opened and not yet emitted, in index order.
    pending: VecDeque<OpenMsg>,
    /// The last of `pending` is still open (its end not found yet).
    open: bool,
    /// Frames handed on only partly so far: (frame, segment end, last message index).
    partial: Vec<(u64, u64, u64)>,
    /// The last [`RECENT_STARTS`] messages: (offset, index), ascending.
    recent: VecDeque<(u64, u64)>,
    /// The framer's message ends of one call (kept for its capacity).
    ends: Vec<u64>,
    /// The arrival timeline, when `keep_timeline`.
    pub timeline: Vec<Arrival>,
    /// The first `keep_bytes` bytes of the stream (gaps as zeros); with
    /// [`SeamConfig::message_heads`] they are only counted, in `kept_len`.
    pub kept: Vec<u8>,
    /// How many of the first `keep_bytes` bytes passed (= `kept.len()` unless only counted).
    kept_len: u64,
    /// What the first of them look like.
    pub head: StreamHead,
    /// Counters over the messages emitted.
    pub stats: MsgStats,
    /// Where the framer lost sync and `segment` took over.
    pub fallback_at: Option<u64>,
    /// Offset where framing started (after a gap at the very beginning).
    pub base: u64,
}

/// A stage with the context it reports into; the reassembler's sink.
pub(super) struct StageCx<'a> {
    /// The stage.
    pub st: &'a mut Stage,
    /// The engine's configuration.
    pub cfg: &'a SeamConfig,
    /// Where the call's carried entries and events go.
    pub out: &'a mut SegOut,
    /// Where final messages go, in the order they become final.
    pub ready: &'a mut Vec<Message>,
    /// What the connection's two directions share (HTTP requests).
    pub pair: &'a mut PairState,
}

/// One direction of one TCP connection.
pub(super) struct Stream {
    /// Bytes in stream order.
    pub reasm: Reassembler,
    /// Messages from them.
    pub stage: Stage,
    /// A FIN was seen; finish once everything before it is in.
    pub close_pending: bool,
    /// Capture time of the last segment (ns): the time of the bytes a finish hands on.
    pub last_ts: i64,
    /// Segments the tracker flagged as retransmissions.
    pub retransmissions: u64,
    /// Segments with payload fed.
    pub segments: u64,
}

impl Stream {
    /// Direction `dir` of connection `conn`, framed as `cfg.framing` says for it.
    pub fn new(conn: u32, dir: Dir, cfg: &SeamConfig, backing: Option<&dyn Backing>) -> Self {
        Stream {
            reasm: Reassembler::new(&reasm_cfg(cfg, backing)),
            stage: Stage::new(conn, dir, cfg.framing.dirs[dir.idx()]),
            close_pending: false,
            last_ts: 0,
            retransmissions: 0,
            segments: 0,
        }
    }
}

/// The reassembly part of `cfg`; `backing`: where every payload fed lies (file input).
pub(super) fn reasm_cfg<'a>(cfg: &SeamConfig, backing: Option<&'a dyn Backing>) -> ReasmCfg<'a> {
    ReasmCfg { per_dir_cap: cfg.per_dir_cap, gap_threshold: cfg.gap_threshold, conflict_window: cfg.conflict_window, backing }
}

impl Stage {
    /// A stage for direction `dir` of `conn`: detecting (`auto`) or framing with the spec given.
    pub fn new(conn: u32, dir: Dir, choice: DirFraming) -> Self {
        let (mode, detection) = match choice {
            DirFraming::Auto => (Mode::Detect { buf: Vec::new(), held: Vec::new(), next_try: 0, scan: TextScan::default() }, None),
            DirFraming::Spec(spec) => {
                (Mode::Frame(make_framer(spec, 0)), Some(Detection { spec, level: Level::Given, reason: "--framing".into() }))
            }
        };
        Stage {
            conn,
            dir,
            mode,
            detection,
            pos: 0,
            next_index: 0,
            pending: VecDeque::new(),
            open: false,
            partial: Vec::new(),
            recent: VecDeque::new(),
            ends: Vec::new(),
            timeline: Vec::new(),
            kept: Vec::new(),
            kept_len: 0,
            head: StreamHead::default(),
            stats: MsgStats::default(),
            fallback_at: None,
            base: 0,
        }
    }

    /// Messages opened but not yet emitted.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held for detection or by the framer.
    pub fn held(&self) -> usize {
        match &self.mode {
            Mode::Detect { buf, .. } => buf.len(),
            Mode::Frame(f) => f.held(),
            Mode::Done => 0,
        }
    }

    /// The framing in use now (`None` while detecting).
    pub fn current(&self) -> Option<FramingSpec> {
        match &self.mode {
            Mode::Frame(f) => Some(f.spec()),
            _ => self.detection.as_ref().map(|d| d.spec),
        }
    }
}

impl StageCx<'_> {
    fn timeline(&mut self, start: u64, end: u64, ts: i64, gap: bool) {
        if !self.cfg.keep_timeline || !self.cfg.keeps(self.st.conn) {
            return;
        }
        if let Some(last) = self.st.timeline.last_mut() {
            if last.end == start && last.ts == ts && last.gap == gap {
                last.end = end;
                return;
            }
        }
        self.st.timeline.push(Arrival { start, end, ts, gap });
    }

    /// Keeps `len` bytes at `off` (`None`: a gap, kept as zeros) while the first
    /// `keep_bytes` of the stream are not all kept.
    /// With [`SeamConfig::message_heads`] the bytes are only counted (and looked at for the
    /// [`StreamHead`]): each message takes its own first bytes ([`Self::fill_heads`]).
    fn keep(&mut self, off: u64, bytes: Option<&[u8]>, len: u64) {
        let st = &mut *self.st;
        let at = st.kept_len as usize;
        if off != at as u64 || at >= self.cfg.keep_bytes || !self.cfg.keeps(st.conn) {
            return;
        }
        let room = (self.cfg.keep_bytes - at).min(len as usize);
        st.head.add(at, bytes, room);
        st.kept_len += room as u64;
        if self.cfg.message_heads.is_some() {
            return;
        }
        let kept = &mut st.kept;
        match bytes {
            Some(b) => kept.extend_from_slice(&b[..room]),
            None => kept.resize(kept.len() + room, 0),
        }
    }

    /// With [`SeamConfig::message_heads`]: the bytes `[off, off + len)` just framed (`None`:
    /// a gap, zeros) go into the first bytes of the pending messages they belong to.
    fn fill_heads(&mut self, off: u64, bytes: Option<&[u8]>, len: u64) {
        let Some(cap) = self.cfg.message_heads else { return };
        if !self.cfg.keeps(self.st.conn) {
            return;
        }
        let end = off + len;
        for m in self.st.pending.iter_mut().rev() {
            let m_end = m.end.unwrap_or(u64::MAX);
            if m_end <= off {
                break; // and so do the earlier ones
            }
            let from = m.offset + m.head.len() as u64;
            let to = m.offset.saturating_add(cap as u64).min(m_end).min(end);
            if from < off || from >= to {
                continue;
            }
            let (a, b) = ((from - off) as usize, (to - off) as usize);
            match bytes {
                Some(bytes) => m.head.extend_from_slice(&bytes[a..b]),
                None => m.head.resize(m.head.len() + (b - a), 0),
            }
        }
    }

    /// Ends detection with `det` and frames what was held.
    fn decide(&mut self, mem: &mut Mem, det: Detection) {
        let Mode::Detect { buf, held, .. } = std::mem::replace(&mut self.st.mode, Mode::Frame(make_framer(det.spec, self.st.base))) else {
            return;
        };
        mem.give(buf.len());
        self.out.events.push(Event::Detected { conn: self.st.conn, dir: self.st.dir, detection: det.clone() });
        self.st.detection = Some(det);
        self.st.pos = self.st.base;
        let mut at = 0usize;
        for h in held {
            self.frame_data(h.off, &buf[at..at + h.len], h.n, h.frame_end, h.grid, h.ts);
            at += h.len;
        }
    }

    fn force_decide(&mut self, mem: &mut Mem) {
        if let Mode::Detect { buf, .. } = &self.st.mode {
            let det = detect(buf, true).expect("detect decides at the end");
            self.decide(mem, det);
        }
    }

    /// Frames the bytes `[off, off + bytes.len())` of frame `n` (at the stream position).
    fn frame_data(&mut self, off: u64, bytes: &[u8], n: u64, frame_end: u64, grid: WireGrid, ts: i64) {
        let st = &mut *self.st;
        let Mode::Frame(f) = &mut st.mode else { return };
        debug_assert_eq!(off, st.pos);
        let mut ends = std::mem::take(&mut st.ends);
        ends.clear();
        let mut cx = FrameCx { ends: &mut ends, pair: self.pair, dir: st.dir };
        let desync = f.feed(bytes, &mut cx);
        let end = off + bytes.len() as u64;
        let upto = desync.unwrap_or(end);
        let origin = Origin::frame(n, frame_end, grid, ts);
        self.apply(off, upto, &ends, origin);
        if let Some(lost_at) = desync {
            self.lose_sync(lost_at);
            if lost_at < end {
                ends.clear();
                ends.push(end);
                self.apply(lost_at, end, &ends, origin);
                if let Mode::Frame(f) = &mut self.st.mode {
                    let mut cx = FrameCx { ends: &mut Vec::new(), pair: self.pair, dir: self.st.dir };
                    f.feed(&bytes[(lost_at - off) as usize..], &mut cx);
                }
            }
        }
        self.st.ends = ends;
        self.st.pos = end;
        self.fill_heads(off, Some(bytes), bytes.len() as u64);
    }

    fn frame_gap(&mut self, off: u64, len: u64, n: Option<u64>, ts: i64) {
        let st = &mut *self.st;
        let Mode::Frame(f) = &mut st.mode else { return };
        if n.is_some() && f.spec() == FramingSpec::Segment && !st.open {
            // `segment`: the cut tail of a frame belongs to that frame's message.
            if let Some(m) = st.pending.back_mut() {
                if m.end == Some(off) && m.last_frame == n {
                    m.end = None;
                    st.open = true;
                }
            }
        }
        let mut ends = std::mem::take(&mut st.ends);
        ends.clear();
        let mut cx = FrameCx { ends: &mut ends, pair: self.pair, dir: st.dir };
        let in_sync = f.skip(len, &mut cx);
        let end = off + len;
        if in_sync {
            self.apply(off, end, &ends, Origin::gap(ts));
        } else {
            ends.clear();
            self.apply(off, end, &ends, Origin::gap(ts));
            self.lose_sync(end);
        }
        self.st.ends = ends;
        self.st.pos = end;
        self.fill_heads(off, None, len);
    }

    /// The framer cannot go on at `at`: the open message ends there, incomplete,
    /// and `segment` frames the rest.
    fn lose_sync(&mut self, at: u64) {
        let st = &mut *self.st;
        let from = match &st.mode {
            Mode::Frame(f) => f.spec(),
            _ => return,
        };
        if st.open {
            let m = st.pending.back_mut().expect("open message");
            m.complete = false;
            m.end = Some(at);
            st.open = false;
        }
        st.mode = Mode::Frame(make_framer(FramingSpec::Segment, at));
        if st.fallback_at.is_none() {
            st.fallback_at = Some(at);
        }
        self.out.events.push(Event::Desync { conn: st.conn, dir: st.dir, offset: at, framing: from });
    }

    /// Assigns the bytes `[off, upto)` from `origin` to messages given the ends found in them.
    fn apply(&mut self, off: u64, upto: u64, ends: &[u64], origin: Origin) {
        let mut cur = off;
        let mut first: Option<(u64, u64)> = None;
        let mut last_idx = 0;
        // The message that ended at `cur`, inside these bytes.
        let mut ended: Option<u64> = None;
        for &msg_end in ends {
            if msg_end <= cur || msg_end > upto {
                continue;
            }
            let (idx, part) = self.touch(cur, origin);
            self.st.wire_piece(ended, idx, cur, msg_end, origin);
            first.get_or_insert((idx, part));
            last_idx = idx;
            let st = &mut *self.st;
            st.pending.back_mut().expect("open").end = Some(msg_end);
            st.open = false;
            ended = Some(idx);
            cur = msg_end;
        }
        if cur < upto {
            let (idx, part) = self.touch(cur, origin);
            self.st.wire_piece(ended, idx, cur, upto, origin);
            first.get_or_insert((idx, part));
            last_idx = idx;
        }
        let frame_end = origin.frame_end;
        let (Some((first_idx, first_part)), Some(n)) = (first, origin.n) else {
            return;
        };
        let st = &mut *self.st;
        if let Some(p) = st.partial.iter_mut().find(|p| p.0 == n) {
            let earlier = p.2;
            p.2 = last_idx;
            if earlier < first_idx && origin.grid.together(off.saturating_sub(1), off) {
                st.mark_sticky(earlier, earlier);
                st.mark_sticky(first_idx, first_idx);
            }
        } else if frame_end > upto {
            st.partial.push((n, frame_end, last_idx));
        }
        if self.cfg.reports == SeamReports::Counts {
            return;
        }
        let continues = st.open && st.pending.back().is_some_and(|m| m.index == last_idx);
        let (flow, dir) = (FlowId::Tcp(st.conn), st.dir);
        if let Some(c) = self.out.carried.last_mut() {
            if c.n == n && c.flow == flow && c.dir == dir && !c.dup && c.last <= first_idx {
                c.last = last_idx;
                c.continues = continues;
                return;
            }
        }
        self.out.carried.push(Carried {
            n,
            flow,
            dir,
            first: first_idx,
            last: last_idx,
            first_part: first_part as u32,
            continues,
            offloaded: origin.grid != WireGrid::Whole,
            dup: false,
        });
    }

    /// Adds bytes at `cur` from `origin` to the open message (opening one if needed); returns
    /// its index and, for a frame, the part number of that frame in it.
    fn touch(&mut self, cur: u64, origin: Origin) -> (u64, u64) {
        let Origin { n, frame_end, ts, gap, .. } = origin;
        let cfg = self.cfg;
        let st = &mut *self.st;
        if !st.open {
            let framing = st.current().unwrap_or(FramingSpec::Segment);
            let index = st.next_index;
            st.next_index += 1;
            st.pending.push_back(OpenMsg {
                index,
                offset: cur,
                end: None,
                frames: SmallVec::new(),
                nframes: 0,
                last_frame: None,
                sticky: false,
                wire_split: false,
                wire_unknown: false,
                complete: true,
                max_frame_end: 0,
                first_ts: ts,
                last_ts: ts,
                framing,
                head: Vec::new(),
            });
            st.open = true;
            // `recent` maps retransmitted bytes to messages for the frame notes: with
            // `SeamReports::Counts` none are made, and nothing is kept.
            if cfg.reports == SeamReports::Messages {
                if st.recent.len() >= RECENT_STARTS {
                    st.recent.pop_front();
                }
                st.recent.push_back((cur, index));
            }
        }
        // A frame whose bytes arrive in parts (around bytes buffered out of order): the message
        // index its earlier parts reached.
        let partial_reached = n.and_then(|n| st.partial.iter().find(|p| p.0 == n)).map(|p| p.2);
        let in_partial = partial_reached.is_some();
        let m = st.pending.back_mut().expect("open message");
        let mut part = 0;
        if let Some(n) = n {
            part = if m.last_frame == Some(n) {
                m.nframes
            } else if cfg.max_frames == 0 && partial_reached == Some(m.index) {
                // Frame lists are off (nobody reads them): an earlier part of this frame already
                // reached this message, so it is counted; which part it is goes unreported.
                m.nframes
            } else if let Some(i) = m.frames.iter().position(|&f| f == n).filter(|_| in_partial) {
                i as u64 + 1
            } else {
                if m.frames.len() < cfg.max_frames {
                    m.frames.push(n);
                }
                m.nframes += 1;
                m.last_frame = Some(n);
                m.nframes
            };
            m.max_frame_end = m.max_frame_end.max(frame_end);
        }
        if gap {
            m.complete = false;
        }
        m.last_ts = ts;
        (m.index, part)
    }

    /// Emits the messages that are final, in index order.
    fn emit(&mut self, all: bool) {
        let st = &mut *self.st;
        let pos = st.pos;
        st.partial.retain(|p| p.1 > pos);
        while let Some(m) = st.pending.front() {
            let final_ = all || (m.end.is_some() && pos >= m.max_frame_end);
            if !final_ {
                break;
            }
            let m = st.pending.pop_front().expect("front");
            if st.pending.is_empty() {
                st.open = false;
            }
            let end = m.end.unwrap_or(pos);
            let stats = &mut st.stats;
            let (split, complete, len) = (m.nframes > 1 || m.wire_split, m.complete && m.end.is_some(), end - m.offset);
            stats.messages += 1;
            stats.sticky += u64::from(m.sticky);
            stats.wire_unknown += u64::from(m.wire_unknown);
            stats.split += u64::from(split);
            stats.incomplete += u64::from(!complete);
            stats.largest = stats.largest.max(len);
            stats.max_segments = stats.max_segments.max(m.nframes);
            stats.sum_segments += m.nframes;
            if self.cfg.reports == SeamReports::Counts {
                continue;
            }
            // the whole message passed within the first `keep_bytes` (as a kept prefix holds it)
            let head = (self.cfg.message_heads.is_some() && self.cfg.keeps(st.conn) && end <= st.kept_len).then_some(m.head);
            self.ready.push(Message {
                flow: FlowId::Tcp(st.conn),
                dir: st.dir,
                index: m.index,
                offset: m.offset,
                len,
                framing: m.framing,
                frames: if self.cfg.frame_lists { m.frames.into_vec() } else { Vec::new() },
                nframes: m.nframes,
                sticky: m.sticky,
                split,
                wire_unknown: m.wire_unknown,
                complete,
                first_ts: m.first_ts,
                last_ts: m.last_ts,
                head,
            });
        }
    }

    /// End of the direction: decide, let the framer close, emit everything.
    pub fn finish(&mut self, mem: &mut Mem) {
        self.force_decide(mem);
        let st = &mut *self.st;
        if let Mode::Frame(f) = &mut st.mode {
            let mut ends = Vec::new();
            let mut cx = FrameCx { ends: &mut ends, pair: self.pair, dir: st.dir };
            f.finish(&mut cx);
            if st.open && ends.last() == Some(&st.pos) {
                st.pending.back_mut().expect("open").end = Some(st.pos);
                st.open = false;
            }
        }
        if st.open {
            let m = st.pending.back_mut().expect("open");
            m.complete = false;
            m.end = Some(st.pos);
            st.open = false;
        }
        st.mode = Mode::Done;
        self.emit(true);
        // Done for good: free the working buffers while the connection lingers.
        let st = &mut *self.st;
        st.partial = Vec::new();
        st.recent = VecDeque::new();
        st.ends = Vec::new();
        if st.pending.is_empty() {
            st.pending = VecDeque::new();
        }
    }
}

impl Stage {
    /// The bytes `[from, to)` of message `idx` came from `origin`, right after message `ended`
    /// ended at `from` in the same bytes (if one did). Two messages are stuck together when the
    /// bytes on both sides of their boundary went in one wire segment; a message is split on
    /// the wire when its bytes in one frame went in several (see [`WireGrid`]).
    fn wire_piece(&mut self, ended: Option<u64>, idx: u64, from: u64, to: u64, origin: Origin) {
        if origin.n.is_none() {
            return;
        }
        let grid = origin.grid;
        if let Some(before) = ended {
            if grid.together(from - 1, from) {
                self.mark_sticky(before, idx);
            }
        }
        let split = !grid.together(from, to - 1);
        let unknown = grid == WireGrid::Unknown;
        if split || unknown {
            if let Some(m) = self.pending.iter_mut().rev().find(|m| m.index == idx) {
                m.wire_split |= split;
                m.wire_unknown |= unknown;
            }
        }
    }

    fn mark_sticky(&mut self, lo: u64, hi: u64) {
        for m in self.pending.iter_mut() {
            if m.index >= lo && m.index <= hi {
                m.sticky = true;
            }
        }
    }
}

impl ReasmSink for StageCx<'_> {
    fn data(&mut self, mem: &mut Mem, off: u64, bytes: &[u8], from: FrameSpan, ts: i64) {
        let FrameSpan { n, end: frame_end, grid } = from;
        self.timeline(off, off + bytes.len() as u64, ts, false);
        self.keep(off, Some(bytes), bytes.len() as u64);
        match &mut self.st.mode {
            Mode::Detect { buf, held, next_try, scan } => {
                if mem.try_take(bytes.len()) {
                    buf.extend_from_slice(bytes);
                    held.push(Held { off, len: bytes.len(), n, frame_end, grid, ts });
                    self.st.pos = off + bytes.len() as u64;
                    if buf.len() >= *next_try {
                        // every segment while small (prompt live output), then geometrically
                        *next_try =
                            if buf.len() < 8192 { 0 } else { (buf.len() + buf.len() / 2).min(crate::analyze::framing::detect::DETECT_MAX) };
                        if let Some(det) = detect_more(buf, false, scan) {
                            self.decide(mem, det);
                        }
                    }
                } else {
                    // No memory to wait longer: decide on what was seen, this segment included
                    // (with the global cap full, a new direction still has its first bytes).
                    let det = if buf.is_empty() {
                        detect(bytes, true)
                    } else {
                        let mut seen = buf.clone();
                        seen.extend_from_slice(bytes);
                        detect(&seen, true)
                    };
                    self.decide(mem, det.expect("detect decides at the end"));
                    self.frame_data(off, bytes, n, frame_end, grid, ts);
                }
            }
            Mode::Frame(_) => self.frame_data(off, bytes, n, frame_end, grid, ts),
            Mode::Done => {}
        }
        self.emit(false);
    }

    fn gap(&mut self, mem: &mut Mem, off: u64, len: u64, why: GapReason, n: Option<u64>, ts: i64) {
        self.timeline(off, off + len, ts, true);
        self.keep(off, None, len);
        self.out.events.push(Event::Gap { conn: self.st.conn, dir: self.st.dir, offset: off, len, reason: why });
        if let Mode::Detect { buf, .. } = &self.st.mode {
            if buf.is_empty() {
                // Nothing seen yet: start (and detect) after the gap.
                self.st.base = off + len;
                self.st.pos = off + len;
                return;
            }
            self.force_decide(mem);
        }
        if matches!(self.st.mode, Mode::Frame(_)) {
            self.frame_gap(off, len, n, ts);
        }
        self.emit(false);
    }

    fn old(&mut self, off: u64, len: u64, n: u64) {
        // With `SeamReports::Counts` nothing is kept in `recent`, so no note is made.
        let recent = &self.st.recent;
        if recent.is_empty() || len == 0 {
            return;
        }
        let end = off + len;
        let first = recent.partition_point(|&(start, _)| start <= off).saturating_sub(1);
        let last = recent.partition_point(|&(start, _)| start < end).saturating_sub(1).max(first);
        self.out.carried.push(Carried {
            n,
            flow: FlowId::Tcp(self.st.conn),
            dir: self.st.dir,
            first: recent[first].1,
            last: recent[last].1,
            first_part: 0,
            continues: false,
            offloaded: false,
            dup: true,
        });
    }

    fn event(&mut self, ev: ReasmEvent) {
        self.out.events.push(event_of(self.st.conn, self.st.dir, ev));
    }
}

/// A reassembler event as reported for direction `dir` of `conn`.
fn event_of(conn: u32, dir: Dir, ev: ReasmEvent) -> Event {
    match ev {
        ReasmEvent::Conflict { offset, len, first, frame } => Event::Conflict { conn, dir, offset, len, first_frame: first, frame },
        ReasmEvent::CapDrop { offset, len, frame, global } => Event::CapDrop { conn, dir, offset, len, frame, global },
        ReasmEvent::Late { offset, len, frame } => Event::Late { conn, dir, offset, len, frame },
    }
}

/// A finished direction reduced to what its summary and a late segment still need.
///
/// A closed connection lingers in the tracker (60 s of capture time by default), and a long
/// capture can hold tens of thousands of them; a [`Stream`] with its stage costs about 650
/// bytes plus its framer, this about half without any other heap. Its reassembler is
/// finished: a late segment only counts duplicate bytes and reports [`ReasmEvent::Late`],
/// exactly as the live stream would (its message memory and conflict history were already
/// freed when it finished).
pub(super) struct Finished {
    /// The finished reassembler (its counts, and [`ReasmEvent::Late`] for late bytes).
    pub reasm: Reassembler,
    /// As [`Stage::stats`].
    pub stats: MsgStats,
    /// As [`Stage::detection`].
    pub detection: Option<Detection>,
    /// As [`Stage::fallback_at`].
    pub fallback_at: Option<u64>,
    conn: u32,
    dir: Dir,
    /// As [`Stream::last_ts`].
    pub last_ts: i64,
    /// As [`Stream::retransmissions`].
    pub retransmissions: u64,
    /// As [`Stream::segments`].
    pub segments: u64,
    /// As [`Stage::head`].
    pub head: StreamHead,
}

impl Finished {
    /// `s` must be finished, with nothing pending or held.
    pub fn new(s: Stream) -> Self {
        debug_assert!(s.reasm.is_finished() && s.stage.pending() == 0 && s.stage.held() == 0);
        Finished {
            reasm: s.reasm,
            stats: s.stage.stats,
            detection: s.stage.detection,
            fallback_at: s.stage.fallback_at,
            conn: s.stage.conn,
            dir: s.stage.dir,
            last_ts: s.last_ts,
            retransmissions: s.retransmissions,
            segments: s.segments,
            head: s.stage.head,
        }
    }

    /// A segment that came after the direction finished.
    pub fn segment(&mut self, cfg: &ReasmCfg, mem: &mut Mem, out: &mut SegOut, seg: &super::SegIn<'_>) {
        self.last_ts = seg.ts;
        self.segments += 1;
        self.retransmissions += u64::from(seg.retransmission);
        let mut sink = LateSink { conn: self.conn, dir: self.dir, out };
        self.reasm.segment(cfg, mem, &mut sink, seg.reasm());
    }
}

/// The sink of a finished reassembler: it hands on no bytes, only events.
struct LateSink<'a> {
    conn: u32,
    dir: Dir,
    out: &'a mut SegOut,
}

impl ReasmSink for LateSink<'_> {
    fn data(&mut self, _: &mut Mem, _: u64, _: &[u8], _: FrameSpan, _: i64) {
        debug_assert!(false, "a finished reassembler hands on no bytes");
    }
    fn gap(&mut self, _: &mut Mem, _: u64, _: u64, _: GapReason, _: Option<u64>, _: i64) {
        debug_assert!(false, "a finished reassembler hands on no gaps");
    }
    /// Nothing: a finished stage no longer remembers which messages old bytes belonged to.
    fn old(&mut self, _: u64, _: u64, _: u64) {}
    fn event(&mut self, ev: ReasmEvent) {
        self.out.events.push(event_of(self.conn, self.dir, ev));
    }
}
