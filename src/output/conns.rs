//! `wireseam conns`: one row per TCP connection (Zeek-like summary), as a table or JSON lines.

use std::io::{self, Write};
use std::net::IpAddr;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

use super::json::write_conn;
use super::time::write_secs;
use crate::analyze::{DirSummary, FramingSpec};
use crate::pipeline::{ConnRecord, ConnSeams, PacketView, Sink};
use crate::track::tcp::ConnSummary;
use crate::track::Proto;

/// A connection and what its row shows of the seams of its two directions.
#[derive(Clone, Debug)]
pub struct ConnRow {
    /// The connection's final record.
    pub summary: ConnSummary,
    /// Its seam counts, client to server first.
    pub seams: SeamCounts,
}

impl ConnRow {
    /// The row of a connection that is over.
    pub fn new(summary: &ConnSummary, seams: &ConnSeams) -> Self {
        ConnRow { summary: summary.clone(), seams: seam_counts(seams) }
    }
}

/// What a `conn` record or row shows of one direction's seams. Rows are kept until the end
/// (for sorting, and for the table of a live capture): this is 48 bytes where the whole
/// [`DirSummary`] is over 220 plus its framing evidence text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirCounts {
    /// The framing the direction was read with, `None` while undecided.
    pub framing: Option<FramingSpec>,
    /// Final messages.
    pub messages: u64,
    /// Messages that shared a frame with another message; `None` under `segment` framing, where
    /// the application's boundaries are unknown.
    pub sticky: Option<u64>,
    /// Messages that spanned more than one frame; `None` as for `sticky`.
    pub split: Option<u64>,
    /// Holes in the stream: byte ranges lost before capture, dropped for memory, or cut by the snap length.
    pub gaps: u64,
}

/// [`DirCounts`] of both directions (`None`: the direction carried no payload).
pub type SeamCounts = [Option<DirCounts>; 2];

/// The counts of both directions' seam summaries.
pub fn seam_counts(seams: &ConnSeams) -> SeamCounts {
    let one = |dir: &Option<DirSummary>| {
        dir.as_ref().map(|dir| {
            let framing = dir.framing.as_ref().map(|framing| framing.spec);
            let known = framing != Some(FramingSpec::Segment) && dir.wire_unknown == 0;
            DirCounts {
                framing,
                messages: dir.messages,
                sticky: known.then_some(dir.sticky),
                split: known.then_some(dir.split),
                gaps: dir.gaps,
            }
        })
    };
    [one(&seams[0]), one(&seams[1])]
}

/// Collects connection summaries; packets are not printed.
#[derive(Default)]
pub struct ConnsSink {
    /// One row per connection, in the order they ended.
    pub rows: Vec<ConnRow>,
}

impl Sink for ConnsSink {
    fn packet(&mut self, _view: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, record: &ConnRecord) -> io::Result<()> {
        self.rows.push(ConnRow::new(&record.summary, &record.seams));
        Ok(())
    }
    fn finish(&mut self, summary: &crate::pipeline::RunSummary) -> io::Result<()> {
        self.rows.extend(summary.flows.iter().map(|flow| ConnRow::new(flow, &[None, None])));
        Ok(())
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn wants_messages(&self) -> bool {
        false
    }
}

/// `--sort`: the order of the rows; all but `id` and `start` put the largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Connection number.
    Id,
    /// First frame's time.
    Start,
    /// Time from first to last frame.
    Duration,
    /// Payload bytes, both directions.
    Bytes,
    /// Packets, both directions.
    Packets,
    /// Retransmissions.
    Retrans,
}

impl SortKey {
    /// The key a `--sort` word names.
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "id" => SortKey::Id,
            "start" => SortKey::Start,
            "duration" => SortKey::Duration,
            "bytes" => SortKey::Bytes,
            "packets" => SortKey::Packets,
            "retrans" | "retransmissions" => SortKey::Retrans,
            _ => return Err(format!("--sort {text}: expected one of id, start, duration, bytes, packets, retrans")),
        })
    }
}

