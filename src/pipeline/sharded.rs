//! `--threads N` for sinks that look at connections only (`conns`): N threads take a share of
//! the flows each and run a whole [`Core`] on them; the caller's thread merges the connections
//! they finish back into the order of a single run.
//!
//! Why not [`parallel`](super::parallel) here: there one reader decodes and tracks every frame
//! and hands it to a seam worker, which suits sinks that print every packet (their output is
//! merged frame by frame anyway). For a connection summary, decoding and tracking are half of
//! the work, so one reader cannot feed two cores.
//!
//! Here the file is walked once, a step of [`EXPIRE_EVERY`] frames at a time, by whichever
//! thread needs the next step first ([`Walk`]): it reads each frame's addresses and ports
//! ([`decode::peek`]), finds the thread of its flow (by a symmetric hash of the flow, so both
//! directions meet, into buckets placed by load: [`Placement`]), and files the frame's offset
//! and record in that thread's list for the step. Each thread then decodes, tracks and
//! reassembles the frames of its lists. The faster thread ends up doing most of the walking,
//! which evens out the imbalance that placement leaves, and each frame's headers are read from
//! memory once by the walk.
//!
//! A thread may walk up to [`AHEAD`] steps beyond the slowest one. The walker releases the
//! file's pages behind itself, keeping at most [`LAG`] bytes for the threads behind it; a
//! thread further behind maps its pages again (from the page cache) and releases them itself
//! ([`Refaulted`]), so memory stays flat however unequal the threads' work is for a while.
//!
//! The sink sees what a single run gives it, in the same order with the same connection ids:
//! * a step ends at an expiry point's frame (but for the last, which may be shorter); the
//!   walker passes that point with its time to every thread, so all of them run the expiry
//!   step at the same frames with the same clock (a frame the filter drops is no expiry point,
//!   so the walker asks its own thread's front whether that frame passes);
//! * a single run numbers connections in the order of their first frames; each thread reports
//!   the first frames of the connections it creates, and the merger numbers them in that order;
//! * the connections of one expiry point are passed on in id order, as a single run does.
//!
//! What can differ: each thread holds `2/N` of the connection table (`--max-conns`; all of it
//! with two threads, see [`table_share`]) and `1/N` of the reassembly memory cap, so which
//! connections are evicted, or which bytes dropped, once a cap is reached can depend on N (both
//! are reported).

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;

use super::frame_core::{is_expiry_point, Core, Front, EXPIRE_EVERY};
use super::{progress_bar, walk_next, ConnRecord, PacketView, ReadOptions, RunError, RunSummary, Sink};
use crate::capture::file::{prefetch, Data};
use crate::capture::{Backing, FileSource, PacketMeta, Source};
use crate::decode::tunnel::{DecodeOptions, TunnelPorts};
use crate::decode::{self, FlowTuple, IpReasm, Peek};
use crate::track::defrag::{self, Defrag, DefragConfig};
use crate::track::tcp::TrackConfig;

/// Frames between two hand-overs to the merger (a whole number of expiry intervals).
const ROUND: u64 = 16 * EXPIRE_EVERY;
/// Rounds queued per thread.
const DEPTH: usize = 4;

/// Flow buckets placed on threads one by one.
const BUCKETS: usize = 1 << 12;
/// A bucket not placed yet.
const UNPLACED: u16 = u16::MAX;
/// Frames after which the recent loads are halved.
const LOAD_HALF_LIFE: u64 = 1 << 14;

/// Which thread takes which flows. Flows fall into buckets by their symmetric hash; a bucket
/// goes, at the first frame of any of its flows, to the thread with the least recent load
/// (an estimate of the work of the frames it took: 4 units a frame and one per 128 bytes,
/// halved every [`LOAD_HALF_LIFE`] frames) and stays there, so that connections that start
/// together go to different threads, and new ones to whichever has had less to do. (A fixed
/// hash split cannot balance a capture whose traffic is mostly a few large connections: on the
/// 208 MB bench capture it gives 39:61.)
///
/// The walk runs this on every frame in order (whichever thread walks), so a run's placements
/// do not depend on timing.
struct Placement {
    bucket: Box<[u16]>,
    load: Vec<u64>,
    frames: u64,
}

impl Placement {
    fn new(shards: usize) -> Self {
        Placement { bucket: vec![UNPLACED; BUCKETS].into_boxed_slice(), load: vec![0; shards], frames: 0 }
    }

