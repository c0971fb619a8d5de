//! `--threads N` for capture files: tracking in one thread, message seams sharded over N workers,
//! results merged back in frame order.
//!
//! Threads: a *reader* walks the file, applies the filter, decodes each frame once, tracks it
//! (ARP bindings, the TCP connection table and state machines: one table, as in a single run)
//! and picks its shard; N *workers* each own a [`SeamStage`] (reassembly and framing) for their
//! share of the connections (by connection id) and UDP flows (by a symmetric flow hash); the
//! caller's thread *merges* the workers' records in frame order and drives the sink. Tracking
//! and seams thus run side by side even when one connection carries all the traffic. Frames are
//! never copied: the file is mapped once and every thread borrows from it.
//!
//! The sink sees the calls a single-threaded [`run`](super::run) makes, in the same order, with
//! the same connection and flow ids, so the output does not depend on the thread count:
//! * a frame's records (messages it completes, then its packet) come from the one worker that
//!   owns its connection or flow; frames without seam state go anywhere;
//! * the reader expires connections at the same frames as a single run, and hands each one to
//!   its worker; the merger replays the connections of one expiry point in id order, as
//!   [`Tracking::expired`] returns them;
//! * connection ids are the tracker's; UDP flows are numbered per worker, and the merger
//!   renumbers them in order of first appearance, which is the single run's numbering.
//!
//! What can differ: each worker holds `1/N` of the reassembly memory cap, so *which* bytes are
//! dropped when that cap is reached can depend on N (it is reported).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use super::{
    decode_counted, progress_bar, walk_next, Clock, FrameFacts, MsgNote, PacketView, ReadOptions, RunError, RunSummary, SeamStage, Sink,
    Tracking, EXPIRE_EVERY,
};
use crate::analyze::{Carried, Message};
use crate::capture::bpf::Filter;
use crate::capture::Backing;
use crate::capture::{FileSource, PacketMeta};
use crate::decode::{Frame, Net, Transport};
use crate::track::arp::ArpConflict;
use crate::track::tcp::{ConnSummary, SegInfo};

/// Frames handed out at once (one batch per worker at most per round).
const BATCH: usize = 512;
/// Batches queued per channel.
const DEPTH: usize = 2;

/// A decoded frame, as the reader hands it out. It stays in its batch, which travels reader →
/// worker → merger → reader, so the frame is never copied.
struct FrameIn<'a> {
    n: u64,
    meta: PacketMeta,
    rel_ns: i64,
    delta_ns: i64,
    raw: &'a [u8],
    /// End offset of the frame in the file (released once the merger is past it).
    end: usize,
    frame: Frame<'a>,
    /// What the reader's tracking said about it.
    arp: Option<ArpConflict>,
    tcp: Option<SegInfo>,
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

#[derive(Default)]
struct Batch<'a> {
    tasks: Vec<Task>,
    frames: Vec<FrameIn<'a>>,
}

/// What a worker reports about one batch, in frame order.
enum Rec {
    /// Already taken by the merger.
    Taken,
    /// The packet of the batch's frame `i` (its facts are `facts[i]`); the frame's other
    /// records follow it but are replayed before it.
    Packet(u32),
    Late(Carried),
    Msg(Message),
    /// Records of the finished connection with this (local) id follow.
    Group(u32),
    Conn(Box<(ConnSummary, super::ConnSeams)>),
    /// End of the connections finished at one expiry point, or at the end of input.
    GroupsEnd,
    /// End of a frame's records (so the merger never looks past its batch while the frame's
    /// packet is pending).
    FrameEnd,
}

struct Out<'a> {
    input: Batch<'a>,
    recs: Vec<Rec>,
    /// Parallel to `input.frames`.
    facts: Vec<FrameFacts>,
}

/// The worker's sink: keeps every call as a record.
struct Recorder {
    out: Vec<Rec>,
    /// Record messages (the sink looks at them).
    messages: bool,
}