/// One `--filter` condition on a connection.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnFilter {
    /// Zeek conn_state equals.
    State(String),
    /// The client's final TCP state equals (RFC 9293 name, `TIME-WAIT`).
    ClientState(String),
    /// The server's final TCP state equals.
    ServerState(String),
    /// Either endpoint has this address.
    Host(IpAddr),
    /// Either endpoint has this port.
    Port(u16),
    /// One of these protocols (`--proto`, `--filter proto=udp`).
    Proto(Vec<Proto>),
    /// numeric field > value
    Greater(NumField, f64),
    /// numeric field < value
    Less(NumField, f64),
}

/// The numbers a [`ConnFilter`] can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumField {
    /// Payload bytes, both directions.
    Bytes,
    /// Packets, both directions.
    Packets,
    /// Retransmissions.
    Retrans,
    /// Duplicate ACKs.
    DupAcks,
    /// Zero-window advertisements.
    ZeroWindows,
    /// Seconds from first to last frame.
    Duration,
}

/// Zeek's conn_state codes.
fn zeek_states() -> Vec<&'static str> {
    use crate::track::tcp::ZeekConnState as Z;
    [Z::S0, Z::S1, Z::Sf, Z::Rej, Z::S2, Z::S3, Z::Rsto, Z::Rstr, Z::Rstos0, Z::Rstrh, Z::Sh, Z::Shr, Z::Oth].map(Z::as_str).to_vec()
}

/// RFC 9293 state names, as the final states are written.
fn tcp_states() -> Vec<&'static str> {
    use crate::track::tcp::TcpState as T;
    [
        T::Unknown,
        T::Closed,
        T::Listen,
        T::SynSent,
        T::SynReceived,
        T::Established,
        T::FinWait1,
        T::FinWait2,
        T::CloseWait,
        T::Closing,
        T::LastAck,
        T::TimeWait,
    ]
    .iter()
    .map(T::name)
    .collect()
}

/// `value` in upper case when it is one of `names`, else a usage error listing them.
fn known(text: &str, value: &str, names: &[&str]) -> Result<String, String> {
    let upper = value.to_ascii_uppercase();
    if names.contains(&upper.as_str()) {
        return Ok(upper);
    }
    Err(format!("--filter {text}: unknown state `{value}`; one of {}", names.join(" ")))
}

