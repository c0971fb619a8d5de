//! The one-way flow: capture → decode → track (connections) → analyze (message seams) → sinks,
//! in capture order.

mod parallel;
mod sharded;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::analyze::{Carried, DirSummary, Message, SeamConfig, Seams, SegIn, SegOut};
use crate::capture::Backing;
use crate::capture::{bpf::Filter, FileError, FileSource, Next, PacketMeta, Source, SourceError};
use crate::decode::{self, Frame, Net, Transport};
use crate::track::arp::{ArpConflict, ArpTable};
use crate::track::tcp::{ConnSummary, Dir, SegInfo, Segment, TcpFlags, TrackConfig, Tracker};
use crate::track::udp::UdpFlows;

/// Which application messages a frame carries bytes of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgNote {
    /// No payload, or not a stream we frame.
    None,
    Known(Carried),
    /// The bytes are held (out of order, or while the framing is being detected): a later
    /// [`Sink::late`] call says which messages they were.
    Pending,
}

/// Per-direction seam summaries of a connection, `[c2s, s2c]`.
pub type ConnSeams = [Option<DirSummary>; 2];

/// Everything a sink may print about one frame.
pub struct PacketView<'a, 'f> {
    /// Frame number in the file, 1-based (tshark's frame.number), also when a filter skips frames.
    pub n: u64,
    pub meta: PacketMeta,
    /// Nanoseconds since the first frame of the input.
    pub rel_ns: i64,
    /// Nanoseconds since the previous frame shown.
    pub delta_ns: i64,
    pub raw: &'a [u8],
    pub frame: &'f Frame<'a>,
    pub arp_conflict: Option<ArpConflict>,
    /// What the connection tracker says about a TCP segment.
    pub tcp: Option<SegInfo>,
    /// Messages carried (TCP payload or a UDP datagram).
    pub msgs: MsgNote,
    /// UDP flow id and direction (0 = from the first sender), for datagram messages.
    pub udp_flow: Option<(u32, usize)>,
}

/// An output format.
pub trait Sink {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()>;
    /// A connection is over (closed and lingered, evicted, or the input ended), with the seam
    /// summaries of its two directions.
    fn conn(&mut self, _c: &ConnSummary, _seams: &ConnSeams) -> io::Result<()> {
        Ok(())
    }
    /// A message is final.
    fn message(&mut self, _m: &Message) -> io::Result<()> {
        Ok(())
    }
    /// [`message`](Self::message), for sinks that keep the message.
    fn message_owned(&mut self, m: Message) -> io::Result<()> {
        self.message(&m)
    }
    /// The messages of an earlier frame whose packet was shown with [`MsgNote::Pending`].
    fn late(&mut self, _c: &Carried) -> io::Result<()> {
        Ok(())
    }
    /// Just before a connection's stream state is released: the last chance to read its kept
    /// bytes and timeline (for `stream`).
    fn conn_end(&mut self, _conn: u32, _seams: &Seams) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        Ok(())
    }
    /// False if [`packet`](Self::packet) ignores its argument (frames need not be kept for it).
    fn wants_packets(&self) -> bool {
        true
    }
    /// False if [`message`](Self::message) and [`late`](Self::late) ignore theirs.
    fn wants_messages(&self) -> bool {
        true
    }
    /// False if the sink needs [`conn_end`](Self::conn_end) (the seam engine's kept bytes),
    /// which a run sharded over threads cannot give.
    fn shardable(&self) -> bool {
        true
    }
}

/// What a run did, for the exit status and the closing messages.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Frames read from the input.
    pub frames: u64,
    /// Frames that passed the filter and were shown.
    pub shown: u64,
    /// Frames with decoding warnings.
    pub malformed: u64,
    /// Link types found that are not decoded.
    pub unsupported_linktypes: Vec<u32>,
    /// The input ended in damage after `frames` good frames.
    pub damage: Option<SourceError>,
    /// Connections evicted from the full tracking table (summarised early; later packets of
    /// the same 4-tuple start a new connection id).
    pub evicted: u64,
    /// The table size that forced the evictions.
    pub max_conns: usize,
    /// Stream bytes dropped by the reassembly memory caps (their messages are incomplete).
    pub cap_dropped_bytes: u64,
}

pub struct ReadOptions {
    pub path: PathBuf,
    pub filter: Option<String>,
    pub count: Option<u64>,
    pub track: TrackConfig,
    /// Show a progress bar on stderr for large inputs when stderr is a terminal.
    pub progress: bool,
    /// Reassembly and framing; `None` turns message seams off.
    pub seams: Option<SeamConfig>,
    /// Worker threads for file input (1: everything on the calling thread).
    pub threads: usize,
}

