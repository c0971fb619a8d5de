//! Stream reassembly and message framing: where application messages stick
//! together in one TCP segment ("sticky packets") or split over several, and what
//! an application's `recv(N)` calls would return.
//!
//! Feed it, in capture order, every TCP segment with payload
//! ([`Seams::tcp_segment`]), every UDP datagram ([`Seams::udp_datagram`]), the end
//! of each direction ([`Seams::close_dir`]) and the end of input ([`Seams::finish`]).
//! Collect final [`Message`] records with [`Seams::drain`] whenever convenient;
//! each call reports into a [`SegOut`]: the message indices carried by segments
//! ([`Carried`]) and [`Event`]s (conflicts, gaps, cap drops, framing decided).
//!
//! Module map: [`reassembly`] (bytes in stream order, gaps, conflicts, caps),
//! [`framing`] (the framers, [`framing::detect`] for `auto`), [`spec`] (framing
//! names), `stream` (the per-direction message tracker), [`recv`] (the `recv()`
//! simulation).
//!
//! Memory: out-of-order bytes and bytes held for detection are counted against a
//! per-direction cap and a global cap ([`SeamConfig`]); in-order bytes are framed
//! straight from the caller's payload and not kept (except a framer's partial
//! header, the conflict check's memory of the last `conflict_window` bytes — where
//! they lie in the capture file when it is memory-mapped, else 64-byte-block hashes —
//! and, when asked for, the timeline and the first `keep_bytes` of each direction).

pub mod framing;
pub mod reader;
pub mod reassembly;
pub mod recv;
pub mod spec;
mod stream;

use rustc_hash::FxHashMap;

use crate::track::{Dir, FlowId};

pub use framing::detect::{Detection, Level};
pub use reader::{
    buffer_glue, next_gap, simulate_reader, simulate_recvfrom, BufferGlue, Reader, RecvCall, RecvFromCall, RecvSchedule, Returned,
    StreamEnd,
};
pub use reassembly::GapReason;
pub use recv::{push_escaped, render_recv, simulate_recv, simulate_recv_sizes};
pub use spec::{DirFraming, FramingChoice, FramingSpec, LenSpec, SpecError};

use crate::capture::Backing;
use framing::PairState;
use reassembly::Mem;
use std::sync::Arc;
pub use stream::StreamHead;
use stream::{reasm_cfg, Finished, MsgStats, StageCx, Stream};

/// Configuration of [`Seams`].
#[derive(Clone, Debug)]
pub struct SeamConfig {
    /// Framing per TCP direction (`auto` by default). UDP is always `datagram`.
    pub framing: FramingChoice,
    /// Most out-of-order bytes buffered per direction (accounted, see
    /// [`reassembly::PIECE_OVERHEAD`]); beyond it a segment is dropped. Default 1 MiB.
    pub per_dir_cap: usize,
    /// Most bytes buffered (out of order or for detection) over all streams;
    /// beyond it data is dropped. Default 64 MiB.
    pub global_cap: usize,
    /// When a direction's out-of-order bytes pass this, the oldest hole is given
    /// up as a gap. Default 768 KiB (below `per_dir_cap`, so that drops for the
    /// per-direction cap only hit single oversized segments).
    pub gap_threshold: usize,
    /// Bytes of already-framed stream a retransmission is compared with, in 64-byte
    /// blocks, to detect retransmissions with different bytes. 0 turns it off. Default
    /// 256 KiB: with a [`Seams::set_backing`] (file input) a 32-byte record per delivered
    /// chunk (block hashes past 512 records), else block hashes; 16 KiB per direction at most.
    pub conflict_window: usize,
    /// Keep each direction's arrival timeline (for [`simulate_recv`]). O(segments).
    pub keep_timeline: bool,
    /// Keep the first this many bytes of each direction's stream (to print `recv`
    /// results). Default 0.
    pub keep_bytes: usize,
    /// Keep the timeline and bytes above only for these connections, ids ascending (`stream
    /// --conn N` and `report` show no other); `None`: for every connection. Default `None`.
    pub keep_only: Option<std::sync::Arc<[u32]>>,
    /// Instead of the stream prefix above, keep the first this many bytes of each message
    /// that lies within the first `keep_bytes` of its stream, handed on with the message
    /// ([`Message::head`]) as it becomes final; a direction then keeps nothing until its
    /// connection's record but its [`StreamHead`]. `None` (the default): the prefix itself.
    /// For sinks that show each message's first bytes and nothing that needs the whole stream
    /// (`stream` without `-x`, `--recv` or `--follow`): the memory held no longer grows with
    /// the payload of the connections waiting for their records.
    pub message_heads: Option<usize>,
    /// Most frame numbers listed in one message's `frames` (the count goes on in
    /// `nframes`). Default 4096. 0: no lists and no allocation per message, for runs that
    /// show no message or frame annotation (`conns`); the counts stay exact, only the part
    /// number of a frame whose bytes came in pieces goes unreported.
    pub max_frames: usize,
    /// Whether an emitted [`Message`] carries its `frames` list (else it is empty and only
    /// `nframes` counts). The list is kept either way while the message is open (on the stack
    /// for up to 4 frames): it gives the part number of a frame whose bytes came in pieces.
    /// False for sinks that read no message's frames (annotated text lines): no allocation
    /// per message.
    pub frame_lists: bool,
    /// What the engine reports besides each direction's counters. Default
    /// [`SeamReports::Messages`].
    pub reports: SeamReports,
}

