//! Sinks: text for people, JSON lines for programs. All write to any `io::Write`.

pub mod app;
pub mod cause;
pub mod conns;
pub mod conns_log;
pub mod display;
pub mod escape;
pub mod fields;
pub mod flow;
pub mod follow;
pub mod json;
pub mod line;
pub mod link;
pub mod parquet;
pub mod recent;
pub mod report;
pub mod savefile;
pub mod select;
pub mod spool;
pub mod stats;
pub mod stream;
pub mod style;
pub mod text;
pub mod time;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;

use crate::analyze::Carried;
use crate::pipeline::{MsgNote, Sink};

/// How a packet listing (`read`, `capture`) is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// For people: annotated lines.
    Text,
    /// JSON lines for programs (`docs/json-lines.md`).
    Json,
    /// Chosen fields of the packet records, one line per frame (`-T fields -e ...`).
    Fields(fields::FieldsSpec),
    /// Parquet files in a directory (`docs/parquet.md`; refused by the configuration in a build
    /// without the `parquet` feature).
    Parquet(parquet::ParquetOptions),
}

/// The sink of a packet listing (`read`, `capture`) in `format`, writing to `w`: the one place
/// a format becomes a sink. `text` applies to [`OutputFormat::Text`].
pub fn packet_sink<'w, W: Write + 'w>(format: &OutputFormat, text: text::TextOptions, w: W) -> Box<dyn Sink + 'w> {
    match format {
        OutputFormat::Text => Box::new(text::TextSink::new(w, text)),
        OutputFormat::Json => Box::new(json::JsonSink::new(w)),
        OutputFormat::Fields(spec) => Box::new(fields::FieldsSink::new(w, spec.clone())),
        // refused by the configuration of every command that lists packets to a writer
        #[cfg(feature = "parquet")]
        OutputFormat::Parquet(opts) => Box::new(parquet::ParquetSink::new(opts, parquet::Tables::All, None)),
        #[cfg(not(feature = "parquet"))]
        OutputFormat::Parquet(_) => unreachable!("the configuration refuses -F parquet without the feature"),
    }
}

/// What a per-connection view (`flow`, `stream`) found to show, for the closing message and
/// the exit status: the same answer for every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Found {
    /// At least one connection (or flow) was shown.
    #[default]
    Shown,
    /// `--conn N` named a connection the input does not have (an error: exit 1).
    Missing(u32),
    /// The input has nothing this view draws (no TCP connection; for `stream` no UDP flow
    /// either).
    Nothing,
}

/// Writes a frame's message annotation (`None`: the frame carries no message bytes).
pub type Annotate<'a> = dyn FnMut(&mut dyn Write, Option<&Carried>) -> io::Result<()> + 'a;

/// Output of frames whose message annotation is not known yet (bytes held out of order or while
/// the framing is detected), kept in frame order: a line waits as `head` + annotation + `tail`
/// until [`Deferred::resolve`] gives its messages; lines behind it wait too, so the output stays
/// in capture order. Bounded: past `MAX` waiting lines the oldest go out unannotated.
#[derive(Default)]
pub struct Deferred {
    /// Room a new line's buffers start with: about one record, so that they do not grow.
    line_capacity: usize,
    queue: VecDeque<Waiting>,
    /// Buffers of lines already written, cleared, for the next lines that wait: a waiting line
    /// costs no allocation once as many have waited at once.
    spare: Vec<(line::Line, line::Line)>,
}

struct Waiting {
    n: u64,
    head: line::Line,
    tail: line::Line,
    /// `None` while pending.
    note: Option<Option<Carried>>,
}

impl Deferred {
    const MAX: usize = 4096;
    /// Buffers kept for reuse: as many as lines may wait at once. A new line takes a spare
    /// pair before it allocates, so the spare pairs and the waiting lines together never hold
    /// more buffers than the longest wait did (the peak is not raised by keeping them), and a
    /// capture whose lines often wait long (large messages of interleaved connections) does not
    /// allocate and free a pair for most of its frames.
    const SPARE: usize = 1024;

    /// No line waits yet; new lines' buffers start with `line_capacity` bytes of room.
    pub fn new(line_capacity: usize) -> Self {
        Deferred { line_capacity, ..Deferred::default() }
    }

