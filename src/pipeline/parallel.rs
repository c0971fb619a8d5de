//! `--threads N` for capture files, for sinks of packets or messages: the core's [`Front`]
//! (filter, decode, track) on a reader thread, its [`Back`] (seams) sharded over N workers by
//! flow, results merged back in frame order.
//!
//! Threads: a *reader* walks the file and runs the front on each frame (one tracking state, as
//! in a single run, so every flow id is the single run's) and picks the frame's worker; N
//! *workers* each run a back for their share of the flows (by flow id); the caller's thread
//! *merges* the workers' records in frame order and drives the sink. Tracking and seams thus run
//! side by side even when one connection carries all the traffic. Frames are never copied: the
//! file is mapped once and every thread borrows from it.
//!
//! The sink sees the calls a single-threaded [`run`](super::run) makes, in the same order:
//! * a frame's records (messages it completes, then its packet) come from the one worker that
//!   owns its flow; frames without a flow go anywhere;
//! * the reader runs the expiry step's tracking half at the same frames as a single run and
//!   hands each finished connection to its worker, which runs the seam half; the merger replays
//!   the connections of one expiry point in id order, as a single run passes them on.
//!
//! What can differ: each worker holds `1/N` of the reassembly memory cap, so *which* bytes are
//! dropped when that cap is reached can depend on N (it is reported).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use super::frame_core::{is_expiry_point, Back, Front};
use super::{progress_bar, walk_next, ConnRecord, FrameFacts, FrameTimes, PacketView, ReadOptions, RunError, RunSummary, Sink};
use crate::analyze::{Carried, Message};
use crate::capture::{Backing, FileSource, PacketMeta, Source};
use crate::decode::Frame;
use crate::track::tcp::ConnSummary;
use crate::track::{FlowId, Tracked};

/// Frames handed out at once (one batch per worker at most per round).
const BATCH: usize = 512;
/// Batches queued per channel.
const DEPTH: usize = 2;

/// A decoded frame, as the reader hands it out. It stays in its batch, which travels reader →
/// worker → merger → reader, so the frame is never copied.
struct FrameIn<'a> {
    n: u64,
    meta: PacketMeta,
    times: FrameTimes,
    raw: &'a [u8],
    /// End offset of the frame in the file (released once the merger is past it).
    end: usize,
    frame: Frame<'a>,
    /// What the reader's tracking said about it.
    tracked: Tracked,
}

/// Work for one worker, in order.
enum Task {
    /// The batch's next frame; `expire`: it is an expiry point (its records end at the `Mark`).
    Frame { expire: bool },
    /// A connection of this worker that the tracker finished (or evicted) at an expiry point.
    Done(Box<ConnSummary>),
    /// End of an expiry point (every worker gets one at each, and one at the end of input).
    Mark,
}

/// The reader's work for one worker: its frames and what to do with them.
#[derive(Default)]
struct Batch<'a> {
    tasks: Vec<Task>,
    frames: Vec<FrameIn<'a>>,
}

/// What a worker reports about one batch, in frame order.
enum Record {
    /// Already taken by the merger.
    Taken,
    /// The packet of the batch's frame `i` (its facts are `facts[i]`); the frame's other
    /// records follow it but are replayed before it.
    Packet(u32),
    Late(Carried),
    Msg(Message),
    /// Records of the finished connection with this id follow.
    Group(u32),
    Conn(Box<ConnRecord>),
    /// End of the connections finished at one expiry point, or at the end of input.
    GroupsEnd,
    /// End of a frame's records (so the merger never looks past its batch while the frame's
    /// packet is pending).
    FrameEnd,
}

/// A worker's answer to one batch: the batch itself (its frames are borrowed by the packets),
/// the records, and the facts of each frame.
struct WorkerOutput<'a> {
    input: Batch<'a>,
    records: Vec<Record>,
    /// Parallel to `input.frames`.
    facts: Vec<FrameFacts>,
}

/// The worker's sink: keeps every call as a record.
struct Recorder {
    records: Vec<Record>,
    /// Record messages (the sink looks at them).
    messages: bool,
}

impl Sink for Recorder {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        self.conn_owned(c.clone())
    }
    fn conn_owned(&mut self, c: ConnRecord) -> io::Result<()> {
        self.records.push(Record::Conn(Box::new(c)));
        Ok(())
    }
    fn message(&mut self, m: &Message) -> io::Result<()> {
        self.message_owned(m.clone())
    }
    fn message_owned(&mut self, m: Message) -> io::Result<()> {
        if self.messages {
            self.records.push(Record::Msg(m));
        }
        Ok(())
    }
    fn late(&mut self, c: &Carried) -> io::Result<()> {
        if self.messages {
            self.records.push(Record::Late(*c));
        }
        Ok(())
    }
}