    /// The thread that takes the next frame (frames without a flow go to the first).
    fn owner(&mut self, flow: Option<FlowTuple>, caplen: u32) -> usize {
        let k = match flow {
            None => 0,
            Some(t) => {
                let b = &mut self.bucket[(t.symmetric_hash() >> (64 - BUCKETS.trailing_zeros())) as usize];
                if *b == UNPLACED {
                    let least = (0..self.load.len()).min_by_key(|&k| self.load[k]).unwrap_or(0);
                    *b = least as u16;
                }
                *b as usize
            }
        };
        self.load[k] += 4 + u64::from(caplen / 128);
        self.frames += 1;
        if self.frames.is_multiple_of(LOAD_HALF_LIFE) {
            for l in &mut self.load {
                *l /= 2;
            }
        }
        k
    }
}

/// What one thread did over a round of frames.
#[derive(Default)]
struct Round {
    /// First frames of the connections it created, ascending.
    created: Vec<u64>,
    /// The round's expiry points in frame order (`u64::MAX`: the end of input), each with the
    /// end of its connections in `conns`. Every thread has the same points.
    points: Vec<(u64, usize)>,
    /// Connections finished, with the thread's own ids.
    conns: Vec<ConnRecord>,
    /// The end of input's connections go on in the next message (they are sent in parts:
    /// all of them at once would be the run's memory peak).
    more: bool,
    /// In the last message: the thread's counts (its frames only; `frames` and `damage` are
    /// the walk's), and the link types it could not decode with the frames they first appeared in.
    end: Option<(RunSummary, Vec<(u64, u32)>)>,
}

/// Connections sent per message at the end of input.
const END_PART: usize = 256;

/// A thread's sink: keeps the connections of the round.
struct RoundSink<'r>(&'r mut Round);

impl Sink for RoundSink<'_> {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        self.conn_owned(c.clone())
    }
    fn conn_owned(&mut self, c: ConnRecord) -> io::Result<()> {
        self.0.conns.push(c);
        Ok(())
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn wants_messages(&self) -> bool {
        false
    }
}

/// Read a capture file with `opts.threads` threads, for a sink that wants neither packets nor
/// messages. The caller checks that the run can be sharded (no `--count`).
pub fn run(mut src: FileSource, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let shards = opts.threads.max(1);
    sink.source(&src.info());
    let track = TrackConfig { max_conns: table_share(opts.track.max_conns, shards), ..opts.track };
    let data = src.shared();
    let mut cores = Vec::with_capacity(shards);
    for _ in 0..shards {
        let backing: Arc<dyn Backing> = data.clone();
        let mut core = Core::new(opts, src.linktype_hint(), track, shards, Some(backing), false)?;
        core.front.reassembled_elsewhere();
        cores.push(core);
    }
    let limit = Arc::new(AtomicUsize::new(0));
    src.set_release_limit(Arc::clone(&limit), WALK_RELEASE_STEP);
    let released = Arc::new(AtomicUsize::new(0));
    src.announce_released(Arc::clone(&released));
    let bar = progress_bar(&src, opts.progress);
    let shared = Shared {
        walk: Mutex::new(Walk {
            src,
            place: Placement::new(shards),
            defrag: Defrag::new(DefragConfig::default()),
            sum: RunSummary::default(),
            bar,
            limit,
            decode: opts.decode,
            ports: opts.decode.peek_ports(),
        }),
        steps: Mutex::new(Steps {
            queues: (0..shards).map(|_| VecDeque::new()).collect(),
            spare: Vec::new(),
            walked: 0,
            done: vec![(0, 0); shards],
            ended: false,
            walking: false,
        }),
        ready: Condvar::new(),
        released,
    };
    let shared = &shared;
    let mut sum = std::thread::scope(|s| {
        let mut rxs = Vec::with_capacity(shards);
        let mut threads = Vec::with_capacity(shards);
        for (k, core) in cores.into_iter().enumerate() {
            let (tx, rx) = sync_channel::<Round>(DEPTH);
            rxs.push(rx);
            let data = Arc::clone(&data);
            let t = std::thread::Builder::new().name(format!("ws-shard{k}"));
            threads.push(t.spawn_scoped(s, move || shard(k, shared, data, core, opts, tx)).map_err(RunError::Io)?);
        }
        let merged = merge(rxs, sink);
        // On a sink error the merger has dropped its receivers: the threads stop at their
        // next send.
        for t in threads {
            t.join().expect("shard thread");
        }
        merged
    })?;
    let mut walk = shared.walk.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(b) = walk.bar.take() {
        b.finish_and_clear();
    }
    sum.frames = walk.sum.frames;
    sum.defrag = walk.defrag.counts();
    sum.damage = walk.sum.damage.take();
    sum.max_conns = opts.track.max_conns;
    sink.finish(&sum)?;
    Ok(sum)
}