    /// No line waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Does this frame's output have to wait?
    pub fn must_wait(&self, note: &MsgNote) -> bool {
        matches!(note, MsgNote::Pending) || !self.queue.is_empty()
    }

    /// Two empty buffers for a line's head and tail (recycled from lines already written).
    pub fn buffers(&mut self) -> (line::Line, line::Line) {
        let head = self.line_capacity.max(64);
        self.spare.pop().unwrap_or_else(|| (line::Line::with_capacity(head), line::Line::with_capacity(64)))
    }

    /// Frame `n`'s line waits, as `head` + its annotation + `tail`; `note` is its annotation when
    /// known (call in frame order, once per frame).
    pub fn push(&mut self, n: u64, head: line::Line, tail: line::Line, note: &MsgNote) {
        let note = match note {
            MsgNote::Pending => None,
            MsgNote::Known(c) => Some(Some(*c)),
            MsgNote::None => Some(None),
        };
        self.queue.push_back(Waiting { n, head, tail, note });
    }

    /// The messages of frame `c.n` are known now. The queue is in frame order (one entry per
    /// frame): a binary search, not a walk over up to `MAX` waiting lines per message.
    pub fn resolve(&mut self, c: &Carried) {
        let at = self.queue.partition_point(|line| line.n < c.n);
        if let Some(line) = self.queue.get_mut(at).filter(|line| line.n == c.n && line.note.is_none()) {
            line.note = Some(Some(*c));
        }
    }

    /// Write every line at the front whose annotation is known (all of them with `all`).
    pub fn flush(&mut self, w: &mut dyn Write, all: bool, annotate: &mut Annotate<'_>) -> io::Result<()> {
        while let Some(front) = self.queue.front() {
            if front.note.is_none() && !all && self.queue.len() <= Self::MAX {
                break;
            }
            let mut line = self.queue.pop_front().expect("front exists");
            w.write_all(line.head.as_bytes())?;
            annotate(w, line.note.flatten().as_ref())?;
            w.write_all(line.tail.as_bytes())?;
            if self.spare.len() < Self::SPARE && line.head.capacity() <= 4096 && line.tail.capacity() <= 4096 {
                line.head.clear();
                line.tail.clear();
                self.spare.push((line.head, line.tail));
            }
        }
        Ok(())
    }
}

/// `msg 3`, `msg 7 part 2 (continues)`, `msg 3-5 (3 stuck together)`: which application messages
/// a frame carries.
pub fn write_msg_note(w: &mut dyn Write, c: &Carried) -> io::Result<()> {
    // Built in a stack buffer and written once: this runs for every frame that carries message
    // bytes, and core::fmt through `dyn Write` cost as much as the rest of the line's numbers.
    let mut b = NoteBuf::default();
    if c.dup {
        b.push(b"again ");
    }
    b.push(b"msg ");
    b.num(c.first);
    if c.first == c.last {
        match (c.first_part, c.continues, c.dup) {
            (_, _, true) | (1, false, _) => {}
            (1, true, _) => b.push(b" part 1 (split, continues)"),
            (p, true, _) => {
                b.push(b" part ");
                b.num(u64::from(p));
                b.push(b" (continues)");
            }
            (p, false, _) => {
                b.push(b" part ");
                b.num(u64::from(p));
                b.push(b" (last)");
            }
        }
        return w.write_all(b.bytes());
    }
    b.push(b"-");
    b.num(c.last);
    if c.dup {
        return w.write_all(b.bytes());
    }
    b.push(b" (");
    b.num(c.last - c.first + 1);
    // Together in the captured frame, not necessarily in one wire segment.
    b.push(if c.offloaded { b" in one offloaded frame" } else { b" stuck together" });
    if c.first_part > 1 {
        b.push(b"; msg ");
        b.num(c.first);
        b.push(b" part ");
        b.num(u64::from(c.first_part));
    }
    if c.continues {
        b.push(b"; msg ");
        b.num(c.last);
        b.push(b" continues");
    }
    b.push(b")");
    w.write_all(b.bytes())
}

/// The bytes of one message note (at most 5 numbers of 20 digits and 80 bytes of words).
struct NoteBuf {
    buf: [u8; 192],
    len: usize,
}