impl ConnFilter {
    /// `state=SF`, `client_state=TIME-WAIT`, `server_state=CLOSE-WAIT`, `host=198.18.0.1`,
    /// `port=9000`, `bytes>1000`, `packets<10`, `retrans>0`, `dupacks>0`, `zerowin>0`, `duration>1.5`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "--filter {text}: expected KEY=VALUE (state, client_state, server_state, host, port, proto) or \
                 KEY>N / KEY<N (bytes, packets, retrans, dupacks, zerowin, duration)"
            )
        };
        if let Some((key, value)) = text.split_once('=') {
            let value = value.trim();
            return Ok(match key.trim() {
                "state" | "conn_state" => ConnFilter::State(known(text, value, &zeek_states())?),
                "client_state" => ConnFilter::ClientState(known(text, value, &tcp_states())?),
                "server_state" => ConnFilter::ServerState(known(text, value, &tcp_states())?),
                "host" => ConnFilter::Host(value.parse().map_err(|_| format!("--filter {text}: `{value}` is not an IP address"))?),
                "port" => ConnFilter::Port(value.parse().map_err(|_| format!("--filter {text}: `{value}` is not a port number"))?),
                "proto" => ConnFilter::protos(value).map_err(|e| format!("--filter {text}: {e}"))?,
                _ => return Err(err()),
            });
        }
        let (key, value, greater) = if let Some((key, value)) = text.split_once('>') {
            (key, value, true)
        } else if let Some((key, value)) = text.split_once('<') {
            (key, value, false)
        } else {
            return Err(err());
        };
        let field = match key.trim() {
            "bytes" => NumField::Bytes,
            "packets" => NumField::Packets,
            "retrans" | "retransmissions" => NumField::Retrans,
            "dupacks" | "dup_acks" => NumField::DupAcks,
            "zerowin" | "zero_windows" => NumField::ZeroWindows,
            "duration" => NumField::Duration,
            _ => return Err(err()),
        };
        let number: f64 = value.trim().parse().map_err(|_| format!("--filter {text}: `{value}` is not a number"))?;
        Ok(if greater { ConnFilter::Greater(field, number) } else { ConnFilter::Less(field, number) })
    }

    /// Does the connection pass?
    /// `tcp`, `udp`, `icmp` or a comma-separated list of them.
    pub fn protos(list: &str) -> Result<ConnFilter, String> {
        let one = |name: &str| match name.trim() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "icmp" => Ok(Proto::Icmp),
            other => Err(format!("unknown protocol `{other}`: use tcp, udp or icmp")),
        };
        list.split(',').map(one).collect::<Result<Vec<_>, _>>().map(ConnFilter::Proto)
    }

    /// True when the connection or flow `summary` passes.
    pub fn matches(&self, summary: &ConnSummary) -> bool {
        let num = |field: NumField| -> f64 {
            match field {
                NumField::Bytes => (summary.bytes[0] + summary.bytes[1]) as f64,
                NumField::Packets => (summary.packets[0] + summary.packets[1]) as f64,
                NumField::Retrans => summary.retransmissions as f64,
                NumField::DupAcks => summary.dup_acks as f64,
                NumField::ZeroWindows => summary.zero_windows as f64,
                NumField::Duration => (summary.last_ts.saturating_sub(summary.first_ts)) as f64 / 1e9,
            }
        };
        match self {
            ConnFilter::State(state) => summary.conn_state.as_str() == state,
            ConnFilter::ClientState(state) => summary.client_state.name() == state,
            ConnFilter::ServerState(state) => summary.server_state.name() == state,
            ConnFilter::Host(ip) => summary.client.ip() == *ip || summary.server.ip() == *ip,
            ConnFilter::Port(port) => summary.client.port() == *port || summary.server.port() == *port,
            ConnFilter::Proto(protos) => protos.contains(&summary.proto),
            ConnFilter::Greater(field, bound) => num(*field) > *bound,
            ConnFilter::Less(field, bound) => num(*field) < *bound,
        }
    }
}

/// Apply filters and sort (stable, ties by id).
pub fn select(mut rows: Vec<ConnRow>, filters: &[ConnFilter], sort: SortKey, reverse: bool) -> Vec<ConnRow> {
    rows.retain(|row| filters.iter().all(|filter| filter.matches(&row.summary)));
    // TCP connections, then UDP flows, then ICMP flows, each in id order
    rows.sort_by_key(|row| (row.summary.proto, row.summary.conn));
    match sort {
        SortKey::Id => {}
        SortKey::Start => rows.sort_by_key(|row| row.summary.first_ts),
        SortKey::Duration => rows.sort_by_key(|row| std::cmp::Reverse(row.summary.last_ts.saturating_sub(row.summary.first_ts))),
        SortKey::Bytes => rows.sort_by_key(|row| std::cmp::Reverse(row.summary.bytes[0] + row.summary.bytes[1])),
        SortKey::Packets => rows.sort_by_key(|row| std::cmp::Reverse(row.summary.packets[0] + row.summary.packets[1])),
        SortKey::Retrans => rows.sort_by_key(|row| std::cmp::Reverse(row.summary.retransmissions)),
    }
    if reverse {
        rows.reverse();
    }
    rows
}

/// Writes `value`, or `-` when absent.
fn opt(buf: &mut Vec<u8>, value: Option<impl std::fmt::Display>) {
    let _ = match value {
        Some(value) => write!(buf, "{value}"),
        None => buf.write_all(b"-"),
    };
}

/// Thousands separators for byte counts: `1,234,567`.
pub use crate::numbers::thousands as group;

/// `first/second`, each written by `write_one`.
fn pair<T>(buf: &mut Vec<u8>, (first, second): (T, T), write_one: impl Fn(&mut Vec<u8>, T)) {
    write_one(buf, first);
    buf.push(b'/');
    write_one(buf, second);
}