/// The connection table of each of `shards` threads: 2/N of `--max-conns` (all of it with two
/// threads). Flows are placed by load, not by count, so threads can hold unequal numbers of
/// connections; a capture whose connections fit in one table must see no evictions with N
/// threads either, which an equal 1/N share does not ensure (it evicts with three). In all the
/// threads may hold up to twice `--max-conns`.
fn table_share(max_conns: usize, shards: usize) -> usize {
    max_conns.saturating_mul(2).div_ceil(shards.max(1)).min(max_conns).max(1)
}

/// Steps a thread may walk ahead of the slowest thread. Placement balances the threads' work
/// only on average; over stretches of a capture one of them has more to do, and the other must
/// not have to wait for it: chosen on the 2 GB bench capture, where a limit of 2 to 8 steps
/// leaves a thread waiting 10-15 % of the run (`benches/README.md`). The steps' lists cost
/// 32 bytes a frame; the file pages in between are not kept (see [`LAG`]).
const AHEAD: u64 = 32;
/// The walker keeps at most this many bytes of the file resident behind it for threads that
/// lag: a thread further behind reads its frames' pages again (cheap: they are in the page
/// cache) and gives them back itself ([`Refaulted`]).
const LAG: usize = 4 << 20;
/// Frames ahead whose headers a thread asks the CPU for.
const PREFETCH_AHEAD: usize = 3;

/// The walker releases pages this many bytes at a time.
const WALK_RELEASE_STEP: usize = 2 << 20;

/// A frame of a step, for the thread that takes it (32 bytes: a step's lists are kept until
/// their thread takes them, up to [`AHEAD`] steps).
#[derive(Clone, Copy, Debug)]
struct FrameRef {
    /// Its bytes in the file.
    start: u64,
    caplen: u32,
    /// Its number within the step (from 0).
    idx: u16,
    linktype: u32,
    len: u32,
    ts_ns: i64,
}

const _: () = assert!(std::mem::size_of::<FrameRef>() == 32 && EXPIRE_EVERY <= 1 << 16);

impl FrameRef {
    fn bytes(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.caplen as usize
    }

    /// What the capture layer recorded of it (as far as the core reads it).
    fn meta(self) -> PacketMeta {
        PacketMeta {
            ts_ns: self.ts_ns,
            caplen: self.caplen,
            len: self.len,
            linktype: self.linktype,
            iface: 0,
            nanos: false,
            stamped: true,
            file: 0,
        }
    }
}

/// A thread's frames of one step of the walk.
#[derive(Default)]
struct Frames {
    refs: Vec<FrameRef>,
    /// What the walk's IP reassembly made of the fragments among them, by [`FrameRef::idx`]
    /// (ascending).
    reasm: Vec<(u16, IpReasm)>,
}

impl Frames {
    fn clear(&mut self) {
        self.refs.clear();
        self.reasm.clear();
    }
}

/// One step of the walk ([`EXPIRE_EVERY`] frames; the last step may be shorter), as every
/// thread sees it.
#[derive(Clone, Copy, Debug)]
struct StepEnd {
    /// The expiry point at the step's last frame, when the filter passes it: number and time.
    point: Option<(u64, i64)>,
    /// Frames walked up to the end of the step, and in it.
    upto: u64,
    len: u64,
    /// The file offsets of the step's frames.
    start_pos: usize,
    end_pos: usize,
    /// The input ends with this step.
    last: bool,
}

/// The walk of the file, done a step at a time by whichever thread needs the next step first.
struct Walk {
    src: FileSource,
    place: Placement,
    /// IP reassembly, done here for every thread: fragments after the first carry no ports, so
    /// only the whole datagram says which thread's flow it is. The completing fragment goes to
    /// that thread with the datagram; the other fragments go where frames without a flow go.
    defrag: Defrag,
    /// Frames read, and the damage the input ended in.
    sum: RunSummary,
    bar: Option<indicatif::ProgressBar>,
    /// The walker releases the pages below this offset.
    limit: Arc<AtomicUsize>,
    /// The run's tunnel options, and the UDP ports peeking leaves to decoding.
    decode: DecodeOptions,
    ports: TunnelPorts,
}