/// What the seam engine reports as it goes, besides the counters of each direction's summary
/// ([`Seams::summary`]), which are the same either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeamReports {
    /// Every final message ([`Seams::drain`]) and, per frame, which messages it carries
    /// ([`SegOut::carried`]): for sinks that show packets or messages.
    #[default]
    Messages,
    /// Only the counters: no message records and no per-frame notes, for runs that show
    /// neither (`conns`). Events ([`SegOut::events`]) are reported as with `Messages`.
    Counts,
}

impl Default for SeamConfig {
    fn default() -> Self {
        SeamConfig {
            framing: FramingChoice::AUTO,
            per_dir_cap: 1 << 20,
            global_cap: 64 << 20,
            gap_threshold: 768 << 10,
            conflict_window: 256 << 10,
            keep_timeline: false,
            keep_bytes: 0,
            keep_only: None,
            message_heads: None,
            max_frames: 4096,
            frame_lists: true,
            reports: SeamReports::Messages,
        }
    }
}

/// One TCP segment with payload, as the tracker reports it.
#[derive(Clone, Copy, Debug)]
pub struct SegIn<'a> {
    /// Frame number (1-based).
    pub n: u64,
    /// Capture time, ns since the epoch.
    pub ts: i64,
    /// The connection's id (from tracking).
    pub conn: u32,
    /// The sender's direction.
    pub dir: Dir,
    /// Sequence number relative to the direction's ISN (first payload byte = 1).
    /// For a SYN carrying data, pass the SYN's rseq + 1.
    pub rseq: u32,
    /// Payload length on the wire.
    pub len: u32,
    /// Captured payload (shorter than `len` when the snap length cut it).
    pub payload: &'a [u8],
    /// The tracker flagged it as a retransmission (counted only).
    pub retransmission: bool,
    /// How the wire carried it: one segment, or, for a frame captured before segmentation
    /// offload or after GRO, several (see [`crate::track::tcp::Offload`]).
    pub wire: WireSegs,
}

/// How many segments the wire carried a frame's payload in: what `split` and `sticky` judge,
/// since a message is split on the wire only if the wire carried it in several segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WireSegs {
    /// As captured: one frame, one wire segment.
    #[default]
    Whole,
    /// A super-segment that the wire carried cut every `mss` payload bytes.
    Offload {
        /// Payload bytes per wire segment.
        mss: u32,
    },
    /// A super-segment whose wire segmentation is unknown (no MSS seen): the `split` and
    /// `sticky` verdicts of the messages it carries are unknown.
    Unknown,
}

