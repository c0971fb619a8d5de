//! The run: frames from a source, through the one [frame core](frame_core), to a sink.
//!
//! Where things go: the order of the stages for every frame (filter → decode → track → seams,
//! and the expiry step every [`EXPIRE_EVERY`] frames) is written once, in [`frame_core`]; a new stage
//! is one edit there ([`frame_core::Front::admit`] before tracking, [`frame_core::Back::frame`] after it).
//! The drivers only decide which thread runs which half: [`run`] runs a whole core on the
//! calling thread, `parallel` (packets or messages, `--threads`) runs the [`frame_core::Front`] on a
//! reader thread and a [`frame_core::Back`] per worker, `sharded` (connections only, `--threads`) runs
//! a whole core per thread on its share of the flows. Sinks see the same calls in the same order
//! from all three.

pub mod frame_core;
mod parallel;
mod sharded;

use std::io;
use std::path::PathBuf;

use crate::analyze::{Arrival, Carried, DirSummary, Message, SeamConfig};
use crate::capture::{FileError, FileSource, Input, MergeSource, Next, PacketMeta, Source, SourceError};
use crate::decode::Frame;
use crate::track::arp::ArpConflict;
use crate::track::defrag::DefragCounts;
use crate::track::tcp::{ConnSummary, SegInfo, TrackConfig};
use crate::track::{FlowId, Tracked, UdpInfo};

use self::frame_core::Core;
pub use self::frame_core::EXPIRE_EVERY;

/// Which application messages a frame carries bytes of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgNote {
    /// No payload, or not a stream we frame.
    None,
    /// These messages (known when the frame was framed in order).
    Known(Carried),
    /// The bytes are held (out of order, or while the framing is being detected): a later
    /// [`Sink::late`] call says which messages they were.
    Pending,
}

/// Per-direction seam summaries of a connection, `[c2s, s2c]`.
pub type ConnSeams = [Option<DirSummary>; 2];

/// What one direction of a finished connection kept for a reader of its stream (both empty
/// unless [`SeamConfig::keep_bytes`] / [`SeamConfig::keep_timeline`] asked for them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kept {
    /// The first `keep_bytes` bytes of the direction's stream (gaps as zero bytes).
    pub bytes: Vec<u8>,
    /// When each range of the stream became available in order.
    pub timeline: Vec<Arrival>,
    /// What the first bytes kept (or only counted, with [`SeamConfig::message_heads`]) look like.
    pub head: crate::analyze::StreamHead,
}

/// Everything a finished connection leaves for the sinks: the tracker's summary, the seam
/// summaries of its directions and what they kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnRecord {
    /// The tracker's summary (the contract's `conn` record).
    pub summary: ConnSummary,
    /// Seam summaries, `[c2s, s2c]` (`None`: the direction carried no payload, or seams are off).
    pub seams: ConnSeams,
    /// Kept bytes and timelines, `[c2s, s2c]`.
    pub kept: [Kept; 2],
}

/// Everything a sink may print about one frame.
pub struct PacketView<'a, 'f> {
    /// Frame number in the file, 1-based (tshark's frame.number), also when a filter skips frames.
    pub n: u64,
    /// What the capture layer recorded.
    pub meta: PacketMeta,
    /// Nanoseconds since the first frame of the input.
    pub rel_ns: i64,
    /// Nanoseconds since the previous frame shown.
    pub delta_ns: i64,
    /// The frame's captured bytes.
    pub raw: &'a [u8],
    /// The decoded layers.
    pub frame: &'f Frame<'a>,
    /// An ARP binding that contradicts an earlier one.
    pub arp_conflict: Option<ArpConflict>,
    /// What the connection tracker says about a TCP segment.
    pub tcp: Option<SegInfo>,
    /// Messages carried (TCP payload or a UDP datagram).
    pub msgs: MsgNote,
    /// UDP flow id and direction (`C2S` from the first sender), for a whole datagram.
    pub udp: Option<UdpInfo>,
    /// The tracked connection or UDP flow an ICMP error is about.
    pub icmp_about: Option<FlowId>,
    /// The input file the frame came from, when several are read as one (`--merge`).
    pub file: Option<&'f std::path::Path>,
}

