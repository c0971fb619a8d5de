//! `wireseam conns`: one row per TCP connection (Zeek-like summary), as a table or JSON lines.

use std::io::{self, Write};
use std::net::IpAddr;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

use super::json::write_conn;
use super::time::write_secs;
use crate::analyze::{DirSummary, FramingSpec};
use crate::pipeline::{ConnSeams, PacketView, Sink};
use crate::track::tcp::ConnSummary;

/// A connection and what its row shows of the seams of its two directions.
#[derive(Clone, Debug)]
pub struct ConnRow {
    pub c: ConnSummary,
    pub seams: SeamCounts,
}

impl ConnRow {
    pub fn new(c: &ConnSummary, seams: &ConnSeams) -> Self {
        ConnRow { c: c.clone(), seams: seam_counts(seams) }
    }
}

/// What a `conn` record or row shows of one direction's seams. Rows are kept until the end
/// (for sorting, and for the table of a live capture): this is 48 bytes where the whole
/// [`DirSummary`] is over 220 plus its framing evidence text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirCounts {
    pub framing: Option<FramingSpec>,
    pub messages: u64,
    pub sticky: u64,
    pub split: u64,
    pub gaps: u64,
}

/// [`DirCounts`] of both directions (`None`: the direction carried no payload).
pub type SeamCounts = [Option<DirCounts>; 2];

pub fn seam_counts(s: &ConnSeams) -> SeamCounts {
    let one = |d: &Option<DirSummary>| {
        d.as_ref().map(|d| DirCounts {
            framing: d.framing.as_ref().map(|x| x.spec),
            messages: d.messages,
            sticky: d.sticky,
            split: d.split,
            gaps: d.gaps,
        })
    };
    [one(&s[0]), one(&s[1])]
}

/// Collects connection summaries; packets are not printed.
#[derive(Default)]
pub struct ConnsSink {
    pub rows: Vec<ConnRow>,
}

impl Sink for ConnsSink {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, c: &ConnSummary, seams: &ConnSeams) -> io::Result<()> {
        self.rows.push(ConnRow::new(c, seams));
        Ok(())
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn wants_messages(&self) -> bool {
        false
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Start,
    Duration,
    Bytes,
    Packets,
    Retrans,
}

impl SortKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "id" => SortKey::Id,
            "start" => SortKey::Start,
            "duration" => SortKey::Duration,
            "bytes" => SortKey::Bytes,
            "packets" => SortKey::Packets,
            "retrans" | "retransmissions" => SortKey::Retrans,
            _ => return Err(format!("--sort {s}: expected one of id, start, duration, bytes, packets, retrans")),
        })
    }
}

