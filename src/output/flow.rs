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

/// What `wireseam flow` draws.
#[derive(Clone, Copy, Debug)]
pub struct FlowOptions {
    /// Only this connection.
    pub conn: Option<u32>,
    /// Fold runs of more than this many uneventful segments (0 = never fold).
    pub fold: usize,
    /// Colours, or none.
    pub palette: Palette,
}

/// One TCP segment of a connection, as the ladder needs it.
struct Event {
    n: u64,
    rel_ns: i64,
    flags: u8,
    len: u32,
    win: u16,
    mss: Option<u16>,
    ws: Option<u8>,
    seg: SegInfo,
}

impl Event {
    /// Nothing a reader must see: plain data or ACK, no state change, no analysis flag.
    fn uneventful(&self, prev: (TcpState, TcpState)) -> bool {
        self.flags & (tcpflags::SYN | tcpflags::FIN | tcpflags::RST) == 0
            && self.seg.analysis.is_empty()
            && (self.seg.client, self.seg.server) == prev
    }
}

/// A connection's endpoints (client first) and segments, in capture order.
struct Conn {
    endpoints: Option<(String, String)>,
    events: Vec<Event>,
}

/// Collects TCP segments per connection and draws the ladders when the input ends.
pub struct FlowSink<W: Write> {
    w: W,
    opts: FlowOptions,
    conns: BTreeMap<u32, Conn>,
    summaries: BTreeMap<u32, ConnSummary>,
}

impl<W: Write> FlowSink<W> {
    /// A sink writing to `w`.
    pub fn new(w: W, opts: FlowOptions) -> Self {
        FlowSink { w, opts, conns: BTreeMap::new(), summaries: BTreeMap::new() }
    }
}

/// Width of the arrow column between client and server.
const MID: usize = 58;
/// Width of a state cell (`ESTABLISHED` and a space).
const STATE_W: usize = 12;

impl<W: Write> Sink for FlowSink<W> {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        let (Some(seg), Some(tcp), Some(ip)) = (view.tcp, view.frame.tcp(), view.frame.ip()) else { return Ok(()) };
        if self.opts.conn.is_some_and(|conn| conn != seg.conn) {
            return Ok(());
        }
        let conn = self.conns.entry(seg.conn).or_insert(Conn { endpoints: None, events: Vec::new() });
        if conn.endpoints.is_none() {
            let src = Endpoint(ip.src, tcp.sport).to_string();
            let dst = Endpoint(ip.dst, tcp.dport).to_string();
            conn.endpoints = Some(if seg.dir == Dir::C2S { (src, dst) } else { (dst, src) });
        }
        conn.events.push(Event {
            n: view.n,
            rel_ns: view.rel_ns,
            flags: tcp.flags,
            len: tcp.len,
            win: tcp.win,
            mss: tcp.opts.mss,
            ws: tcp.opts.ws,
            seg,
        });
        Ok(())
    }

    fn conn(&mut self, record: &crate::pipeline::ConnRecord) -> io::Result<()> {
        let summary = &record.summary;
        if self.opts.conn.is_none_or(|id| id == summary.conn) {
            self.summaries.insert(summary.conn, summary.clone());
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &RunSummary) -> io::Result<()> {
        if let Some(id) = self.opts.conn {
            if !self.conns.contains_key(&id) {
                writeln!(self.w, "no TCP connection #{id} in this input (connections are numbered from 0; see `wireseam conns`)")?;
            }
        }
        let conns = std::mem::take(&mut self.conns);
        let mut first = true;
        for (id, conn) in conns {
            if !first {
                writeln!(self.w)?;
            }
            first = false;
            let ladder = render(id, &conn, self.summaries.get(&id), &self.opts);
            self.w.write_all(ladder.as_bytes())?;
        }
        self.w.flush()
    }
}

/// The arrow's text: flags, relative seq (and its end), ack, length, window, handshake options.
fn label(event: &Event) -> String {
    let mut text = String::new();
    let _ = write!(text, "{} seq {}", FlagLetters(event.flags), event.seg.rseq);
    if event.len > 0 {
        let _ = write!(text, ":{}", event.seg.rseq.wrapping_add(event.len));
    }
    if let Some(rack) = event.seg.rack {
        let _ = write!(text, " ack {rack}");
    }
    if event.len > 0 {
        let _ = write!(text, " len {}", event.len);
    }
    match event.seg.win_scaled {
        Some(window) => {
            let _ = write!(text, " win {window}");
        }
        None => {
            let _ = write!(text, " win {}?", event.win);
        }
    }
    if let Some(mss) = event.mss {
        let _ = write!(text, " mss {mss}");
    }
    if let Some(shift) = event.ws {
        let _ = write!(text, " ws {shift}");
    }
    text
}