impl Default for NoteBuf {
    fn default() -> Self {
        NoteBuf { buf: [0; 192], len: 0 }
    }
}

impl NoteBuf {
    fn push(&mut self, s: &[u8]) {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }
    fn num(&mut self, v: u64) {
        self.push(itoa::Buffer::new().format(v).as_bytes());
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `198.18.0.1:9000` or `[2001:db8::1]:9000`.
pub struct Endpoint(pub IpAddr, pub u16);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// An address as text without core::fmt for IPv4 (every frame has two; digit by digit into a
/// fixed buffer); IPv6 through `Display`.
pub fn write_ip(w: &mut impl Write, a: &IpAddr) -> io::Result<()> {
    match a {
        IpAddr::V4(v) => {
            let mut buf = [0u8; 16];
            let n = put_ipv4(&mut buf, v.octets());
            w.write_all(&buf[..n])
        }
        IpAddr::V6(v) => write!(w, "{v}"),
    }
}

/// [`write_ip`] into a [`line::Line`]: IPv4 as one copy of known size.
pub fn put_ip(w: &mut line::Line, a: &IpAddr) -> io::Result<()> {
    match a {
        IpAddr::V4(v) => {
            let mut buf = [0u8; 16];
            let n = put_ipv4(&mut buf, v.octets());
            w.put_first(&buf, n);
            Ok(())
        }
        IpAddr::V6(v) => write!(w, "{v}"),
    }
}

/// The decimal text of every octet value, padded to four bytes, and its length.
const OCTETS: [([u8; 4], u8); 256] = {
    let mut table = [([0u8; 4], 0u8); 256];
    let mut v = 0;
    while v < 256 {
        let (h, t, o) = ((v / 100) as u8, (v / 10 % 10) as u8, (v % 10) as u8);
        table[v] = if v >= 100 {
            ([b'0' + h, b'0' + t, b'0' + o, 0], 3)
        } else if v >= 10 {
            ([b'0' + t, b'0' + o, 0, 0], 2)
        } else {
            ([b'0' + o, 0, 0, 0], 1)
        };
        v += 1;
    }
    table
};

/// Dotted-quad digits of `octets` into `buf` (at least 16 bytes); the length written. Each
/// octet is a table entry copied whole (four bytes) and advanced by its length: two addresses
/// per frame, no division.
fn put_ipv4(buf: &mut [u8], octets: [u8; 4]) -> usize {
    let mut n = 0;
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let (digits, len) = OCTETS[usize::from(o)];
        buf[n..n + 4].copy_from_slice(&digits);
        n += usize::from(len);
    }
    n
}

/// Decimal digits of `v` into `buf` (at least 5 bytes); the length written.
fn put_u16(buf: &mut [u8], v: u16) -> usize {
    let len = line::decimal_len(u64::from(v));
    line::fixed_digits(&mut buf[..len], u64::from(v));
    len
}

impl Endpoint {
    /// `a.b.c.d:port` in a fixed buffer, and its length: `None` for IPv6.
    #[inline(always)]
    fn v4_text(&self) -> Option<([u8; 22], usize)> {
        let IpAddr::V4(v) = self.0 else { return None };
        let mut buf = [0u8; 22];
        let mut n = put_ipv4(&mut buf, v.octets());
        buf[n] = b':';
        n += 1;
        n += put_u16(&mut buf[n..], self.1);
        Some((buf, n))
    }

    /// [`write_to`](Self::write_to) into a [`line::Line`]: the IPv4 text goes in as one copy of
    /// known size.
    pub fn put_to(&self, w: &mut line::Line) -> io::Result<()> {
        match self.v4_text() {
            Some((buf, n)) => {
                w.put_first(&buf, n);
                Ok(())
            }
            None => write!(w, "{self}"),
        }
    }

    /// Write without core::fmt for IPv4 (the per-frame case: one write of `a.b.c.d:port`);
    /// IPv6 through Display.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        match self.v4_text() {
            Some((buf, n)) => w.write_all(&buf[..n]),
            None => write!(w, "{self}"),
        }
    }
}