impl Walk {
    /// Walk the next step: each frame to the thread of its flow, in `frames` (empty vectors).
    /// `front`'s filter decides whether the step's last frame is an expiry point.
    fn step(&mut self, frames: &mut [Frames], front: &mut Front) -> StepEnd {
        let data = self.src.shared();
        let bytes = data.bytes();
        let start_pos = self.src.progress().1 as usize;
        let mut point = None;
        let mut len = 0;
        let mut last = true;
        while let Some((n, meta, range)) = walk_next(&mut self.src, &mut self.sum, self.bar.as_ref()) {
            let raw = &bytes[range.clone()];
            let mut reasm = IpReasm::NotFragment;
            let flow = match decode::peek_with(&self.ports, meta.linktype, raw) {
                Peek::Flow(t) => Some(t),
                Peek::NoFlow => None,
                Peek::Unknown => {
                    let mut frame = decode::decode_with(&self.decode, meta.linktype, raw, meta.len);
                    // as the front would: only frames the filter passes are reassembled
                    if frame.ip().is_some_and(|ip| ip.frag.is_some()) && front.passes(meta.linktype, raw) {
                        reasm = self.defrag.verdict(n, meta.ts_ns, &frame);
                        defrag::apply(&mut frame, reasm.clone());
                    }
                    frame.route_flow()
                }
            };
            let list = &mut frames[self.place.owner(flow, meta.caplen)];
            if reasm != IpReasm::NotFragment {
                list.reasm.push((len as u16, reasm));
            }
            list.refs.push(FrameRef {
                start: range.start as u64,
                caplen: meta.caplen,
                idx: len as u16,
                linktype: meta.linktype,
                len: meta.len,
                ts_ns: meta.ts_ns,
            });
            len += 1;
            if is_expiry_point(n) {
                if front.passes(meta.linktype, raw) {
                    point = Some((n, meta.ts_ns));
                }
                last = false;
                break;
            }
        }
        StepEnd { point, upto: self.sum.frames, len, start_pos, end_pos: self.src.progress().1 as usize, last }
    }
}

/// Steps walked and not yet taken, each thread's in a queue of its own.
struct Steps {
    queues: Vec<VecDeque<(Frames, StepEnd)>>,
    /// Emptied frame lists, for the next steps.
    spare: Vec<Frames>,
    walked: u64,
    /// Steps each thread has taken (`u64::MAX`: it has stopped), and the file offset it has
    /// reached.
    done: Vec<(u64, usize)>,
    /// The input's last step has been walked.
    ended: bool,
    /// A thread is walking: the others wait for the steps it walks (it announces each one)
    /// instead of for the walk itself, which may go on for a few steps.
    walking: bool,
}

impl Steps {
    fn slowest(&self) -> (u64, usize) {
        let steps = self.done.iter().map(|d| d.0).min().unwrap_or(0);
        let pos = self.done.iter().map(|d| d.1).min().unwrap_or(0);
        (steps, pos)
    }
}

struct Shared {
    walk: Mutex<Walk>,
    steps: Mutex<Steps>,
    /// A step was walked, or a thread took one.
    ready: Condvar,
    /// The walker has released (or is releasing) the pages below this offset.
    released: Arc<AtomicUsize>,
}