/// The analysis flags in words, comma-separated.
fn notes(event: &Event) -> String {
    let mut text = String::new();
    for name in event.seg.analysis.names() {
        if !text.is_empty() {
            text.push_str(", ");
        }
        if name == "duplicate_ack" {
            let _ = write!(text, "dup ack #{}", event.seg.dup_ack_num);
        } else {
            text.push_str(&name.replace('_', " "));
        }
    }
    text
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

/// A state right-aligned in its cell, blank for `None`.
fn state_cell(state: Option<TcpState>) -> String {
    format!("{:>STATE_W$}", state.map_or("", |state| state.name()))
}

/// The whole ladder of one connection, with the summary under it.
fn render(id: u32, conn: &Conn, summary: Option<&ConnSummary>, opts: &FlowOptions) -> String {
    let palette = opts.palette;
    let mut out = String::new();
    let (client, server) = conn.endpoints.clone().unwrap_or_default();
    let _ = writeln!(out, "{}conn #{id}{}  client {client}  ⇄  server {server}", palette.start(style::PROTO), palette.reset());
    let pad = " ".repeat(20);
    let _ = writeln!(out, "{pad}{:>STATE_W$} │{:^MID$}│ server", "client", "");
    // States before the first segment: what the first segment implies.
    let first = &conn.events[0];
    let (client_start, server_start) = if first.flags & tcpflags::SYN != 0 && first.flags & tcpflags::ACK == 0 {
        (TcpState::Closed, TcpState::Listen)
    } else {
        (TcpState::Unknown, TcpState::Unknown)
    };
    let _ = writeln!(out, "{pad}{} │{:MID$}│ {}", state_cell(Some(client_start)), "", server_start.name());
    let mut prev = (client_start, server_start);
    let mut i = 0;
    let events = &conn.events;
    while i < events.len() {
        // A run of uneventful segments starting at i?
        let mut j = i;
        let mut states = prev;
        while j < events.len() && events[j].uneventful(states) {
            states = (events[j].seg.client, events[j].seg.server);
            j += 1;
        }
        if opts.fold > 0 && j - i > opts.fold {
            // first two, a fold line, the last one
            for event in &events[i..i + 2] {
                line(&mut out, event, &mut prev, palette);
            }
            let hidden = &events[i + 2..j - 1];
            let (mut segs, mut bytes) = ([0u64; 2], [0u64; 2]);
            for event in hidden {
                segs[event.seg.dir.idx()] += 1;
                bytes[event.seg.dir.idx()] += event.len as u64;
            }
            let text = format!(
                "⋮ {} more (frames {}–{}): {} c→s {} B, {} s→c {} B",
                hidden.len(),
                hidden[0].n,
                hidden[hidden.len() - 1].n,
                segs[0],
                group(bytes[0]),
                segs[1],
                group(bytes[1]),
            );
            let text: String = text.chars().take(MID - 2).collect();
            let _ = writeln!(out, "{pad}{} │{}{:^MID$}{}│", state_cell(None), palette.start(style::DIM), text, palette.reset());
            line(&mut out, &events[j - 1], &mut prev, palette);
            i = j;
            continue;
        }
        let stop = if j > i { j } else { i + 1 };
        for event in &events[i..stop] {
            line(&mut out, event, &mut prev, palette);
        }
        i = stop;
    }
    if let Some(summary) = summary {
        let _ = write!(
            out,
            "{pad}client {} · server {} · {} {} · ",
            summary.client_state.name(),
            summary.server_state.name(),
            summary.conn_state,
            summary.history
        );
        if let Some(irtt) = summary.irtt {
            let _ = write!(out, "iRTT {:.3} ms · ", irtt as f64 / 1e6);
        }
        let _ = writeln!(
            out,
            "{}/{} packets · {}/{} bytes · {} retransmissions",
            summary.packets[0],
            summary.packets[1],
            group(summary.bytes[0]),
            group(summary.bytes[1]),
            summary.retransmissions
        );
        let both_time_wait = summary.client_state == TcpState::TimeWait && summary.server_state == TcpState::TimeWait;
        for (who, state) in [("client", summary.client_state), ("server", summary.server_state)] {
            if both_time_wait {
                if who == "client" {
                    let _ = writeln!(
                        out,
                        "{pad}client and server closed at once (their FINs crossed): both wait 2×MSL in TIME-WAIT (60 s on Linux);\n\
                         {pad}    meanwhile bind() to either port fails with EADDRINUSE unless the old and the new socket both set SO_REUSEADDR"
                    );
                }
                continue;
            }
            let why = match state {
                TcpState::TimeWait => {
                    "closed first: waits 2×MSL in TIME-WAIT (60 s on Linux), so a lost last ACK can be resent and \
                     late segments die out;\n    meanwhile bind() to its port fails with EADDRINUSE unless the old and \
                     the new socket both set SO_REUSEADDR (which never allows two listeners at once)"
                }
                TcpState::CloseWait => "got the peer's FIN but its application never closed (CLOSE-WAIT)",
                TcpState::FinWait2 => "sent FIN, acknowledged; still waiting for the peer's FIN",
                _ => continue,
            };
            let why = why.replace('\n', &format!("\n{pad}"));
            let _ = writeln!(out, "{pad}{who} {why}");
        }
        if let Some(note) = unfinished(events, summary) {
            let _ = writeln!(out, "{pad}{note}");
        }
    }
    out
}

/// A connection that is still ESTABLISHED on both sides at its last segment, with no FIN or RST
/// and data one side never acknowledged: it was given up by a timeout (the sender's retries ran
/// out, RFC 9293 3.8.3), or the capture ended first. Says so instead of leaving it looking alive.
fn unfinished(events: &[Event], summary: &ConnSummary) -> Option<String> {
    if (summary.client_state, summary.server_state) != (TcpState::Established, TcpState::Established) {
        return None;
    }
    if events.iter().any(|e| e.flags & (tcpflags::FIN | tcpflags::RST) != 0) {
        return None;
    }
    // per direction: the highest sequence number sent (relative end) and acknowledged by the peer
    let (mut sent, mut acked) = ([0u32; 2], [0u32; 2]);
    for e in events {
        let d = e.seg.dir.idx();
        sent[d] = sent[d].max(e.seg.rseq.wrapping_add(e.len));
        if let Some(rack) = e.seg.rack {
            acked[1 - d] = acked[1 - d].max(rack);
        }
    }
    let last = events.last()?;
    let (who, unacked) =
        [("client", sent[0].saturating_sub(acked[0])), ("server", sent[1].saturating_sub(acked[1]))].into_iter().find(|&(_, n)| n > 0)?;
    Some(format!(
        "no FIN, no RST, and {unacked} bytes from the {who} never acknowledged by frame {}: the connection was \
         most likely given up after retransmission timeouts (or the capture stopped first); both states stay \
         ESTABLISHED only on paper",
        last.n
    ))
}

/// One segment's line: frame, time, the client's new state, the arrow, the server's new state, notes.
fn line(out: &mut String, event: &Event, prev: &mut (TcpState, TcpState), palette: Palette) {
    let client_state = (event.seg.client != prev.0).then_some(event.seg.client);
    let server_state = (event.seg.server != prev.1).then_some(event.seg.server);
    *prev = (event.seg.client, event.seg.server);
    let flag_style = if event.flags & tcpflags::RST != 0 {
        style::RST
    } else if event.flags & tcpflags::SYN != 0 {
        style::SYN
    } else if event.flags & tcpflags::FIN != 0 {
        style::FIN
    } else {
        anstyle::Style::new()
    };
    // microseconds always: the ladder's columns stay aligned for nanosecond captures too
    let _ = write!(out, "{:>6}  {:>10}  ", event.n, secs_string(event.rel_ns, false));
    let _ = write!(out, "{}{}{} │", palette.start(style::STATE), state_cell(client_state), palette.reset());
    let _ = write!(out, "{}{}{}│", palette.start(flag_style), arrow(event.seg.dir, &label(event)), palette.reset());
    let server = server_state.map_or("", |state| state.name());
    let note_text = notes(event);
    if note_text.is_empty() && server.is_empty() {
        // nothing on the right: no trailing blank
        let _ = writeln!(out);
    } else if note_text.is_empty() {
        let _ = writeln!(out, " {}{server}{}", palette.start(style::STATE), palette.reset());
    } else {
        out.push(' ');
        let _ = writeln!(
            out,
            "{}{server:<STATE_W$}{}  {}{note_text}{}",
            palette.start(style::STATE),
            palette.reset(),
            palette.start(style::WARN),
            palette.reset()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_have_fixed_width() {
        for dir in [Dir::C2S, Dir::S2C] {
            assert_eq!(arrow(dir, "[S] seq 0").chars().count(), MID);
            assert_eq!(arrow(dir, &"x".repeat(200)).chars().count(), MID);
        }
        assert!(arrow(Dir::C2S, "a").ends_with("▶ "));
        assert!(arrow(Dir::S2C, "a").starts_with(" ◀"));
    }
}
