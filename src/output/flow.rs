//! `wireseam flow`: a terminal ladder (sequence) diagram per TCP connection. Two columns, client
//! and server; an arrow per segment labelled with flags, relative seq/ack, length and window; each
//! side's state written beside its column when it changes, so the handshake and the close read
//! like a textbook figure. Runs of uneventful segments fold into one line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::conns::group;
use super::style::{self, Palette};
use super::time::secs_string;
use super::{Endpoint, FlagLetters};
use crate::decode::tcpflags;
use crate::pipeline::{PacketView, RunSummary, Sink};
use crate::track::tcp::{ConnSummary, Dir, SegInfo, TcpState};

#[derive(Clone, Copy, Debug)]
pub struct FlowOptions {
    /// Only this connection.
    pub conn: Option<u32>,
    /// Fold runs of more than this many uneventful segments (0 = never fold).
    pub fold: usize,
    pub palette: Palette,
}

struct Event {
    n: u64,
    rel_ns: i64,
    flags: u8,
    len: u32,
    win: u16,
    mss: Option<u16>,
    ws: Option<u8>,
    si: SegInfo,
}

impl Event {
    /// Nothing a reader must see: plain data or ACK, no state change, no analysis flag.
    fn uneventful(&self, prev: (TcpState, TcpState)) -> bool {
        self.flags & (tcpflags::SYN | tcpflags::FIN | tcpflags::RST) == 0
            && self.si.analysis.is_empty()
            && (self.si.client, self.si.server) == prev
    }
}

struct Conn {
    endpoints: Option<(String, String)>,
    events: Vec<Event>,
}

pub struct FlowSink<W: Write> {
    w: W,
    o: FlowOptions,
    conns: BTreeMap<u32, Conn>,
    summaries: BTreeMap<u32, ConnSummary>,
}

impl<W: Write> FlowSink<W> {
    pub fn new(w: W, o: FlowOptions) -> Self {
        FlowSink { w, o, conns: BTreeMap::new(), summaries: BTreeMap::new() }
    }
}

const MID: usize = 58;
const STATE_W: usize = 12;

impl<W: Write> Sink for FlowSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        let (Some(si), Some(tcp), Some(ip)) = (p.tcp, p.frame.tcp(), p.frame.ip()) else { return Ok(()) };
        if self.o.conn.is_some_and(|c| c != si.conn) {
            return Ok(());
        }
        let c = self.conns.entry(si.conn).or_insert(Conn { endpoints: None, events: Vec::new() });
        if c.endpoints.is_none() {
            let a = Endpoint(ip.src, tcp.sport).to_string();
            let b = Endpoint(ip.dst, tcp.dport).to_string();
            c.endpoints = Some(if si.dir == Dir::C2S { (a, b) } else { (b, a) });
        }
        c.events.push(Event {
            n: p.n,
            rel_ns: p.rel_ns,
            flags: tcp.flags,
            len: tcp.len,
            win: tcp.win,
            mss: tcp.opts.mss,
            ws: tcp.opts.ws,
            si,
        });
        Ok(())
    }

    fn conn(&mut self, record: &crate::pipeline::ConnRecord) -> io::Result<()> {
        let c = &record.summary;
        if self.o.conn.is_none_or(|id| id == c.conn) {
            self.summaries.insert(c.conn, c.clone());
        }
        Ok(())
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        if let Some(id) = self.o.conn {
            if !self.conns.contains_key(&id) {
                writeln!(self.w, "no TCP connection #{id} in this input (connections are numbered from 0; see `wireseam conns`)")?;
            }
        }
        let conns = std::mem::take(&mut self.conns);
        let mut first = true;
        for (id, c) in conns {
            if !first {
                writeln!(self.w)?;
            }
            first = false;
            let s = render(id, &c, self.summaries.get(&id), &self.o);
            self.w.write_all(s.as_bytes())?;
        }
        self.w.flush()
    }
}

fn label(e: &Event) -> String {
    let mut s = String::new();
    let _ = write!(s, "{} seq {}", FlagLetters(e.flags), e.si.rseq);
    if e.len > 0 {
        let _ = write!(s, ":{}", e.si.rseq.wrapping_add(e.len));
    }
    if let Some(a) = e.si.rack {
        let _ = write!(s, " ack {a}");
    }
    if e.len > 0 {
        let _ = write!(s, " len {}", e.len);
    }
    match e.si.win_scaled {
        Some(w) => {
            let _ = write!(s, " win {w}");
        }
        None => {
            let _ = write!(s, " win {}?", e.win);
        }
    }
    if let Some(m) = e.mss {
        let _ = write!(s, " mss {m}");
    }
    if let Some(w) = e.ws {
        let _ = write!(s, " ws {w}");
    }
    s
}

fn notes(e: &Event) -> String {
    let mut s = String::new();
    for name in e.si.analysis.names() {
        if !s.is_empty() {
            s.push_str(", ");
        }
        if name == "duplicate_ack" {
            let _ = write!(s, "dup ack #{}", e.si.dup_ack_num);
        } else {
            s.push_str(&name.replace('_', " "));
        }
    }
    s
}

/// The arrow between the two columns, exactly MID columns wide.
fn arrow(dir: Dir, text: &str) -> String {
    let mut text: String = text.chars().take(MID - 6).collect();
    let used = text.chars().count() + 4; // spaces and head
    let dashes = MID.saturating_sub(used);
    let line = "─".repeat(dashes);
    match dir {
        Dir::C2S => format!(" {text} {line}▶ "),
        Dir::S2C => {
            text = format!(" ◀{line} {text} ");
            text
        }
    }
}