/// The worker that owns a flow's seams: TCP connections and UDP flows are spread by id, each
/// sequence on its own; a frame of no flow has no seam state and goes anywhere.
fn shard_of(flow: Option<FlowId>, n: u64, shards: usize) -> usize {
    match flow {
        Some(FlowId::Tcp(id)) => id as usize % shards,
        // offset, so that the first UDP flow does not always share the first connection's worker
        Some(FlowId::Udp(id)) => (id as usize + shards / 2) % shards,
        None => (n % shards as u64) as usize,
    }
}

/// Read a capture file with `opts.threads` workers. The caller checks that the run can be
/// sharded (no `--count`).
pub fn run(mut src: FileSource, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let front = Front::new(opts, src.linktype_hint(), opts.track)?;
    sink.source(&src.info());
    let data = src.shared();
    let bytes: &[u8] = data.bytes();
    let merged = Arc::new(AtomicUsize::new(0));
    src.set_release_limit(Arc::clone(&merged), crate::capture::file::THREADED_RELEASE_STEP);
    let shards = opts.threads.max(1);
    let messages = sink.wants_messages();
    let annotated = messages || sink.wants_packets();
    let frame_lists = sink.wants_message_frames();
    std::thread::scope(|s| {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        let mut workers = Vec::new();
        for k in 0..shards {
            let (batch_tx, batch_rx) = sync_channel::<Batch<'_>>(DEPTH);
            let (batch_back_tx, batch_back_rx) = channel::<Batch<'_>>();
            let (out_tx, out_rx) = sync_channel::<WorkerOutput<'_>>(DEPTH);
            let (out_back_tx, out_back_rx) = channel::<(Vec<Record>, Vec<FrameFacts>)>();
            to_workers.push((batch_tx, batch_back_rx));
            from_workers.push(Shard::new(out_rx, out_back_tx, batch_back_tx));
            let builder = std::thread::Builder::new().name(format!("ws-worker{k}"));
            let backing: Arc<dyn Backing> = data.clone();
            let mut back = Back::new(opts, shards, Some(backing), annotated);
            back.frame_lists(frame_lists);
            let channels = WorkerChannels { batches: batch_rx, outputs: out_tx, spent: out_back_rx };
            workers.push(builder.spawn_scoped(s, move || worker(back, messages, channels)).map_err(RunError::Io)?);
        }
        let (order_tx, order_rx) = sync_channel::<Vec<u32>>(DEPTH * 2);
        let builder = std::thread::Builder::new().name("ws-reader".into());
        let reader = builder.spawn_scoped(s, move || read(&mut src, bytes, front, opts, to_workers, order_tx)).map_err(RunError::Io)?;
        let merged_result = merge(from_workers, order_rx, &merged, sink);
        // On a sink error the merger has dropped its receivers: workers and reader stop at
        // their next send.
        let mut sum = reader.join().expect("reader thread");
        for w in workers {
            sum.cap_dropped_bytes += w.join().expect("worker thread");
        }
        sum.max_conns = opts.track.max_conns;
        merged_result?;
        sink.finish(&sum)?;
        Ok(sum)
    })
}

/// The reader: walk, run the front, hand out. Returns the frame counts, evictions and any
/// damage.
fn read<'a>(
    src: &mut FileSource,
    bytes: &'a [u8],
    mut front: Front,
    opts: &ReadOptions,
    workers: Vec<(SyncSender<Batch<'a>>, Receiver<Batch<'a>>)>,
    order_tx: SyncSender<Vec<u32>>,
) -> RunSummary {
    let shards = workers.len();
    let mut sum = RunSummary::default();
    let bar = progress_bar(src, opts.progress);
    let mut batches: Vec<Batch<'a>> = (0..shards).map(|_| Batch::default()).collect();
    let mut order: Vec<u32> = Vec::with_capacity(BATCH);
    // Send every batch, then the order they make up; false once the merger has stopped.
    let flush = |batches: &mut Vec<Batch<'a>>, order: &mut Vec<u32>| -> bool {
        for (k, b) in batches.iter_mut().enumerate() {
            if b.tasks.is_empty() {
                continue;
            }
            let fresh = workers[k].1.try_recv().unwrap_or_default();
            if workers[k].0.send(std::mem::replace(b, fresh)).is_err() {
                return false;
            }
        }
        order_tx.send(std::mem::replace(order, Vec::with_capacity(BATCH))).is_ok()
    };
    while let Some((n, meta, range)) = walk_next(src, &mut sum, bar.as_ref()) {
        let end = range.end;
        let raw = &bytes[range];
        let mut frame = Frame::blank();
        let Some(times) = front.admit(n, meta, raw, &mut frame) else { continue };
        let tracked = front.track(n, meta.ts_ns, &frame);
        let k = shard_of(tracked.flow(), n, shards);
        let expire = is_expiry_point(n);
        batches[k].frames.push(FrameIn { n, meta, times, raw, end, frame, tracked });
        batches[k].tasks.push(Task::Frame { expire });
        if expire {
            hand_out(&mut batches, front.expired(meta.ts_ns));
        }
        order.push(k as u32 | (expire as u32) << 31);
        if order.len() == BATCH && !flush(&mut batches, &mut order) {
            break;
        }
    }
    // End of input (or the merger stopped): the connections still held, like an expiry point.
    hand_out(&mut batches, front.remaining());
    flush(&mut batches, &mut order);
    front.summarise(&mut sum);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    sum
}