impl Sink for Recorder {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, c: &ConnSummary, seams: &super::ConnSeams) -> io::Result<()> {
        self.out.push(Rec::Conn(Box::new((c.clone(), seams.clone()))));
        Ok(())
    }
    fn message(&mut self, m: &Message) -> io::Result<()> {
        self.message_owned(m.clone())
    }
    fn message_owned(&mut self, m: Message) -> io::Result<()> {
        if self.messages {
            self.out.push(Rec::Msg(m));
        }
        Ok(())
    }
    fn late(&mut self, c: &Carried) -> io::Result<()> {
        if self.messages {
            self.out.push(Rec::Late(*c));
        }
        Ok(())
    }
}

/// The worker that owns a connection's seams.
fn owner(conn: u32, shards: usize) -> usize {
    conn as usize % shards
}

/// Which worker owns a frame: a tracked TCP segment its connection's; both directions of a UDP
/// flow hash alike; any other frame has no seam state.
fn shard_of(f: &Frame<'_>, tcp: Option<&SegInfo>, n: u64, shards: usize) -> usize {
    use std::hash::{Hash, Hasher};
    if let Some(si) = tcp {
        return owner(si.conn, shards);
    }
    let (ip, sport, dport) = match (&f.net, &f.transport) {
        (Net::Ip(ip), Transport::Udp(u)) if ip.frag.is_none() => (ip, u.sport, u.dport),
        _ => return (n % shards as u64) as usize,
    };
    let a = (ip.src, sport);
    let b = (ip.dst, dport);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = rustc_hash::FxHasher::default();
    lo.hash(&mut h);
    hi.hash(&mut h);
    // FxHash leaves the low bits weak: fold the high half in.
    let x = h.finish();
    ((x ^ (x >> 32)) % shards as u64) as usize
}

/// Read a capture file with `opts.threads` workers. The caller checks that the run can be
/// sharded (no `--count`, a sink without `conn_end`).
pub fn run(mut src: FileSource, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let filter = match &opts.filter {
        Some(expr) => Some(Filter::new(expr, crate::capture::Source::linktype_hint(&src))?),
        None => None,
    };
    let data = src.shared();
    let bytes: &[u8] = data.bytes();
    let merged = Arc::new(AtomicUsize::new(0));
    src.set_release_limit(Arc::clone(&merged), crate::capture::file::THREADED_RELEASE_STEP);
    let shards = opts.threads.max(1);
    let messages = sink.wants_messages();
    let annotated = messages || sink.wants_packets();
    std::thread::scope(|s| {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        let mut workers = Vec::new();
        for k in 0..shards {
            let (batch_tx, batch_rx) = sync_channel::<Batch<'_>>(DEPTH);
            let (batch_back_tx, batch_back_rx) = channel::<Batch<'_>>();
            let (out_tx, out_rx) = sync_channel::<Out<'_>>(DEPTH);
            let (out_back_tx, out_back_rx) = channel::<(Vec<Rec>, Vec<FrameFacts>)>();
            to_workers.push((batch_tx, batch_back_rx));
            from_workers.push(Shard::new(out_rx, out_back_tx, batch_back_tx));
            let w = std::thread::Builder::new().name(format!("ws-worker{k}"));
            let backing: Arc<dyn Backing> = data.clone();
            workers.push(
                w.spawn_scoped(s, move || worker(opts, shards, messages, annotated, backing, batch_rx, out_tx, out_back_rx))
                    .map_err(RunError::Io)?,
            );
        }
        let (order_tx, order_rx) = sync_channel::<Vec<u32>>(DEPTH * 2);
        let r = std::thread::Builder::new().name("ws-reader".into());
        let reader = r.spawn_scoped(s, move || read(&mut src, bytes, filter, opts, to_workers, order_tx)).map_err(RunError::Io)?;
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

/// The reader: walk, filter, decode, track, hand out. Returns the frame counts, evictions and
/// any damage.
fn read<'a>(
    src: &mut FileSource,
    bytes: &'a [u8],
    mut filter: Option<Filter>,
    opts: &ReadOptions,
    workers: Vec<(SyncSender<Batch<'a>>, Receiver<Batch<'a>>)>,
    order_tx: SyncSender<Vec<u32>>,
) -> RunSummary {
    let shards = workers.len();
    let mut sum = RunSummary::default();
    let mut clock = Clock::default();
    let bar = progress_bar(src, opts.progress);
    let mut tracking = Tracking::new(opts);
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
        clock.saw(meta.ts_ns);
        let end = range.end;
        let raw = &bytes[range];
        if let Some(f) = filter.as_mut() {
            if !f.matches(meta.linktype, raw) {
                continue;
            }
        }
        let frame = decode_counted(&mut sum, meta, raw);
        let (arp, tcp) = tracking.frame(n, meta.ts_ns, &frame);
        let k = shard_of(&frame, tcp.as_ref(), n, shards);
        let expire = n % EXPIRE_EVERY == 0;
        let (rel_ns, delta_ns) = clock.shown(meta.ts_ns);
        batches[k].frames.push(FrameIn { n, meta, rel_ns, delta_ns, raw, end, frame, arp, tcp });
        batches[k].tasks.push(Task::Frame { expire });
        if expire {
            hand_out(&mut batches, tracking.expired(meta.ts_ns));
        }
        order.push(k as u32 | (expire as u32) << 31);
        sum.shown += 1;
        if order.len() == BATCH && !flush(&mut batches, &mut order) {
            break;
        }
    }
    // End of input (or the merger stopped): the connections still held, like an expiry point.
    hand_out(&mut batches, tracking.remaining());
    flush(&mut batches, &mut order);
    sum.evicted = tracking.evicted();
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
        batches[owner(c.conn, shards)].tasks.push(Task::Done(Box::new(c)));
    }
    for b in batches.iter_mut() {
        b.tasks.push(Task::Mark);
    }
}