impl Shared {
    fn steps(&self) -> MutexGuard<'_, Steps> {
        self.steps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Thread `k`'s next step: walked already, or walked now by this thread (with the one after
    /// it, so that the others find theirs ready). `None` after the last step.
    ///
    /// While another thread walks, `k` waits for its own next step to be announced, not for the
    /// walk to end: a walker goes on until its own queue holds two steps, and a thread that
    /// waited for the walk lock sat idle through steps already queued for it.
    fn step(&self, k: usize, front: &mut Front) -> Option<(Frames, StepEnd)> {
        loop {
            {
                let mut st = self.steps();
                loop {
                    if let Some(s) = st.queues[k].pop_front() {
                        return Some(s);
                    }
                    if st.ended {
                        return None;
                    }
                    if !st.walking && st.walked < st.slowest().0.saturating_add(AHEAD) {
                        break;
                    }
                    st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
                st.walking = true;
            }
            let _walking = Walking(self);
            let mut walk = self.walk.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                let mut frames = {
                    let mut st = self.steps();
                    let (slowest, pos) = st.slowest();
                    if st.ended || st.queues[k].len() >= 2 || st.walked >= slowest.saturating_add(AHEAD) {
                        break;
                    }
                    let at = walk.src.progress().1 as usize;
                    walk.limit.store(pos.max(at.saturating_sub(LAG)), Ordering::Relaxed);
                    let shards = st.queues.len();
                    (0..shards).map(|_| st.spare.pop().unwrap_or_default()).collect::<Vec<_>>()
                };
                let end = walk.step(&mut frames, front);
                let mut st = self.steps();
                st.walked += 1;
                st.ended = end.last;
                for (q, f) in st.queues.iter_mut().zip(frames) {
                    q.push_back((f, end));
                }
                drop(st);
                self.ready.notify_all();
            }
        }
    }

    /// Thread `k` has taken a step: its frame list goes back for the next.
    fn taken(&self, k: usize, mut frames: Frames, end: &StepEnd) {
        frames.clear();
        let mut st = self.steps();
        // Kept however many: at most (AHEAD + 2) lists a thread exist at once, and a new one
        // grows by reallocation, frame by frame.
        st.spare.push(frames);
        st.done[k].0 += 1;
        st.done[k].1 = end.end_pos;
        drop(st);
        self.ready.notify_all();
    }

    /// Thread `k` takes no more steps (it is done, or stopped): it holds the others back no more.
    fn leave(&self, k: usize) {
        self.steps().done[k] = (u64::MAX, usize::MAX);
        self.ready.notify_all();
    }
}

/// Ends a thread's walk ([`Steps::walking`]) however it ends, a panic included (the others
/// would wait for it for ever).
struct Walking<'s>(&'s Shared);

impl Drop for Walking<'_> {
    fn drop(&mut self) {
        self.0.steps().walking = false;
        self.0.ready.notify_all();
    }
}

/// Calls [`Shared::leave`] however the thread ends, a panic included (the others would wait
/// for it for ever).
struct Leave<'s>(&'s Shared, usize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave(self.1);
    }
}

/// Pages a thread read after the walker had released them (it lagged more than [`LAG`]
/// behind): they are resident again until the thread gives them back, a few MiB at a time.
#[derive(Default)]
struct Refaulted {
    lo: usize,
    hi: usize,
}

impl Refaulted {
    /// Released this many bytes at a time (each release interrupts the other cores).
    const STEP: usize = 4 << 20;

    /// Thread's step `end` is done; the walker has released the pages below `released`.
    fn step(&mut self, data: &Data, end: &StepEnd, released: usize) {
        let hi = end.end_pos.min(released);
        if hi <= end.start_pos {
            return;
        }
        if self.hi == self.lo {
            self.lo = end.start_pos;
        }
        self.hi = hi;
        if self.hi - self.lo >= Refaulted::STEP {
            data.release(self.lo..self.hi);
            *self = Refaulted::default();
        }
    }
}

