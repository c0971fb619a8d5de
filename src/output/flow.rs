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

/// One TCP segment of a connection, as a ladder needs it (the terminal one here, the report's
/// drawing in `report`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// Frame number.
    pub(crate) n: u64,
    /// Nanoseconds since the first frame.
    pub(crate) rel_ns: i64,
    /// TCP flags.
    pub(crate) flags: u8,
    /// Payload length.
    pub(crate) len: u32,
    /// Window field as sent (unscaled).
    pub(crate) win: u16,
    /// MSS option.
    pub(crate) mss: Option<u16>,
    /// Window-scale option.
    pub(crate) ws: Option<u8>,
    /// What the tracker said of it.
    pub(crate) seg: SegInfo,
}

impl Event {
    /// The ladder's view of a TCP segment (`None`: not a tracked TCP segment).
    pub(crate) fn of(view: &PacketView<'_, '_>) -> Option<Event> {
        let (Some(seg), Some(tcp)) = (view.tcp, view.frame.tcp()) else { return None };
        Some(Event {
            n: view.n,
            rel_ns: view.rel_ns,
            flags: tcp.flags,
            len: tcp.len,
            win: tcp.win,
            mss: tcp.opts.mss,
            ws: tcp.opts.ws,
            seg,
        })
    }

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
    /// ICMP errors about it (they quote one of its segments): frame number, time since the first
    /// frame, and what to show.
    icmp: Vec<(u64, i64, String)>,
}

/// Collects TCP segments per connection and draws the ladders when the input ends.
pub struct FlowSink<W: Write> {
    w: W,
    opts: FlowOptions,
    conns: BTreeMap<u32, Conn>,
    summaries: BTreeMap<u32, ConnSummary>,
    found: super::Found,
}

impl<W: Write> FlowSink<W> {
    /// A sink writing to `w`.
    pub fn new(w: W, opts: FlowOptions) -> Self {
        FlowSink { w, opts, conns: BTreeMap::new(), summaries: BTreeMap::new(), found: super::Found::Shown }
    }

    /// What was drawn, once the run is over.
    pub fn found(&self) -> super::Found {
        self.found
    }
}

/// Width of the arrow column between client and server.
const MID: usize = 58;
/// Width of a state cell (`ESTABLISHED` and a space).
const STATE_W: usize = 12;