/// One `--filter` condition on a connection.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnFilter {
    /// Zeek conn_state equals.
    State(String),
    ClientState(String),
    ServerState(String),
    Host(IpAddr),
    Port(u16),
    /// numeric field > value
    Greater(NumField, f64),
    Less(NumField, f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumField {
    Bytes,
    Packets,
    Retrans,
    DupAcks,
    ZeroWindows,
    Duration,
}

impl ConnFilter {
    /// `state=SF`, `client_state=TIME-WAIT`, `server_state=CLOSE-WAIT`, `host=198.18.0.1`,
    /// `port=9000`, `bytes>1000`, `packets<10`, `retrans>0`, `dupacks>0`, `zerowin>0`, `duration>1.5`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "--filter {s}: expected KEY=VALUE (state, client_state, server_state, host, port) or \
                 KEY>N / KEY<N (bytes, packets, retrans, dupacks, zerowin, duration)"
            )
        };
        if let Some((k, v)) = s.split_once('=') {
            let v = v.trim();
            return Ok(match k.trim() {
                "state" | "conn_state" => ConnFilter::State(v.to_ascii_uppercase()),
                "client_state" => ConnFilter::ClientState(v.to_ascii_uppercase()),
                "server_state" => ConnFilter::ServerState(v.to_ascii_uppercase()),
                "host" => ConnFilter::Host(v.parse().map_err(|_| format!("--filter {s}: `{v}` is not an IP address"))?),
                "port" => ConnFilter::Port(v.parse().map_err(|_| format!("--filter {s}: `{v}` is not a port number"))?),
                _ => return Err(err()),
            });
        }
        let (k, v, greater) = if let Some((k, v)) = s.split_once('>') {
            (k, v, true)
        } else if let Some((k, v)) = s.split_once('<') {
            (k, v, false)
        } else {
            return Err(err());
        };
        let field = match k.trim() {
            "bytes" => NumField::Bytes,
            "packets" => NumField::Packets,
            "retrans" | "retransmissions" => NumField::Retrans,
            "dupacks" | "dup_acks" => NumField::DupAcks,
            "zerowin" | "zero_windows" => NumField::ZeroWindows,
            "duration" => NumField::Duration,
            _ => return Err(err()),
        };
        let n: f64 = v.trim().parse().map_err(|_| format!("--filter {s}: `{v}` is not a number"))?;
        Ok(if greater { ConnFilter::Greater(field, n) } else { ConnFilter::Less(field, n) })
    }

    pub fn matches(&self, c: &ConnSummary) -> bool {
        let num = |f: NumField| -> f64 {
            match f {
                NumField::Bytes => (c.bytes[0] + c.bytes[1]) as f64,
                NumField::Packets => (c.packets[0] + c.packets[1]) as f64,
                NumField::Retrans => c.retransmissions as f64,
                NumField::DupAcks => c.dup_acks as f64,
                NumField::ZeroWindows => c.zero_windows as f64,
                NumField::Duration => (c.last_ts.saturating_sub(c.first_ts)) as f64 / 1e9,
            }
        };
        match self {
            ConnFilter::State(s) => c.conn_state.as_str() == s,
            ConnFilter::ClientState(s) => c.client_state.name() == s,
            ConnFilter::ServerState(s) => c.server_state.name() == s,
            ConnFilter::Host(ip) => c.client.ip() == *ip || c.server.ip() == *ip,
            ConnFilter::Port(p) => c.client.port() == *p || c.server.port() == *p,
            ConnFilter::Greater(f, n) => num(*f) > *n,
            ConnFilter::Less(f, n) => num(*f) < *n,
        }
    }
}

/// Apply filters and sort (stable, ties by id).
pub fn select(mut rows: Vec<ConnRow>, filters: &[ConnFilter], sort: SortKey, reverse: bool) -> Vec<ConnRow> {
    rows.retain(|r| filters.iter().all(|f| f.matches(&r.c)));
    rows.sort_by_key(|r| r.c.conn);
    match sort {
        SortKey::Id => {}
        SortKey::Start => rows.sort_by_key(|r| r.c.first_ts),
        SortKey::Duration => rows.sort_by_key(|r| std::cmp::Reverse(r.c.last_ts.saturating_sub(r.c.first_ts))),
        SortKey::Bytes => rows.sort_by_key(|r| std::cmp::Reverse(r.c.bytes[0] + r.c.bytes[1])),
        SortKey::Packets => rows.sort_by_key(|r| std::cmp::Reverse(r.c.packets[0] + r.c.packets[1])),
        SortKey::Retrans => rows.sort_by_key(|r| std::cmp::Reverse(r.c.retransmissions)),
    }
    if reverse {
        rows.reverse();
    }
    rows
}

/// Writes `v`, or `-` when absent.
fn opt(w: &mut Vec<u8>, v: Option<impl std::fmt::Display>) {
    let _ = match v {
        Some(x) => write!(w, "{x}"),
        None => w.write_all(b"-"),
    };
}

/// Thousands separators for byte counts: `1,234,567`.
pub use crate::analyze::framing::detect::thousands as group;

/// `a/b`, each written by `f`.
fn pair<T>(w: &mut Vec<u8>, (a, b): (T, T), f: impl Fn(&mut Vec<u8>, T)) {
    f(w, a);
    w.push(b'/');
    f(w, b);
}

/// `group` into `w` without a `String`.
fn grouped(w: &mut Vec<u8>, v: u64) {
    let mut digits = [0u8; 20];
    let mut n = v;
    let mut k = 0;
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        k += 1;
        if n == 0 {
            break;
        }
    }
    for i in (0..k).rev() {
        w.push(digits[i]);
        if i > 0 && i % 3 == 0 {
            w.push(b',');
        }
    }
}