/// One thread: take the frames of its flows, step by step, through its core. Sends a [`Round`]
/// every [`ROUND`] frames and at the end; stops early if the merger has stopped.
fn shard(k: usize, shared: &Shared, data: Arc<Data>, mut core: Core, opts: &ReadOptions, tx: SyncSender<Round>) {
    let _leave = Leave(shared, k);
    let bytes = data.bytes();
    let mut round = Round::default();
    let mut refaulted = Refaulted::default();
    // The round sink never fails, so neither do the core's calls below.
    while let Some((mut frames, end)) = shared.step(k, &mut core.front) {
        let mut keep = RoundSink(&mut round);
        let first = end.upto - end.len + 1;
        let mut reasm = frames.reasm.iter_mut().peekable();
        for (i, &f) in frames.refs.iter().enumerate() {
            // The walker has touched these bytes on another core (or not at all, when a
            // thread lags): ask for the headers a few frames ahead.
            if let Some(a) = frames.refs.get(i + PREFETCH_AHEAD) {
                prefetch(bytes, a.start as usize);
            }
            let (n, raw) = (first + u64::from(f.idx), &bytes[f.bytes()]);
            let verdict = match reasm.next_if(|(idx, _)| *idx == f.idx) {
                Some((_, r)) => std::mem::take(r),
                None => IpReasm::NotFragment,
            };
            let mut frame = decode::Frame::blank();
            if core.front.admit_reassembled(n, f.meta(), raw, verdict, &mut frame).is_none() {
                continue;
            }
            let created = core.front.tracking.tcp_created();
            core.frame(n, f.ts_ns, &frame, &mut keep).expect("a round sink never fails");
            if core.front.tracking.tcp_created() != created {
                keep.0.created.push(n);
            }
        }
        if let Some((n, ts)) = end.point {
            core.expire(ts, &mut keep).expect("a round sink never fails");
            let at = keep.0.conns.len();
            keep.0.points.push((n, at));
        }
        shared.taken(k, frames, &end);
        refaulted.step(&data, &end, shared.released.load(Ordering::SeqCst));
        if end.len > 0 && end.upto % ROUND == 0 && tx.send(std::mem::take(&mut round)).is_err() {
            return;
        }
        if end.last {
            break;
        }
    }
    // The connections still held, in id order, as the end point.
    round.points.push((u64::MAX, usize::MAX));
    let remaining = core.front.remaining();
    let mut remaining = remaining.into_iter().peekable();
    while remaining.peek().is_some() {
        if round.conns.len() >= END_PART {
            round.more = true;
            if tx.send(std::mem::take(&mut round)).is_err() {
                return;
            }
        }
        core.back.conns_done(remaining.by_ref().take(END_PART).collect(), &mut RoundSink(&mut round)).expect("a round sink never fails");
    }
    core.back.finish(&mut RoundSink(&mut round)).expect("a round sink never fails");
    let mut sum = RunSummary::default();
    core.summarise(&mut sum, opts);
    sum.unsupported_linktypes.clear();
    round.end = Some((sum, std::mem::take(&mut core.front.counts.unsupported)));
    let _ = tx.send(round);
}

/// Take the threads' rounds in turn, number their connections as a single run does and pass
/// them on in its order. Returns the run's counts.
fn merge(rxs: Vec<Receiver<Round>>, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let shards = rxs.len();
    // first frame → id, for connections created and not yet passed on
    let mut ids: FxHashMap<u64, u32> = FxHashMap::default();
    let ids = &mut ids;
    let mut next_id = 0u32;
    let mut point: Vec<ConnRecord> = Vec::new();
    loop {
        let mut rounds = Vec::with_capacity(shards);
        for rx in &rxs {
            // A thread that stopped without its last round has panicked: its join says so.
            let Ok(r) = rx.recv() else { return Ok(RunSummary::default()) };
            rounds.push(r);
        }
        // Number the round's new connections in order of their first frames.
        let mut at = vec![0usize; shards];
        while let Some((s, f)) = (0..shards).filter_map(|s| rounds[s].created.get(at[s]).map(|&f| (s, f))).min_by_key(|&(_, f)| f) {
            ids.insert(f, next_id);
            next_id = next_id.wrapping_add(1);
            at[s] += 1;
        }
        let points = rounds[0].points.clone();
        debug_assert!(
            rounds.iter().all(|r| r.points.iter().map(|p| p.0).eq(points.iter().map(|p| p.0))),
            "threads disagree on expiry points"
        );
        let mut conns: Vec<_> = rounds.iter_mut().map(|r| std::mem::take(&mut r.conns).into_iter()).collect();
        let mut taken = vec![0usize; shards];
        for (j, &(at, _)) in points.iter().enumerate() {
            if at == u64::MAX {
                return end_point(&rxs, rounds, conns, ids, sink);
            }
            for s in 0..shards {
                let upto = rounds[s].points.get(j).map_or(taken[s], |p| p.1);
                for mut c in conns[s].by_ref().take(upto - taken[s]) {
                    renumber(&mut c, ids);
                    point.push(c);
                }
                taken[s] = upto;
            }
            point.sort_unstable_by_key(|c| c.summary.conn);
            for c in point.drain(..) {
                sink.conn_owned(c)?;
            }
        }
    }
}