/// A worker: the seams of its shard; records everything for the merger.
/// Returns the stream bytes dropped by the caps.
#[allow(clippy::too_many_arguments)]
fn worker<'a>(
    opts: &ReadOptions,
    shards: usize,
    messages: bool,
    annotated: bool,
    backing: Arc<dyn Backing>,
    batches: Receiver<Batch<'a>>,
    outs: SyncSender<Out<'a>>,
    outs_back: Receiver<(Vec<Rec>, Vec<FrameFacts>)>,
) -> u64 {
    let mut seams = SeamStage::new(opts, shards, Some(backing), annotated);
    let mut rec = Recorder { out: Vec::with_capacity(BATCH * 2), messages };
    // An expiry point's frame: its records end after the point's connections.
    let mut open = false;
    // The recorder never fails, so neither do the seam calls below.
    for input in batches.iter() {
        let (recs, mut facts) = outs_back.try_recv().unwrap_or_else(|_| (Vec::with_capacity(BATCH * 2), Vec::with_capacity(BATCH)));
        rec.out = recs;
        let mut frames = input.frames.iter();
        for t in &input.tasks {
            match t {
                Task::Frame { expire } => {
                    let f = frames.next().expect("a frame per frame task");
                    rec.out.push(Rec::Packet(facts.len() as u32));
                    let (msgs, udp_flow) = seams.frame(f.n, f.meta.ts_ns, &f.frame, f.tcp.as_ref(), &mut rec).expect("recorder");
                    facts.push(FrameFacts { arp_conflict: f.arp, tcp: f.tcp, msgs, udp_flow });
                    if *expire {
                        open = true;
                    } else {
                        rec.out.push(Rec::FrameEnd);
                    }
                }
                Task::Done(c) => {
                    rec.out.push(Rec::Group(c.conn));
                    seams.conn_done(c, &mut rec).expect("recorder");
                }
                Task::Mark => {
                    rec.out.push(Rec::GroupsEnd);
                    if std::mem::take(&mut open) {
                        rec.out.push(Rec::FrameEnd);
                    }
                }
            }
        }
        let out = Out { input, recs: std::mem::take(&mut rec.out), facts };
        if outs.send(out).is_err() {
            return seams.cap_dropped();
        }
    }
    seams.finish(&mut rec).expect("recorder");
    let _ = outs.send(Out { input: Batch::default(), recs: rec.out, facts: Vec::new() });
    seams.cap_dropped()
}