/// `lines` / `len:4:be`, `-` while undecided or absent.
fn framing_cell(w: &mut Vec<u8>, s: &SeamCounts) {
    opt(w, s[0].and_then(|d| d.framing));
    w.push(b'/');
    opt(w, s[1].and_then(|d| d.framing));
}

/// `21 (20s 1p)/9` messages per direction (sticky, split).
fn messages_cell(w: &mut Vec<u8>, s: &SeamCounts) {
    for (i, d) in s.iter().enumerate() {
        if i == 1 {
            w.push(b'/');
        }
        let _ = match d {
            None => w.write_all(b"-"),
            Some(d) if d.sticky == 0 && d.split == 0 => write!(w, "{}", d.messages),
            Some(d) => write!(w, "{} ({}s {}p)", d.messages, d.sticky, d.split),
        };
    }
}

const HEADER: [&str; 16] = [
    "id",
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
];
/// Columns aligned right (numbers).
const RIGHT: [usize; 8] = [0, 7, 8, 9, 10, 11, 12, 13];
/// Rows per comfy-table when a table is written in parts.
const CHUNK: usize = 1024;

/// The 16 cells of a row, one after the other in `buf` (cleared first); cell `i` ends at
/// `ends[i]`. One buffer for all rows: no allocation per cell.
fn write_cells(r: &ConnRow, buf: &mut Vec<u8>, ends: &mut [usize; 16]) {
    let c = &r.c;
    buf.clear();
    let mut i = 0;
    let mut end = |buf: &Vec<u8>| {
        ends[i] = buf.len();
        i += 1;
    };
    let _ = write!(buf, "{}", c.conn);
    end(buf);
    let _ = write!(buf, "{}", c.client);
    end(buf);
    let _ = write!(buf, "{}", c.server);
    end(buf);
    let _ = write!(buf, "{} {}", c.conn_state, c.history);
    end(buf);
    let _ = write!(buf, "{} / {}", c.client_state.name(), c.server_state.name());
    end(buf);
    pair(buf, c.mss, opt);
    end(buf);
    pair(buf, c.ws, opt);
    end(buf);
    let _ = match c.irtt {
        Some(ns) => write!(buf, "{:.3} ms", ns as f64 / 1e6),
        None => buf.write_all(b"-"),
    };
    end(buf);
    let _ = write_secs(buf, c.last_ts.saturating_sub(c.first_ts), false);
    end(buf);
    let _ = write!(buf, "{}/{}", c.packets[0], c.packets[1]);
    end(buf);
    pair(buf, (c.bytes[0], c.bytes[1]), grouped);
    end(buf);
    let _ = write!(buf, "{}", c.retransmissions);
    end(buf);
    let _ = write!(buf, "{}", c.dup_acks);
    end(buf);
    let _ = write!(buf, "{}", c.zero_windows);
    end(buf);
    framing_cell(buf, &r.seams);
    end(buf);
    messages_cell(buf, &r.seams);
    end(buf);
}

/// Cell `i` of a row written by [`write_cells`].
fn cell<'b>(buf: &'b [u8], ends: &[usize; 16], i: usize) -> &'b str {
    let from = if i == 0 { 0 } else { ends[i - 1] };
    std::str::from_utf8(&buf[from..ends[i]]).unwrap_or("")
}

fn cells(r: &ConnRow) -> [String; 16] {
    let mut buf = Vec::new();
    let mut ends = [0; 16];
    write_cells(r, &mut buf, &mut ends);
    std::array::from_fn(|i| cell(&buf, &ends, i).to_string())
}