impl<'a> SegIn<'a> {
    /// What the reassembler of its direction takes of it.
    fn reasm(&self) -> reassembly::ReasmSeg<'a> {
        reassembly::ReasmSeg { rseq: self.rseq, len: self.len, payload: self.payload, n: self.n, ts: self.ts, wire: self.wire }
    }
}

/// The messages a segment carries bytes of: `first..=last` (0-based per
/// connection and direction). The bytes of `first` in this segment are part
/// `first_part` of it (1 = its first segment); every later index starts in this
/// segment (part 1). `continues`: message `last` goes on after this segment.
///
/// Reported as soon as the segment's bytes are framed: for an in-order segment
/// in the call that receives it; for a segment buffered out of order (or held
/// while `auto` detection waits for more bytes), in the call that frames it, so
/// a [`SegOut`] can hold entries for other frames. A segment whose bytes had all
/// arrived before (a retransmission) gets `dup: true` and the messages those
/// bytes belonged to (`first_part` 0), when they are still remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carried {
    /// The frame.
    pub n: u64,
    /// The connection or UDP flow the messages are of.
    pub flow: FlowId,
    /// Their direction.
    pub dir: Dir,
    /// First message index carried (0-based per flow and direction).
    pub first: u64,
    /// Last message index carried.
    pub last: u64,
    /// Which part of message `first` the frame holds (1: its first segment; 0 with `dup`).
    pub first_part: u32,
    /// Message `last` goes on after this frame.
    pub continues: bool,
    /// The frame stands for several wire segments (segmentation offload or GRO): messages it
    /// carries together were not necessarily together on the wire.
    pub offloaded: bool,
    /// Every byte had arrived before: a retransmission of these messages.
    pub dup: bool,
}

impl Carried {
    /// Every index carried.
    pub fn indices(&self) -> std::ops::RangeInclusive<u64> {
        self.first..=self.last
    }
}

/// Warnings and notes produced while feeding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Frame `frame` carried bytes from `offset` (for `len` bytes compared) that
    /// differ from the first copy, carried by `first_frame` (0 when no longer
    /// known). The first copy was kept.
    Conflict {
        /// The connection's id.
        conn: u32,
        /// The direction the bytes were sent in.
        dir: Dir,
        /// Stream offset of the first differing byte.
        offset: u64,
        /// Bytes from `offset` to the end of the compared overlap.
        len: u64,
        /// The frame that carried the first copy (0 when no longer known).
        first_frame: u64,
        /// The frame whose copy differs.
        frame: u64,
    },
    /// `len` bytes at `offset` are unknown (never captured, or cut by the snap length).
    Gap {
        /// The connection's id.
        conn: u32,
        /// The direction the bytes were sent in.
        dir: Dir,
        /// Stream offset of the first unknown byte.
        offset: u64,
        /// Unknown bytes.
        len: u64,
        /// Lost, or cut by the snap length.
        reason: GapReason,
    },
    /// Out-of-order bytes of `frame` dropped for the per-direction (`global`
    /// false) or the global memory cap; they will show up as a gap.
    CapDrop {
        /// The connection's id.
        conn: u32,
        /// The direction the bytes were sent in.
        dir: Dir,
        /// Stream offset of the first dropped byte.
        offset: u64,
        /// Bytes dropped.
        len: u64,
        /// The frame that carried them.
        frame: u64,
        /// The global cap ([`SeamConfig::global_cap`]) was full, not the direction's.
        global: bool,
    },
    /// Bytes after the end of a finished direction were ignored.
    Late {
        /// The connection's id.
        conn: u32,
        /// The direction the bytes were sent in.
        dir: Dir,
        /// Stream offset of the first ignored byte.
        offset: u64,
        /// Bytes ignored.
        len: u64,
        /// The frame that carried them.
        frame: u64,
    },
    /// `auto` chose a framing.
    Detected {
        /// The connection's id.
        conn: u32,
        /// The direction the bytes were sent in.
        dir: Dir,
        /// The framing chosen, how sure, and why.
        detection: Detection,
    },
    /// The framer lost sync at `offset` (a gap in a header, or bytes that are not
    /// `framing`); the rest of the direction is framed as `segment`.
    Desync {
        /// The connection's id.
        conn: u32,
        /// The direction the bytes were sent in.
        dir: Dir,
        /// Stream offset from which `segment` frames the direction.
        offset: u64,
        /// The framing that lost sync.
        framing: FramingSpec,
    },
}