/// The connections finished at one expiry point (in id order) go to their workers; every
/// worker gets the point's end mark.
fn hand_out(batches: &mut [Batch<'_>], done: Vec<ConnSummary>) {
    let shards = batches.len();
    for c in done {
        batches[shard_of(Some(FlowId::Tcp(c.conn)), 0, shards)].tasks.push(Task::Done(Box::new(c)));
    }
    for b in batches.iter_mut() {
        b.tasks.push(Task::Mark);
    }
}

/// A worker's channels: batches in, outputs out, spent output buffers back.
struct WorkerChannels<'a> {
    batches: Receiver<Batch<'a>>,
    outputs: SyncSender<WorkerOutput<'a>>,
    spent: Receiver<(Vec<Record>, Vec<FrameFacts>)>,
}

/// A worker: the seams of its shard; records everything for the merger.
/// Returns the stream bytes dropped by the caps.
fn worker(mut back: Back, messages: bool, channels: WorkerChannels<'_>) -> u64 {
    let mut rec = Recorder { records: Vec::with_capacity(BATCH * 2), messages };
    // An expiry point's frame: its records end after the point's connections.
    let mut open = false;
    // The recorder never fails, so neither do the seam calls below.
    for mut input in channels.batches.iter() {
        let (records, mut facts) = channels.spent.try_recv().unwrap_or_else(|_| (Vec::with_capacity(BATCH * 2), Vec::with_capacity(BATCH)));
        rec.records = records;
        let mut frames = input.frames.iter();
        for task in input.tasks.drain(..) {
            match task {
                Task::Frame { expire } => {
                    let frame_in = frames.next().expect("a frame per frame task");
                    rec.records.push(Record::Packet(facts.len() as u32));
                    let msgs = back.frame(frame_in.n, frame_in.meta.ts_ns, &frame_in.frame, &frame_in.tracked, &mut rec).expect("recorder");
                    facts.push(FrameFacts { tracked: frame_in.tracked, msgs });
                    if expire {
                        open = true;
                    } else {
                        rec.records.push(Record::FrameEnd);
                    }
                }
                Task::Done(c) => {
                    rec.records.push(Record::Group(c.conn));
                    back.conn_done(*c, &mut rec).expect("recorder");
                }
                Task::Mark => {
                    rec.records.push(Record::GroupsEnd);
                    if std::mem::take(&mut open) {
                        rec.records.push(Record::FrameEnd);
                    }
                }
            }
        }
        let out = WorkerOutput { input, records: std::mem::take(&mut rec.records), facts };
        if channels.outputs.send(out).is_err() {
            return back.cap_dropped();
        }
    }
    back.finish(&mut rec).expect("recorder");
    let _ = channels.outputs.send(WorkerOutput { input: Batch::default(), records: rec.records, facts: Vec::new() });
    back.cap_dropped()
}

/// The merger's view of one worker: its current output.
struct Shard<'a> {
    rx: Receiver<WorkerOutput<'a>>,
    /// Spent record buffers go back to the worker, spent batches to the reader.
    back: Sender<(Vec<Record>, Vec<FrameFacts>)>,
    batch_back: Sender<Batch<'a>>,
    cur: WorkerOutput<'a>,
    pos: usize,
}

impl<'a> Shard<'a> {
    fn new(rx: Receiver<WorkerOutput<'a>>, back: Sender<(Vec<Record>, Vec<FrameFacts>)>, batch_back: Sender<Batch<'a>>) -> Self {
        Shard { rx, back, batch_back, cur: WorkerOutput { input: Batch::default(), records: Vec::new(), facts: Vec::new() }, pos: 0 }
    }

