//! `wireseam stream`: per connection and direction, every application message with its byte
//! range, a preview (or hexdump), the frames that carried it, sticky/split marks naming the other
//! messages and frames, a per-direction summary, and optionally what `recv(N)` calls would return.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::style::{self, Palette};
use super::Endpoint;
use crate::analyze::{render_recv, simulate_recv_sizes, Arrival, Carried, DirSummary, Message};
use crate::pipeline::{ConnRecord, MsgNote, PacketView, RunSummary, Sink};
use crate::track::{Dir, FlowId};

/// What `wireseam stream` shows.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// Only this TCP connection (UDP flows are shown when no connection is chosen).
    pub conn: Option<u32>,
    /// A hexdump of every message under its line.
    pub hex: bool,
    /// Simulate an application calling `recv(N)` with these sizes (the last repeats; empty: no
    /// simulation) ...
    pub recv: Vec<usize>,
    /// ... that wakes up only every `slow` milliseconds.
    pub slow_ms: Option<u64>,
    /// Bytes of each message shown in the preview.
    pub preview: usize,
    /// Colours of the text (as `--color` chose).
    pub palette: Palette,
}

#[derive(Default)]
struct DirData {
    messages: Vec<Message>,
    bytes: Vec<u8>,
    timeline: Vec<Arrival>,
    summary: Option<DirSummary>,
}

#[derive(Default)]
struct ConnData {
    endpoints: Option<(String, String)>,
    dirs: [DirData; 2],
    done: bool,
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

/// The sink of `wireseam stream`: keeps every message and connection record, and writes them
/// all, per connection and direction, when the run finishes.
pub struct StreamSink<W: Write> {
    w: W,
    opts: StreamOptions,
    conns: BTreeMap<u32, ConnData>,
    udp: BTreeMap<u32, UdpData>,
}

impl<W: Write> StreamSink<W> {
    /// A sink writing to `w` what `o` asks for.
    pub fn new(w: W, opts: StreamOptions) -> Self {
        StreamSink { w, opts, conns: BTreeMap::new(), udp: BTreeMap::new() }
    }

    fn wanted(&self, conn: u32) -> bool {
        self.opts.conn.is_none_or(|c| c == conn)
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
                let keep = p.frame.payload.len().min(self.opts.preview.max(256));
                flow.previews.insert((udp.dir.idx(), carried.first), p.frame.payload[..keep].to_vec());
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
                if self.wanted(conn) {
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
                dir.summary = seams;
                dir.bytes = kept.bytes;
                dir.timeline = kept.timeline;
            }
            conn.done = true;
            if conn.endpoints.is_none() {
                conn.endpoints = Some((summary.client.to_string(), summary.server.to_string()));
            }
        }
        Ok(())
    }
    fn late(&mut self, _c: &Carried) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        if let Some(id) = self.opts.conn {
            if !self.conns.contains_key(&id) {
                writeln!(self.w, "no TCP connection #{id} in this input (connections are numbered from 0; see `wireseam conns`)")?;
            }
        }
        let mut out = String::new();
        for (id, conn) in &self.conns {
            render_conn(&mut out, *id, conn, &self.opts);
        }
        for (id, flow) in &self.udp {
            render_udp(&mut out, *id, flow, &self.opts);
        }
        self.w.write_all(out.as_bytes())?;
        self.w.flush()
    }
}

