//! The one-way flow for file input: capture → decode → track → sinks, in capture order.

use std::io;
use std::path::PathBuf;

use crate::capture::{bpf::Filter, FileError, FileSource, Next, PacketMeta, Source, SourceError};
use crate::decode::{self, Frame, Net, Transport};
use crate::track::arp::{ArpConflict, ArpTable};
use crate::track::tcp::{ConnSummary, SegInfo, Segment, TcpFlags, TrackConfig, Tracker};

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
}

/// An output format.
pub trait Sink {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()>;
    /// A connection is over (closed and lingered, evicted, or the input ended).
    fn conn(&mut self, _c: &ConnSummary) -> io::Result<()> {
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
}

pub struct ReadOptions {
    pub path: PathBuf,
    pub filter: Option<String>,
    pub count: Option<u64>,
    pub track: TrackConfig,
    /// Show a progress bar on stderr for large inputs when stderr is a terminal.
    pub progress: bool,
}

impl ReadOptions {
    pub fn new(path: PathBuf) -> Self {
        ReadOptions { path, filter: None, count: None, track: TrackConfig::default(), progress: false }
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
        if n % 1024 == 0 {
            tracker.expire(meta.ts_ns, &mut done);
            for c in done.drain(..) {
                sink.conn(&c)?;
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
        };
        prev_ts = Some(meta.ts_ns);
        sink.packet(&view)?;
        sum.shown += 1;
        if opts.count.is_some_and(|c| sum.shown >= c) {
            break;
        }
    }
    src.end();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for c in tracker.finish() {
        sink.conn(&c)?;
    }
    sink.finish(&sum)?;
    Ok(sum)
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