/// `group` into `buf` without a `String`.
fn grouped(buf: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut rest = value;
    let mut count = 0;
    loop {
        digits[count] = b'0' + (rest % 10) as u8;
        rest /= 10;
        count += 1;
        if rest == 0 {
            break;
        }
    }
    for i in (0..count).rev() {
        buf.push(digits[i]);
        if i > 0 && i % 3 == 0 {
            buf.push(b',');
        }
    }
}

/// `lines` / `len:4:be`, `-` while undecided or absent.
fn framing_cell(buf: &mut Vec<u8>, seams: &SeamCounts) {
    opt(buf, seams[0].and_then(|dir| dir.framing));
    buf.push(b'/');
    opt(buf, seams[1].and_then(|dir| dir.framing));
}

/// `21 (20s 1p)/9` messages per direction (sticky, split); `3 (?)` for chunks under `segment`
/// framing, whose sticking and splitting are unknown.
fn messages_cell(buf: &mut Vec<u8>, seams: &SeamCounts) {
    for (i, dir) in seams.iter().enumerate() {
        if i == 1 {
            buf.push(b'/');
        }
        let Some(dir) = dir else {
            buf.push(b'-');
            continue;
        };
        let _ = match (dir.sticky, dir.split) {
            (Some(0), Some(0)) => write!(buf, "{}", dir.messages),
            (Some(sticky), Some(split)) => write!(buf, "{} ({sticky}s {split}p)", dir.messages),
            _ => write!(buf, "{} (?)", dir.messages),
        };
    }
}

const HEADER: [&str; COLUMNS] = [
    "id",
    "proto",
    "client",
    "server",
    "state",
    "client / server final",
    "MSS c/s",
    "WS c/s",
    "iRTT",
    "duration",
    "pkts c→s/s→c",
    "bytes c→s/s→c",
    "retrans",
    "dup ACK",
    "zero win",
    "framing c/s",
    "msgs c/s (sticky split)",
    "tunnel",
];
/// Columns of the table. The last (tunnel) is shown only when a connection is inside one.
const COLUMNS: usize = 18;
/// Columns aligned right (numbers).
const RIGHT: [usize; 8] = [0, 8, 9, 10, 11, 12, 13, 14];
/// Rows per comfy-table when a table is written in parts.
const CHUNK: usize = 1024;

/// How many columns `rows` are shown in: all of them when a connection came in a tunnel, else
/// all but the tunnel column.
fn shown_columns(rows: &[ConnRow]) -> usize {
    if rows.iter().any(|row| row.summary.tunnel.is_some()) {
        COLUMNS
    } else {
        COLUMNS - 1
    }
}

