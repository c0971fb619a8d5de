//! `conns --format csv|tsv|zeek`: connection rows as delimited text. `zeek` is the ASCII log of
//! Zeek's conn.log (the `#separator` ... `#types` header, Zeek's columns, `-` for unset fields,
//! `#close` trailer) so that `zeek-cut` and other readers of Zeek logs take it; `csv` and `tsv`
//! have one header line and the columns of the JSON `conn` record. All three escape as Zeek's
//! ASCII writer does: the separator, `\`, control and non-ASCII bytes become `\xNN`, so a cell
//! never holds the separator or a line break and no terminal control sequence gets through.

use std::io::{self, Write};
use std::net::SocketAddr;

use super::conns::ConnRow;
use super::time::{write_rfc3339, write_secs};

/// How `conns` writes its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnsFormat {
    /// A table for people.
    Table,
    /// JSON lines (`conn` records).
    Json,
    /// Delimited text.
    Delimited(Delimited),
    /// `conns.parquet` files (`docs/parquet.md`), written by `app` from the rows.
    Parquet,
}

/// The delimited formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimited {
    /// Comma-separated, a header line, the JSON `conn` record's columns.
    Csv,
    /// Tab-separated, otherwise as `Csv`.
    Tsv,
    /// Zeek's conn.log (ASCII writer, tab-separated).
    Zeek,
}

/// The transport of a row: Zeek's `transport_proto`.
pub use crate::track::Proto;

/// One conn.log row: what a connection or flow of any transport can fill in (`None`: unset, `-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZeekConn {
    /// Capture time of the first packet (ns).
    pub start_ns: i64,
    /// Originator (`id.orig_h`, `id.orig_p`); for ICMP the port is the type, as in Zeek.
    pub orig: SocketAddr,
    /// Responder (`id.resp_h`, `id.resp_p`); for ICMP the port is the code.
    pub resp: SocketAddr,
    /// Transport.
    pub proto: Proto,
    /// First to last packet (ns); unset for a connection of one instant, as Zeek leaves it.
    pub duration_ns: Option<i64>,
    /// Payload bytes each way (`orig_bytes`, `resp_bytes`); unset with `duration_ns`.
    pub bytes: Option<[u64; 2]>,
    /// Zeek's `conn_state` (`SF`, `S0`, ...).
    pub conn_state: Option<&'static str>,
    /// Zeek's history letters.
    pub history: Option<String>,
    /// Packets each way.
    pub pkts: [u64; 2],
    /// IP-level bytes each way; unset when not counted.
    pub ip_bytes: Option<[u64; 2]>,
}

impl ZeekConn {
    /// The row of a connection or flow. `orig_bytes`/`resp_bytes` are the payload bytes each way
    /// (for TCP retransmissions included, where Zeek takes the span of sequence numbers).
    pub fn of(row: &ConnRow) -> Self {
        let s = &row.summary;
        let duration = s.last_ts.saturating_sub(s.first_ts);
        ZeekConn {
            start_ns: s.first_ts,
            orig: s.client,
            resp: s.server,
            proto: s.proto,
            duration_ns: (duration > 0).then_some(duration),
            bytes: (duration > 0).then_some(s.bytes),
            conn_state: Some(s.conn_state.as_str()),
            history: (!s.history.is_empty()).then(|| s.history.clone()),
            pkts: s.packets,
            ip_bytes: None,
        }
    }

    /// `C` and 17 base-62 digits of a 128-bit FNV-1a hash of the transport, both endpoints and
    /// the start time: the same connection always gets the same uid (Zeek's are random).
    pub fn uid(&self) -> String {
        let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u128::from(b);
                hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
            }
        };
        eat(self.proto.name().as_bytes());
        for addr in [self.orig, self.resp] {
            match addr.ip() {
                std::net::IpAddr::V4(a) => eat(&a.octets()),
                std::net::IpAddr::V6(a) => eat(&a.octets()),
            }
            eat(&addr.port().to_be_bytes());
        }
        eat(&self.start_ns.to_be_bytes());
        const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut uid = vec![b'C'];
        for _ in 0..17 {
            uid.push(DIGITS[(hash % 62) as usize]);
            hash /= 62;
        }
        String::from_utf8(uid).expect("ASCII")
    }
}

/// Zeek's conn.log columns and their types.
const ZEEK_FIELDS: [(&str, &str); 21] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
];

/// The columns of `csv` and `tsv`: the JSON `conn` record's keys, objects flattened with `_`.
const TABLE_FIELDS: [&str; 26] = [
    "conn",
    "proto",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "conn_state",
    "history",
    "client_state",
    "server_state",
    "mss_client",
    "mss_server",
    "ws_client",
    "ws_server",
    "irtt",
    "start",
    "duration",
    "packets_c2s",
    "packets_s2c",
    "bytes_c2s",
    "bytes_s2c",
    "retransmissions",
    "dup_acks",
    "zero_windows",
    "first_frame",
    "last_frame",
];