/// What one call reports. Every call of [`Seams`] that takes it clears it first.
#[derive(Clone, Debug, Default)]
pub struct SegOut {
    /// Which messages the frames framed in this call carry, in the order they were framed.
    pub carried: Vec<Carried>,
    /// Warnings and notes, in the order they arose.
    pub events: Vec<Event>,
}

impl SegOut {
    /// Empties both lists, keeping their memory.
    pub fn clear(&mut self) {
        self.carried.clear();
        self.events.clear();
    }
    /// The entries for frame `n` (normally at most one).
    pub fn for_frame(&self, n: u64) -> impl Iterator<Item = &Carried> {
        self.carried.iter().filter(move |c| c.n == n)
    }
}

/// An application message: the contract's `message` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The TCP connection or UDP flow it was sent on.
    pub flow: FlowId,
    /// The sender's direction.
    pub dir: Dir,
    /// 0-based per connection and direction.
    pub index: u64,
    /// Offset in the reassembled direction stream (0 = first payload byte).
    pub offset: u64,
    /// Length in bytes, gap bytes included.
    pub len: u64,
    /// The framing in use when it began (`segment` once the framer lost sync; `datagram` for UDP).
    pub framing: FramingSpec,
    /// Frames that carried its bytes, in stream order, each once (at most
    /// `max_frames` listed).
    pub frames: Vec<u64>,
    /// How many frames carried its bytes (= `frames.len()` unless capped).
    pub nframes: u64,
    /// A wire segment that carries it also carries bytes of another message.
    pub sticky: bool,
    /// It spans more than one wire segment: more than one frame, or more than one of the wire
    /// segments an offloaded frame stands for.
    pub split: bool,
    /// A frame that carried it was offloaded with its wire segmentation unknown: `sticky` and
    /// `split` are unknown.
    pub wire_unknown: bool,
    /// False when the stream ended, or had a gap or a cap drop, before it was whole.
    pub complete: bool,
    /// Capture time (ns since the epoch) at which its first byte became available in order.
    pub first_ts: i64,
    /// The same for its last byte.
    pub last_ts: i64,
    /// Its first [`SeamConfig::message_heads`] bytes (gaps as zeros), when asked for and the
    /// whole message lies within the first [`SeamConfig::keep_bytes`] of its stream; else `None`.
    pub head: Option<Vec<u8>>,
}

/// A UDP datagram for [`Seams::udp_datagram`].
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The UDP flow id.
    pub flow: u32,
    /// Its direction in the flow.
    pub dir: Dir,
    /// The frame that carried it (the last fragment's, when reassembled).
    pub n: u64,
    /// That frame's capture time (ns).
    pub ts: i64,
    /// The payload.
    pub payload: &'a [u8],
    /// The frames of a datagram reassembled from IP fragments, in offset order (empty: frame
    /// `n` alone).
    pub fragments: &'a [u64],
}

/// A range of a direction's stream and when it became available in order:
/// the capture time of the frame that completed contiguity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Stream offset of the range's first byte.
    pub start: u64,
    /// Stream offset just past its last byte.
    pub end: u64,
    /// Capture time, ns since the epoch.
    pub ts: i64,
    /// Unknown bytes (a gap).
    pub gap: bool,
}

