//! `wireseam stream`: per connection and direction, every application message with its byte
//! range, a preview (or hexdump), the frames that carried it, sticky/split marks naming the other
//! messages and frames, a per-direction summary, and optionally what `recv(N)` calls would return.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::spool::{Extents, Spool};
use super::style::{self, Palette};
use super::Endpoint;
use crate::analyze::{
    buffer_glue, render_recv, simulate_reader, simulate_recvfrom, Arrival, Carried, DirSummary, FramingSpec, Message, Reader, RecvFromCall,
    RecvSchedule, Returned, StreamEnd, StreamHead,
};
use crate::numbers::thousands;
use crate::pipeline::{ConnRecord, MsgNote, PacketView, RunSummary, Sink};
use crate::track::tcp::ConnSummary;
use crate::track::{Dir, FlowId};

/// What `wireseam stream` shows.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// Only this TCP connection (UDP flows are shown when no connection is chosen).
    pub conn: Option<u32>,
    /// A hexdump of every message under its line.
    pub hex: bool,
    /// Simulate an application calling `recv(N)` (TCP) or `recvfrom(N)` (UDP) with these sizes
    /// (the last repeats; empty: no simulation) ...
    pub recv: Vec<usize>,
    /// ... at these times.
    pub recv_at: RecvSchedule,
    /// Bytes of each message shown in the preview.
    pub preview: usize,
    /// Colours of the text (as `--color` chose).
    pub palette: Palette,
    /// Instead of the messages: each TCP connection's bytes, both directions interleaved
    /// (`--follow`).
    pub follow: Option<super::follow::FollowMode>,
    /// Stream bytes kept per direction, in MiB (`--keep`), named when a follow passes it.
    pub keep_mib: usize,
}

/// Bytes of encoded message records the sink keeps in memory, all connections together, before
/// the largest buffers go to its spool file.
const SPOOL_BUDGET: usize = 4 << 20;

impl StreamOptions {
    /// The bytes of each message the output needs, when that is all it needs of the stream
    /// ([`SeamConfig::message_heads`](crate::analyze::SeamConfig::message_heads)): twice the
    /// preview and one more, for the glued preview of two messages and its `…`. `None` when an
    /// option needs the stream itself (`-x`, `--recv`, `--follow`) or with `--conn N` (one
    /// connection's bytes are kept whole, as before).
    pub fn message_heads(&self) -> Option<usize> {
        let whole = self.hex || !self.recv.is_empty() || self.follow.is_some() || self.conn.is_some();
        (!whole).then(|| self.preview.saturating_mul(2).saturating_add(1))
    }
}

#[derive(Default)]
struct DirData {
    /// The messages (with [`StreamOptions::message_heads`], only once the record is due: till
    /// then they wait encoded in `spooled`).
    messages: Vec<Message>,
    /// With [`StreamOptions::message_heads`]: the encoded messages.
    spooled: Extents,
    bytes: Vec<u8>,
    timeline: Vec<Arrival>,
    /// What the first bytes of the stream look like (from the record).
    head: StreamHead,
    /// Boxed, as every field that fills only when the record comes: a connection waiting for
    /// its record (all of them, in a capture shorter than the linger) costs only what it uses.
    summary: Option<Box<DirSummary>>,
    /// With `--follow`: (capture time, stream offset) of each segment with payload.
    segments: Vec<(i64, u64)>,
}

#[derive(Default)]
struct ConnData {
    endpoints: Option<(String, String)>,
    dirs: [DirData; 2],
    /// The tracker's summary, once the connection is over.
    summary: Option<Box<ConnSummary>>,
}

/// The first bytes of each UDP datagram, by (direction, message index).
type Previews = BTreeMap<(usize, u64), Vec<u8>>;

/// A UDP flow: each datagram is one message; previews are taken from the frames.
#[derive(Default)]
struct UdpData {
    endpoints: Option<(String, String)>,
    messages: [Vec<Message>; 2],
    previews: Previews,
}

/// The sink of `wireseam stream`: keeps the messages of each connection until its record
/// comes, and writes the connections in id order, each as soon as it and every connection
/// before it are over (so a long capture, or a flood of connections, holds only those still
/// open or waiting for an earlier one). UDP flows are written after them, at the end.
pub struct StreamSink<W: Write> {
    w: W,
    opts: StreamOptions,
    /// Boxed: the tree's nodes hold room for 11 entries each, filled or not.
    conns: BTreeMap<u32, Box<ConnData>>,
    udp: BTreeMap<u32, UdpData>,
    /// Connections below this id are written (or were not wanted): nothing more of them is kept.
    written: u32,
    /// Connections written so far.
    shown: u64,
    found: super::Found,
    /// Messages are encoded into `spool` as they come ([`StreamOptions::message_heads`]).
    spooling: bool,
    spool: Spool,
    /// A message being encoded (kept for its capacity).
    scratch: Vec<u8>,
    /// The framings the encoded messages name by number (a handful in any run).
    framings: Vec<FramingSpec>,
}