/// A line of cells: separator between them, each escaped as Zeek's ASCII writer does.
struct Line<'w, W: Write> {
    w: &'w mut W,
    separator: u8,
    /// Written for `None` (`-` in Zeek logs, nothing in CSV/TSV).
    unset: &'static [u8],
    first: bool,
    cell: Vec<u8>,
}

impl<W: Write> Line<'_, W> {
    fn start(&mut self) {
        self.first = true;
    }

    /// One cell; `None` is unset.
    fn cell(&mut self, text: Option<&[u8]>) -> io::Result<()> {
        if !std::mem::replace(&mut self.first, false) {
            self.w.write_all(&[self.separator])?;
        }
        let Some(text) = text else { return self.w.write_all(self.unset) };
        if text.is_empty() && self.separator == b'\t' && self.unset == b"-" {
            return self.w.write_all(b"(empty)");
        }
        if text == b"-" && self.unset == b"-" {
            // A real "-" must not read as unset.
            return self.w.write_all(b"\\x2d");
        }
        let mut start = 0;
        for (i, &b) in text.iter().enumerate() {
            if !(0x20..0x7f).contains(&b) || b == b'\\' || b == self.separator || (b == b'"' && self.separator == b',') {
                self.w.write_all(&text[start..i])?;
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.w.write_all(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])?;
                start = i + 1;
            }
        }
        self.w.write_all(&text[start..])
    }

    /// A cell of what `write` puts in the scratch buffer.
    fn with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        let mut cell = std::mem::take(&mut self.cell);
        cell.clear();
        write(&mut cell)?;
        let result = self.cell(Some(&cell));
        self.cell = cell;
        result
    }

    fn num(&mut self, value: Option<impl itoa::Integer>) -> io::Result<()> {
        match value {
            Some(v) => self.cell(Some(itoa::Buffer::new().format(v).as_bytes())),
            None => self.cell(None),
        }
    }

    fn end(&mut self) -> io::Result<()> {
        self.w.write_all(b"\n")
    }
}

/// Zeek's `#open`/`#close` time format, `2024-01-31-12-00-00` (UTC).
fn zeek_date(w: &mut impl Write, ns: i64) -> io::Result<()> {
    let mut buf = Vec::with_capacity(32);
    write_rfc3339(&mut buf, ns, false)?;
    let date: Vec<u8> = buf.iter().take(19).map(|&b| if b == b'T' || b == b':' { b'-' } else { b }).collect();
    w.write_all(&date)
}