/// Local → global ids of one worker's UDP flows.
#[derive(Default)]
struct LocalIds {
    udp: Vec<u32>,
}

/// Global UDP flow ids: numbered in order of first appearance, which is the order a single run
/// numbers them in. (Connection ids come from the one tracker.)
#[derive(Default)]
struct Ids {
    udp: u32,
}

fn global(map: &mut Vec<u32>, next: &mut u32, local: u32) -> u32 {
    while map.len() <= local as usize {
        map.push(*next);
        *next += 1;
    }
    map[local as usize]
}

impl Ids {
    fn udp(&mut self, l: &mut LocalIds, local: u32) -> u32 {
        global(&mut l.udp, &mut self.udp, local)
    }

    fn facts(&mut self, l: &mut LocalIds, f: &mut FrameFacts) {
        if let Some((id, _)) = f.udp_flow.as_mut() {
            *id = self.udp(l, *id);
            if let MsgNote::Known(c) = &mut f.msgs {
                c.conn = *id;
            }
        }
    }

    /// Rewrite a record's local UDP flow ids as global ones.
    fn rec(&mut self, l: &mut LocalIds, r: &mut Rec) {
        if let Rec::Msg(m) = r {
            if m.udp {
                m.conn = self.udp(l, m.conn);
            }
        }
    }
}

/// The merger's view of one worker: its current output and its ids.
struct Shard<'a> {
    rx: Receiver<Out<'a>>,
    /// Spent record buffers go back to the worker, spent batches to the reader.
    back: Sender<(Vec<Rec>, Vec<FrameFacts>)>,
    batch_back: Sender<Batch<'a>>,
    cur: Out<'a>,
    pos: usize,
    ids: LocalIds,
}

impl<'a> Shard<'a> {
    fn new(rx: Receiver<Out<'a>>, back: Sender<(Vec<Rec>, Vec<FrameFacts>)>, batch_back: Sender<Batch<'a>>) -> Self {
        Shard {
            rx,
            back,
            batch_back,
            cur: Out { input: Batch::default(), recs: Vec::new(), facts: Vec::new() },
            pos: 0,
            ids: LocalIds::default(),
        }
    }

    /// The next record, waiting for the worker if need be; `None` once it has ended.
    fn peek(&mut self) -> Option<&Rec> {
        while self.pos == self.cur.recs.len() {
            let next = self.rx.recv().ok()?;
            let mut old = std::mem::replace(&mut self.cur, next);
            old.recs.clear();
            old.facts.clear();
            old.input.tasks.clear();
            old.input.frames.clear();
            let _ = self.back.send((old.recs, old.facts));
            let _ = self.batch_back.send(old.input);
            self.pos = 0;
        }
        Some(&self.cur.recs[self.pos])
    }

    fn take(&mut self) -> Option<Rec> {
        self.peek()?;
        self.pos += 1;
        Some(std::mem::replace(&mut self.cur.recs[self.pos - 1], Rec::Taken))
    }

    /// The next record if it belongs to the current frame or group (a message or a summary).
    fn take_inner(&mut self) -> Option<Rec> {
        match self.peek()? {
            Rec::Late(_) | Rec::Msg(_) | Rec::Conn(_) => self.take(),
            _ => None,
        }
    }
}

/// Replay a message-like record to the sink.
fn replay(r: Rec, sink: &mut dyn Sink) -> io::Result<()> {
    match r {
        Rec::Late(c) => sink.late(&c),
        Rec::Msg(m) => sink.message_owned(m),
        Rec::Conn(b) => sink.conn(&b.0, &b.1),
        _ => Ok(()),
    }
}