/// Per-direction summary.
#[derive(Clone, Debug, PartialEq)]
pub struct DirSummary {
    /// The connection's id.
    pub conn: u32,
    /// The direction summarised.
    pub dir: Dir,
    /// `None` while `auto` is still looking at the first bytes.
    pub framing: Option<Detection>,
    /// Offset where the framer lost sync and `segment` took over.
    pub fallback_at: Option<u64>,
    /// Bytes of stream handed on (captured bytes; gaps not counted).
    pub bytes: u64,
    /// Segments with payload fed, retransmissions included.
    pub segments: u64,
    /// Of them, those the tracker flagged as retransmissions.
    pub retransmissions: u64,
    /// Final messages so far.
    pub messages: u64,
    /// Of them, messages that share a frame with another message.
    pub sticky: u64,
    /// Of them, messages carried by more than one wire segment.
    pub split: u64,
    /// Of them, messages an offloaded frame of unknown wire segmentation carried: while there
    /// is one, the `sticky` and `split` counts are unknown.
    pub wire_unknown: u64,
    /// Of them, messages not [`complete`](Message::complete).
    pub incomplete: u64,
    /// Length of the longest final message, bytes.
    pub largest: u64,
    /// Most frames that carried one final message.
    pub max_segments_per_message: u64,
    /// Frames per final message on average (0 with no message).
    pub mean_segments_per_message: f64,
    /// Messages opened but not final yet.
    pub pending: u64,
    /// Gaps in the stream (lost or cut by the snap length).
    pub gaps: u64,
    /// Bytes in those gaps.
    pub gap_bytes: u64,
    /// Retransmissions whose bytes differ from the first copy ([`Event::Conflict`]).
    pub conflicts: u64,
    /// Out-of-order pieces dropped by the memory caps ([`Event::CapDrop`]).
    pub cap_drops: u64,
    /// Bytes in those drops.
    pub cap_drop_bytes: u64,
    /// Bytes that arrived again after the first copy (retransmissions, overlaps).
    pub dup_bytes: u64,
    /// Most out-of-order bytes buffered at once (accounted).
    pub peak_buffered: usize,
    /// Bytes held now for detection or by the framer (a partial header).
    pub held: usize,
    /// The direction is finished: it takes no more bytes.
    pub finished: bool,
}

/// A direction's seam state.
enum DirState {
    /// Still taking bytes.
    Live(Box<Stream>),
    /// Finished and reduced (see [`Finished`]); not used while timelines or bytes are
    /// kept, which need the stage.
    Done(Box<Finished>),
}

/// A connection's seam state: its two directions (`[c2s, s2c]`) and what they share.
#[derive(Default)]
struct ConnStreams {
    dirs: [Option<DirState>; 2],
    pair: PairState,
}

impl SeamConfig {
    /// Whether connection `conn` keeps its timeline or bytes ([`keep_only`](Self::keep_only)).
    pub fn keeps(&self, conn: u32) -> bool {
        (self.keep_timeline || self.keep_bytes > 0) && self.keep_only.as_deref().is_none_or(|ids| ids.binary_search(&conn).is_ok())
    }

    /// Whether a finished direction of `conn` must stay whole until its record: it holds a
    /// timeline or a stream prefix for it (message heads leave with their messages).
    fn holds_stream(&self, conn: u32) -> bool {
        self.keeps(conn) && (self.keep_timeline || self.message_heads.is_none())
    }
}

/// Reduces a direction of `conn` that just finished to its [`Finished`] form.
fn settle(slot: &mut Option<DirState>, conn: u32, cfg: &SeamConfig) {
    if cfg.holds_stream(conn) {
        return;
    }
    let done = matches!(slot, Some(DirState::Live(s)) if s.reasm.is_finished() && s.stage.pending() == 0 && s.stage.held() == 0);
    if done {
        if let Some(DirState::Live(s)) = slot.take() {
            *slot = Some(DirState::Done(Box::new(Finished::new(*s))));
        }
    }
}