impl ReadOptions {
    pub fn new(path: PathBuf) -> Self {
        ReadOptions {
            path,
            filter: None,
            count: None,
            track: TrackConfig { max_conns: DEFAULT_MAX_CONNS, ..TrackConfig::default() },
            progress: false,
            seams: Some(SeamConfig::default()),
            threads: 1,
        }
    }
}

/// Connections tracked at once before the least recently active is evicted (its summary is still
/// written). Measured (`benches/scale.sh`): about 5 KB per open connection with its stream
/// state, 1.6 KB once closed and lingering, so a flood of open connections stays within ~80 MB
/// (twice that for `conns` over several threads: `sharded::table_share`); `--max-conns` raises
/// it for captures with more concurrent connections.
pub const DEFAULT_MAX_CONNS: usize = 16_384;

/// Message seams for the run: the engine plus the per-call output buffers.
struct SeamState {
    seams: Seams,
    out: SegOut,
    msgs: Vec<Message>,
    udp: UdpFlows,
    cap_dropped: u64,
}

impl SeamState {
    /// Hand every report of the last call on: messages of earlier frames, final messages.
    /// Returns the note for frame `n` itself.
    fn emit(&mut self, n: u64, sink: &mut dyn Sink) -> io::Result<Option<Carried>> {
        let mut mine = None;
        for e in &self.out.events {
            if let crate::analyze::Event::CapDrop { len, .. } = e {
                self.cap_dropped += len;
            }
        }
        for c in &self.out.carried {
            if c.n == n {
                mine = Some(*c);
            } else {
                sink.late(c)?;
            }
        }
        self.seams.drain(&mut self.msgs);
        for m in self.msgs.drain(..) {
            sink.message_owned(m)?;
        }
        Ok(mine)
    }

    /// A connection is over: flush both directions, then the summaries, then free it.
    fn conn_done(&mut self, c: &ConnSummary, sink: &mut dyn Sink) -> io::Result<()> {
        for d in 0..2 {
            self.seams.close_dir(c.conn, d, None, &mut self.out);
            self.emit(0, sink)?;
        }
        let s = [self.seams.summary(c.conn, 0), self.seams.summary(c.conn, 1)];
        sink.conn_end(c.conn, &self.seams)?;
        sink.conn(c, &s)?;
        self.seams.release(c.conn, &mut self.out);
        self.emit(0, sink).map(|_| ())
    }
}

/// What the protocol state says about one frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameFacts {
    pub arp_conflict: Option<ArpConflict>,
    pub tcp: Option<SegInfo>,
    pub msgs: MsgNote,
    pub udp_flow: Option<(u32, usize)>,
}

/// The connection state of a run: ARP bindings and TCP connections. Fed every decoded frame
/// in capture order; one per run (with `--threads`, in the reader).
pub(crate) struct Tracking {
    arp: ArpTable,
    tracker: Tracker,
    done: Vec<ConnSummary>,
}

impl Tracking {
    pub fn new(opts: &ReadOptions) -> Self {
        Self::with_config(opts.track)
    }

    pub fn with_config(track: TrackConfig) -> Self {
        Tracking { arp: ArpTable::new(1 << 16), tracker: Tracker::new(track), done: Vec::new() }
    }

    /// Connections created so far (the next connection's id).
    pub fn created(&self) -> u32 {
        self.tracker.created()
    }

    /// Frame `n`'s ARP conflict and TCP segment facts.
    pub fn frame(&mut self, n: u64, ts: i64, frame: &Frame<'_>) -> (Option<ArpConflict>, Option<SegInfo>) {
        let arp_conflict = match &frame.net {
            Net::Arp(a) => self.arp.observe(n, a),
            _ => None,
        };
        (arp_conflict, track_tcp(&mut self.tracker, n, ts, frame))
    }

    /// Connections finished (and lingered) by capture time `ts`, or evicted, in id order.
    pub fn expired(&mut self, ts: i64) -> Vec<ConnSummary> {
        self.tracker.expire(ts, &mut self.done);
        self.done.sort_by_key(|c| c.conn);
        std::mem::take(&mut self.done)
    }

    /// End of input: every connection still held, in id order.
    pub fn remaining(&mut self) -> Vec<ConnSummary> {
        self.tracker.finish()
    }

