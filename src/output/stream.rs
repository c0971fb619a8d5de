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
    o: StreamOptions,
    conns: BTreeMap<u32, ConnData>,
    udp: BTreeMap<u32, UdpData>,
}

impl<W: Write> StreamSink<W> {
    /// A sink writing to `w` what `o` asks for.
    pub fn new(w: W, o: StreamOptions) -> Self {
        StreamSink { w, o, conns: BTreeMap::new(), udp: BTreeMap::new() }
    }

    fn wanted(&self, conn: u32) -> bool {
        self.o.conn.is_none_or(|c| c == conn)
    }
}

impl<W: Write> Sink for StreamSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        if let (Some(si), Some(t), Some(ip)) = (p.tcp, p.frame.tcp(), p.frame.ip()) {
            if self.wanted(si.conn) {
                let c = self.conns.entry(si.conn).or_default();
                if c.endpoints.is_none() {
                    let a = Endpoint(ip.src, t.sport).to_string();
                    let b = Endpoint(ip.dst, t.dport).to_string();
                    c.endpoints = Some(if si.dir == Dir::C2S { (a, b) } else { (b, a) });
                }
            }
        }
        if let (Some(udp), MsgNote::Known(c), Some(ip), crate::decode::Transport::Udp(u)) =
            (p.udp, p.msgs, p.frame.ip(), &p.frame.transport)
        {
            if self.o.conn.is_none() {
                let d = self.udp.entry(udp.flow).or_default();
                if d.endpoints.is_none() {
                    let a = Endpoint(ip.src, u.sport).to_string();
                    let b = Endpoint(ip.dst, u.dport).to_string();
                    d.endpoints = Some(if udp.dir == Dir::C2S { (a, b) } else { (b, a) });
                }
                let keep = p.frame.payload.len().min(self.o.preview.max(256));
                d.previews.insert((udp.dir.idx(), c.first), p.frame.payload[..keep].to_vec());
            }
        }
        Ok(())
    }

    fn message(&mut self, m: &Message) -> io::Result<()> {
        match m.flow {
            FlowId::Udp(flow) => {
                if self.o.conn.is_none() {
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
        let s = &record.summary;
        if self.wanted(s.conn) {
            let c = self.conns.entry(s.conn).or_default();
            let ConnRecord { summary, seams: [c2s, s2c], kept: [kept_c2s, kept_s2c] } = record;
            for (d, (seams, kept)) in c.dirs.iter_mut().zip([(c2s, kept_c2s), (s2c, kept_s2c)]) {
                d.summary = seams;
                d.bytes = kept.bytes;
                d.timeline = kept.timeline;
            }
            c.done = true;
            if c.endpoints.is_none() {
                c.endpoints = Some((summary.client.to_string(), summary.server.to_string()));
            }
        }
        Ok(())
    }
    fn late(&mut self, _c: &Carried) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        if let Some(id) = self.o.conn {
            if !self.conns.contains_key(&id) {
                writeln!(self.w, "no TCP connection #{id} in this input (connections are numbered from 0; see `wireseam conns`)")?;
            }
        }
        let mut out = String::new();
        for (id, c) in &self.conns {
            render_conn(&mut out, *id, c, &self.o);
        }
        for (id, u) in &self.udp {
            render_udp(&mut out, *id, u, &self.o);
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

fn render_dir(out: &mut String, label: &str, d: &DirData, o: &StreamOptions, udp_previews: Option<(&Previews, usize)>) {
    let pal = o.palette;
    if d.messages.is_empty() {
        let _ = writeln!(out, "  {label}: no payload");
        return;
    }
    let framing = match d.summary.as_ref().and_then(|s| s.framing.as_ref()) {
        Some(det) => det.to_string(),
        None => d.messages[0].framing.to_string(),
    };
    let _ = writeln!(out, "  {}{label}{}  framing {framing}", pal.start(style::PROTO), pal.reset());
    // which messages each frame carries, to name the neighbours of sticky messages
    let mut by_frame: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for m in &d.messages {
        for f in &m.frames {
            by_frame.entry(*f).or_default().push(m.index);
        }
    }
    let _ = writeln!(out, "    {:>5}  {:>17}  {:>7}  {:<12} preview", "msg", "bytes", "len", "frames");
    for m in &d.messages {
        let range = format!("{}-{}", m.offset, (m.offset + m.len).saturating_sub(1));
        let frames = list(&m.frames);
        let body: Option<&[u8]> = match udp_previews {
            Some((p, dir)) => p.get(&(dir, m.index)).map(|v| v.as_slice()),
            None => {
                let end = (m.offset + m.len) as usize;
                (end <= d.bytes.len()).then(|| &d.bytes[m.offset as usize..end])
            }
        };
        let pv = body.map_or_else(|| "(bytes not kept)".to_string(), |b| preview(b, o.preview));
        let _ = write!(out, "    {:>5}  {range:>17}  {:>7}  {frames:<12} {pv}", m.index, m.len);
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
        if o.hex {
            if let Some(b) = body {
                hexdump(out, b);
            }
        }
    }
    if let Some(s) = &d.summary {
        let _ = writeln!(
            out,
            "    {} messages, {} sticky, {} split, {} incomplete; largest {} bytes; segments per message max {} mean {:.1}; {} gaps ({} bytes), {} conflicting retransmissions",
            s.messages, s.sticky, s.split, s.incomplete, s.largest, s.max_segments_per_message, s.mean_segments_per_message, s.gaps, s.gap_bytes, s.conflicts
        );
    } else {
        let sticky = d.messages.iter().filter(|m| m.sticky).count();
        let split = d.messages.iter().filter(|m| m.split).count();
        let _ = writeln!(out, "    {} messages, {sticky} sticky, {split} split", d.messages.len());
    }
    if !o.recv.is_empty() && !d.timeline.is_empty() {
        let calls = simulate_recv_sizes(&d.timeline, &d.messages, &o.recv, o.slow_ms, 1_000_000);
        let n = o.recv.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", then ");
        let how = match o.slow_ms {
            Some(ms) => format!("an application that wakes every {ms} ms and calls recv({n}) until nothing is left"),
            None => format!("an application that calls recv({n}) each time data arrives"),
        };
        let _ = writeln!(out, "    {} recv() calls by {how} ('|' marks a message boundary):", calls.len());
        for c in calls.iter().take(200) {
            let _ = writeln!(out, "      {}", render_recv(c, &d.bytes, &d.messages, 80));
        }
        if calls.len() > 200 {
            let _ = writeln!(out, "      … {} more calls", calls.len() - 200);
        }
    }
}

fn render_conn(out: &mut String, id: u32, c: &ConnData, o: &StreamOptions) {
    let pal = o.palette;
    let (cl, sv) = c.endpoints.clone().unwrap_or_default();
    let _ = writeln!(out, "{}conn #{id}{}  client {cl}  ⇄  server {sv}", pal.start(style::PROTO), pal.reset());
    render_dir(out, "c→s", &c.dirs[0], o, None);
    render_dir(out, "s→c", &c.dirs[1], o, None);
    out.push('\n');
}

fn render_udp(out: &mut String, id: u32, u: &UdpData, o: &StreamOptions) {
    let pal = o.palette;
    let (a, b) = u.endpoints.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "{}udp flow {id}{}  {a}  ⇄  {b}   (UDP keeps boundaries: one datagram, one message)",
        pal.start(style::PROTO),
        pal.reset()
    );
    for (d, label) in [(0usize, "→"), (1, "←")] {
        let data = DirData { messages: u.messages[d].clone(), ..DirData::default() };
        render_dir(out, label, &data, o, Some((&u.previews, d)));
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