/// The cells of a row, one after the other in `buf` (cleared first); cell `i` ends at
/// `ends[i]`. One buffer for all rows: no allocation per cell.
fn write_cells(row: &ConnRow, buf: &mut Vec<u8>, ends: &mut [usize; COLUMNS]) {
    let conn = &row.summary;
    buf.clear();
    let mut i = 0;
    let mut end = |buf: &Vec<u8>| {
        ends[i] = buf.len();
        i += 1;
    };
    // Written twice per connection (widths, then the row) after the run: no core::fmt for
    // the numbers and IPv4 endpoints.
    let mut digits = itoa::Buffer::new();
    buf.extend_from_slice(digits.format(conn.conn).as_bytes());
    end(buf);
    buf.extend_from_slice(conn.proto.name().as_bytes());
    end(buf);
    let _ = super::Endpoint(conn.client.ip(), conn.client.port()).write_to(buf);
    end(buf);
    let _ = super::Endpoint(conn.server.ip(), conn.server.port()).write_to(buf);
    end(buf);
    let _ = write!(buf, "{} {}", conn.conn_state, conn.history);
    end(buf);
    // UDP and ICMP flows have no TCP state, options or analysis: `-`
    let tcp = conn.proto == Proto::Tcp;
    if tcp {
        let _ = write!(buf, "{} / {}", conn.client_state.name(), conn.server_state.name());
        if given_up(conn) {
            let _ = buf.write_all(b" (given up?)");
        }
        end(buf);
        pair(buf, conn.mss, opt);
        end(buf);
        pair(buf, conn.ws, opt);
        end(buf);
        let _ = match conn.irtt {
            Some(ns) => write!(buf, "{:.3} ms", ns as f64 / 1e6),
            None => buf.write_all(b"-"),
        };
        end(buf);
    } else {
        for _ in 0..4 {
            buf.push(b'-');
            end(buf);
        }
    }
    let _ = write_secs(buf, conn.last_ts.saturating_sub(conn.first_ts), false);
    end(buf);
    pair(buf, (conn.packets[0], conn.packets[1]), |buf, n| buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()));
    end(buf);
    pair(buf, (conn.bytes[0], conn.bytes[1]), grouped);
    end(buf);
    for count in [conn.retransmissions, conn.dup_acks, conn.zero_windows] {
        let _ = if tcp { buf.write_all(digits.format(count).as_bytes()) } else { buf.write_all(b"-") };
        end(buf);
    }
    match conn.proto {
        Proto::Tcp => {
            framing_cell(buf, &row.seams);
            end(buf);
            messages_cell(buf, &row.seams);
        }
        // each datagram is one message
        Proto::Udp => {
            buf.extend_from_slice(b"datagram");
            end(buf);
            let _ = write!(buf, "{}/{}", conn.packets[0], conn.packets[1]);
        }
        Proto::Icmp => {
            buf.push(b'-');
            end(buf);
            buf.push(b'-');
        }
    }
    end(buf);
    buf.extend_from_slice(conn.tunnel.as_deref().unwrap_or("-").as_bytes());
    end(buf);
}

/// Cell `i` of a row written by [`write_cells`].
fn cell<'b>(buf: &'b [u8], ends: &[usize; COLUMNS], i: usize) -> &'b str {
    let from = if i == 0 { 0 } else { ends[i - 1] };
    std::str::from_utf8(&buf[from..ends[i]]).unwrap_or("")
}

/// The first `columns` cells of a row as strings.
fn cells(row: &ConnRow, columns: usize) -> Vec<String> {
    let mut buf = Vec::new();
    let mut ends = [0; COLUMNS];
    write_cells(row, &mut buf, &mut ends);
    (0..columns).map(|i| cell(&buf, &ends, i).to_string()).collect()
}