fn state_cell(s: Option<TcpState>) -> String {
    format!("{:>STATE_W$}", s.map_or("", |s| s.name()))
}

fn render(id: u32, c: &Conn, sum: Option<&ConnSummary>, o: &FlowOptions) -> String {
    let pal = o.palette;
    let mut out = String::new();
    let (cl, sv) = c.endpoints.clone().unwrap_or_default();
    let _ = writeln!(out, "{}conn #{id}{}  client {cl}  ⇄  server {sv}", pal.start(style::PROTO), pal.reset());
    let pad = " ".repeat(20);
    let _ = writeln!(out, "{pad}{:>STATE_W$} │{:^MID$}│ server", "client", "");
    // States before the first segment: what the first segment implies.
    let first = &c.events[0];
    let (c0, s0) = if first.flags & tcpflags::SYN != 0 && first.flags & tcpflags::ACK == 0 {
        (TcpState::Closed, TcpState::Listen)
    } else {
        (TcpState::Unknown, TcpState::Unknown)
    };
    let _ = writeln!(out, "{pad}{} │{:MID$}│ {}", state_cell(Some(c0)), "", s0.name());
    let mut prev = (c0, s0);
    let mut i = 0;
    let ev = &c.events;
    while i < ev.len() {
        // A run of uneventful segments starting at i?
        let mut j = i;
        let mut st = prev;
        while j < ev.len() && ev[j].uneventful(st) {
            st = (ev[j].si.client, ev[j].si.server);
            j += 1;
        }
        if o.fold > 0 && j - i > o.fold {
            // first two, a fold line, the last one
            for e in &ev[i..i + 2] {
                line(&mut out, e, &mut prev, pal);
            }
            let hidden = &ev[i + 2..j - 1];
            let (mut n, mut b) = ([0u64; 2], [0u64; 2]);
            for e in hidden {
                n[e.si.dir.idx()] += 1;
                b[e.si.dir.idx()] += e.len as u64;
            }
            let text = format!(
                "⋮ {} more (frames {}–{}): {} c→s {} B, {} s→c {} B",
                hidden.len(),
                hidden[0].n,
                hidden[hidden.len() - 1].n,
                n[0],
                group(b[0]),
                n[1],
                group(b[1]),
            );
            let text: String = text.chars().take(MID - 2).collect();
            let _ = writeln!(out, "{pad}{} │{}{:^MID$}{}│", state_cell(None), pal.start(style::DIM), text, pal.reset());
            line(&mut out, &ev[j - 1], &mut prev, pal);
            i = j;
            continue;
        }
        let stop = if j > i { j } else { i + 1 };
        for e in &ev[i..stop] {
            line(&mut out, e, &mut prev, pal);
        }
        i = stop;
    }
    if let Some(s) = sum {
        let _ = write!(out, "{pad}client {} · server {} · {} {} · ", s.client_state.name(), s.server_state.name(), s.conn_state, s.history);
        if let Some(r) = s.irtt {
            let _ = write!(out, "iRTT {:.3} ms · ", r as f64 / 1e6);
        }
        let _ = writeln!(
            out,
            "{}/{} packets · {}/{} bytes · {} retransmissions",
            s.packets[0],
            s.packets[1],
            group(s.bytes[0]),
            group(s.bytes[1]),
            s.retransmissions
        );
        for (who, st) in [("client", s.client_state), ("server", s.server_state)] {
            let why = match st {
                TcpState::TimeWait => "closed first: waits 2×MSL in TIME-WAIT before the port pair can be reused",
                TcpState::CloseWait => "got the peer's FIN but its application never closed (CLOSE-WAIT)",
                TcpState::FinWait2 => "sent FIN, acknowledged; still waiting for the peer's FIN",
                _ => continue,
            };
            let _ = writeln!(out, "{pad}{who} {why}");
        }
    }
    out
}

fn line(out: &mut String, e: &Event, prev: &mut (TcpState, TcpState), pal: Palette) {
    let cs = (e.si.client != prev.0).then_some(e.si.client);
    let ss = (e.si.server != prev.1).then_some(e.si.server);
    *prev = (e.si.client, e.si.server);
    let st = if e.flags & tcpflags::RST != 0 {
        style::RST
    } else if e.flags & tcpflags::SYN != 0 {
        style::SYN
    } else if e.flags & tcpflags::FIN != 0 {
        style::FIN
    } else {
        anstyle::Style::new()
    };
    // microseconds always: the ladder's columns stay aligned for nanosecond captures too
    let _ = write!(out, "{:>6}  {:>10}  ", e.n, secs_string(e.rel_ns, false));
    let _ = write!(out, "{}{}{} │", pal.start(style::STATE), state_cell(cs), pal.reset());
    let _ = write!(out, "{}{}{}│ ", pal.start(st), arrow(e.si.dir, &label(e)), pal.reset());
    let server = ss.map_or("", |s| s.name());
    let n = notes(e);
    if n.is_empty() {
        let _ = writeln!(out, "{}{server}{}", pal.start(style::STATE), pal.reset());
    } else {
        let _ = writeln!(out, "{}{server:<STATE_W$}{}  {}{n}{}", pal.start(style::STATE), pal.reset(), pal.start(style::WARN), pal.reset());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_have_fixed_width() {
        for d in [Dir::C2S, Dir::S2C] {
            assert_eq!(arrow(d, "[S] seq 0").chars().count(), MID);
            assert_eq!(arrow(d, &"x".repeat(200)).chars().count(), MID);
        }
        assert!(arrow(Dir::C2S, "a").ends_with("▶ "));
        assert!(arrow(Dir::S2C, "a").starts_with(" ◀"));
    }
}