    /// The next record, waiting for the worker if need be; `None` once it has ended.
    fn peek(&mut self) -> Option<&Record> {
        while self.pos == self.cur.records.len() {
            let next = self.rx.recv().ok()?;
            let mut old = std::mem::replace(&mut self.cur, next);
            old.records.clear();
            old.facts.clear();
            old.input.tasks.clear();
            old.input.frames.clear();
            let _ = self.back.send((old.records, old.facts));
            let _ = self.batch_back.send(old.input);
            self.pos = 0;
        }
        Some(&self.cur.records[self.pos])
    }

    fn take(&mut self) -> Option<Record> {
        self.peek()?;
        self.pos += 1;
        Some(std::mem::replace(&mut self.cur.records[self.pos - 1], Record::Taken))
    }

    /// The next record if it belongs to the current frame or group (a message or a summary).
    fn take_inner(&mut self) -> Option<Record> {
        match self.peek()? {
            Record::Late(_) | Record::Msg(_) | Record::Conn(_) => self.take(),
            _ => None,
        }
    }
}

/// Replay a message-like record to the sink.
fn replay(r: Record, sink: &mut dyn Sink) -> io::Result<()> {
    match r {
        Record::Late(c) => sink.late(&c),
        Record::Msg(m) => sink.message_owned(m),
        Record::Conn(b) => sink.conn_owned(*b),
        _ => Ok(()),
    }
}

/// Collect the connections every worker finished at one point, and replay them in id order.
fn replay_groups(shards: &mut [Shard<'_>], sink: &mut dyn Sink) -> io::Result<()> {
    let mut groups: Vec<(u32, Vec<Record>)> = Vec::new();
    for sh in shards.iter_mut() {
        loop {
            match sh.take() {
                Some(Record::Group(id)) => {
                    let mut records = Vec::new();
                    while let Some(r) = sh.take_inner() {
                        records.push(r);
                    }
                    groups.push((id, records));
                }
                Some(Record::GroupsEnd) | None => break,
                Some(_) => unreachable!("a worker's expiry records are groups"),
            }
        }
    }
    groups.sort_by_key(|g| g.0);
    for (_, records) in groups {
        for r in records {
            replay(r, sink)?;
        }
    }
    Ok(())
}

/// The merger: records in frame order, calls made on the sink.
fn merge(mut shards: Vec<Shard<'_>>, order: Receiver<Vec<u32>>, merged: &AtomicUsize, sink: &mut dyn Sink) -> io::Result<()> {
    let wants_packets = sink.wants_packets();
    for batch in order.iter() {
        for item in batch {
            let k = (item & !(1 << 31)) as usize;
            let expire = item >> 31 == 1;
            let sh = &mut shards[k];
            let Some(Record::Packet(i)) = sh.take() else { unreachable!("a frame's records start with its packet") };
            let i = i as usize;
            while let Some(r) = sh.take_inner() {
                replay(r, sink)?;
            }
            if expire {
                replay_groups(&mut shards, sink)?;
            }
            // The frame's records end in its worker's current output, so `i` still indexes it.
            let sh = &mut shards[k];
            let Some(Record::FrameEnd) = sh.take() else { unreachable!("a frame's records end with FrameEnd") };
            let (frame_in, facts) = (&sh.cur.input.frames[i], &sh.cur.facts[i]);
            if wants_packets {
                sink.packet(&PacketView::new(frame_in.n, frame_in.meta, frame_in.times, frame_in.raw, &frame_in.frame, facts))?;
            }
            merged.store(frame_in.end, Ordering::Relaxed);
        }
    }
    // End of input: the connections every worker still held, then what the seam engines held.
    replay_groups(&mut shards, sink)?;
    let mut rest: Vec<(u8, FlowId, Record)> = Vec::new();
    for sh in shards.iter_mut() {
        while let Some(r) = sh.take() {
            let key = match &r {
                Record::Late(c) => (0, c.flow),
                Record::Msg(m) => (1, m.flow),
                _ => continue,
            };
            rest.push((key.0, key.1, r));
        }
    }
    rest.sort_by_key(|r| (r.0, r.1));
    for (_, _, r) in rest {
        replay(r, sink)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_spread_over_every_worker() {
        for shards in 1..8 {
            let tcp: std::collections::HashSet<_> = (0..64).map(|id| shard_of(Some(FlowId::Tcp(id)), 1, shards)).collect();
            let udp: std::collections::HashSet<_> = (0..64).map(|id| shard_of(Some(FlowId::Udp(id)), 1, shards)).collect();
            assert_eq!((tcp.len(), udp.len()), (shards, shards), "64 flows of each kind reach every one of {shards} workers");
            assert!((0..100).all(|n| shard_of(None, n, shards) < shards));
        }
    }
}