/// Zeek's conn.log of `rows`. `#open` and `#close` carry the first and the last capture time
/// of the rows (Zeek writes wall-clock times; these keep the output a function of the input).
pub fn write_zeek(w: &mut impl Write, rows: &[ZeekConn]) -> io::Result<()> {
    let first = rows.iter().map(|r| r.start_ns).min().unwrap_or(0);
    let last = rows.iter().map(|r| r.start_ns + r.duration_ns.unwrap_or(0)).max().unwrap_or(0);
    w.write_all(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t")?;
    zeek_date(w, first)?;
    w.write_all(b"\n#fields")?;
    for (name, _) in ZEEK_FIELDS {
        write!(w, "\t{name}")?;
    }
    w.write_all(b"\n#types")?;
    for (_, ty) in ZEEK_FIELDS {
        write!(w, "\t{ty}")?;
    }
    w.write_all(b"\n")?;
    let mut line = Line { w, separator: b'\t', unset: b"-", first: true, cell: Vec::new() };
    for row in rows {
        line.start();
        line.with(|c| write_secs(c, row.start_ns, false))?;
        line.cell(Some(row.uid().as_bytes()))?;
        line.with(|c| write!(c, "{}", row.orig.ip()))?;
        line.num(Some(row.orig.port()))?;
        line.with(|c| write!(c, "{}", row.resp.ip()))?;
        line.num(Some(row.resp.port()))?;
        line.cell(Some(row.proto.name().as_bytes()))?;
        line.cell(None)?; // service: no protocol analysis
        match row.duration_ns {
            Some(d) => line.with(|c| write_secs(c, d, false))?,
            None => line.cell(None)?,
        }
        line.num(row.bytes.map(|b| b[0]))?;
        line.num(row.bytes.map(|b| b[1]))?;
        line.cell(row.conn_state.map(str::as_bytes))?;
        line.cell(None)?; // local_orig: no Site::local_nets
        line.cell(None)?; // local_resp
        line.cell(None)?; // missed_bytes: not counted
        line.cell(row.history.as_deref().map(str::as_bytes))?;
        line.num(Some(row.pkts[0]))?;
        line.num(row.ip_bytes.map(|b| b[0]))?;
        line.num(Some(row.pkts[1]))?;
        line.num(row.ip_bytes.map(|b| b[1]))?;
        line.cell(None)?; // tunnel_parents
        line.end()?;
    }
    let w = line.w;
    w.write_all(b"#close\t")?;
    zeek_date(w, last)?;
    w.write_all(b"\n")
}

/// CSV or TSV of `rows`: a header line, then the JSON `conn` record's values (empty: null).
pub fn write_table_text(w: &mut impl Write, rows: &[ConnRow], separator: u8) -> io::Result<()> {
    let mut line = Line { w, separator, unset: b"", first: true, cell: Vec::new() };
    for name in TABLE_FIELDS {
        line.cell(Some(name.as_bytes()))?;
    }
    line.end()?;
    for row in rows {
        let s = &row.summary;
        line.start();
        line.num(Some(s.conn))?;
        line.cell(Some(b"tcp"))?;
        line.with(|c| write!(c, "{}", s.client.ip()))?;
        line.num(Some(s.client.port()))?;
        line.with(|c| write!(c, "{}", s.server.ip()))?;
        line.num(Some(s.server.port()))?;
        line.cell(Some(s.conn_state.as_str().as_bytes()))?;
        line.cell(Some(s.history.as_bytes()))?;
        line.cell(Some(s.client_state.name().as_bytes()))?;
        line.cell(Some(s.server_state.name().as_bytes()))?;
        line.num(s.mss.0)?;
        line.num(s.mss.1)?;
        line.num(s.ws.0)?;
        line.num(s.ws.1)?;
        match s.irtt {
            Some(ns) => line.with(|c| write_secs(c, ns, true))?,
            None => line.cell(None)?,
        }
        line.with(|c| write_rfc3339(c, s.first_ts, false))?;
        line.with(|c| write_secs(c, s.last_ts.saturating_sub(s.first_ts), false))?;
        for v in
            [s.packets[0], s.packets[1], s.bytes[0], s.bytes[1], s.retransmissions, s.dup_acks, s.zero_windows, s.first_frame, s.last_frame]
        {
            line.num(Some(v))?;
        }
        line.end()?;
    }
    Ok(())
}

/// `rows` in `kind`.
pub fn write_delimited(w: &mut impl Write, rows: &[ConnRow], kind: Delimited) -> io::Result<()> {
    match kind {
        Delimited::Csv => write_table_text(w, rows, b','),
        Delimited::Tsv => write_table_text(w, rows, b'\t'),
        Delimited::Zeek => write_zeek(w, &rows.iter().map(ZeekConn::of).collect::<Vec<_>>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(history: &str) -> ZeekConn {
        ZeekConn {
            start_ns: 1_700_000_000_123_456_000,
            orig: "10.0.0.1:40000".parse().unwrap(),
            resp: "10.0.0.2:80".parse().unwrap(),
            proto: Proto::Udp,
            duration_ns: Some(1_500_000),
            bytes: Some([10, 20]),
            conn_state: Some("SF"),
            history: Some(history.into()),
            pkts: [3, 4],
            ip_bytes: None,
        }
    }

    #[test]
    fn uid_is_stable_and_zeek_shaped() {
        let a = row("Dd");
        assert_eq!(a.uid(), row("x").uid(), "history is not part of the identity");
        assert_eq!(a.uid().len(), 18);
        assert!(a.uid().starts_with('C') && a.uid().bytes().all(|b| b.is_ascii_alphanumeric()));
        let mut b = a.clone();
        b.resp = "10.0.0.2:81".parse().unwrap();
        assert_ne!(a.uid(), b.uid());
    }

    #[test]
    fn zeek_log_escapes_and_protocol_column() {
        let mut out = Vec::new();
        write_zeek(&mut out, &[row("a\tb\\c\u{1b}[31m"), row("-"), row("")]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#separator \\x09");
        assert!(lines[5].starts_with("#open\t2023-11-14-22-13-20"), "{}", lines[5]);
        let data: Vec<Vec<&str>> = lines.iter().filter(|l| !l.starts_with('#')).map(|l| l.split('\t').collect()).collect();
        assert_eq!(data.len(), 3);
        assert!(data.iter().all(|cells| cells.len() == 21));
        assert_eq!(data[0][6], "udp");
        assert_eq!(data[0][15], "a\\x09b\\x5cc\\x1b[31m");
        assert_eq!(data[1][15], "\\x2d", "a real dash is not unset");
        assert_eq!(data[2][15], "(empty)");
        assert_eq!(data[0][0], "1700000000.123456");
        assert_eq!(data[0][8], "0.001500");
        assert!(lines.last().unwrap().starts_with("#close\t"));
    }
}