impl<'a, 'f> PacketView<'a, 'f> {
    /// The view of frame `n` from what the core said of it.
    pub fn new(n: u64, meta: PacketMeta, times: FrameTimes, raw: &'a [u8], frame: &'f Frame<'a>, facts: &FrameFacts) -> Self {
        PacketView {
            n,
            meta,
            rel_ns: times.rel_ns,
            delta_ns: times.delta_ns,
            raw,
            frame,
            arp_conflict: facts.tracked.arp_conflict,
            tcp: facts.tracked.tcp,
            msgs: facts.msgs,
            udp: facts.tracked.udp,
            icmp_about: facts.tracked.icmp_about,
            file: None,
        }
    }
}

/// An output format.
pub trait Sink {
    /// What the input file says of itself, once, before its first frame (not called for live
    /// or in-memory sources). A sink that writes a capture file picks its format from it.
    fn source(&mut self, _info: &crate::capture::SourceInfo) {}
    /// A frame that passed the filter, in capture order.
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()>;
    /// A connection is over (closed and lingered, evicted, or the input ended).
    fn conn(&mut self, _c: &ConnRecord) -> io::Result<()> {
        Ok(())
    }
    /// [`conn`](Self::conn), for sinks that keep the record.
    fn conn_owned(&mut self, c: ConnRecord) -> io::Result<()> {
        self.conn(&c)
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
    /// The run is over.
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
    /// False if the messages it takes are read without their frame lists
    /// ([`Message::frames`](crate::analyze::Message) left empty, `nframes` still counts): an
    /// allocation per message saved.
    fn wants_message_frames(&self) -> bool {
        self.wants_messages()
    }
    /// True once the sink wants no more frames (it has shown its `-c` count after a selection
    /// of its own): the run stops reading, as at `--count`.
    fn satisfied(&self) -> bool {
        false
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
    /// Link types found that are not decoded, in order of first appearance.
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
    /// What IP reassembly did.
    pub defrag: DefragCounts,
    /// Frames with a bad checksum, checked with [`ChecksumMode::Check`] or [`ChecksumMode::Drop`].
    pub bad_checksums: u64,
    /// Of those, the frames left out of tracking ([`ChecksumMode::Drop`]).
    pub bad_checksums_dropped: u64,
    /// The UDP and ICMP flows' `conn` records (UDP first, each protocol in id order): flows
    /// have no close, so they are final only at the end of input.
    pub flows: Vec<ConnSummary>,
}

/// What is done with checksums (`--check-checksums`, `--drop-bad-checksums`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChecksumMode {
    /// Not verified (the default, as tshark and tcpdump: a capturing host's own frames often
    /// carry checksums its NIC completes later).
    #[default]
    Off,
    /// Verified; a bad one is a warning on its frame.
    Check,
    /// Verified, and a frame with a bad one is left out of tracking and seams, as Zeek does.
    Drop,
}

/// What a run reads and how.
pub struct ReadOptions {
    /// The capture file (or, for live input, the interface's name).
    pub path: PathBuf,
    /// More capture files read with `path` as one, merged by time (`--merge`).
    pub merge: Vec<PathBuf>,
    /// A pcap-filter(7) expression; frames it rejects are not decoded.
    pub filter: Option<String>,
    /// Stop after this many frames shown.
    pub count: Option<u64>,
    /// The tracker's limits.
    pub track: TrackConfig,
    /// Show a progress bar on stderr for large inputs when stderr is a terminal.
    pub progress: bool,
    /// Reassembly and framing; `None` turns message seams off.
    pub seams: Option<SeamConfig>,
    /// Worker threads for file input (1: everything on the calling thread).
    pub threads: usize,
    /// Checksum verification.
    pub checksums: ChecksumMode,
    /// Which tunnels are peeled off, on which UDP ports (`--no-decap`, `--tunnel-port`).
    pub decode: crate::decode::tunnel::DecodeOptions,
    /// A pcap-filter(7) expression over the innermost IP header (`--inner`); frames it rejects
    /// are decoded but neither shown nor tracked.
    pub inner: Option<String>,
}

impl ReadOptions {
    /// The input file `index` ([`PacketMeta::file`]) when several are read as one, else `None`.
    pub fn merged_file(&self, index: u32) -> Option<&std::path::Path> {
        if self.merge.is_empty() {
            return None;
        }
        match index {
            0 => Some(&self.path),
            n => self.merge.get(n as usize - 1).map(PathBuf::as_path),
        }
    }