/// The engine: owns every direction's state.
pub struct Seams {
    cfg: SeamConfig,
    conns: FxHashMap<u32, ConnStreams>,
    /// The next message index of each UDP flow's direction.
    udp: FxHashMap<(u32, Dir), u64>,
    mem: Mem,
    ready: Vec<Message>,
    /// Where every TCP payload fed stays readable (file input); see [`Seams::set_backing`].
    backing: Option<Arc<dyn Backing>>,
}

impl Seams {
    /// An engine with no state yet, for `cfg`.
    pub fn new(cfg: SeamConfig) -> Self {
        let mem = Mem::new(cfg.global_cap);
        Seams { cfg, conns: FxHashMap::default(), udp: FxHashMap::default(), mem, ready: Vec::new(), backing: None }
    }

    /// Every TCP payload fed from now on lies in `backing` (the memory-mapped capture file), which
    /// lives as long as the engine: retransmissions are then compared with the first copy read
    /// again from it, instead of hashing every byte as it is handed on. Call before the first
    /// segment; the results are the same either way.
    pub fn set_backing(&mut self, backing: Arc<dyn Backing>) {
        debug_assert!(self.conns.is_empty());
        self.backing = Some(backing);
    }

    /// Whether emitted messages carry their frame lists ([`SeamConfig::frame_lists`]). Call
    /// before the first segment.
    pub fn set_frame_lists(&mut self, on: bool) {
        debug_assert!(self.conns.is_empty());
        self.cfg.frame_lists = on;
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &SeamConfig {
        &self.cfg
    }

    /// Bytes currently accounted against the global cap, and the peak.
    pub fn memory(&self) -> (usize, usize) {
        (self.mem.used, self.mem.peak)
    }

    /// One TCP segment with payload (segments with `len` 0 are ignored).
    pub fn tcp_segment(&mut self, seg: &SegIn<'_>, out: &mut SegOut) {
        out.clear();
        if seg.len == 0 {
            return;
        }
        let dir = seg.dir;
        let Seams { cfg, conns, mem, ready, backing, .. } = self;
        let conn = conns.entry(seg.conn).or_default();
        let backing = backing.as_deref();
        let rcfg = reasm_cfg(cfg, backing);
        let slot = &mut conn.dirs[dir.idx()];
        let stream = match slot.get_or_insert_with(|| DirState::Live(Box::new(Stream::new(seg.conn, dir, cfg, backing)))) {
            DirState::Live(s) => s,
            DirState::Done(f) => {
                f.segment(&rcfg, mem, out, seg);
                return;
            }
        };
        stream.last_ts = seg.ts;
        stream.segments += 1;
        stream.retransmissions += u64::from(seg.retransmission);
        let mut cx = StageCx { st: &mut stream.stage, cfg, out, ready, pair: &mut conn.pair };
        stream.reasm.segment(&rcfg, mem, &mut cx, seg.reasm());
        if stream.close_pending && stream.reasm.is_complete() && !stream.reasm.is_finished() {
            finish_stream(stream, &mut conn.pair, backing, cfg, mem, out, ready);
            settle(slot, seg.conn, cfg);
        }
    }

    /// One UDP datagram: one `datagram` message, final at once.
    pub fn udp_datagram(&mut self, datagram: &Datagram<'_>, out: &mut SegOut) {
        let Datagram { flow, dir, n, ts, payload, fragments } = *datagram;
        out.clear();
        let next = self.udp.entry((flow, dir)).or_insert(0);
        let index = *next;
        let offset = 0;
        *next += 1;
        let flow = FlowId::Udp(flow);
        out.carried.push(Carried {
            n,
            flow,
            dir,
            first: index,
            last: index,
            first_part: 1,
            continues: false,
            offloaded: false,
            dup: false,
        });
        self.ready.push(Message {
            flow,
            dir,
            index,
            offset,
            len: payload.len() as u64,
            framing: FramingSpec::Datagram,
            frames: if fragments.is_empty() { vec![n] } else { fragments.to_vec() },
            nframes: fragments.len().max(1) as u64,
            sticky: false,
            split: fragments.len() > 1,
            wire_unknown: false,
            complete: true,
            first_ts: ts,
            last_ts: ts,
            head: None,
        });
    }

    /// The direction ended. `fin_rseq`: relative sequence number of the FIN (the
    /// FIN segment's rseq + its payload length), so that data still missing
    /// before it is waited for (a retransmission may come after the FIN); the
    /// direction is finished once everything before it is in, or at
    /// [`finish`](Self::finish). `None` (RST, or closed without a FIN): finish
    /// now, giving up on holes. Idempotent.
    pub fn close_dir(&mut self, conn: u32, dir: Dir, fin_rseq: Option<u32>, out: &mut SegOut) {
        out.clear();
        let Seams { cfg, conns, mem, ready, backing, .. } = self;
        let backing = backing.as_deref();
        let Some(streams) = conns.get_mut(&conn) else { return };
        let slot = &mut streams.dirs[dir.idx()];
        let Some(DirState::Live(stream)) = slot else {
            return;
        };
        if stream.reasm.is_finished() {
            return;
        }
        match fin_rseq {
            Some(r) => {
                stream.reasm.set_end_rseq(r);
                stream.close_pending = true;
                if stream.reasm.is_complete() {
                    finish_stream(stream, &mut streams.pair, backing, cfg, mem, out, ready);
                }
            }
            None => finish_stream(stream, &mut streams.pair, backing, cfg, mem, out, ready),
        }
        settle(slot, conn, cfg);
    }

    /// Moves the final messages so far to `out`: per direction in index order;
    /// across directions in the order they became final (deterministic for a
    /// given input sequence).
    pub fn drain(&mut self, out: &mut Vec<Message>) {
        out.append(&mut self.ready);
    }

    /// Summary of one direction, `None` if it never carried payload (or was released).
    pub fn summary(&self, conn: u32, dir: Dir) -> Option<DirSummary> {
        let of = SummaryOf { conn, dir };
        Some(match self.conns.get(&conn)?.dirs[dir.idx()].as_ref()? {
            DirState::Live(s) => of.summary(
                &s.reasm,
                &s.stage.stats,
                s.stage.detection.as_ref(),
                s.stage.fallback_at,
                (s.segments, s.retransmissions),
                (s.stage.pending(), s.stage.held()),
            ),
            DirState::Done(f) => {
                of.summary(&f.reasm, &f.stats, f.detection.as_ref(), f.fallback_at, (f.segments, f.retransmissions), (0, 0))
            }
        })
    }

    /// The arrival timeline of a direction (empty unless `keep_timeline`).
    pub fn timeline(&self, conn: u32, dir: Dir) -> Option<&[Arrival]> {
        match self.conns.get(&conn)?.dirs[dir.idx()].as_ref()? {
            DirState::Live(s) => Some(&s.stage.timeline),
            DirState::Done(_) => Some(&[]),
        }
    }

    /// The first `keep_bytes` bytes of a direction's stream (gaps as zero bytes).
    pub fn kept_bytes(&self, conn: u32, dir: Dir) -> Option<&[u8]> {
        match self.conns.get(&conn)?.dirs[dir.idx()].as_ref()? {
            DirState::Live(s) => Some(&s.stage.kept),
            DirState::Done(_) => Some(&[]),
        }
    }

    /// Moves out what a direction kept for the reader of its stream: its first `keep_bytes`
    /// bytes and its arrival timeline (both empty unless asked for in [`SeamConfig`]).
    /// With them, the [`StreamHead`] of the bytes kept (or counted, with
    /// [`SeamConfig::message_heads`]).
    pub fn take_kept(&mut self, conn: u32, dir: Dir) -> (Vec<u8>, Vec<Arrival>, StreamHead) {
        match self.conns.get_mut(&conn).and_then(|c| c.dirs[dir.idx()].as_mut()) {
            Some(DirState::Live(s)) => (std::mem::take(&mut s.stage.kept), std::mem::take(&mut s.stage.timeline), s.stage.head),
            Some(DirState::Done(f)) => (Vec::new(), Vec::new(), f.head),
            None => (Vec::new(), Vec::new(), StreamHead::default()),
        }
    }

    /// Connection ids with state, ascending.
    pub fn conn_ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.conns.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Finishes both directions of `conn` (as `close_dir(.., None)`), so its
    /// messages are in the next [`drain`](Self::drain), then frees its state.
    /// Take the summaries before.
    pub fn release(&mut self, conn: u32, out: &mut SegOut) {
        out.clear();
        let Seams { cfg, conns, mem, ready, backing, .. } = self;
        let backing = backing.as_deref();
        let Some(mut c) = conns.remove(&conn) else { return };
        for d in 0..2 {
            if let Some(DirState::Live(stream)) = c.dirs[d].as_mut() {
                if !stream.reasm.is_finished() {
                    finish_stream(stream, &mut c.pair, backing, cfg, mem, out, ready);
                }
                stream.reasm.discard(mem);
            }
        }
    }

    /// Frees a UDP flow's counters.
    pub fn release_udp(&mut self, flow: u32) {
        self.udp.remove(&(flow, Dir::C2S));
        self.udp.remove(&(flow, Dir::S2C));
    }

    /// End of input: finishes every direction (connections in id order, c2s then
    /// s2c) and moves every message to `msgs`.
    pub fn finish(&mut self, out: &mut SegOut, msgs: &mut Vec<Message>) {
        out.clear();
        let ids = self.conn_ids();
        let Seams { cfg, conns, mem, ready, backing, .. } = self;
        let backing = backing.as_deref();
        for id in ids {
            let c = conns.get_mut(&id).expect("conn");
            for d in 0..2 {
                if let Some(DirState::Live(stream)) = c.dirs[d].as_mut() {
                    if !stream.reasm.is_finished() {
                        finish_stream(stream, &mut c.pair, backing, cfg, mem, out, ready);
                    }
                }
            }
        }
        self.drain(msgs);
    }
}

/// Which direction a summary is of.
struct SummaryOf {
    conn: u32,
    dir: Dir,
}

impl SummaryOf {
    /// `counts`: (segments, retransmissions); `now`: (messages pending, bytes held).
    fn summary(
        &self,
        reasm: &reassembly::Reassembler,
        st: &MsgStats,
        framing: Option<&Detection>,
        fallback_at: Option<u64>,
        counts: (u64, u64),
        now: (usize, usize),
    ) -> DirSummary {
        let rs = &reasm.stats;
        DirSummary {
            conn: self.conn,
            dir: self.dir,
            framing: framing.cloned(),
            fallback_at,
            bytes: rs.bytes,
            segments: counts.0,
            retransmissions: counts.1,
            messages: st.messages,
            sticky: st.sticky,
            split: st.split,
            wire_unknown: st.wire_unknown,
            incomplete: st.incomplete,
            largest: st.largest,
            max_segments_per_message: st.max_segments,
            mean_segments_per_message: if st.messages == 0 { 0.0 } else { st.sum_segments as f64 / st.messages as f64 },
            pending: now.0 as u64,
            gaps: rs.gaps,
            gap_bytes: rs.gap_bytes,
            conflicts: rs.conflicts,
            cap_drops: rs.cap_drops,
            cap_drop_bytes: rs.cap_drop_bytes,
            dup_bytes: rs.dup_bytes,
            peak_buffered: rs.peak_buffered,
            held: now.1,
            finished: reasm.is_finished(),
        }
    }
}

fn finish_stream(
    stream: &mut Stream,
    pair: &mut PairState,
    backing: Option<&dyn Backing>,
    cfg: &SeamConfig,
    mem: &mut Mem,
    out: &mut SegOut,
    ready: &mut Vec<Message>,
) {
    let ts = stream.last_ts;
    let mut cx = StageCx { st: &mut stream.stage, cfg, out, ready, pair };
    stream.reasm.finish(backing, mem, &mut cx, ts);
    cx.finish(mem);
}