/// A printable preview: `"GET / HTTP/1.1\r\n…"`, escapes for control bytes.
fn preview(b: &[u8], max: usize) -> String {
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

fn render_dir(out: &mut String, label: &str, dir: &DirData, opts: &StreamOptions, udp_previews: Option<(&Previews, usize)>) {
    let pal = opts.palette;
    if dir.messages.is_empty() {
        let _ = writeln!(out, "  {label}: no payload");
        return;
    }
    let framing = match dir.summary.as_ref().and_then(|s| s.framing.as_ref()) {
        Some(det) => det.to_string(),
        None => dir.messages[0].framing.to_string(),
    };
    let _ = writeln!(out, "  {}{label}{}  framing {framing}", pal.start(style::PROTO), pal.reset());
    // which messages each frame carries, to name the neighbours of sticky messages
    let mut by_frame: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for m in &dir.messages {
        for f in &m.frames {
            by_frame.entry(*f).or_default().push(m.index);
        }
    }
    let _ = writeln!(out, "    {:>5}  {:>17}  {:>7}  {:<12} preview", "msg", "bytes", "len", "frames");
    for m in &dir.messages {
        let range = format!("{}-{}", m.offset, (m.offset + m.len).saturating_sub(1));
        let frames = list(&m.frames);
        let body: Option<&[u8]> = match udp_previews {
            Some((previews, at)) => previews.get(&(at, m.index)).map(|v| v.as_slice()),
            None => {
                let end = (m.offset + m.len) as usize;
                (end <= dir.bytes.len()).then(|| &dir.bytes[m.offset as usize..end])
            }
        };
        let shown = body.map_or_else(|| "(bytes not kept)".to_string(), |b| preview(b, opts.preview));
        let _ = write!(out, "    {:>5}  {range:>17}  {:>7}  {frames:<12} {shown}", m.index, m.len);
        let mut marks = Vec::new();
        if m.sticky {
            let mut others: Vec<u64> =
                m.frames.iter().flat_map(|f| by_frame.get(f).into_iter().flatten().copied()).filter(|i| *i != m.index).collect();
            others.sort_unstable();
            others.dedup();
            marks.push(format!("sticky: shares a frame with msg {}", list(&others)));
        }
        if m.split {
            marks.push(format!("split over {} frames", m.nframes));
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
    if let Some(sum) = &dir.summary {
        let _ = writeln!(
            out,
            "    {} messages, {} sticky, {} split, {} incomplete; largest {} bytes; segments per message max {} mean {:.1}; {} gaps ({} bytes), {} conflicting retransmissions",
            sum.messages,
            sum.sticky,
            sum.split,
            sum.incomplete,
            sum.largest,
            sum.max_segments_per_message,
            sum.mean_segments_per_message,
            sum.gaps,
            sum.gap_bytes,
            sum.conflicts
        );
    } else {
        let sticky = dir.messages.iter().filter(|m| m.sticky).count();
        let split = dir.messages.iter().filter(|m| m.split).count();
        let _ = writeln!(out, "    {} messages, {sticky} sticky, {split} split", dir.messages.len());
    }
    if !opts.recv.is_empty() && !dir.timeline.is_empty() {
        let calls = simulate_recv_sizes(&dir.timeline, &dir.messages, &opts.recv, opts.slow_ms, 1_000_000);
        let sizes = opts.recv.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", then ");
        let how = match opts.slow_ms {
            Some(ms) => format!("an application that wakes every {ms} ms and calls recv({sizes}) until nothing is left"),
            None => format!("an application that calls recv({sizes}) each time data arrives"),
        };
        let _ = writeln!(out, "    {} recv() calls by {how} ('|' marks a message boundary):", calls.len());
        for c in calls.iter().take(200) {
            let _ = writeln!(out, "      {}", render_recv(c, &dir.bytes, &dir.messages, 80));
        }
        if calls.len() > 200 {
            let _ = writeln!(out, "      … {} more calls", calls.len() - 200);
        }
    }
}

fn render_conn(out: &mut String, id: u32, conn: &ConnData, opts: &StreamOptions) {
    let pal = opts.palette;
    let (client, server) = conn.endpoints.clone().unwrap_or_default();
    let _ = writeln!(out, "{}conn #{id}{}  client {client}  ⇄  server {server}", pal.start(style::PROTO), pal.reset());
    render_dir(out, "c→s", &conn.dirs[0], opts, None);
    render_dir(out, "s→c", &conn.dirs[1], opts, None);
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
    for (dir, label) in [(0usize, "→"), (1, "←")] {
        let data = DirData { messages: flow.messages[dir].clone(), ..DirData::default() };
        render_dir(out, label, &data, opts, Some((&flow.previews, dir)));
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
}
