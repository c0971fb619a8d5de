//! The one-way flow: capture → decode → track (connections) → analyze (message seams) → sinks,
//! in capture order.

use std::io;
use std::path::PathBuf;

use crate::capture::{bpf::Filter, FileError, FileSource, Next, PacketMeta, Source, SourceError};
use crate::decode::{self, Frame, Net, Transport};
use crate::track::arp::{ArpConflict, ArpTable};
use crate::analyze::{Carried, DirSummary, Message, SeamConfig, Seams, SegIn, SegOut};
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
}

impl ReadOptions {
    pub fn new(path: PathBuf) -> Self {
        ReadOptions { path, filter: None, count: None, track: TrackConfig { max_conns: DEFAULT_MAX_CONNS, ..TrackConfig::default() }, progress: false, seams: Some(SeamConfig::default()) }
    }
}

/// Connections tracked at once before the least recently active is evicted (its summary is still
/// written). About 2-3 KB each with stream state, so floods stay within ~64 MB; `--max-conns`
/// raises it for captures with more concurrent connections.
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
            sink.message(&m)?;
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

fn conn_done(seams: &mut Option<SeamState>, c: &ConnSummary, sink: &mut dyn Sink) -> io::Result<()> {
    match seams {
        Some(st) => st.conn_done(c, sink),
        None => sink.conn(c, &[None, None]),
    }
}

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
pub fn run_file(opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let mut src = FileSource::open(&opts.path)?;
    run(&mut src, opts, sink)
}

/// The one loop: every frame of `src`, in order, through filter → decode → track → sink.
pub fn run(src: &mut dyn Source, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let mut filter = match &opts.filter {
        Some(expr) => Some(Filter::new(expr, src.linktype_hint())?),
        None => None,
    };
    let mut sum = RunSummary::default();
    let mut arp = ArpTable::new(1 << 16);
    let mut tracker = Tracker::new(opts.track);
    let mut done: Vec<ConnSummary> = Vec::new();
    let mut seams = opts.seams.clone().map(|cfg| SeamState { seams: Seams::new(cfg), out: SegOut::default(), msgs: Vec::new(), udp: UdpFlows::new(1 << 20), cap_dropped: 0 });
    let mut first_ts: Option<i64> = None;
    let mut prev_ts: Option<i64> = None;
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
        let first = *first_ts.get_or_insert(meta.ts_ns);
        if let Some(f) = filter.as_mut() {
            if !f.matches(meta.linktype, raw) {
                continue;
            }
        }
        let frame = decode::decode(meta.linktype, raw, meta.len);
        if !frame.warnings.is_empty() {
            sum.malformed += 1;
        }
        if !crate::decode::link::linktype_supported(meta.linktype) && !sum.unsupported_linktypes.contains(&meta.linktype) {
            sum.unsupported_linktypes.push(meta.linktype);
        }
        let arp_conflict = match &frame.net {
            Net::Arp(a) => arp.observe(n, a),
            _ => None,
        };
        let tcp = track_tcp(&mut tracker, n, meta.ts_ns, &frame);
        let (msgs, udp_flow) = match seams.as_mut() {
            Some(st) => feed_seams(st, n, meta.ts_ns, &frame, tcp.as_ref(), sink)?,
            None => (MsgNote::None, None),
        };
        if n % 1024 == 0 {
            tracker.expire(meta.ts_ns, &mut done);
            for c in done.drain(..) {
                conn_done(&mut seams, &c, sink)?;
            }
        }
        let view = PacketView {
            n,
            meta,
            rel_ns: meta.ts_ns.saturating_sub(first),
            delta_ns: prev_ts.map_or(0, |p| meta.ts_ns.saturating_sub(p)),
            raw,
            frame: &frame,
            arp_conflict,
            tcp,
            msgs,
            udp_flow,
        };
        prev_ts = Some(meta.ts_ns);
        sink.packet(&view)?;
        sum.shown += 1;
        if opts.count.is_some_and(|c| sum.shown >= c) {
            break;
        }
    }
    src.end();
    sum.evicted = tracker.evicted();
    sum.max_conns = opts.track.max_conns;
    if let Some(st) = seams.as_ref() {
        sum.cap_dropped_bytes = st.cap_dropped;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for c in tracker.finish() {
        conn_done(&mut seams, &c, sink)?;
    }
    if let Some(st) = seams.as_mut() {
        st.seams.finish(&mut st.out, &mut st.msgs);
        for c in &st.out.carried {
            sink.late(c)?;
        }
        for m in st.msgs.drain(..) {
            sink.message(&m)?;
        }
    }
    sink.finish(&sum)?;
    Ok(sum)
}

/// Feed a segment's payload (or a datagram) to the seam engine; FIN and RST close directions.
fn feed_seams(st: &mut SeamState, n: u64, ts: i64, f: &Frame<'_>, si: Option<&SegInfo>, sink: &mut dyn Sink) -> io::Result<(MsgNote, Option<(u32, usize)>)> {
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

/// Feed a TCP segment to the tracker. Fragments are not tracked (their length is not the
/// segment's); a TCP header with no IP around it cannot occur.
fn track_tcp(tracker: &mut Tracker, n: u64, ts: i64, f: &Frame<'_>) -> Option<SegInfo> {
    let (Net::Ip(ip), Transport::Tcp(t)) = (&f.net, &f.transport) else { return None };
    if ip.frag.is_some() {
        return None;
    }
    let o = &t.opts;
    let seg = Segment {
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
    };
    Some(tracker.segment(&seg))
}