impl<W: Write> Sink for FlowSink<W> {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        if let (Some(crate::track::FlowId::Tcp(id)), crate::decode::Transport::Icmp(icmp), Some(ip)) =
            (view.icmp_about, &view.frame.transport, view.frame.ip())
        {
            // an ICMP error names the connection whose segment it quotes: an event of that ladder
            if self.opts.conn.is_none_or(|conn| conn == id) {
                let what =
                    if icmp.v6 { crate::decode::names::icmp6(icmp.ty, icmp.code) } else { crate::decode::names::icmp4(icmp.ty, icmp.code) };
                let text = format!("ICMP {what} from {}", ip.src);
                let conn = self.conns.entry(id).or_insert(Conn { endpoints: None, events: Vec::new(), icmp: Vec::new() });
                conn.icmp.push((view.n, view.rel_ns, text));
            }
            return Ok(());
        }
        let (Some(seg), Some(tcp), Some(ip)) = (view.tcp, view.frame.tcp(), view.frame.ip()) else { return Ok(()) };
        if self.opts.conn.is_some_and(|conn| conn != seg.conn) {
            return Ok(());
        }
        let conn = self.conns.entry(seg.conn).or_insert(Conn { endpoints: None, events: Vec::new(), icmp: Vec::new() });
        if conn.endpoints.is_none() {
            let src = Endpoint(ip.src, tcp.sport).to_string();
            let dst = Endpoint(ip.dst, tcp.dport).to_string();
            conn.endpoints = Some(if seg.dir == Dir::C2S { (src, dst) } else { (dst, src) });
        }
        conn.events.extend(Event::of(view));
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
        let drawn = |conn: &Conn| !conn.events.is_empty();
        self.found = match self.opts.conn {
            Some(id) if !self.conns.get(&id).is_some_and(drawn) => super::Found::Missing(id),
            _ if !self.conns.values().any(drawn) => super::Found::Nothing,
            _ => super::Found::Shown,
        };
        let conns = std::mem::take(&mut self.conns);
        let mut first = true;
        // a connection known only from ICMP errors quoting it (its segments filtered out) has no ladder
        for (id, conn) in conns.into_iter().filter(|(_, conn)| !conn.events.is_empty()) {
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
pub(crate) fn label(event: &Event) -> String {
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
pub(crate) fn notes(event: &Event) -> String {
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

/// Each side's state before a connection's first segment: what that segment implies (a SYN
/// alone: the client was CLOSED, the server LISTEN).
pub(crate) fn start_states(first: &Event) -> (TcpState, TcpState) {
    if first.flags & tcpflags::SYN != 0 && first.flags & tcpflags::ACK == 0 {
        (TcpState::Closed, TcpState::Listen)
    } else {
        (TcpState::Unknown, TcpState::Unknown)
    }
}

/// Uneventful segments folded into one ladder line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fold {
    /// Indexes of the hidden segments.
    pub(crate) hidden: std::ops::Range<usize>,
    /// Hidden segments per direction.
    pub(crate) segs: [u64; 2],
    /// Hidden payload bytes per direction.
    pub(crate) bytes: [u64; 2],
}

/// A line of a ladder: one segment (its index), or a fold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Row {
    /// The segment at this index.
    Seg(usize),
    /// Uneventful segments not drawn one by one.
    Fold(Fold),
}

/// The lines of a ladder: a run of more than `fold` uneventful segments (0: never fold) shows
/// its first two, a fold and its last one (so a run folds only when that hides at least one).
pub(crate) fn rows(events: &[Event], fold: usize) -> Vec<Row> {
    let mut out = Vec::new();
    let Some(first) = events.first() else { return out };
    let mut prev = start_states(first);
    let mut i = 0;
    while i < events.len() {
        // A run of uneventful segments starting at i?
        let mut j = i;
        let mut states = prev;
        while j < events.len() && events[j].uneventful(states) {
            states = (events[j].seg.client, events[j].seg.server);
            j += 1;
        }
        if fold > 0 && j - i > fold.max(3) {
            out.extend([Row::Seg(i), Row::Seg(i + 1)]);
            let hidden = i + 2..j - 1;
            let (mut segs, mut bytes) = ([0u64; 2], [0u64; 2]);
            for event in &events[hidden.clone()] {
                segs[event.seg.dir.idx()] += 1;
                bytes[event.seg.dir.idx()] += event.len as u64;
            }
            out.push(Row::Fold(Fold { hidden, segs, bytes }));
            out.push(Row::Seg(j - 1));
        } else {
            let stop = if j > i { j } else { i + 1 };
            out.extend((i..stop).map(Row::Seg));
            j = stop;
        }
        prev = (events[j - 1].seg.client, events[j - 1].seg.server);
        i = j;
    }
    out
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
    let (client_start, server_start) = start_states(first);
    let _ = writeln!(out, "{pad}{} │{:MID$}│ {}", state_cell(Some(client_start)), "", server_start.name());
    let mut prev = (client_start, server_start);
    let events = &conn.events;
    let mut icmp = conn.icmp.iter().peekable();
    let mut icmp_line = |out: &mut String, before: u64| {
        while let Some((n, rel_ns, text)) = icmp.next_if(|(n, _, _)| *n < before) {
            let text: String = text.chars().take(MID - 2).collect();
            let _ = writeln!(
                out,
                "{n:>6}  {:>10}  {} │{}{:^MID$}{}│",
                secs_string(*rel_ns, false),
                state_cell(None),
                palette.start(style::WARN),
                text,
                palette.reset()
            );
        }
    };
    for row in rows(events, opts.fold) {
        let first_n = match &row {
            Row::Seg(i) => events[*i].n,
            Row::Fold(fold) => events[fold.hidden.start].n,
        };
        icmp_line(&mut out, first_n);
        match row {
            Row::Seg(i) => line(&mut out, &events[i], &mut prev, palette),
            Row::Fold(fold) => {
                let text = format!(
                    "⋮ {} more (frames {}–{}): {} c→s {} B, {} s→c {} B",
                    fold.hidden.len(),
                    events[fold.hidden.start].n,
                    events[fold.hidden.end - 1].n,
                    fold.segs[0],
                    group(fold.bytes[0]),
                    fold.segs[1],
                    group(fold.bytes[1]),
                );
                let text: String = text.chars().take(MID - 2).collect();
                let _ = writeln!(out, "{pad}{} │{}{:^MID$}{}│", state_cell(None), palette.start(style::DIM), text, palette.reset());
            }
        }
    }
    icmp_line(&mut out, u64::MAX);
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

    /// `--fold 1` and `--fold 2` fold only runs that leave something to hide.
    #[test]
    fn small_folds_hide_at_least_one_segment() {
        let ev = |n: u64| {
            let seg = SegInfo {
                conn: 0,
                dir: Dir::C2S,
                rseq: 1,
                rack: Some(1),
                seq_base: 0,
                ack_base: Some(0),
                win_scaled: Some(1),
                phase: crate::track::tcp::Phase::Data,
                client: TcpState::Established,
                server: TcpState::Established,
                analysis: Default::default(),
                dup_ack_num: 0,
                dup_ack_of: 0,
                new_conn: false,
                bytes_in_flight: None,
                offload: None,
            };
            Event { n, rel_ns: 0, flags: tcpflags::ACK, len: 1, win: 1, mss: None, ws: None, seg }
        };
        for len in 1..8 {
            let events: Vec<Event> = (1..=len).map(ev).collect();
            for fold in 0..4 {
                let rows = rows(&events, fold);
                let drawn: usize = rows
                    .iter()
                    .map(|r| {
                        if let Row::Fold(f) = r {
                            assert!(!f.hidden.is_empty());
                            f.hidden.len()
                        } else {
                            1
                        }
                    })
                    .sum();
                assert_eq!(drawn, events.len() - 1 + 1, "len {len} fold {fold}");
            }
        }
    }

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
