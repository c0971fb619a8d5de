//! `wireseam stream --follow`: both directions of a TCP connection interleaved in the order
//! their bytes became available, as `tshark -q -z follow,tcp,MODE,N` writes them.
//!
//! Rules: each chunk is a range of one direction's reassembled stream that became available in
//! order at one capture time (a segment, or the segments a late one made contiguous), so a
//! retransmission shows nothing new and out-of-order data appears when the hole before it is
//! filled, after the segment that filled it, each held segment a chunk of its own (as tshark). Chunks of both directions are merged by that time (the client's first on a tie).
//! The client's chunks (node 0) are flush left, the server's (node 1) indented by a tab, as
//! tshark does. A gap is `[N bytes missing]`. In `ascii` and `hex`, the start of every message
//! the framing found is marked with its length, and a closing line per direction counts bytes,
//! chunks and messages; `raw` is the bytes alone, hex-encoded, a line per chunk, with only the
//! gap and keep marks: tshark's raw output line for line.

use std::fmt::Write as _;

use crate::analyze::{Arrival, Message};
use crate::numbers::thousands;

/// How `--follow` writes the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowMode {
    /// Text: printable UTF-8 as it is, line ends kept, other control bytes escaped (`\x1b`).
    Ascii,
    /// A hexdump of every chunk, offsets counted per direction from its first byte.
    Hex,
    /// Hex-encoded bytes, one line per chunk.
    Raw,
}

impl FollowMode {
    /// The name in the header line (`Follow: tcp,ascii`).
    pub fn name(self) -> &'static str {
        match self {
            FollowMode::Ascii => "ascii",
            FollowMode::Hex => "hex",
            FollowMode::Raw => "raw",
        }
    }
}

/// One direction of the connection as the stream sink kept it.
pub struct FollowDir<'a> {
    /// The first bytes of the stream (gaps as zeros), offset 0 = the first payload byte.
    pub bytes: &'a [u8],
    /// When each in-order range became available.
    pub timeline: &'a [Arrival],
    /// The messages the framing found, in stream order.
    pub messages: &'a [Message],
    /// (capture time, stream offset) of each captured segment with payload, in capture order:
    /// where a range that became available at once is cut into the segments that carried it.
    pub segments: &'a [(i64, u64)],
}

