//! `--threads N` for capture files: connections sharded over N workers by a symmetric flow hash,
//! their results merged back in frame order.
//!
//! Threads: a *reader* walks the file, applies the filter, decodes each frame once and picks its
//! shard; N *workers* each own an [`Engine`] (TCP tracking, reassembly, framing) for their share
//! of the connections and UDP flows; the caller's thread *merges* the workers' records in frame
//! order and drives the sink. Frames are never copied: the file is mapped once and every thread
//! borrows from it.
//!
//! The sink sees the calls a single-threaded [`run`](super::run) makes, in the same order, with
//! the same connection and flow ids, so the output does not depend on the thread count:
//! * a frame's records (messages it completes, then its packet) come from the one worker that
//!   owns its flow; ARP goes to shard 0 (one table of bindings), stateless frames anywhere;
//! * every worker expires connections at the same frames as a single run would, and the
//!   connections finished there are replayed in global id order, as [`Engine::expired`] sorts;
//! * workers number connections locally; the merger renumbers them in order of first
//!   appearance, which is the single run's numbering (ids are given in frame order).
//!
//! What can differ: each worker holds `1/N` of `--max-conns` and of the reassembly memory cap,
//! so *which* connection is evicted, or which bytes are dropped, when those limits are reached
//! can depend on N (both are reported).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use super::{decode_counted, progress_bar, Clock, Engine, FrameFacts, MsgNote, PacketView, ReadOptions, RunError, RunSummary, Sink, EXPIRE_EVERY};
use crate::analyze::{Carried, Message};
use crate::capture::bpf::Filter;
use crate::capture::{FileSource, PacketMeta, SourceError};
use crate::decode::{Frame, Net, Transport};
use crate::track::tcp::ConnSummary;

/// Frames handed out at once (one batch per worker at most per round).
const BATCH: usize = 1024;
/// Batches queued per channel.
const DEPTH: usize = 4;

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
}

/// Work for one worker, in order.
#[derive(Clone, Copy)]
enum Task {
    /// The batch's next frame; `expire`: look for finished connections after it.
    Frame { expire: bool },
    /// Another worker's frame is an expiry point: look for finished connections too.
    Expire { ts: i64 },
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

/// Which worker owns a frame: both directions of a TCP connection or UDP flow hash alike.
fn shard_of(f: &Frame<'_>, n: u64, shards: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let (ip, sport, dport) = match (&f.net, &f.transport) {
        (Net::Ip(ip), Transport::Tcp(t)) if ip.frag.is_none() => (ip, t.sport, t.dport),
        (Net::Ip(ip), Transport::Udp(u)) if ip.frag.is_none() => (ip, u.sport, u.dport),
        (Net::Arp(_), _) => return 0,
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
    src.set_release_limit(Arc::clone(&merged));
    let shards = opts.threads.max(1);
    let messages = sink.wants_messages();
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
            workers.push(w.spawn_scoped(s, move || worker(opts, shards, messages, batch_rx, out_tx, out_back_rx)).map_err(RunError::Io)?);
        }
        let (order_tx, order_rx) = sync_channel::<Vec<u32>>(DEPTH * 2);
        let r = std::thread::Builder::new().name("ws-reader".into());
        let reader = r.spawn_scoped(s, move || read(&mut src, bytes, filter, opts.progress, to_workers, order_tx)).map_err(RunError::Io)?;
        let merged_result = merge(from_workers, order_rx, &merged, sink);
        // On a sink error the merger has dropped its receivers: workers and reader stop at
        // their next send.
        let mut sum = reader.join().expect("reader thread");
        for w in workers {
            let (evicted, dropped) = w.join().expect("worker thread");
            sum.evicted += evicted;
            sum.cap_dropped_bytes += dropped;
        }
        sum.max_conns = opts.track.max_conns;
        merged_result?;
        sink.finish(&sum)?;
        Ok(sum)
    })
}