impl<W: Write> StreamSink<W> {
    /// A sink writing to `w` what `o` asks for.
    pub fn new(w: W, opts: StreamOptions) -> Self {
        let spooling = opts.message_heads().is_some();
        StreamSink {
            w,
            opts,
            conns: BTreeMap::new(),
            udp: BTreeMap::new(),
            written: 0,
            shown: 0,
            found: super::Found::Shown,
            spooling,
            spool: Spool::new(SPOOL_BUDGET),
            scratch: Vec::new(),
            framings: Vec::new(),
        }
    }

    /// What was shown, once the run is over.
    pub fn found(&self) -> super::Found {
        self.found
    }

    /// A connection whose lines are still to come.
    fn wanted(&self, conn: u32) -> bool {
        self.opts.conn.is_none_or(|c| c == conn) && conn >= self.written
    }

    /// Writes the connections that are over, from the lowest id not yet written up to the first
    /// one still open (with `--conn N`, only N is ever kept, so it is written as soon as it is
    /// over); all of them at the end of input (`all`).
    fn write_ready(&mut self, all: bool) -> io::Result<()> {
        let mut out = String::new();
        while let Some(entry) = self.conns.first_entry() {
            let id = *entry.key();
            let in_turn = self.opts.conn.is_some() || id == self.written;
            if !(all || (in_turn && entry.get().summary.is_some())) {
                break;
            }
            let mut conn = entry.remove();
            for (dir, side) in conn.dirs.iter_mut().zip([Dir::C2S, Dir::S2C]) {
                if !dir.spooled.is_empty() {
                    let bytes = self.spool.take(&mut dir.spooled)?;
                    dir.messages = decode_messages(&bytes, FlowId::Tcp(id), side, &self.framings)?;
                }
            }
            self.written = id.saturating_add(1);
            self.shown += 1;
            out.clear();
            match self.opts.follow {
                Some(mode) => {
                    let (client, server) = conn.endpoints.clone().unwrap_or_default();
                    for dir in &mut conn.dirs {
                        dir.messages.sort_by_key(|m| m.offset);
                    }
                    let [c2s, s2c] = &conn.dirs;
                    super::follow::render(&mut out, id, &client, &server, [follow_dir(c2s), follow_dir(s2c)], mode, self.opts.keep_mib);
                }
                None => render_conn(&mut out, id, &conn, &self.opts),
            }
            self.w.write_all(out.as_bytes())?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for StreamSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        if let (Some(seg), Some(tcp), Some(ip)) = (p.tcp, p.frame.tcp(), p.frame.ip()) {
            if self.wanted(seg.conn) {
                let conn = self.conns.entry(seg.conn).or_default();
                if conn.endpoints.is_none() {
                    let src = Endpoint(ip.src, tcp.sport).to_string();
                    let dst = Endpoint(ip.dst, tcp.dport).to_string();
                    conn.endpoints = Some(if seg.dir == Dir::C2S { (src, dst) } else { (dst, src) });
                }
                if self.opts.follow.is_some() && tcp.len > 0 {
                    // the stream offset of its first byte, as reassembly places it (relative
                    // sequence number 1 is offset 0; a SYN's payload starts after the SYN)
                    let first = if tcp.flags & 0x02 != 0 { seg.rseq.wrapping_add(1) } else { seg.rseq };
                    conn.dirs[seg.dir.idx()].segments.push((p.meta.ts_ns, u64::from(first.wrapping_sub(1))));
                }
            }
        }
        if let (Some(udp), MsgNote::Known(carried), Some(ip), crate::decode::Transport::Udp(header)) =
            (p.udp, p.msgs, p.frame.ip(), &p.frame.transport)
        {
            if self.opts.conn.is_none() {
                let flow = self.udp.entry(udp.flow).or_default();
                if flow.endpoints.is_none() {
                    let src = Endpoint(ip.src, header.sport).to_string();
                    let dst = Endpoint(ip.dst, header.dport).to_string();
                    flow.endpoints = Some(if udp.dir == Dir::C2S { (src, dst) } else { (dst, src) });
                }
                let payload = p.frame.transport_payload();
                let keep = payload.len().min(self.opts.preview.max(256));
                flow.previews.insert((udp.dir.idx(), carried.first), payload[..keep].to_vec());
            }
        }
        Ok(())
    }

    fn message(&mut self, m: &Message) -> io::Result<()> {
        match m.flow {
            FlowId::Udp(flow) => {
                if self.opts.conn.is_none() {
                    self.udp.entry(flow).or_default().messages[m.dir.idx()].push(m.clone());
                }
            }
            FlowId::Tcp(conn) => {
                if !self.wanted(conn) {
                } else if self.spooling {
                    let dir = &mut self.conns.entry(conn).or_default().dirs[m.dir.idx()];
                    self.scratch.clear();
                    encode_message(&mut self.scratch, m, &mut self.framings);
                    self.spool.append(&mut dir.spooled, &self.scratch);
                    if self.spool.over_budget() {
                        self.spool.spill(self.conns.values_mut().flat_map(|c| c.dirs.iter_mut().map(|d| &mut d.spooled)))?;
                    }
                } else {
                    self.conns.entry(conn).or_default().dirs[m.dir.idx()].messages.push(m.clone());
                }
            }
        }
        Ok(())
    }

    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        self.conn_owned(c.clone())
    }