/// tcpdump's flag letters: `S` SYN, `F` FIN, `R` RST, `P` PSH, `.` ACK, `U` URG, `E` ECE, `W` CWR.
pub struct FlagLetters(pub u8);

/// The bracketed letters of every flag byte, and their length (see [`FlagLetters`]).
const FLAG_LETTERS: [([u8; 10], u8); 256] = {
    use crate::decode::tcpflags::*;
    let order = [(SYN, b'S'), (FIN, b'F'), (RST, b'R'), (PSH, b'P'), (URG, b'U'), (ECE, b'E'), (CWR, b'W'), (ACK, b'.')];
    let mut table = [([0u8; 10], 0u8); 256];
    let mut flags = 0;
    while flags < 256 {
        let mut buf = [0u8; 10];
        buf[0] = b'[';
        let mut n = 1;
        let mut k = 0;
        while k < order.len() {
            if flags as u8 & order[k].0 != 0 {
                buf[n] = order[k].1;
                n += 1;
            }
            k += 1;
        }
        table[flags] = if n == 1 {
            ([b'[', b'n', b'o', b'n', b'e', b']', 0, 0, 0, 0], 6)
        } else {
            buf[n] = b']';
            (buf, n as u8 + 1)
        };
        flags += 1;
    }
    table
};

impl FlagLetters {
    /// `[S.]`, `[none]`: the bracketed letters, from a table.
    fn letters(&self) -> ([u8; 10], usize) {
        let (buf, n) = FLAG_LETTERS[usize::from(self.0)];
        (buf, usize::from(n))
    }

    /// As `Display`, without `core::fmt` (once per TCP line of the text output).
    pub fn write_to(&self, w: &mut impl io::Write) -> io::Result<()> {
        let (buf, n) = self.letters();
        w.write_all(&buf[..n])
    }
}