/// The chunks of one in-order range `a`: cut at the start of every segment captured by the
/// range's time that starts inside it (segments held out of order, released together when the
/// hole before them filled, are chunks of their own, as tshark writes them; a later
/// retransmission does not cut what came before it).
fn segment_cuts(a: &Arrival, segments: &[(i64, u64)]) -> Vec<(u64, u64)> {
    let mut cuts: Vec<u64> =
        segments.iter().filter(|&&(ts, off)| ts <= a.ts && off > a.start && off < a.end).map(|&(_, off)| off).collect();
    cuts.push(a.start);
    cuts.push(a.end);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Writes the follow block of connection `id` between `client` (node 0) and `server` (node 1).
/// `keep_mib`: the `--keep` limit, named when bytes past it were not kept.
pub fn render(out: &mut String, id: u32, client: &str, server: &str, dirs: [FollowDir<'_>; 2], mode: FollowMode, keep_mib: usize) {
    let rule = "=".repeat(67);
    let _ = writeln!(out, "\n{rule}\nFollow: tcp,{}\nFilter: tcp.stream eq {id}\nNode 0: {client}\nNode 1: {server}", mode.name());
    let mut chunks: Vec<(i64, usize, Arrival)> = Vec::new();
    for (d, dir) in dirs.iter().enumerate() {
        for a in dir.timeline.iter().filter(|a| a.end > a.start) {
            if a.gap {
                chunks.push((a.ts, d, *a));
                continue;
            }
            chunks.extend(segment_cuts(a, dir.segments).into_iter().map(|(start, end)| (a.ts, d, Arrival { start, end, ..*a })));
        }
    }
    // stable: each direction stays in stream order; the client first on a tie
    chunks.sort_by_key(|&(ts, d, _)| (ts, d));
    let mut sent = [(0u64, 0u64); 2];
    for (_, d, a) in &chunks {
        let (d, a) = (*d, a);
        let dir = &dirs[d];
        let indent = if d == 0 { "" } else { "\t" };
        let len = a.end - a.start;
        sent[d].0 += len;
        sent[d].1 += 1;
        if a.gap {
            let _ = writeln!(out, "{indent}[{} bytes missing]", thousands(len));
            continue;
        }
        if mode == FollowMode::Ascii {
            let _ = writeln!(out, "{indent}{len}");
        }
        let kept_end = (dir.bytes.len() as u64).min(a.end);
        if mode == FollowMode::Raw {
            if kept_end > a.start {
                out.push_str(indent);
                for b in &dir.bytes[a.start as usize..kept_end as usize] {
                    let _ = write!(out, "{b:02x}");
                }
                out.push('\n');
            }
        } else {
            for (p, q) in pieces(a.start, kept_end, dir.messages) {
                mark(out, indent, p, a.start, dir.messages);
                let bytes = &dir.bytes[p as usize..q as usize];
                match mode {
                    FollowMode::Hex => hexdump(out, indent, p, bytes),
                    _ => text(out, indent, bytes),
                }
            }
        }
        if kept_end < a.end {
            let _ = writeln!(
                out,
                "{indent}[{} bytes not kept: --keep {keep_mib} MiB per direction is the limit]",
                thousands(a.end - kept_end.max(a.start))
            );
        }
    }
    // raw is tshark's raw line for line: no summary
    let summaries = if mode == FollowMode::Raw { 0 } else { 2 };
    for (d, (node, other)) in [(0, 1), (1, 0)].into_iter().enumerate().take(summaries) {
        let messages = dirs[d].messages.len();
        let _ = writeln!(
            out,
            "Node {node} → node {other}: {} bytes in {} chunk{}, {} message{}",
            thousands(sent[d].0),
            sent[d].1,
            if sent[d].1 == 1 { "" } else { "s" },
            messages,
            if messages == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, "{rule}");
}

/// `[start, end)` cut at every message start inside it.
fn pieces(start: u64, end: u64, messages: &[Message]) -> Vec<(u64, u64)> {
    let mut cuts = vec![start];
    let first = messages.partition_point(|m| m.offset <= start);
    cuts.extend(messages[first..].iter().map(|m| m.offset).take_while(|&o| o < end));
    cuts.push(end);
    cuts.dedup();
    cuts.windows(2).filter(|w| w[1] > w[0]).map(|w| (w[0], w[1])).collect()
}

/// The mark before a piece at `p`: a message starts there, or (at the chunk's start) goes on.
fn mark(out: &mut String, indent: &str, p: u64, chunk_start: u64, messages: &[Message]) {
    let k = messages.partition_point(|m| m.offset <= p);
    let Some(m) = k.checked_sub(1).map(|i| &messages[i]) else { return };
    if p >= m.offset + m.len {
        return;
    }
    let incomplete = if m.complete { "" } else { ", incomplete" };
    if m.offset == p {
        let _ = writeln!(out, "{indent}[message {}: {} bytes{incomplete}]", m.index, thousands(m.len));
    } else if p == chunk_start {
        let _ = writeln!(out, "{indent}[message {} continued: from byte {} of {}]", m.index, thousands(p - m.offset), thousands(m.len));
    }
}

/// Text lines: each line end (LF, CR LF) ends a line; everything else goes through the terminal
/// escaping of [`super::escape::write_text`], so no control sequence reaches the terminal.
fn text(out: &mut String, indent: &str, bytes: &[u8]) {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut v = Vec::with_capacity(line.len());
        let _ = super::escape::write_text(&mut v, line);
        out.push_str(indent);
        out.push_str(&String::from_utf8_lossy(&v));
        out.push('\n');
    }
}

/// tshark's follow hexdump: the offset in the direction's stream, 16 bytes in two groups of 8,
/// and the same as ASCII (`.` for the rest).
fn hexdump(out: &mut String, indent: &str, offset: u64, bytes: &[u8]) {
    for (i, row) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{indent}{:08X}  ", offset + i as u64 * 16);
        for j in 0..16 {
            match row.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        for (j, &b) in row.iter().enumerate() {
            if j == 8 {
                out.push(' ');
            }
            out.push(if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' });
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_line_ends_and_escapes_controls() {
        let mut out = String::new();
        text(&mut out, "\t", b"GET / HTTP/1.1\r\nX: \x1b[31mred\r\n");
        assert_eq!(out, "\tGET / HTTP/1.1\n\tX: \\x1b[31mred\n");
    }

    fn msg(index: u64, offset: u64, len: u64) -> Message {
        Message {
            flow: crate::track::FlowId::Tcp(0),
            dir: crate::track::Dir::C2S,
            index,
            offset,
            len,
            framing: crate::analyze::FramingSpec::Segment,
            frames: Vec::new(),
            nframes: 0,
            sticky: false,
            split: false,
            wire_unknown: false,
            complete: true,
            first_ts: 0,
            last_ts: 0,
            head: None,
        }
    }

    #[test]
    fn pieces_cut_at_message_starts_inside_the_chunk() {
        let messages = [msg(0, 0, 10), msg(1, 10, 5), msg(2, 15, 30)];
        assert_eq!(pieces(0, 20, &messages), vec![(0, 10), (10, 15), (15, 20)]);
        assert_eq!(pieces(12, 40, &messages), vec![(12, 15), (15, 40)]);
        assert_eq!(pieces(20, 40, &messages), vec![(20, 40)]);
        assert_eq!(pieces(0, 5, &[]), vec![(0, 5)]);
    }

    #[test]
    fn marks_say_where_a_message_starts_or_goes_on() {
        let messages = [msg(0, 0, 10), msg(1, 10, 5)];
        let mut out = String::new();
        mark(&mut out, "\t", 10, 10, &messages);
        mark(&mut out, "", 4, 4, &messages);
        mark(&mut out, "", 4, 0, &messages);
        mark(&mut out, "", 30, 30, &messages);
        assert_eq!(out, "\t[message 1: 5 bytes]\n[message 0 continued: from byte 4 of 10]\n");
    }

    #[test]
    fn held_segments_are_chunks_of_their_own() {
        let released = Arrival { start: 0, end: 300, ts: 30, gap: false };
        // held 100 and 200 (times 10, 20), the hole at 0 filled at 30; a retransmission of 150
        // later does not cut it
        let segments = [(10, 100), (20, 200), (30, 0), (40, 150)];
        assert_eq!(segment_cuts(&released, &segments), vec![(0, 100), (100, 200), (200, 300)]);
        assert_eq!(segment_cuts(&Arrival { start: 0, end: 50, ts: 5, gap: false }, &segments), vec![(0, 50)]);
    }

    #[test]
    fn hexdump_matches_tshark_layout() {
        let mut out = String::new();
        hexdump(&mut out, "", 0, b"GET /a HTTP/1.1\r\n");
        assert_eq!(
            out,
            "00000000  47 45 54 20 2f 61 20 48  54 54 50 2f 31 2e 31 0d  GET /a H TTP/1.1.\n\
             00000010  0a                                                .\n"
        );
    }
}