/// Collect the connections every worker finished at one point, and replay them in id order.
fn replay_groups(shards: &mut [Shard<'_>], ids: &mut Ids, sink: &mut dyn Sink) -> io::Result<()> {
    let mut groups: Vec<(u32, Vec<Rec>)> = Vec::new();
    for sh in shards.iter_mut() {
        loop {
            match sh.take() {
                Some(Rec::Group(id)) => {
                    let mut recs = Vec::new();
                    while let Some(mut r) = sh.take_inner() {
                        ids.rec(&mut sh.ids, &mut r);
                        recs.push(r);
                    }
                    groups.push((id, recs));
                }
                Some(Rec::GroupsEnd) | None => break,
                Some(_) => unreachable!("a worker's expiry records are groups"),
            }
        }
    }
    groups.sort_by_key(|g| g.0);
    for (_, recs) in groups {
        for r in recs {
            replay(r, sink)?;
        }
    }
    Ok(())
}

/// The merger: records in frame order, ids made global, calls made on the sink.
fn merge(mut shards: Vec<Shard<'_>>, order: Receiver<Vec<u32>>, merged: &AtomicUsize, sink: &mut dyn Sink) -> io::Result<()> {
    let mut ids = Ids::default();
    let wants_packets = sink.wants_packets();
    for batch in order.iter() {
        for item in batch {
            let k = (item & !(1 << 31)) as usize;
            let expire = item >> 31 == 1;
            let sh = &mut shards[k];
            let Some(Rec::Packet(i)) = sh.take() else { unreachable!("a frame's records start with its packet") };
            let i = i as usize;
            ids.facts(&mut sh.ids, &mut sh.cur.facts[i]);
            while let Some(mut r) = sh.take_inner() {
                ids.rec(&mut sh.ids, &mut r);
                replay(r, sink)?;
            }
            if expire {
                replay_groups(&mut shards, &mut ids, sink)?;
            }
            // The frame's records end in its worker's current output, so `i` still indexes it.
            let sh = &mut shards[k];
            let Some(Rec::FrameEnd) = sh.take() else { unreachable!("a frame's records end with FrameEnd") };
            let (fi, f) = (&sh.cur.input.frames[i], &sh.cur.facts[i]);
            if wants_packets {
                let view = PacketView {
                    n: fi.n,
                    meta: fi.meta,
                    rel_ns: fi.rel_ns,
                    delta_ns: fi.delta_ns,
                    raw: fi.raw,
                    frame: &fi.frame,
                    arp_conflict: f.arp_conflict,
                    tcp: f.tcp,
                    msgs: f.msgs,
                    udp_flow: f.udp_flow,
                };
                sink.packet(&view)?;
            }
            merged.store(fi.end, Ordering::Relaxed);
        }
    }
    // End of input: the connections every worker still held, then what the seam engines held.
    replay_groups(&mut shards, &mut ids, sink)?;
    let mut rest: Vec<(u8, u32, Rec)> = Vec::new();
    for sh in shards.iter_mut() {
        while let Some(mut r) = sh.take() {
            ids.rec(&mut sh.ids, &mut r);
            let key = match &r {
                Rec::Late(c) => (0, c.conn),
                Rec::Msg(m) => (1, m.conn),
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
    fn both_directions_of_a_udp_flow_share_a_shard() {
        use crate::decode::decode;
        let build = |a: [u8; 4], b: [u8; 4], sp: u16, dp: u16| {
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(a, b, 64).udp(sp, dp).write(&mut v, b"x").unwrap();
            v
        };
        for shards in 1..8 {
            let mut seen = std::collections::HashSet::new();
            for i in 0..64u16 {
                let x = build([10, 0, 0, 1], [10, 0, 0, 2], 40000 + i, 9000);
                let y = build([10, 0, 0, 2], [10, 0, 0, 1], 9000, 40000 + i);
                let (fx, fy) = (decode(1, &x, x.len() as u32), decode(1, &y, y.len() as u32));
                let k = shard_of(&fx, None, 1, shards);
                assert_eq!(k, shard_of(&fy, None, 2, shards), "shards {shards}, port {i}");
                assert!(k < shards);
                seen.insert(k);
            }
            assert_eq!(seen.len(), shards, "64 flows reach every one of {shards} shards");
        }
    }
}
