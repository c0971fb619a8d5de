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
pub mod link;
pub mod parquet;
pub mod report;
pub mod savefile;
pub mod select;
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
    queue: VecDeque<Waiting>,
    /// Buffers of lines already written, cleared, for the next lines that wait: a waiting line
    /// costs no allocation once as many have waited at once.
    spare: Vec<Vec<u8>>,
}

struct Waiting {
    n: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// `None` while pending.
    note: Option<Option<Carried>>,
}

impl Deferred {
    const MAX: usize = 4096;

    /// No line waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Does this frame's output have to wait?
    pub fn must_wait(&self, note: &MsgNote) -> bool {
        matches!(note, MsgNote::Pending) || !self.queue.is_empty()
    }

    /// Two empty buffers for a line's head and tail (recycled from lines already written).
    pub fn buffers(&mut self) -> (Vec<u8>, Vec<u8>) {
        (self.spare.pop().unwrap_or_default(), self.spare.pop().unwrap_or_default())
    }

    /// Frame `n`'s line waits, as `head` + its annotation + `tail`; `note` is its annotation when
    /// known (call in frame order, once per frame).
    pub fn push(&mut self, n: u64, head: Vec<u8>, tail: Vec<u8>, note: &MsgNote) {
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
            w.write_all(&line.head)?;
            annotate(w, line.note.flatten().as_ref())?;
            w.write_all(&line.tail)?;
            for mut buf in [std::mem::take(&mut line.head), std::mem::take(&mut line.tail)] {
                if self.spare.len() < 2 * Self::MAX && buf.capacity() <= 4096 {
                    buf.clear();
                    self.spare.push(buf);
                }
            }
        }
        Ok(())
    }
}

/// `msg 3`, `msg 7 part 2 (continues)`, `msg 3-5 (3 stuck together)`: which application messages
/// a frame carries.
pub fn write_msg_note(w: &mut dyn Write, c: &Carried) -> io::Result<()> {
    if c.dup {
        return if c.first == c.last { write!(w, "again msg {}", c.first) } else { write!(w, "again msg {}-{}", c.first, c.last) };
    }
    if c.first == c.last {
        write!(w, "msg {}", c.first)?;
        match (c.first_part, c.continues) {
            (1, false) => Ok(()),
            (1, true) => w.write_all(b" part 1 (split, continues)"),
            (p, true) => write!(w, " part {p} (continues)"),
            (p, false) => write!(w, " part {p} (last)"),
        }
    } else {
        if c.offloaded {
            // Together in the captured frame, not necessarily in one wire segment.
            write!(w, "msg {}-{} ({} in one offloaded frame", c.first, c.last, c.last - c.first + 1)?;
        } else {
            write!(w, "msg {}-{} ({} stuck together", c.first, c.last, c.last - c.first + 1)?;
        }
        if c.first_part > 1 {
            write!(w, "; msg {} part {}", c.first, c.first_part)?;
        }
        if c.continues {
            write!(w, "; msg {} continues", c.last)?;
        }
        w.write_all(b")")
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
            let mut buf = [0u8; 15];
            let mut n = 0;
            let mut it = itoa::Buffer::new();
            for (i, o) in v.octets().iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                let d = it.format(*o).as_bytes();
                buf[n..n + d.len()].copy_from_slice(d);
                n += d.len();
            }
            w.write_all(&buf[..n])
        }
        IpAddr::V6(v) => write!(w, "{v}"),
    }
}

impl Endpoint {
    /// Write without core::fmt for IPv4 (the per-frame case); IPv6 through Display.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        match self.0 {
            IpAddr::V4(_) => {
                write_ip(w, &self.0)?;
                w.write_all(b":")?;
                w.write_all(itoa::Buffer::new().format(self.1).as_bytes())
            }
            IpAddr::V6(_) => write!(w, "{self}"),
        }
    }
}

/// tcpdump's flag letters: `S` SYN, `F` FIN, `R` RST, `P` PSH, `.` ACK, `U` URG, `E` ECE, `W` CWR.
pub struct FlagLetters(pub u8);

impl FlagLetters {
    /// `[S.]`, `[none]`: the bracketed letters in a fixed buffer.
    fn letters(&self) -> ([u8; 10], usize) {
        use crate::decode::tcpflags::*;
        let mut buf = [0u8; 10];
        buf[0] = b'[';
        let mut n = 1;
        for (bit, c) in [(SYN, b'S'), (FIN, b'F'), (RST, b'R'), (PSH, b'P'), (URG, b'U'), (ECE, b'E'), (CWR, b'W'), (ACK, b'.')] {
            if self.0 & bit != 0 {
                buf[n] = c;
                n += 1;
            }
        }
        if n == 1 {
            buf[..6].copy_from_slice(b"[none]");
            return (buf, 6);
        }
        buf[n] = b']';
        (buf, n + 1)
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
            h.extend_from_slice(format!("{n}:").as_bytes());
            t.extend_from_slice(b";");
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
    }

    #[test]
    fn endpoints() {
        assert_eq!(Endpoint("198.18.0.1".parse().unwrap(), 80).to_string(), "198.18.0.1:80");
        assert_eq!(Endpoint("2001:db8::1".parse().unwrap(), 80).to_string(), "[2001:db8::1]:80");
    }
}