/// The reader: walk, filter, decode, hand out. Returns the frame counts and any damage.
fn read<'a>(
    src: &mut FileSource,
    bytes: &'a [u8],
    mut filter: Option<Filter>,
    progress: bool,
    workers: Vec<(SyncSender<Batch<'a>>, Receiver<Batch<'a>>)>,
    order_tx: SyncSender<Vec<u32>>,
) -> RunSummary {
    let shards = workers.len();
    let mut sum = RunSummary::default();
    let mut clock = Clock::default();
    let bar = progress_bar(src, progress);
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
    loop {
        if sum.frames % 65_536 == 0 {
            if let Some(b) = &bar {
                b.set_position(src.progress().1);
            }
        }
        let (meta, range) = match src.next_range() {
            Some(Ok(x)) => x,
            None => break,
            Some(Err(e)) => {
                sum.damage = Some(SourceError::File(e));
                break;
            }
        };
        sum.frames += 1;
        let n = sum.frames;
        clock.saw(meta.ts_ns);
        let end = range.end;
        let raw = &bytes[range];
        if let Some(f) = filter.as_mut() {
            if !f.matches(meta.linktype, raw) {
                continue;
            }
        }
        let frame = decode_counted(&mut sum, meta, raw);
        let k = shard_of(&frame, n, shards);
        let expire = n % EXPIRE_EVERY == 0;
        let (rel_ns, delta_ns) = clock.shown(meta.ts_ns);
        batches[k].frames.push(FrameIn { n, meta, rel_ns, delta_ns, raw, end, frame });
        batches[k].tasks.push(Task::Frame { expire });
        if expire {
            for (j, b) in batches.iter_mut().enumerate() {
                if j != k {
                    b.tasks.push(Task::Expire { ts: meta.ts_ns });
                }
            }
        }
        order.push(k as u32 | (expire as u32) << 31);
        sum.shown += 1;
        if order.len() == BATCH && !flush(&mut batches, &mut order) {
            break;
        }
    }
    if !order.is_empty() {
        flush(&mut batches, &mut order);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    sum
}

/// A worker: one engine for its shard; records everything for the merger.
/// Returns (connections evicted, stream bytes dropped by the caps).
fn worker<'a>(opts: &ReadOptions, shards: usize, messages: bool, batches: Receiver<Batch<'a>>, outs: SyncSender<Out<'a>>, outs_back: Receiver<(Vec<Rec>, Vec<FrameFacts>)>) -> (u64, u64) {
    let mut engine = Engine::new(opts, shards);
    let mut rec = Recorder { out: Vec::with_capacity(BATCH * 2), messages };
    // The recorder never fails, so neither do the engine calls below.
    for input in batches.iter() {
        let (recs, mut facts) = outs_back.try_recv().unwrap_or_else(|_| (Vec::with_capacity(BATCH * 2), Vec::with_capacity(BATCH)));
        rec.out = recs;
        let mut frames = input.frames.iter();
        for t in &input.tasks {
            match *t {
                Task::Frame { expire: exp } => {
                    let f = frames.next().expect("a frame per frame task");
                    rec.out.push(Rec::Packet(facts.len() as u32));
                    facts.push(engine.frame(f.n, f.meta.ts_ns, &f.frame, &mut rec).expect("recorder"));
                    if exp {
                        expire(&mut engine, f.meta.ts_ns, &mut rec);
                    }
                    rec.out.push(Rec::FrameEnd);
                }
                Task::Expire { ts } => expire(&mut engine, ts, &mut rec),
            }
        }
        let out = Out { input, recs: std::mem::take(&mut rec.out), facts };
        if outs.send(out).is_err() {
            return engine.losses();
        }
    }
    for c in engine.remaining() {
        rec.out.push(Rec::Group(c.conn));
        engine.conn_done(&c, &mut rec).expect("recorder");
    }
    rec.out.push(Rec::GroupsEnd);
    engine.finish_seams(&mut rec).expect("recorder");
    let _ = outs.send(Out { input: Batch::default(), recs: rec.out, facts: Vec::new() });
    engine.losses()
}