    fn conn_owned(&mut self, record: ConnRecord) -> io::Result<()> {
        let id = record.summary.conn;
        if self.wanted(id) {
            let conn = self.conns.entry(id).or_default();
            let ConnRecord { summary, seams: [c2s, s2c], kept: [kept_c2s, kept_s2c] } = record;
            for (dir, (seams, kept)) in conn.dirs.iter_mut().zip([(c2s, kept_c2s), (s2c, kept_s2c)]) {
                dir.summary = seams.map(Box::new);
                dir.bytes = kept.bytes;
                dir.timeline = kept.timeline;
                dir.head = kept.head;
            }
            if conn.endpoints.is_none() {
                conn.endpoints = Some((summary.client.to_string(), summary.server.to_string()));
            }
            conn.summary = Some(Box::new(summary));
            return self.write_ready(false);
        }
        Ok(())
    }
    fn late(&mut self, _c: &Carried) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        self.write_ready(true)?;
        let nothing_tcp = self.shown == 0;
        self.found = match self.opts.conn {
            Some(id) if nothing_tcp => super::Found::Missing(id),
            None if nothing_tcp && self.udp.is_empty() => super::Found::Nothing,
            _ => super::Found::Shown,
        };
        if self.opts.follow.is_some() {
            // TCP only: a UDP flow has no stream to follow
            if self.opts.conn.is_none() && nothing_tcp {
                self.found = super::Found::Nothing;
            }
            return self.w.flush();
        }
        let mut out = String::new();
        for (id, flow) in &self.udp {
            render_udp(&mut out, *id, flow, &self.opts);
        }
        self.w.write_all(out.as_bytes())?;
        self.w.flush()
    }
}

fn follow_dir(d: &DirData) -> super::follow::FollowDir<'_> {
    super::follow::FollowDir { bytes: &d.bytes, timeline: &d.timeline, messages: &d.messages, segments: &d.segments }
}

/// A printable preview: `"GET / HTTP/1.1\r\n…"`, escapes for control bytes.
pub(crate) fn preview(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &x in b.iter().take(max) {
        crate::analyze::recv::push_escaped(&mut s, x);
    }
    s.push('"');
    if b.len() > max {
        s.push('…');
    }
    s
}

fn hexdump(out: &mut String, b: &[u8]) {
    let mut v = Vec::new();
    let _ = super::text::write_hex(&mut v, b, "            ");
    out.push_str(&String::from_utf8_lossy(&v));
}

fn list(v: &[u64]) -> String {
    // 4,5,6,9 → 4-6,9
    let mut s = String::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if !s.is_empty() {
            s.push(',');
        }
        if j > i + 1 {
            let _ = write!(s, "{}-{}", v[i], v[j]);
        } else if j == i + 1 {
            let _ = write!(s, "{},{}", v[i], v[j]);
        } else {
            let _ = write!(s, "{}", v[i]);
        }
        i = j + 1;
    }
    s
}

/// What the reader of a direction knows besides the direction's own data: when the connection
/// was established, how the direction ended, and when the reader itself sent its messages.
struct ReaderCx<'a> {
    established: Option<i64>,
    end: StreamEnd,
    sends: Vec<i64>,
    /// "c→s": the direction's label, naming its reader in words.
    reader_name: &'a str,
}

impl ReaderCx<'_> {
    /// Direction `dir` of a connection (0: client → server), read by the other endpoint.
    fn of<'a>(conn: &ConnData, dir: usize, reader_name: &'a str) -> ReaderCx<'a> {
        let summary = conn.summary.as_ref();
        let established = summary.and_then(|s| s.irtt.map(|rtt| s.first_ts.saturating_add(rtt)));
        let end = summary.map_or(StreamEnd::Open, |s| stream_end(&s.history, dir));
        let sends = conn.dirs[1 - dir].messages.iter().map(|m| m.first_ts).collect();
        ReaderCx { established, end, sends, reader_name }
    }
}

/// How direction `d` (0: the client's) ended, from the Zeek history letters (in order of first
/// occurrence; upper case: the client's). Only the direction's sender counts: its FIN (`F`/`f`)
/// gives `b''`, its reset (`R`/`r`) before that a failing call. A reset sent by the reader itself
/// (a program that closes with unread data) does not change what a later reader of the same bytes
/// would get; with neither letter from the sender, a reset by the reader ends its calls, and
/// otherwise the capture ended first.
pub(crate) fn stream_end(history: &str, dir: usize) -> StreamEnd {
    let (fin, rst, reader_rst) = if dir == 0 { ('F', 'R', 'r') } else { ('f', 'r', 'R') };
    match (history.find(fin), history.find(rst)) {
        (Some(f), Some(r)) if r < f => StreamEnd::Reset,
        (Some(_), _) => StreamEnd::Fin,
        (None, Some(_)) => StreamEnd::Reset,
        (None, None) if history.contains(reader_rst) => StreamEnd::ReaderReset,
        (None, None) => StreamEnd::Open,
    }
}