impl fmt::Display for FlagLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (buf, n) = self.letters();
        f.pad(std::str::from_utf8(&buf[..n]).unwrap_or("?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The note written into its buffer says what the core::fmt version said, for every shape
    /// of carried messages.
    #[test]
    fn msg_note_as_formatted() {
        fn formatted(c: &Carried) -> String {
            if c.dup {
                return if c.first == c.last { format!("again msg {}", c.first) } else { format!("again msg {}-{}", c.first, c.last) };
            }
            if c.first == c.last {
                let tail = match (c.first_part, c.continues) {
                    (1, false) => String::new(),
                    (1, true) => " part 1 (split, continues)".into(),
                    (p, true) => format!(" part {p} (continues)"),
                    (p, false) => format!(" part {p} (last)"),
                };
                return format!("msg {}{tail}", c.first);
            }
            let how = if c.offloaded { "in one offloaded frame" } else { "stuck together" };
            let mut s = format!("msg {}-{} ({} {how}", c.first, c.last, c.last - c.first + 1);
            if c.first_part > 1 {
                s += &format!("; msg {} part {}", c.first, c.first_part);
            }
            if c.continues {
                s += &format!("; msg {} continues", c.last);
            }
            s + ")"
        }
        for (first, last) in [(0, 0), (7, 7), (3, 9), (u64::MAX - 1, u64::MAX), (0, u64::MAX - 1)] {
            for first_part in [1, 2, u32::MAX] {
                for bits in 0..8u8 {
                    let c = Carried {
                        n: 1,
                        flow: crate::track::FlowId::Tcp(0),
                        dir: crate::track::Dir::C2S,
                        first,
                        last,
                        first_part,
                        continues: bits & 1 != 0,
                        offloaded: bits & 2 != 0,
                        dup: bits & 4 != 0,
                    };
                    let mut out = Vec::new();
                    write_msg_note(&mut out, &c).unwrap();
                    assert_eq!(String::from_utf8(out).unwrap(), formatted(&c), "{c:?}");
                }
            }
        }
    }

    /// The hand-written digits equal Display's for every octet value and the port's range.
    #[test]
    fn endpoint_digits_equal_display() {
        for o in 0..=255u8 {
            let a = std::net::Ipv4Addr::new(o, 255 - o, o / 3, 7);
            for port in [0u16, 9, 10, 99, 100, 9000, 65_535, u16::from(o) * 257] {
                let e = Endpoint(IpAddr::V4(a), port);
                let mut out = Vec::new();
                e.write_to(&mut out).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), format!("{a}:{port}"));
            }
            let mut ip = Vec::new();
            write_ip(&mut ip, &IpAddr::V4(a)).unwrap();
            assert_eq!(String::from_utf8(ip).unwrap(), a.to_string());
        }
    }

    /// Waiting lines come out in frame order with their annotations, and their buffers are
    /// handed out again, empty.
    #[test]
    fn deferred_lines_in_order_and_buffers_reused() {
        let mut d = Deferred::default();
        let c = |n| Carried {
            n,
            flow: crate::track::FlowId::Tcp(0),
            dir: crate::track::Dir::C2S,
            first: n,
            last: n,
            first_part: 1,
            continues: false,
            offloaded: false,
            dup: false,
        };
        for n in 1..=3u64 {
            let (mut h, mut t) = d.buffers();
            h.put(format!("{n}:").as_bytes());
            t.put(b";");
            d.push(n, h, t, &MsgNote::Pending);
        }
        let mut out = Vec::new();
        let mut note = |w: &mut dyn Write, c: Option<&Carried>| write!(w, "{}", c.map_or(0, |c| c.first));
        d.resolve(&c(2));
        d.flush(&mut out, false, &mut note).unwrap();
        assert!(out.is_empty(), "line 1 still waits");
        d.resolve(&c(1));
        d.flush(&mut out, false, &mut note).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "1:1;2:2;");
        let (h, t) = d.buffers();
        assert!(h.is_empty() && t.is_empty() && h.capacity() > 0 && t.capacity() > 0);
        d.flush(&mut out, true, &mut note).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1:1;2:2;3:0;");
    }

    #[test]
    fn flags_like_tcpdump() {
        assert_eq!(FlagLetters(0x12).to_string(), "[S.]");
        assert_eq!(FlagLetters(0x11).to_string(), "[F.]");
        assert_eq!(FlagLetters(0x18).to_string(), "[P.]");
        assert_eq!(FlagLetters(0x04).to_string(), "[R]");
        assert_eq!(FlagLetters(0xc2).to_string(), "[SEW]");
        assert_eq!(FlagLetters(0).to_string(), "[none]");
        for f in 0..=255u8 {
            let mut want = String::new();
            for (bit, c) in [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x20, 'U'), (0x40, 'E'), (0x80, 'W'), (0x10, '.')] {
                if f & bit != 0 {
                    want.push(c);
                }
            }
            let want = if want.is_empty() { "[none]".to_string() } else { format!("[{want}]") };
            assert_eq!(FlagLetters(f).to_string(), want, "flags {f:#04x}");
        }
        for f in 0..=255u8 {
            let mut v = Vec::new();
            FlagLetters(f).write_to(&mut v).unwrap();
            assert_eq!(String::from_utf8(v).unwrap(), FlagLetters(f).to_string());
        }
        assert_eq!(format!("{:<8}|", FlagLetters(0x10)), "[.]     |", "width still pads");
    }

    #[test]
    fn endpoint_fast_path_matches_display() {
        for (ip, port) in [("198.18.0.1", 80u16), ("0.0.0.0", 0), ("255.255.255.255", 65535), ("2001:db8::1", 9000)] {
            let e = Endpoint(ip.parse().unwrap(), port);
            let mut v = Vec::new();
            e.write_to(&mut v).unwrap();
            assert_eq!(String::from_utf8(v).unwrap(), e.to_string());
        }
        // every octet value in every position, ports of every length
        for o in 0..=255u8 {
            for (k, port) in [0u16, 7, 42, 443, 9000, 65535].into_iter().enumerate() {
                let mut octets = [10, 200, 3, 99];
                octets[k % 4] = o;
                let e = Endpoint(std::net::Ipv4Addr::from(octets).into(), port);
                let mut v = Vec::new();
                e.write_to(&mut v).unwrap();
                assert_eq!(String::from_utf8(v).unwrap(), e.to_string());
            }
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(Endpoint("198.18.0.1".parse().unwrap(), 80).to_string(), "198.18.0.1:80");
        assert_eq!(Endpoint("2001:db8::1".parse().unwrap(), 80).to_string(), "[2001:db8::1]:80");
    }
}
