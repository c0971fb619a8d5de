//! `--threads N` for sinks that look at connections only (`conns`): N threads each walk the
//! whole capture and take a share of the flows end to end (decode, tracking, seams); the
//! caller's thread merges the connections they finish back into the order of a single run.
//!
//! Why not [`parallel`](super::parallel) here: there one reader decodes and tracks every frame
//! and hands it to a seam worker, which suits sinks that print every packet (their output is
//! merged frame by frame anyway). For a connection summary, decoding and tracking are half of
//! the work, so one reader cannot feed two cores; and every frame decoded on one core and
//! reassembled on another costs cache misses. Here nothing crosses threads per frame: each
//! thread walks the whole file (a map of its own, whose pages it releases behind itself, so a
//! thread running ahead keeps nothing resident for the others; handing frames out from one
//! walker measured slower), peeks at the addresses and ports ([`decode::peek`]), and
//! decodes, tracks and reassembles only the frames of its flows (by a symmetric hash of the
//! flow, so both directions meet, into buckets placed by load: [`Placement`]).
//!
//! The sink sees what a single run gives it, in the same order with the same connection ids:
//! * every thread sees every frame number and timestamp, so all of them expire connections at
//!   the same frames with the same clock (a frame the filter drops is no expiry point, so
//!   every thread applies the filter to those frames);
//! * a single run numbers connections in the order of their first frames; each thread reports
//!   the first frames of the connections it creates, and the merger numbers them in that order;
//! * the connections of one expiry point are passed on in id order, as a single run does.
//!
//! What can differ: each thread holds `2/N` of the connection table (`--max-conns`; all of it
//! with two threads, see [`table_share`]) and `1/N` of the reassembly memory cap, so which
//! connections are evicted, or which bytes dropped, once a cap is reached can depend on N (both
//! are reported).

use std::io;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{count_decoded, progress_bar, walk_next, ConnSeams, PacketView, ReadOptions, RunError, RunSummary, SeamStage, Sink, Tracking, EXPIRE_EVERY};
use crate::analyze::reassembly::Backing;
use crate::capture::bpf::Filter;
use crate::capture::FileSource;
use crate::decode::{self, FlowTuple, Peek};
use crate::track::tcp::{ConnSummary, TrackConfig};

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
/// halved every [`LOAD_HALF_LIFE`] frames) and stays there. A fixed hash split leaves
/// a capture whose traffic is mostly a few large connections unbalanced (the 208 MB bench
/// capture split 39:61); this way connections that start together go to different threads,
/// and new ones to whichever has had less to do.
///
/// Every thread runs this on every frame, in the same order, so all of them reach the same
/// placements without sharing anything, and a run's placements do not depend on timing.
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
    conns: Vec<(ConnSummary, ConnSeams)>,
    /// The end of input's connections go on in the next message (they are sent in parts:
    /// all of them at once would be the run's memory peak).
    more: bool,
    /// In the last message: the thread's counts (its frames only, except `frames` and
    /// `damage`), and the link types it could not decode with the frames they first appeared in.
    end: Option<(RunSummary, Vec<(u64, u32)>)>,
}

/// Connections sent per message at the end of input.
const END_PART: usize = 256;

/// A thread's sink: keeps the connections of the round.
struct Keep<'r>(&'r mut Round);

impl Sink for Keep<'_> {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, c: &ConnSummary, seams: &ConnSeams) -> io::Result<()> {
        self.0.conns.push((c.clone(), seams.clone()));
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
pub fn run(src: FileSource, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let shards = opts.threads.max(1);
    let mut filters = Vec::with_capacity(shards);
    for _ in 0..shards {
        filters.push(match &opts.filter {
            Some(expr) => Some(Filter::new(expr, crate::capture::Source::linktype_hint(&src))?),
            None => None,
        });
    }
    let track = TrackConfig { max_conns: table_share(opts.track.max_conns, shards), ..opts.track };
    std::thread::scope(|s| {
        let mut rxs = Vec::with_capacity(shards);
        let mut threads = Vec::with_capacity(shards);
        for (k, (walker, filter)) in src.walkers(shards)?.into_iter().zip(filters).enumerate() {
            let (tx, rx) = sync_channel::<Round>(DEPTH);
            rxs.push(rx);
            let backing: Arc<dyn Backing> = walker.shared();
            let t = std::thread::Builder::new().name(format!("ws-shard{k}"));
            threads.push(t.spawn_scoped(s, move || shard(k, shards, walker, filter, opts, track, backing, tx)).map_err(RunError::Io)?);
        }
        let merged = merge(rxs, sink);
        // On a sink error the merger has dropped its receivers: the threads stop at their
        // next send.
        for t in threads {
            t.join().expect("shard thread");
        }
        let mut sum = merged?;
        sum.max_conns = opts.track.max_conns;
        sink.finish(&sum)?;
        Ok(sum)
    })
}