/// `word` or `words`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// Milliseconds with three decimals: `0.041 ms`.
fn ms(ns: i64) -> String {
    format!("{}.{:03} ms", ns / 1_000_000, (ns % 1_000_000) / 1_000)
}

/// A message's bytes, if kept (its first bytes, with [`StreamOptions::message_heads`]).
fn body_of<'d>(dir: &'d DirData, m: &'d Message, udp_previews: Option<(&'d Previews, usize)>) -> Option<&'d [u8]> {
    if let Some(head) = &m.head {
        return Some(head);
    }
    match udp_previews {
        Some((previews, side)) => previews.get(&(side, m.index)).map(|v| v.as_slice()),
        None => {
            let end = (m.offset + m.len) as usize;
            (end <= dir.bytes.len()).then(|| &dir.bytes[m.offset as usize..end])
        }
    }
}

/// Pairs of adjacent messages shown one by one before the rest are summed up.
const GLUE_SHOWN: usize = 6;

/// Messages that arrived in separate frames stick together in the receive buffer for a reader
/// that comes after the second one arrived: one line per pair, the glued bytes quoted.
fn render_glue(out: &mut String, dir: &DirData, opts: &StreamOptions) {
    let glue = buffer_glue(&dir.messages);
    if glue.is_empty() {
        return;
    }
    let by_index = |i: u64| dir.messages.iter().find(|m| m.index == i);
    for g in glue.iter().take(GLUE_SHOWN) {
        let (Some(a), Some(b)) = (by_index(g.first), by_index(g.first + 1)) else { continue };
        let both = match (body_of(dir, a, None), body_of(dir, b, None)) {
            (Some(x), Some(y)) => preview(&[x, y].concat(), opts.preview * 2),
            _ => "both".to_string(),
        };
        let _ = writeln!(
            out,
            "    msg {}|{} arrived {} apart: a recv() that comes later gets {both} in one call",
            g.first,
            g.first + 1,
            ms(g.gap_ns)
        );
    }
    if glue.len() > GLUE_SHOWN {
        let closest = glue.iter().min_by_key(|g| g.gap_ns).expect("not empty");
        let _ = writeln!(
            out,
            "    … {} more pairs arrived in separate frames (closest: msg {}|{}, {} apart); a late recv() glues them the same way",
            glue.len() - GLUE_SHOWN,
            closest.first,
            closest.first + 1,
            ms(closest.gap_ns)
        );
    }
}

/// What to try when no framing was recognised, from what the bytes look like.
fn suggest_framing(dir: &DirData) -> String {
    let mut tries: Vec<String> = Vec::new();
    let lens: Vec<u64> = dir.messages.iter().map(|m| m.len).collect();
    if lens.len() >= 2 && lens.windows(2).all(|w| w[0] == w[1]) {
        tries.push(format!("--framing fixed:{} (every chunk is {} bytes)", lens[0], lens[0]));
    }
    if let Some(head) = dir.head.first5() {
        let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let (v, order) = if le <= be { (le, "le") } else { (be, "be") };
        if v > 0 && u64::from(v) < 1 << 24 {
            if head[4] == b'{' {
                tries.push(format!("--framing jsonhdr:{order} (a {v}-byte JSON header after a 4-byte length)"));
            } else {
                tries.push(format!("--framing len:4:{order} (the first 4 bytes read {v} as a {order} integer)"));
            }
        }
    }
    if dir.head.newline {
        tries.push("--framing lines".to_string());
    }
    if tries.is_empty() {
        return "the sender's protocol decides where its messages end; if it uses fixed sizes, lines or length headers, try --framing fixed:N, lines or len:4:le".to_string();
    }
    format!("try {}", tries.join(", or "))
}