fn expire(engine: &mut Engine, ts: i64, rec: &mut Recorder) {
    for c in engine.expired(ts) {
        rec.out.push(Rec::Group(c.conn));
        engine.conn_done(&c, rec).expect("recorder");
    }
    rec.out.push(Rec::GroupsEnd);
}

/// Local → global ids of one worker's connections and UDP flows.
#[derive(Default)]
struct LocalIds {
    tcp: Vec<u32>,
    udp: Vec<u32>,
}

/// Global ids: connections and UDP flows numbered in order of first appearance, which is the
/// order a single run numbers them in.
#[derive(Default)]
struct Ids {
    tcp: u32,
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
    fn tcp(&mut self, l: &mut LocalIds, local: u32) -> u32 {
        global(&mut l.tcp, &mut self.tcp, local)
    }
    fn udp(&mut self, l: &mut LocalIds, local: u32) -> u32 {
        global(&mut l.udp, &mut self.udp, local)
    }

    fn facts(&mut self, l: &mut LocalIds, f: &mut FrameFacts) {
        let udp = f.udp_flow.is_some();
        if let Some(si) = f.tcp.as_mut() {
            si.conn = self.tcp(l, si.conn);
        }
        if let Some((id, _)) = f.udp_flow.as_mut() {
            *id = self.udp(l, *id);
        }
        if let MsgNote::Known(c) = &mut f.msgs {
            c.conn = if udp { self.udp(l, c.conn) } else { self.tcp(l, c.conn) };
        }
    }

    /// Rewrite a record's local ids as global ones.
    fn rec(&mut self, l: &mut LocalIds, r: &mut Rec) {
        match r {
            Rec::Late(c) => c.conn = self.tcp(l, c.conn),
            Rec::Msg(m) => m.conn = if m.udp { self.udp(l, m.conn) } else { self.tcp(l, m.conn) },
            Rec::Group(id) => *id = self.tcp(l, *id),
            Rec::Conn(b) => {
                b.0.conn = self.tcp(l, b.0.conn);
                for d in b.1.iter_mut().flatten() {
                    d.conn = b.0.conn;
                }
            }
            Rec::Taken | Rec::Packet(_) | Rec::GroupsEnd | Rec::FrameEnd => {}
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
        Shard { rx, back, batch_back, cur: Out { input: Batch::default(), recs: Vec::new(), facts: Vec::new() }, pos: 0, ids: LocalIds::default() }
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
                Some(Rec::Group(local)) => {
                    let mut recs = Vec::new();
                    while let Some(mut r) = sh.take_inner() {
                        ids.rec(&mut sh.ids, &mut r);
                        recs.push(r);
                    }
                    groups.push((ids.tcp(&mut sh.ids, local), recs));
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
                let view = PacketView { n: fi.n, meta: fi.meta, rel_ns: fi.rel_ns, delta_ns: fi.delta_ns, raw: fi.raw, frame: &fi.frame, arp_conflict: f.arp_conflict, tcp: f.tcp, msgs: f.msgs, udp_flow: f.udp_flow };
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
    fn both_directions_of_a_flow_share_a_shard() {
        use crate::decode::decode;
        let build = |a: [u8; 4], b: [u8; 4], sp: u16, dp: u16| {
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(a, b, 64).tcp(sp, dp, 1, 100).write(&mut v, b"x").unwrap();
            v
        };
        for shards in 1..8 {
            let mut seen = std::collections::HashSet::new();
            for i in 0..64u16 {
                let x = build([10, 0, 0, 1], [10, 0, 0, 2], 40000 + i, 9000);
                let y = build([10, 0, 0, 2], [10, 0, 0, 1], 9000, 40000 + i);
                let (fx, fy) = (decode(1, &x, x.len() as u32), decode(1, &y, y.len() as u32));
                let k = shard_of(&fx, 1, shards);
                assert_eq!(k, shard_of(&fy, 2, shards), "shards {shards}, port {i}");
                assert!(k < shards);
                seen.insert(k);
            }
            assert_eq!(seen.len(), shards, "64 flows reach every one of {shards} shards");
        }
    }
}