    /// Connections evicted from the full table.
    pub fn evicted(&self) -> u64 {
        self.tracker.evicted()
    }
}

/// The message-seam state of a run (or, with `--threads`, of one shard of its connections and
/// UDP flows), fed frames with their TCP facts in capture order. `None` inside: seams are off.
pub(crate) struct SeamStage(Option<SeamState>);

impl SeamStage {
    /// `shards` stages share the limits of one: each gets its part of the reassembly memory.
    /// `backing`: the run's frames all lie in it (file input; see [`Seams::set_backing`]).
    /// `annotated`: the sink looks at packets or messages (else no frame lists are kept).
    pub fn new(opts: &ReadOptions, shards: usize, backing: Option<Arc<dyn Backing>>, annotated: bool) -> Self {
        let shards = shards.max(1);
        SeamStage(opts.seams.clone().map(|mut cfg| {
            cfg.global_cap /= shards;
            if !annotated {
                cfg.max_frames = 0;
            }
            let mut seams = Seams::new(cfg);
            if let Some(b) = backing {
                seams.set_backing(b);
            }
            SeamState { seams, out: SegOut::default(), msgs: Vec::new(), udp: UdpFlows::new((1 << 20) / shards), cap_dropped: 0 }
        }))
    }

    /// Frame `n` (with its TCP facts); messages of earlier frames that it completes go to the
    /// sink first. Returns the frame's message note and UDP flow.
    pub fn frame(
        &mut self,
        n: u64,
        ts: i64,
        frame: &Frame<'_>,
        tcp: Option<&SegInfo>,
        sink: &mut dyn Sink,
    ) -> io::Result<(MsgNote, Option<(u32, usize)>)> {
        match self.0.as_mut() {
            Some(st) => feed_seams(st, n, ts, frame, tcp, sink),
            None => Ok((MsgNote::None, None)),
        }
    }

    /// Report a connection that is over (its last messages, its summary) and free its state.
    pub fn conn_done(&mut self, c: &ConnSummary, sink: &mut dyn Sink) -> io::Result<()> {
        match self.0.as_mut() {
            Some(st) => st.conn_done(c, sink),
            None => sink.conn(c, &[None, None]),
        }
    }

    /// End of input, after the last `conn_done`: whatever the seam engine still holds.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        if let Some(st) = self.0.as_mut() {
            st.seams.finish(&mut st.out, &mut st.msgs);
            for c in &st.out.carried {
                sink.late(c)?;
            }
            for m in st.msgs.drain(..) {
                sink.message_owned(m)?;
            }
        }
        Ok(())
    }

    /// Stream bytes dropped by the memory caps.
    pub fn cap_dropped(&self) -> u64 {
        self.0.as_ref().map_or(0, |s| s.cap_dropped)
    }
}

/// All protocol state of a single-threaded run: tracking, then seams, per frame.
pub(crate) struct Engine {
    pub track: Tracking,
    pub seams: SeamStage,
}

impl Engine {
    pub fn new(opts: &ReadOptions, backing: Option<Arc<dyn Backing>>, annotated: bool) -> Self {
        Engine { track: Tracking::new(opts), seams: SeamStage::new(opts, 1, backing, annotated) }
    }

    /// Track frame `n`; messages of earlier frames that it completes go to the sink first.
    pub fn frame(&mut self, n: u64, ts: i64, frame: &Frame<'_>, sink: &mut dyn Sink) -> io::Result<FrameFacts> {
        let (arp_conflict, tcp) = self.track.frame(n, ts, frame);
        let (msgs, udp_flow) = self.seams.frame(n, ts, frame, tcp.as_ref(), sink)?;
        Ok(FrameFacts { arp_conflict, tcp, msgs, udp_flow })
    }

    /// (connections evicted, stream bytes dropped by the memory caps)
    pub fn losses(&self) -> (u64, u64) {
        (self.track.evicted(), self.seams.cap_dropped())
    }
}

/// How often (in frames) finished connections are looked for.
pub(crate) const EXPIRE_EVERY: u64 = 1024;