fn render_dir(
    out: &mut String,
    label: &str,
    dir: &DirData,
    opts: &StreamOptions,
    udp_previews: Option<(&Previews, usize)>,
    reader: Option<&ReaderCx<'_>>,
) {
    let pal = opts.palette;
    if dir.messages.is_empty() {
        let _ = writeln!(out, "  {label}: no payload");
        return;
    }
    let framing = match dir.summary.as_ref().and_then(|s| s.framing.as_ref()) {
        Some(det) => det.to_string(),
        None => dir.messages[0].framing.to_string(),
    };
    // Segment framing: the chunks are what segments delivered, not the sender's messages.
    let unknown = dir.messages.iter().all(|m| m.framing == FramingSpec::Segment);
    let _ = writeln!(out, "  {}{label}{}  framing {framing}", pal.start(style::PROTO), pal.reset());
    // which sticky messages each frame carries, to name the neighbours of sticky messages (in
    // an offloaded frame, those in other wire segments are not sticky with them)
    let mut by_frame: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for m in dir.messages.iter().filter(|m| m.sticky) {
        for f in &m.frames {
            by_frame.entry(*f).or_default().push(m.index);
        }
    }
    let _ = writeln!(out, "    {:>5}  {:>17}  {:>7}  {:<12} preview", if unknown { "chunk" } else { "msg" }, "bytes", "len", "frames");
    for m in &dir.messages {
        let range = format!("{}-{}", m.offset, (m.offset + m.len).saturating_sub(1));
        let frames = list(&m.frames);
        let body = body_of(dir, m, udp_previews);
        let pv = body.map_or_else(|| "(bytes not kept)".to_string(), |b| preview(b, opts.preview));
        let _ = write!(out, "    {:>5}  {range:>17}  {:>7}  {frames:<12} {pv}", m.index, m.len);
        let mut marks = Vec::new();
        if m.wire_unknown && !unknown {
            marks.push("sticky and split unknown: an offloaded frame, its MSS unknown".to_string());
        } else if m.sticky && !unknown {
            let mut others: Vec<u64> =
                m.frames.iter().flat_map(|f| by_frame.get(f).into_iter().flatten().copied()).filter(|i| *i != m.index).collect();
            others.sort_unstable();
            others.dedup();
            marks.push(format!("sticky: shares a frame with msg {}", list(&others)));
        }
        if m.split && udp_previews.is_some() {
            // IP fragmentation: the receiver's recvfrom() still gets the one datagram
            marks.push(format!("in {} IP fragments, reassembled: still one datagram", m.nframes));
        } else if m.split && !unknown && !m.wire_unknown {
            marks.push(if m.nframes > 1 {
                format!("split over {} frames", m.nframes)
            } else {
                "split over the wire segments of one offloaded frame".to_string()
            });
        }
        if !m.complete {
            marks.push("incomplete".to_string());
        }
        if !marks.is_empty() {
            let _ = write!(out, "  {}{}{}", pal.start(style::SEAM), marks.join("; "), pal.reset());
        }
        out.push('\n');
        if opts.hex {
            if let Some(b) = body {
                hexdump(out, b);
            }
        }
    }
    let wire_unknown = dir.messages.iter().any(|m| m.wire_unknown);
    let counts = |n: u64, sticky: u64, split: u64| {
        if wire_unknown && !unknown {
            format!("{n} {}, sticky unknown, split unknown (offloaded frames, MSS unknown)", plural(n, "message"))
        } else if unknown {
            format!("{n} {} as delivered, sticky unknown, split unknown", plural(n, "chunk"))
        } else if udp_previews.is_some() {
            let fragmented = if split > 0 { format!(", {split} sent in IP fragments") } else { String::new() };
            format!("{n} {}{fragmented}", plural(n, "datagram"))
        } else {
            format!("{n} {}, {sticky} sticky, {split} split", plural(n, "message"))
        }
    };
    if let Some(s) = &dir.summary {
        let _ = writeln!(
            out,
            "    {}, {} incomplete; largest {} bytes; segments per message max {} mean {:.1}; {} gaps ({} bytes), {} conflicting retransmissions",
            counts(s.messages, s.sticky, s.split),
            s.incomplete,
            s.largest,
            s.max_segments_per_message,
            s.mean_segments_per_message,
            s.gaps,
            s.gap_bytes,
            s.conflicts
        );
    } else {
        let sticky = dir.messages.iter().filter(|m| m.sticky).count() as u64;
        let split = dir.messages.iter().filter(|m| m.split).count() as u64;
        let _ = writeln!(out, "    {}", counts(dir.messages.len() as u64, sticky, split));
    }
    if unknown && udp_previews.is_none() {
        let _ = writeln!(
            out,
            "    {}message boundaries unknown{}: no framing recognised, so each chunk is what one segment delivered; {}",
            pal.start(style::SEAM),
            pal.reset(),
            suggest_framing(dir)
        );
    }
    if udp_previews.is_none() {
        render_glue(out, dir, opts);
    }
    if opts.recv.is_empty() {
        return;
    }
    if let Some((previews, side)) = udp_previews {
        render_recvfrom(out, dir, opts, previews, side);
        return;
    }
    if dir.timeline.is_empty() {
        return;
    }
    let Some(cx) = reader else { return };
    let r = Reader {
        sizes: &opts.recv,
        schedule: opts.recv_at,
        established: cx.established,
        sends: &cx.sends,
        end: cx.end,
        max_calls: 1_000_000,
    };
    let calls = simulate_reader(&dir.timeline, &dir.messages, &r);
    let n = opts.recv.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", then ");
    let _ = writeln!(
        out,
        "    {} recv({n}) {} by the {} reader, which {} ('|' marks a message boundary):",
        calls.len(),
        plural(calls.len() as u64, "call"),
        cx.reader_name,
        opts.recv_at.describe()
    );
    for call in calls.iter().take(200) {
        let _ = writeln!(out, "      {}", render_recv(call, &dir.bytes, &dir.messages, opts.preview.max(80)));
    }
    if calls.len() > 200 {
        let _ = writeln!(out, "      … {} more calls", calls.len() - 200);
    }
    if cx.end == StreamEnd::ReaderReset {
        let _ = writeln!(
            out,
            "      then the {} reader reset the connection (RST) before the sender closed: a program that closes its socket with unread data does this (RFC 2525 §2.17)",
            cx.reader_name
        );
    }
    let total = dir.timeline.last().map_or(0, |a| a.end);
    let read = calls.iter().map(|call| call.end).max().unwrap_or(0);
    if opts.recv_at == RecvSchedule::AfterSend && read < total {
        let filled = calls.iter().any(|call| call.returned == Returned::Bytes && call.end - call.start == call.asked as u64);
        let why = if filled {
            "; a recv() that fills its size leaves the rest of that reply in the buffer, and the next request's recv() returns it: replies shift"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "      {} bytes were never read: one recv() per request returns what is buffered when it is made, not one reply{why}",
            thousands(total - read)
        );
    }
}