    /// Defaults for reading `path`: no filter, seams on, one thread.
    pub fn new(path: PathBuf) -> Self {
        ReadOptions {
            path,
            merge: Vec::new(),
            filter: None,
            count: None,
            track: TrackConfig { max_conns: DEFAULT_MAX_CONNS, ..TrackConfig::default() },
            progress: false,
            seams: Some(SeamConfig::default()),
            threads: 1,
            checksums: ChecksumMode::Off,
            decode: crate::decode::tunnel::DecodeOptions::DEFAULT,
            inner: None,
        }
    }
}

/// Connections tracked at once before the least recently active is evicted (its summary is still
/// written). About 5 KB per open connection with its stream state and 1.6 KB once closed and
/// lingering (`benches/scale.sh`), so a flood of open connections stays within ~80 MB (twice
/// that for `conns` over several threads: `sharded::table_share`); `--max-conns` raises it for
/// captures with more concurrent connections.
pub const DEFAULT_MAX_CONNS: usize = 16_384;

/// What the core says about one frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameFacts {
    /// What tracking said.
    pub tracked: Tracked,
    /// What the seams said.
    pub msgs: MsgNote,
}

/// A frame's times for display.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameTimes {
    /// Since the first frame read.
    pub rel_ns: i64,
    /// Since the previous frame shown.
    pub delta_ns: i64,
}

/// Why a run could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The capture file cannot be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The filter expression does not compile.
    #[error("{0}")]
    Filter(#[from] crate::capture::bpf::FilterError),
    /// The sink could not write.
    #[error(transparent)]
    Io(#[from] io::Error),
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

/// Read a capture file and feed every (matching) frame to the sink.
/// With `opts.threads` above 1 the work is spread over that many threads, unless `--count`
/// stops early; the output is the same. A sink of connections only has each thread run a whole
/// core for its flows (`sharded`); a sink of packets or messages gets one reader thread that
/// runs the core's front and workers that run its back (`parallel`).
///
/// A compressed file, or several files (`opts.merge`), are read on the calling thread.
pub fn run_file(opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    if !opts.merge.is_empty() {
        let paths: Vec<PathBuf> = std::iter::once(opts.path.clone()).chain(opts.merge.iter().cloned()).collect();
        return run(&mut MergeSource::open(&paths)?, opts, sink);
    }
    let mut src = match Input::open(&opts.path)? {
        Input::Mapped(src) => src,
        Input::Streamed(mut src) => return run(&mut src, opts, sink),
    };
    if opts.threads > 1 && opts.count.is_none() {
        if !sink.wants_packets() && !sink.wants_messages() {
            return sharded::run(src, opts, sink);
        }
        return parallel::run(src, opts, sink);
    }
    run(&mut src, opts, sink)
}

/// Every frame of `src`, in order, through one core on the calling thread.
pub fn run(src: &mut dyn Source, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let wants_packets = sink.wants_packets();
    let annotated = wants_packets || sink.wants_messages();
    let mut core = Core::new(opts, src.linktype_hint(), opts.track, 1, src.backing(), annotated)?;
    core.back.frame_lists(sink.wants_message_frames());
    if let Some(info) = src.source_info() {
        sink.source(&info);
    }
    let mut sum = RunSummary::default();
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
        let mut frame = Frame::blank();
        let Some(times) = core.front.admit(n, meta, raw, &mut frame) else { continue };
        let facts = core.frame(n, meta.ts_ns, &frame, sink)?;
        if frame_core::is_expiry_point(n) {
            core.expire(meta.ts_ns, sink)?;
        }
        if wants_packets {
            let mut view = PacketView::new(n, meta, times, raw, &frame, &facts);
            view.file = opts.merged_file(meta.file);
            sink.packet(&view)?;
        }
        if opts.count.is_some_and(|c| core.front.counts.shown >= c) || sink.satisfied() {
            break;
        }
    }
    src.end();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    core.finish(sink)?;
    core.summarise(&mut sum, opts);
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