/// The connection table of each of `shards` threads: 2/N of `--max-conns` (all of it with two
/// threads). Flows are placed by load, not by count, so threads can hold unequal numbers of
/// connections: with an equal share of the table a capture that fits in one table evicted
/// connections with three threads. In all the threads may hold up to twice `--max-conns`.
fn table_share(max_conns: usize, shards: usize) -> usize {
    max_conns.saturating_mul(2).div_ceil(shards.max(1)).min(max_conns).max(1)
}

/// One thread: walk every frame, take those of its flows. Sends a [`Round`] every [`ROUND`]
/// frames and at the end; stops early if the merger has stopped.
#[allow(clippy::too_many_arguments)]
fn shard(k: usize, shards: usize, mut src: FileSource, mut filter: Option<Filter>, opts: &ReadOptions, track: TrackConfig, backing: Arc<dyn Backing>, tx: SyncSender<Round>) {
    let data = src.shared();
    let bytes = data.bytes();
    let bar = if k == 0 { progress_bar(&src, opts.progress) } else { None };
    let mut tracking = Tracking::with_config(track);
    let mut seams = SeamStage::new(opts, shards, Some(backing), false);
    let mut sum = RunSummary::default();
    let mut unsupported = Vec::new();
    let mut round = Round::default();
    let mut place = Placement::new(shards);
    while let Some((n, meta, range)) = walk_next(&mut src, &mut sum, bar.as_ref()) {
        let raw = &bytes[range];
        let point = n % EXPIRE_EVERY == 0;
        let (mine, decoded) = match decode::peek(meta.linktype, raw) {
            Peek::Flow(t) => (place.owner(Some(t), meta.caplen) == k, None),
            Peek::NoFlow => (place.owner(None, meta.caplen) == k, None),
            Peek::Unknown => {
                let f = decode::decode(meta.linktype, raw, meta.len);
                (place.owner(f.flow(), meta.caplen) == k, Some(f))
            }
        };
        if (mine || point) && filter.as_mut().is_none_or(|f| f.matches(meta.linktype, raw)) {
            let mut keep = Keep(&mut round);
            if mine {
                let frame = decoded.unwrap_or_else(|| decode::decode(meta.linktype, raw, meta.len));
                let seen = sum.unsupported_linktypes.len();
                count_decoded(&mut sum, meta, &frame);
                if sum.unsupported_linktypes.len() > seen {
                    unsupported.push((n, meta.linktype));
                }
                let created = tracking.created();
                let (_, tcp) = tracking.frame(n, meta.ts_ns, &frame);
                if tracking.created() != created {
                    keep.0.created.push(n);
                }
                seams.frame(n, meta.ts_ns, &frame, tcp.as_ref(), &mut keep).expect("keeping never fails");
                sum.shown += 1;
            }
            if point {
                for c in tracking.expired(meta.ts_ns) {
                    seams.conn_done(&c, &mut keep).expect("keeping never fails");
                }
                let end = keep.0.conns.len();
                keep.0.points.push((n, end));
            }
        }
        if n % ROUND == 0 && tx.send(std::mem::take(&mut round)).is_err() {
            return;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The connections still held, in id order, as the end point.
    round.points.push((u64::MAX, usize::MAX));
    let remaining = tracking.remaining();
    for part in remaining.chunks(END_PART) {
        if round.conns.len() >= END_PART {
            round.more = true;
            if tx.send(std::mem::take(&mut round)).is_err() {
                return;
            }
        }
        for c in part {
            seams.conn_done(c, &mut Keep(&mut round)).expect("keeping never fails");
        }
    }
    drop(remaining);
    seams.finish(&mut Keep(&mut round)).expect("keeping never fails");
    sum.evicted = tracking.evicted();
    sum.cap_dropped_bytes = seams.cap_dropped();
    round.end = Some((sum, unsupported));
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
    let mut point: Vec<(u32, ConnSummary, ConnSeams)> = Vec::new();
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
        debug_assert!(rounds.iter().all(|r| r.points.iter().map(|p| p.0).eq(points.iter().map(|p| p.0))), "threads disagree on expiry points");
        let mut conns: Vec<_> = rounds.iter_mut().map(|r| std::mem::take(&mut r.conns).into_iter()).collect();
        let mut taken = vec![0usize; shards];
        for (j, &(at, _)) in points.iter().enumerate() {
            if at == u64::MAX {
                return end_point(&rxs, rounds, conns, ids, sink);
            }
            for s in 0..shards {
                let upto = rounds[s].points.get(j).map_or(taken[s], |p| p.1);
                for (mut c, mut seams) in conns[s].by_ref().take(upto - taken[s]) {
                    renumber(&mut c, &mut seams, ids);
                    point.push((c.conn, c, seams));
                }
                taken[s] = upto;
            }
            point.sort_unstable_by_key(|p| p.0);
            for (_, c, seams) in point.drain(..) {
                sink.conn(&c, &seams)?;
            }
        }
    }
}

/// The end of input: every thread's remaining connections (in its id order, which is the
/// run's id order too) arrive in parts; pass them on merged by id.
fn end_point(
    rxs: &[Receiver<Round>],
    mut rounds: Vec<Round>,
    mut conns: Vec<std::vec::IntoIter<(ConnSummary, ConnSeams)>>,
    ids: &mut FxHashMap<u64, u32>,
    sink: &mut dyn Sink,
) -> Result<RunSummary, RunError> {
    let shards = rxs.len();
    let mut next: Vec<Option<(ConnSummary, ConnSeams)>> = (0..shards).map(|_| None).collect();
    loop {
        for s in 0..shards {
            while next[s].is_none() {
                if let Some((mut c, mut seams)) = conns[s].next() {
                    renumber(&mut c, &mut seams, ids);
                    next[s] = Some((c, seams));
                } else if rounds[s].more {
                    let Ok(r) = rxs[s].recv() else { return Ok(RunSummary::default()) };
                    rounds[s] = r;
                    conns[s] = std::mem::take(&mut rounds[s].conns).into_iter();
                } else {
                    break;
                }
            }
        }
        let Some(s) = (0..shards).filter(|&s| next[s].is_some()).min_by_key(|&s| next[s].as_ref().map(|n| n.0.conn)) else { break };
        let (c, seams) = next[s].take().expect("picked");
        sink.conn(&c, &seams)?;
    }
    Ok(total(rounds.into_iter().filter_map(|r| r.end)))
}

/// Give a thread's connection the run's id (and forget its first frame).
fn renumber(c: &mut ConnSummary, seams: &mut ConnSeams, ids: &mut FxHashMap<u64, u32>) {
    let id = ids.remove(&c.first_frame);
    debug_assert!(id.is_some(), "connection of frame {} was never created", c.first_frame);
    c.conn = id.unwrap_or(c.conn);
    for d in seams.iter_mut().flatten() {
        d.conn = c.conn;
    }
}

/// The run's counts from the threads' (each counted its own frames; all walked all of them).
fn total(ends: impl Iterator<Item = (RunSummary, Vec<(u64, u32)>)>) -> RunSummary {
    let mut sum = RunSummary::default();
    let mut unsupported = Vec::new();
    for (i, (s, u)) in ends.enumerate() {
        if i == 0 {
            sum.frames = s.frames;
            sum.damage = s.damage;
        }
        sum.shown += s.shown;
        sum.malformed += s.malformed;
        sum.evicted += s.evicted;
        sum.cap_dropped_bytes += s.cap_dropped_bytes;
        unsupported.extend(u);
    }
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