/// `recvfrom(N)` on each datagram: a datagram larger than N is cut and the rest lost.
fn render_recvfrom(out: &mut String, dir: &DirData, opts: &StreamOptions, previews: &Previews, side: usize) {
    let calls = simulate_recvfrom(&dir.messages, &opts.recv);
    let _ = writeln!(out, "    {} recvfrom() {}, one datagram each:", calls.len(), plural(calls.len() as u64, "call"));
    for call in calls.iter().take(200) {
        let _ = writeln!(out, "      {}", recvfrom_text(call, previews.get(&(side, call.index)).map(Vec::as_slice), opts.preview));
    }
    if calls.len() > 200 {
        let _ = writeln!(out, "      … {} more calls", calls.len() - 200);
    }
}

/// One `recvfrom()` call in words, with the escaped preview of what it returned (`bytes`: the
/// datagram's first bytes, if kept); `stream` and the report page write the same line.
pub(crate) fn recvfrom_text(call: &RecvFromCall, bytes: Option<&[u8]>, preview_len: usize) -> String {
    let shown = bytes.map(|b| preview(&b[..b.len().min(call.returned as usize)], preview_len.min(40)));
    let pv = shown.map_or_else(String::new, |p| format!(" {p}"));
    if call.lost() > 0 {
        format!(
            "recvfrom #{} ({}) → {} of {} bytes{pv} (msg {}); {} lost: UDP does not keep the rest for the next call",
            call.call,
            call.asked,
            thousands(call.returned),
            thousands(call.len),
            call.index,
            thousands(call.lost())
        )
    } else {
        format!("recvfrom #{} ({}) → {} bytes{pv} (msg {}, whole)", call.call, call.asked, thousands(call.returned), call.index)
    }
}

/// LEB128.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

const FLAG_STICKY: u8 = 1;
const FLAG_SPLIT: u8 = 2;
const FLAG_WIRE_UNKNOWN: u8 = 4;
const FLAG_COMPLETE: u8 = 8;
const FLAG_HEAD: u8 = 16;

/// Appends message `m` of one direction to `out` as a record (its flow and direction are the
/// owner's; its framing is a number into `framings`, which gains it if new).
fn encode_message(out: &mut Vec<u8>, m: &Message, framings: &mut Vec<FramingSpec>) {
    let framing = match framings.iter().position(|f| *f == m.framing) {
        Some(i) => i,
        None => {
            framings.push(m.framing);
            framings.len() - 1
        }
    };
    let flags = [(m.sticky, FLAG_STICKY), (m.split, FLAG_SPLIT), (m.wire_unknown, FLAG_WIRE_UNKNOWN), (m.complete, FLAG_COMPLETE)]
        .iter()
        .fold(if m.head.is_some() { FLAG_HEAD } else { 0 }, |acc, &(on, f)| if on { acc | f } else { acc });
    out.push(flags);
    put_varint(out, framing as u64);
    put_varint(out, m.index);
    put_varint(out, m.offset);
    put_varint(out, m.len);
    put_varint(out, m.nframes);
    put_varint(out, m.frames.len() as u64);
    for &f in &m.frames {
        put_varint(out, f);
    }
    put_signed(out, m.first_ts);
    put_signed(out, m.last_ts.wrapping_sub(m.first_ts));
    if let Some(head) = &m.head {
        put_varint(out, head.len() as u64);
        out.extend_from_slice(head);
    }
}

/// Reads back the records [`encode_message`] wrote.
fn decode_messages(mut b: &[u8], flow: FlowId, dir: Dir, framings: &[FramingSpec]) -> io::Result<Vec<Message>> {
    fn bad() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "stream: a message record in the spool file is damaged")
    }
    fn varint(b: &mut &[u8]) -> io::Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&x, rest) = b.split_first().ok_or_else(bad)?;
            *b = rest;
            v |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad())
    }
    fn signed(b: &mut &[u8]) -> io::Result<i64> {
        let v = varint(b)?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }
    let mut out = Vec::new();
    while let Some((&flags, rest)) = b.split_first() {
        b = rest;
        let framing = *framings.get(varint(&mut b)? as usize).ok_or_else(bad)?;
        let (index, offset, len, nframes) = (varint(&mut b)?, varint(&mut b)?, varint(&mut b)?, varint(&mut b)?);
        let listed = varint(&mut b)? as usize;
        let mut frames = Vec::with_capacity(listed.min(b.len()));
        for _ in 0..listed {
            frames.push(varint(&mut b)?);
        }
        let first_ts = signed(&mut b)?;
        let last_ts = first_ts.wrapping_add(signed(&mut b)?);
        let head = if flags & FLAG_HEAD != 0 {
            let n = varint(&mut b)? as usize;
            if n > b.len() {
                return Err(bad());
            }
            let (h, rest) = b.split_at(n);
            b = rest;
            Some(h.to_vec())
        } else {
            None
        };
        out.push(Message {
            flow,
            dir,
            index,
            offset,
            len,
            framing,
            frames,
            nframes,
            sticky: flags & FLAG_STICKY != 0,
            split: flags & FLAG_SPLIT != 0,
            wire_unknown: flags & FLAG_WIRE_UNKNOWN != 0,
            complete: flags & FLAG_COMPLETE != 0,
            first_ts,
            last_ts,
            head,
        });
    }
    Ok(out)
}