/// A progress bar for file reads of more than 64 MB, drawn only on a terminal (indicatif hides
/// itself otherwise), updated every 64 Ki frames so it costs nothing per frame.
fn progress_bar(src: &dyn Source, wanted: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    let (total, _) = src.progress()?;
    if !wanted || total < 64 << 20 || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}")]
    Filter(#[from] crate::capture::bpf::FilterError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Read a capture file and feed every (matching) frame to the sink.
/// With `opts.threads` above 1 the connections are sharded over that many threads, unless
/// `--count` stops early or the sink cannot be sharded; the output is the same. A sink of
/// connections only has each thread do everything for its flows ([`sharded`]); a sink of
/// packets or messages gets one reader thread that decodes and tracks and workers that
/// reassemble ([`parallel`]).
pub fn run_file(opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let mut src = FileSource::open(&opts.path)?;
    if opts.threads > 1 && opts.count.is_none() && sink.shardable() {
        if !sink.wants_packets() && !sink.wants_messages() {
            return sharded::run(src, opts, sink);
        }
        return parallel::run(src, opts, sink);
    }
    run(&mut src, opts, sink)
}

/// The one loop: every frame of `src`, in order, through filter → decode → track → sink.
pub fn run(src: &mut dyn Source, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let mut filter = match &opts.filter {
        Some(expr) => Some(Filter::new(expr, src.linktype_hint())?),
        None => None,
    };
    let mut sum = RunSummary::default();
    let mut engine = Engine::new(opts, src.backing(), sink.wants_packets() || sink.wants_messages());
    let mut clock = Clock::default();
    let bar = progress_bar(src, opts.progress);
    loop {
        if sum.frames % 65_536 == 0 {
            if let (Some(b), Some((_, done))) = (&bar, src.progress()) {
                b.set_position(done);
            }
        }
        let (meta, raw) = match src.next_packet() {
            Next::Packet(m, d) => (m, d),
            Next::Again => continue,
            Next::End => break,
            Next::Err(e) => {
                sum.damage = Some(e);
                break;
            }
        };
        sum.frames += 1;
        let n = sum.frames;
        clock.saw(meta.ts_ns);
        if let Some(f) = filter.as_mut() {
            if !f.matches(meta.linktype, raw) {
                continue;
            }
        }
        let frame = decode_counted(&mut sum, meta, raw);
        let facts = engine.frame(n, meta.ts_ns, &frame, sink)?;
        if n % EXPIRE_EVERY == 0 {
            for c in engine.track.expired(meta.ts_ns) {
                engine.seams.conn_done(&c, sink)?;
            }
        }
        let (rel_ns, delta_ns) = clock.shown(meta.ts_ns);
        let view = PacketView {
            n,
            meta,
            rel_ns,
            delta_ns,
            raw,
            frame: &frame,
            arp_conflict: facts.arp_conflict,
            tcp: facts.tcp,
            msgs: facts.msgs,
            udp_flow: facts.udp_flow,
        };
        sink.packet(&view)?;
        sum.shown += 1;
        if opts.count.is_some_and(|c| sum.shown >= c) {
            break;
        }
    }
    src.end();
    (sum.evicted, sum.cap_dropped_bytes) = engine.losses();
    sum.max_conns = opts.track.max_conns;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for c in engine.track.remaining() {
        engine.seams.conn_done(&c, sink)?;
    }
    engine.seams.finish(sink)?;
    sink.finish(&sum)?;
    Ok(sum)
}

/// The next frame of a file walked by a thread (its number, metadata and place in the map), with
/// the progress bar moved on every 64 Ki frames; `None` at the end of the file or at damage
/// (kept in `sum`).
pub(crate) fn walk_next(
    src: &mut FileSource,
    sum: &mut RunSummary,
    bar: Option<&indicatif::ProgressBar>,
) -> Option<(u64, PacketMeta, std::ops::Range<usize>)> {
    if sum.frames.is_multiple_of(65_536) {
        if let Some(b) = bar {
            b.set_position(src.progress().1);
        }
    }
    match src.next_range()? {
        Ok((meta, range)) => {
            sum.frames += 1;
            Some((sum.frames, meta, range))
        }
        Err(e) => {
            sum.damage = Some(SourceError::File(e));
            None
        }
    }
}

/// Times relative to the first frame read and to the previous frame shown.
#[derive(Default)]
pub(crate) struct Clock {
    first: Option<i64>,
    prev: Option<i64>,
}

impl Clock {
    /// Every frame read (also those the filter drops).
    pub fn saw(&mut self, ts: i64) {
        self.first.get_or_insert(ts);
    }
    /// A frame shown: (since the first frame, since the previous frame shown).
    pub fn shown(&mut self, ts: i64) -> (i64, i64) {
        let rel = ts.saturating_sub(self.first.unwrap_or(ts));
        let delta = self.prev.map_or(0, |p| ts.saturating_sub(p));
        self.prev = Some(ts);
        (rel, delta)
    }
}

/// Decode a frame and count what the summary reports about it.
pub(crate) fn decode_counted<'a>(sum: &mut RunSummary, meta: PacketMeta, raw: &'a [u8]) -> Frame<'a> {
    let frame = decode::decode(meta.linktype, raw, meta.len);
    count_decoded(sum, meta.linktype, &frame);
    frame
}