/// An empty table with the header, the style and the alignments.
fn new_table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED).force_no_tty();
    t.set_header(HEADER.to_vec());
    for i in RIGHT {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The table. `width`: `None` = as wide as the content (pipes, tests); `Some(w)` = wrap to a terminal.
pub fn write_table(w: &mut impl Write, rows: &[ConnRow], width: Option<u16>) -> io::Result<()> {
    match width {
        Some(wd) => {
            // Wrapping depends on every row at once: one table.
            let mut t = new_table();
            t.set_content_arrangement(ContentArrangement::Dynamic).set_width(wd);
            for r in rows {
                t.add_row(cells(r).to_vec());
            }
            writeln!(w, "{t}")?;
        }
        None => write_parts(w, rows, CHUNK)?,
    }
    let total_bytes: u64 = rows.iter().map(|r| r.c.bytes[0] + r.c.bytes[1]).sum();
    let retr: u64 = rows.iter().map(|r| r.c.retransmissions).sum();
    writeln!(
        w,
        "{} connection{}, {} payload bytes, {} retransmissions",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        group(total_bytes),
        retr
    )
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
    let mut widths: [usize; 16] = HEADER.map(|h| h.chars().count());
    let mut buf = Vec::with_capacity(256);
    let mut ends = [0usize; 16];
    for r in rows {
        write_cells(r, &mut buf, &mut ends);
        for (i, wd) in widths.iter_mut().enumerate() {
            *wd = (*wd).max(cell(&buf, &ends, i).chars().count());
        }
    }
    let mut t = new_table();
    t.set_content_arrangement(ContentArrangement::Disabled);
    for (i, wd) in widths.iter().enumerate() {
        if let Some(col) = t.column_mut(i) {
            let fixed = u16::try_from(wd + 2).unwrap_or(u16::MAX);
            col.set_constraint(comfy_table::ColumnConstraint::Absolute(comfy_table::Width::Fixed(fixed)));
        }
    }
    if rows.is_empty() {
        return writeln!(w, "{t}");
    }
    // Drawn with one empty row: top border, header, header rule, (the row), bottom border.
    t.add_row(vec![""; 16]);
    let frame = t.to_string();
    let lines: Vec<&str> = frame.lines().collect();
    let [top, head, rule, _, bottom] = lines[..] else {
        return Err(io::Error::other("unexpected table frame"));
    };
    for l in [top, head, rule] {
        writeln!(w, "{l}")?;
    }
    let mut out = Vec::with_capacity(64 << 10);
    for (k, r) in rows.iter().enumerate() {
        write_cells(r, &mut buf, &mut ends);
        out.extend_from_slice("│".as_bytes());
        for (i, &wd) in widths.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice("┆".as_bytes());
            }
            let c = cell(&buf, &ends, i);
            let pad = wd - c.chars().count();
            out.push(b' ');
            if RIGHT.contains(&i) {
                out.resize(out.len() + pad, b' ');
                out.extend_from_slice(c.as_bytes());
            } else {
                out.extend_from_slice(c.as_bytes());
                out.resize(out.len() + pad, b' ');
            }
            out.push(b' ');
        }
        out.extend_from_slice("│\n".as_bytes());
        if (k + 1) % chunk.max(1) == 0 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    writeln!(w, "{bottom}")
}

pub fn write_json(w: &mut impl Write, rows: &[ConnRow]) -> io::Result<()> {
    for r in rows {
        write_conn(w, &r.c, &r.seams)?;
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
            let c = ConnSummary {
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
            };
            rows.push(ConnRow { c, seams: [None, None] });
        }
        let mut whole = new_table();
        whole.set_content_arrangement(ContentArrangement::Disabled);
        for r in &rows {
            whole.add_row(cells(r).to_vec());
        }
        let whole = format!("{whole}\n");
        for n in [0, 1, 5, 22, 23] {
            for chunk in [1, 2, 7, 22, 23, 1000] {
                let mut v = Vec::new();
                write_parts(&mut v, &rows[..n], chunk).unwrap();
                let mut t = new_table();
                for r in &rows[..n] {
                    t.add_row(cells(r).to_vec());
                }
                assert_eq!(String::from_utf8(v).unwrap(), format!("{t}\n"), "{n} rows in parts of {chunk}");
            }
        }
        let mut v = Vec::new();
        write_parts(&mut v, &rows, 4).unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), whole);
    }

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234), "1,234");
        assert_eq!(group(1234567), "1,234,567");
        for v in [0, 1, 12, 123, 1234, 12345, 123456, 1234567, 999_999_999_999, u64::MAX] {
            let mut w = Vec::new();
            grouped(&mut w, v);
            assert_eq!(String::from_utf8(w).unwrap(), group(v));
        }
    }
}