fn render_conn(out: &mut String, id: u32, conn: &ConnData, opts: &StreamOptions) {
    let pal = opts.palette;
    let (cl, sv) = conn.endpoints.clone().unwrap_or_default();
    let _ = writeln!(out, "{}conn #{id}{}  client {cl}  ⇄  server {sv}", pal.start(style::PROTO), pal.reset());
    render_dir(out, "c→s", &conn.dirs[0], opts, None, Some(&ReaderCx::of(conn, 0, "server")));
    render_dir(out, "s→c", &conn.dirs[1], opts, None, Some(&ReaderCx::of(conn, 1, "client")));
    out.push('\n');
}

fn render_udp(out: &mut String, id: u32, flow: &UdpData, opts: &StreamOptions) {
    let pal = opts.palette;
    let (first, other) = flow.endpoints.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "{}udp flow {id}{}  {first}  ⇄  {other}   (UDP keeps boundaries: one datagram, one message)",
        pal.start(style::PROTO),
        pal.reset()
    );
    for (d, label) in [(0usize, "→"), (1, "←")] {
        let data = DirData { messages: flow.messages[d].clone(), ..DirData::default() };
        render_dir(out, label, &data, opts, Some((&flow.previews, d)), None);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lists_compress() {
        assert_eq!(list(&[4, 5, 6, 9]), "4-6,9");
        assert_eq!(list(&[1, 2]), "1,2");
        assert_eq!(list(&[7]), "7");
    }

    #[test]
    fn previews_escape() {
        assert_eq!(preview(b"GET /\r\n", 20), "\"GET /\\r\\n\"");
        assert_eq!(preview(b"\x00\x01abc", 3), "\"\\x00\\x01a\"…");
    }

    /// Collects a run's messages and connection records, to replay them in another order.
    #[derive(Default)]
    struct Recorded {
        messages: Vec<Message>,
        records: Vec<ConnRecord>,
    }

    impl Sink for Recorded {
        fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
            Ok(())
        }
        fn message(&mut self, m: &Message) -> io::Result<()> {
            self.messages.push(m.clone());
            Ok(())
        }
        fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
            self.records.push(c.clone());
            Ok(())
        }
    }

    fn options(conn: Option<u32>) -> StreamOptions {
        StreamOptions {
            conn,
            hex: false,
            recv: Vec::new(),
            recv_at: RecvSchedule::Arrival,
            preview: 48,
            palette: Palette::off(),
            follow: None,
            keep_mib: 16,
        }
    }

    /// A connection is written as soon as it and every one before it are over, not at the end:
    /// one that ends before an earlier one waits for it.
    #[test]
    fn connections_are_written_in_id_order_as_they_end() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/many.pcap");
        let mut run = Recorded::default();
        crate::pipeline::run_file(&crate::pipeline::ReadOptions::new(path), &mut run).unwrap();
        let record = |id: u32| run.records.iter().find(|r| r.summary.conn == id).unwrap().clone();
        let mut sink = StreamSink::new(Vec::new(), options(None));
        for m in run.messages.iter().filter(|m| matches!(m.flow, FlowId::Tcp(0..=2))) {
            sink.message(m).unwrap();
        }
        sink.conn_owned(record(1)).unwrap();
        assert!(sink.w.is_empty(), "#1 waits for #0");
        sink.conn_owned(record(0)).unwrap();
        let text = String::from_utf8(sink.w.clone()).unwrap();
        let (at0, at1) = (text.find("conn #0 ").unwrap(), text.find("conn #1 ").unwrap());
        assert!(at0 < at1 && !text.contains("conn #2 "), "{text}");
        let written = sink.w.len();
        sink.conn_owned(record(2)).unwrap();
        assert!(sink.w.len() > written && sink.conns.is_empty(), "nothing is kept once written");
        sink.finish(&RunSummary::default()).unwrap();
        assert_eq!(sink.found(), crate::output::Found::Shown);

        // --conn N: N alone, as soon as it is over
        let mut one = StreamSink::new(Vec::new(), options(Some(2)));
        for m in &run.messages {
            one.message(m).unwrap();
        }
        one.conn_owned(record(2)).unwrap();
        let text = String::from_utf8(one.w.clone()).unwrap();
        assert!(text.starts_with("conn #2 ") && !text.contains("conn #0 "), "{text}");
    }

    /// Fixtures with framed, unframed (segment), glued, gapped and lossy streams.
    const FIXTURES: [&str; 10] = [
        "many.pcap",
        "gaps.pcap",
        "framed.pcap",
        "lines.pcap",
        "http.pcap",
        "loss.pcap",
        "lossy-stream.pcap",
        "midstream.pcap",
        "app-tls.pcap",
        "gen-hello-world.pcap",
    ];

    fn run_with(name: &str, keep_bytes: usize, heads: Option<usize>, sink: &mut dyn Sink) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
        let mut opts = crate::pipeline::ReadOptions::new(path);
        let seams = opts.seams.as_mut().unwrap();
        seams.keep_bytes = keep_bytes;
        seams.message_heads = heads;
        crate::pipeline::run_file(&opts, sink).unwrap();
    }

    /// A message's head is the start of the bytes the kept prefix holds for it (`None` where
    /// the prefix does not hold it all), and the stream head is that of the prefix.
    #[test]
    fn message_heads_are_the_kept_prefix() {
        for name in FIXTURES {
            for keep in [1 << 20, 100] {
                let (mut prefix, mut heads) = (Recorded::default(), Recorded::default());
                run_with(name, keep, None, &mut prefix);
                run_with(name, keep, Some(9), &mut heads);
                assert_eq!(prefix.messages.len(), heads.messages.len(), "{name}");
                let kept = |r: &Recorded, m: &Message| {
                    r.records
                        .iter()
                        .find(|r| FlowId::Tcp(r.summary.conn) == m.flow)
                        .map(|r| r.kept[m.dir.idx()].clone())
                        .unwrap_or_default()
                };
                for (p, h) in prefix.messages.iter().zip(&heads.messages) {
                    assert!(p.head.is_none(), "{name}: no heads unless asked");
                    if let FlowId::Udp(_) = p.flow {
                        continue;
                    }
                    let bytes = kept(&prefix, p).bytes;
                    let end = (p.offset + p.len) as usize;
                    let want = (end <= bytes.len()).then(|| bytes[p.offset as usize..end.min(p.offset as usize + 9)].to_vec());
                    assert_eq!(h.head, want, "{name} keep {keep}: message {:?} {} {}", p.flow, p.dir.idx(), p.index);
                    let mut h = h.clone();
                    h.head = None;
                    assert_eq!(&h, p, "{name}: the rest of the message is the same");
                }
                for (p, h) in prefix.records.iter().zip(&heads.records) {
                    for d in 0..2 {
                        assert_eq!(p.kept[d].head, StreamHead::of(&p.kept[d].bytes), "{name}");
                        assert_eq!(h.kept[d].head, p.kept[d].head, "{name}");
                        assert!(h.kept[d].bytes.is_empty(), "{name}: no prefix with message heads");
                    }
                }
            }
        }
    }

    /// The output from message heads, spooled to the file past a tiny budget, is the output
    /// from the kept prefix, byte for byte.
    #[test]
    fn spooled_heads_write_what_the_prefix_wrote() {
        for name in FIXTURES {
            for preview in [4, 48] {
                let mut opts = options(None);
                opts.preview = preview;
                let heads = opts.message_heads();
                assert_eq!(heads, Some(2 * preview + 1));
                let mut spooled = StreamSink::new(Vec::new(), opts.clone());
                spooled.spool = Spool::new(64);
                run_with(name, 16 << 20, heads, &mut spooled);
                let mut whole = StreamSink::new(Vec::new(), opts);
                whole.spooling = false;
                run_with(name, 16 << 20, None, &mut whole);
                assert!(!whole.w.is_empty(), "{name}");
                assert_eq!(String::from_utf8_lossy(&spooled.w), String::from_utf8_lossy(&whole.w), "{name} preview {preview}");
                if name == "many.pcap" {
                    assert!(spooled.spool.spilled() > 0, "the spool file was used");
                }
                assert_eq!(spooled.spool.buffered(), 0, "{name}: nothing left buffered");
            }
        }
    }

    /// Options that need the stream itself keep the prefix.
    #[test]
    fn options_needing_the_stream_keep_the_prefix() {
        let mut o = options(None);
        o.hex = true;
        assert_eq!(o.message_heads(), None);
        let mut o = options(None);
        o.recv = vec![10];
        assert_eq!(o.message_heads(), None);
        assert_eq!(options(Some(3)).message_heads(), None);
    }

    #[test]
    fn stream_end_counts_only_the_sender() {
        // The server read part of the data and closed: its RST (`r`) came before the client's FIN.
        assert_eq!(stream_end("ShADadrF", 0), StreamEnd::Fin);
        assert_eq!(stream_end("ShADadrF", 1), StreamEnd::Reset);
        assert_eq!(stream_end("ShADaR", 0), StreamEnd::Reset);
        assert_eq!(stream_end("ShADaRF", 0), StreamEnd::Reset);
        assert_eq!(stream_end("ShADad", 0), StreamEnd::Open);
        assert_eq!(stream_end("ShADadr", 0), StreamEnd::ReaderReset);
    }
}