/// The end of input: every thread's remaining connections (in its id order, which is the
/// run's id order too) arrive in parts; pass them on merged by id.
fn end_point(
    rxs: &[Receiver<Round>],
    mut rounds: Vec<Round>,
    mut conns: Vec<std::vec::IntoIter<ConnRecord>>,
    ids: &mut FxHashMap<u64, u32>,
    sink: &mut dyn Sink,
) -> Result<RunSummary, RunError> {
    let shards = rxs.len();
    let mut next: Vec<Option<ConnRecord>> = (0..shards).map(|_| None).collect();
    loop {
        for s in 0..shards {
            while next[s].is_none() {
                if let Some(mut c) = conns[s].next() {
                    renumber(&mut c, ids);
                    next[s] = Some(c);
                } else if rounds[s].more {
                    let Ok(r) = rxs[s].recv() else { return Ok(RunSummary::default()) };
                    rounds[s] = r;
                    conns[s] = std::mem::take(&mut rounds[s].conns).into_iter();
                } else {
                    break;
                }
            }
        }
        let Some(s) = (0..shards).filter(|&s| next[s].is_some()).min_by_key(|&s| next[s].as_ref().map(|n| n.summary.conn)) else {
            break;
        };
        sink.conn_owned(next[s].take().expect("picked"))?;
    }
    Ok(total(rounds.into_iter().filter_map(|r| r.end)))
}

/// Give a thread's connection the run's id (and forget its first frame).
fn renumber(c: &mut ConnRecord, ids: &mut FxHashMap<u64, u32>) {
    let id = ids.remove(&c.summary.first_frame);
    debug_assert!(id.is_some(), "connection of frame {} was never created", c.summary.first_frame);
    c.summary.conn = id.unwrap_or(c.summary.conn);
    for d in c.seams.iter_mut().flatten() {
        d.conn = c.summary.conn;
    }
}

/// The run's counts from the threads' (each counted its own frames; the frames read and the
/// damage are the walk's, which [`run`] adds).
fn total(ends: impl Iterator<Item = (RunSummary, Vec<(u64, u32)>)>) -> RunSummary {
    let mut sum = RunSummary::default();
    let mut unsupported = Vec::new();
    for (s, u) in ends {
        sum.shown += s.shown;
        sum.malformed += s.malformed;
        sum.evicted += s.evicted;
        sum.cap_dropped_bytes += s.cap_dropped_bytes;
        sum.bad_checksums += s.bad_checksums;
        sum.bad_checksums_dropped += s.bad_checksums_dropped;
        sum.flows.extend(s.flows);
        unsupported.extend(u);
    }
    sum.flows = crate::track::flows::merge_shares(std::mem::take(&mut sum.flows));
    // in order of first appearance, as a single run lists them
    unsupported.sort_unstable();
    for (_, lt) in unsupported {
        if !sum.unsupported_linktypes.contains(&lt) {
            sum.unsupported_linktypes.push(lt);
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(i: u32) -> FlowTuple {
        FlowTuple { src: u128::from(0x0a00_0001u32), sport: 40_000 + i as u16, dst: u128::from(0x0a00_0002u32), dport: 9000 }
    }

    /// Twenty equal connections that start together split ten and ten (a fixed hash split
    /// gives 10 ± 2.2 for each, often worse), both directions of one stay together, and
    /// frames without a flow go to the first thread.
    #[test]
    fn placement_balances_flows_that_start_together() {
        let mut p = Placement::new(2);
        let mut first = Vec::new();
        for i in 0..20 {
            first.push(p.owner(Some(flow(i)), 1500));
        }
        assert_eq!(first.iter().filter(|&&k| k == 0).count(), 10, "{first:?}");
        for round in 0..1000 {
            for i in 0..20 {
                let f = flow(i);
                let back = FlowTuple { src: f.dst, sport: f.dport, dst: f.src, dport: f.sport };
                let t = if round % 2 == 0 { f } else { back };
                assert_eq!(p.owner(Some(t), 66), first[i as usize], "flow {i} moved");
            }
        }
        assert_eq!(p.owner(None, 60), 0);
    }

    /// New connections go to the thread with less recent work: one long busy connection on
    /// one thread sends the next ones to the other.
    #[test]
    fn placement_follows_recent_load() {
        let mut p = Placement::new(2);
        let busy = p.owner(Some(flow(0)), 1500);
        for _ in 0..5_000 {
            p.owner(Some(flow(0)), 1500);
        }
        let mut placed = Vec::new();
        for i in 1..=5u32 {
            // distinct buckets: flows far apart in the port space
            placed.push(p.owner(Some(FlowTuple { sport: (i * 7919) as u16, ..flow(0) }), 60));
        }
        assert!(placed.iter().all(|&k| k != busy), "{placed:?} beside busy {busy}");
    }
}