/// Count what the summary reports about a decoded frame.
pub(crate) fn count_decoded(sum: &mut RunSummary, linktype: u32, frame: &Frame<'_>) {
    if !frame.warnings.is_empty() {
        sum.malformed += 1;
    }
    if !crate::decode::link::linktype_supported(linktype) && !sum.unsupported_linktypes.contains(&linktype) {
        sum.unsupported_linktypes.push(linktype);
    }
}

/// Feed a segment's payload (or a datagram) to the seam engine; FIN and RST close directions.
fn feed_seams(
    st: &mut SeamState,
    n: u64,
    ts: i64,
    f: &Frame<'_>,
    si: Option<&SegInfo>,
    sink: &mut dyn Sink,
) -> io::Result<(MsgNote, Option<(u32, usize)>)> {
    match (&f.net, &f.transport, si) {
        (Net::Ip(_), Transport::Tcp(t), Some(si)) => {
            let dir = si.dir.idx();
            let mut note = MsgNote::None;
            if t.len > 0 {
                let syn = t.flags & crate::decode::tcpflags::SYN != 0;
                let seg = SegIn {
                    n,
                    ts,
                    conn: si.conn,
                    dir,
                    rseq: if syn { si.rseq.wrapping_add(1) } else { si.rseq },
                    len: t.len,
                    payload: f.payload,
                    retransmission: si.analysis.has(crate::track::tcp::Analysis::RETRANSMISSION),
                };
                st.seams.tcp_segment(&seg, &mut st.out);
                note = match st.emit(n, sink)? {
                    Some(c) => MsgNote::Known(c),
                    None => MsgNote::Pending,
                };
            }
            if t.flags & crate::decode::tcpflags::RST != 0 {
                for d in [Dir::C2S, Dir::S2C] {
                    st.seams.close_dir(si.conn, d.idx(), None, &mut st.out);
                    st.emit(0, sink)?;
                }
            } else if t.flags & crate::decode::tcpflags::FIN != 0 {
                let fin = si.rseq.wrapping_add(t.len);
                st.seams.close_dir(si.conn, dir, Some(fin), &mut st.out);
                if let Some(c) = st.emit(n, sink)? {
                    note = MsgNote::Known(c);
                }
            }
            Ok((note, None))
        }
        (Net::Ip(ip), Transport::Udp(u), _) if ip.frag.is_none() => {
            let Some((flow, dir)) = st.udp.flow(ip.src, u.sport, ip.dst, u.dport) else { return Ok((MsgNote::None, None)) };
            st.seams.udp_datagram(flow, dir, n, ts, f.payload, &mut st.out);
            let note = st.emit(n, sink)?.map_or(MsgNote::None, MsgNote::Known);
            Ok((note, Some((flow, dir))))
        }
        _ => Ok((MsgNote::None, None)),
    }
}

/// Feed a TCP segment to the tracker.
fn track_tcp(tracker: &mut Tracker, n: u64, ts: i64, f: &Frame<'_>) -> Option<SegInfo> {
    Some(tracker.segment(&segment_of(n, ts, f)?))
}

/// The tracker's view of a decoded frame: `None` for non-TCP frames and IP fragments (their
/// length is not the segment's; a TCP header with no IP around it cannot occur).
pub fn segment_of<'a>(n: u64, ts: i64, f: &'a Frame<'a>) -> Option<Segment<'a>> {
    let (Net::Ip(ip), Transport::Tcp(t)) = (&f.net, &f.transport) else { return None };
    if ip.frag.is_some() {
        return None;
    }
    let o = &t.opts;
    Some(Segment {
        n,
        ts,
        src: ip.src,
        dst: ip.dst,
        sport: t.sport,
        dport: t.dport,
        flags: TcpFlags(t.flags),
        seq: t.seq,
        ack: t.ack,
        win: t.win,
        mss: o.mss,
        ws: o.ws,
        sack_perm: o.sack_perm,
        sack: o.sack(),
        tsopt: o.ts,
        len: t.len,
        payload: f.payload,
    })
}