/// An empty table of the first `columns` columns, with the header, the style and the alignments.
fn new_table(columns: usize) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED).force_no_tty();
    table.set_header(HEADER[..columns].to_vec());
    for i in RIGHT {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// The table. `width`: `None` = as wide as the content (pipes, tests); `Some(columns)` = wrap to a terminal.
pub fn write_table(w: &mut impl Write, rows: &[ConnRow], width: Option<u16>) -> io::Result<()> {
    match width {
        Some(columns) => {
            // Wrapping depends on every row at once: one table.
            let shown = shown_columns(rows);
            let mut table = new_table(shown);
            table.set_content_arrangement(ContentArrangement::Dynamic).set_width(columns);
            for row in rows {
                table.add_row(cells(row, shown));
            }
            writeln!(w, "{table}")?;
        }
        None => write_parts(w, rows, CHUNK)?,
    }
    let total_bytes: u64 = rows.iter().map(|row| row.summary.bytes[0] + row.summary.bytes[1]).sum();
    let retransmissions: u64 = rows.iter().map(|row| row.summary.retransmissions).sum();
    let count = |proto: Proto| rows.iter().filter(|row| row.summary.proto == proto).count();
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (udp, icmp) = (count(Proto::Udp), count(Proto::Icmp));
    let flows = if udp + icmp == 0 {
        plural(rows.len(), "connection", "connections")
    } else {
        let mut parts = vec![plural(count(Proto::Tcp), "TCP connection", "TCP connections")];
        if udp > 0 {
            parts.push(plural(udp, "UDP flow", "UDP flows"));
        }
        if icmp > 0 {
            parts.push(plural(icmp, "ICMP flow", "ICMP flows"));
        }
        parts.join(", ")
    };
    writeln!(
        w,
        "{flows}, {} payload bytes, {}",
        group(total_bytes),
        plural(retransmissions as usize, "retransmission", "retransmissions")
    )?;
    let given_up = rows.iter().filter(|row| given_up(&row.summary)).count();
    if given_up > 0 {
        writeln!(
            w,
            "(given up?): {given_up} connection{} ESTABLISHED on both sides only on paper: no FIN, no RST, and data the peer never \
             acknowledged; most likely abandoned after retransmission timeouts (or the capture stopped first)",
            if given_up == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

/// Both sides still ESTABLISHED, no FIN or RST in the history, and data never acknowledged: the
/// sender most likely gave up after its retransmission timeouts (RFC 9293 3.8.3), or the capture
/// ended first. The table says so rather than showing a connection that looks alive.
fn given_up(conn: &ConnSummary) -> bool {
    conn.client_state == crate::track::tcp::TcpState::Established
        && conn.server_state == crate::track::tcp::TcpState::Established
        && !conn.history.contains(['F', 'f', 'R', 'r'])
        && conn.unacked.iter().any(|&n| n > 0)
}

/// The unwrapped table, byte for byte the table comfy-table draws of all rows at once
/// (`table_in_parts_is_the_whole_table`). One comfy-table of every row holds about 2.5 KB per
/// row in cells (40 MB for 15,000 connections) and takes ~18 µs per row to draw. Instead the
/// column widths come from a first pass over the rows (cells are formatted into one reused
/// buffer); comfy-table draws the borders and the header with those widths fixed, and the rows
/// between them are written here in the style's one row format (`│ a ┆ b │`, one space of
/// padding, numbers right-aligned; this style has no lines between rows and nothing wraps).
/// `chunk` is how many rows are written between flushes of the row buffer.
fn write_parts(w: &mut impl Write, rows: &[ConnRow], chunk: usize) -> io::Result<()> {
    let shown = shown_columns(rows);
    let mut widths: Vec<usize> = HEADER[..shown].iter().map(|h| h.chars().count()).collect();
    let mut buf = Vec::with_capacity(256);
    let mut ends = [0usize; COLUMNS];
    for row in rows {
        write_cells(row, &mut buf, &mut ends);
        for (i, width) in widths.iter_mut().enumerate() {
            *width = (*width).max(cell(&buf, &ends, i).chars().count());
        }
    }
    let mut table = new_table(shown);
    table.set_content_arrangement(ContentArrangement::Disabled);
    for (i, width) in widths.iter().enumerate() {
        if let Some(col) = table.column_mut(i) {
            let fixed = u16::try_from(width + 2).unwrap_or(u16::MAX);
            col.set_constraint(comfy_table::ColumnConstraint::Absolute(comfy_table::Width::Fixed(fixed)));
        }
    }
    if rows.is_empty() {
        return writeln!(w, "{table}");
    }
    // Drawn with one empty row: top border, header, header rule, (the row), bottom border.
    table.add_row(vec![""; shown]);
    let frame = table.to_string();
    let lines: Vec<&str> = frame.lines().collect();
    let [top, head, rule, _, bottom] = lines[..] else {
        return Err(io::Error::other("unexpected table frame"));
    };
    for line in [top, head, rule] {
        writeln!(w, "{line}")?;
    }
    let mut out = Vec::with_capacity(64 << 10);
    for (row_index, row) in rows.iter().enumerate() {
        write_cells(row, &mut buf, &mut ends);
        out.extend_from_slice("│".as_bytes());
        for (i, &width) in widths.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice("┆".as_bytes());
            }
            let text = cell(&buf, &ends, i);
            let pad = width - text.chars().count();
            out.push(b' ');
            if RIGHT.contains(&i) {
                out.resize(out.len() + pad, b' ');
                out.extend_from_slice(text.as_bytes());
            } else {
                out.extend_from_slice(text.as_bytes());
                out.resize(out.len() + pad, b' ');
            }
            out.push(b' ');
        }
        out.extend_from_slice("│\n".as_bytes());
        if (row_index + 1) % chunk.max(1) == 0 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    writeln!(w, "{bottom}")
}

/// The rows as `conn` JSON lines (`docs/json-lines.md`).
pub fn write_json(w: &mut impl Write, rows: &[ConnRow]) -> io::Result<()> {
    for row in rows {
        write_conn(w, &row.summary, &row.seams)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(ConnFilter::parse("state=sf").unwrap(), ConnFilter::State("SF".into()));
        assert_eq!(ConnFilter::parse("bytes>100").unwrap(), ConnFilter::Greater(NumField::Bytes, 100.0));
        assert!(ConnFilter::parse("port=x").unwrap_err().contains("not a port"));
        assert!(ConnFilter::parse("colour=red").is_err());
    }

    /// Rows of varied widths: one comfy-table of all rows, drawn the way the terminal path does
    /// without a width, against the table written in parts of every size.
    #[test]
    fn table_in_parts_is_the_whole_table() {
        use crate::track::tcp::{TcpState, ZeekConnState};
        let mut rows = Vec::new();
        for i in 0..23u32 {
            let summary = ConnSummary {
                proto: Proto::Tcp,
                icmp_errors: 0,
                conn: i,
                client: format!("10.0.{}.{}:{}", i, i * 7 % 256, 1000 + i * 997).parse().unwrap(),
                server: if i % 3 == 0 { "[2001:db8::1]:443".parse().unwrap() } else { "10.1.1.1:80".parse().unwrap() },
                conn_state: if i % 2 == 0 { ZeekConnState::Sf } else { ZeekConnState::Rsto },
                history: "ShADadFf"[..(i as usize % 8) + 1].to_string(),
                client_state: TcpState::TimeWait,
                server_state: TcpState::Closed,
                irtt: (i % 4 != 0).then_some(i as i64 * 123_456),
                bytes: [u64::from(i).pow(5), u64::from(i) * 3],
                packets: [u64::from(i) * 11, 2],
                retransmissions: u64::from(i % 5),
                first_ts: 0,
                last_ts: i as i64 * 1_000_000_007,
                mss: (Some(1460), (i % 2 == 0).then_some(536)),
                ws: (Some(7), None),
                sack_perm: true,
                timestamps: false,
                first_frame: 1,
                last_frame: 99,
                dup_acks: u64::from(i),
                zero_windows: 0,
                missed_bytes: [0, 0],
                unacked: [0, 0],
                // the tunnel column appears once a row has a tunnel (from row 3 on)
                tunnel: (i % 5 == 3).then(|| format!("vxlan {i}, gre key 7").into_boxed_str()),
            };
            rows.push(ConnRow { summary, seams: [None, None] });
        }
        let shown = shown_columns(&rows);
        let mut whole = new_table(shown);
        whole.set_content_arrangement(ContentArrangement::Disabled);
        for row in &rows {
            whole.add_row(cells(row, shown));
        }
        let whole = format!("{whole}\n");
        for n in [0, 1, 5, 22, 23] {
            for chunk in [1, 2, 7, 22, 23, 1000] {
                let mut out = Vec::new();
                write_parts(&mut out, &rows[..n], chunk).unwrap();
                let shown = shown_columns(&rows[..n]);
                assert_eq!(shown == COLUMNS, n > 3, "the tunnel column with a tunnel");
                let mut table = new_table(shown);
                for row in &rows[..n] {
                    table.add_row(cells(row, shown));
                }
                assert_eq!(String::from_utf8(out).unwrap(), format!("{table}\n"), "{n} rows in parts of {chunk}");
            }
        }
        let mut out = Vec::new();
        write_parts(&mut out, &rows, 4).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole);
    }

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234), "1,234");
        assert_eq!(group(1234567), "1,234,567");
        for value in [0, 1, 12, 123, 1234, 12345, 123456, 1234567, 999_999_999_999, u64::MAX] {
            let mut out = Vec::new();
            grouped(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), group(value));
        }
    }
}
