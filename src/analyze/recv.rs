//! What an application's `recv()` calls would have returned, in words: the simulation itself is
//! [`reader`](super::reader); this module keeps its two classic schedules as functions and
//! renders calls as text.

use super::reader::{simulate_reader, Reader, RecvCall, RecvSchedule, Returned, StreamEnd};
use super::{Arrival, Message};
use std::fmt::Write as _;

/// [`simulate_recv_sizes`] with one size for every call and at most a million calls.
pub fn simulate_recv(timeline: &[Arrival], messages: &[Message], n: usize, slow_ms: Option<u64>) -> Vec<RecvCall> {
    simulate_recv_sizes(timeline, messages, &[n], slow_ms, 1_000_000)
}

/// The data calls of a reader that wakes at each arrival (`slow_ms` `None`) or every `slow_ms`
/// milliseconds ([`simulate_reader`] with [`RecvSchedule::Arrival`] or [`RecvSchedule::Every`]).
/// `sizes[i]` is the size asked by call i+1; the last size repeats (the seed lesson: "hello"
/// and "world" coalesced, `recv(2)` then `recv(10)` returns "he" then "lloworld").
pub fn simulate_recv_sizes(
    timeline: &[Arrival],
    messages: &[Message],
    sizes: &[usize],
    slow_ms: Option<u64>,
    max_calls: usize,
) -> Vec<RecvCall> {
    let schedule = slow_ms.map_or(RecvSchedule::Arrival, |ms| RecvSchedule::Every { ms });
    let reader = Reader { sizes, schedule, established: None, sends: &[], end: StreamEnd::Open, max_calls };
    simulate_reader(timeline, messages, &reader)
}

/// One byte of a quoted preview: printable ASCII as is, `\n \r \t \" \\` escaped, the rest `\xNN`.
pub fn push_escaped(s: &mut String, x: u8) {
    match x {
        b'\n' => s.push_str("\\n"),
        b'\r' => s.push_str("\\r"),
        b'\t' => s.push_str("\\t"),
        b'"' => s.push_str("\\\""),
        b'\\' => s.push_str("\\\\"),
        0x20..=0x7e => s.push(x as char),
        _ => {
            let _ = write!(s, "\\x{x:02x}");
        }
    }
}

/// Renders a call like `recv #2 (10) → "llo|world" (msg 0 end, msg 1)`.
/// `bytes` holds the direction's stream from offset 0 (e.g. `kept_bytes`); a
/// range beyond it is shown as its length. At most `max` bytes are shown.
pub fn render_recv(c: &RecvCall, bytes: &[u8], messages: &[Message], max: usize) -> String {
    let mut s = format!("recv #{} ({}) → ", c.call, c.asked);
    match c.returned {
        Returned::Bytes => {}
        Returned::Eof => {
            s.push_str("b'' (the peer closed: FIN)");
            return s;
        }
        Returned::Reset => {
            s.push_str("fails: ConnectionResetError (RST)");
            return s;
        }
    }
    if c.end as usize <= bytes.len() && !c.gap {
        s.push('"');
        let mut b = c.boundaries.iter().peekable();
        let mut truncated = false;
        for (shown, o) in (c.start..c.end).enumerate() {
            if b.peek() == Some(&&o) {
                s.push('|');
                b.next();
            }
            if shown >= max {
                truncated = true;
                break;
            }
            push_escaped(&mut s, bytes[o as usize]);
        }
        if truncated {
            let _ = write!(s, "…\" [{} bytes]", c.end - c.start);
        } else {
            s.push('"');
        }
    } else {
        let _ = write!(s, "<{} bytes{}>", c.end - c.start, if c.gap { ", with unknown bytes" } else { "" });
    }
    // Which messages, and whether each is whole in this call.
    let (Some(a), Some(z)) = (c.first_msg, c.last_msg) else {
        return s;
    };
    // Each message the call touches: whole, its end, or a part; runs of three or more whole
    // messages as one range (`msg 0-282`).
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    let flush = |parts: &mut Vec<String>, run: &mut Option<(u64, u64)>| match run.take() {
        Some((first, last)) if last >= first + 2 => parts.push(format!("msg {first}-{last}")),
        Some((first, last)) => parts.extend((first..=last).map(|i| format!("msg {i}"))),
        None => {}
    };
    let start = messages.partition_point(|m| m.index < a);
    for m in messages[start..].iter().take_while(|m| m.index <= z) {
        let (ms, me) = (m.offset, m.offset + m.len);
        if ms >= c.start && me <= c.end {
            run = match run {
                Some((first, last)) if last + 1 == m.index => Some((first, m.index)),
                _ => {
                    flush(&mut parts, &mut run);
                    Some((m.index, m.index))
                }
            };
            continue;
        }
        flush(&mut parts, &mut run);
        parts.push(if ms < c.start && me <= c.end { format!("msg {} end", m.index) } else { format!("msg {} part", m.index) });
    }
    flush(&mut parts, &mut run);
    if !parts.is_empty() {
        let _ = write!(s, " ({})", parts.join(", "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::FramingSpec;

    fn msg(index: u64, offset: u64, len: u64) -> Message {
        Message {
            flow: crate::track::FlowId::Tcp(0),
            dir: crate::track::Dir::C2S,
            index,
            offset,
            len,
            framing: FramingSpec::Segment,
            frames: vec![1],
            nframes: 1,
            sticky: true,
            split: false,
            wire_unknown: false,
            complete: true,
            first_ts: 0,
            last_ts: 0,
            head: None,
        }
    }

    #[test]
    fn seed_lesson() {
        // "hello" and "world" written separately, coalesced by Nagle into one segment.
        let tl = [Arrival { start: 0, end: 10, ts: 1_000, gap: false }];
        let msgs = [msg(0, 0, 5), msg(1, 5, 5)];
        let calls = simulate_recv_sizes(&tl, &msgs, &[2, 10], None, 100);
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].start, calls[0].end), (0, 2));
        assert_eq!((calls[1].start, calls[1].end), (2, 10));
        assert_eq!(calls[1].boundaries, vec![5]);
        let b = b"helloworld";
        assert_eq!(render_recv(&calls[0], b, &msgs, 80), "recv #1 (2) → \"he\" (msg 0 part)");
        assert_eq!(render_recv(&calls[1], b, &msgs, 80), "recv #2 (10) → \"llo|world\" (msg 0 end, msg 1)");
    }

    #[test]
    fn slow_reader_coalesces() {
        let tl = [
            Arrival { start: 0, end: 3, ts: 0, gap: false },
            Arrival { start: 3, end: 6, ts: 1_000_000, gap: false },
            Arrival { start: 6, end: 9, ts: 50_000_000, gap: false },
        ];
        let msgs = [msg(0, 0, 3), msg(1, 3, 3), msg(2, 6, 3)];
        let eager = simulate_recv(&tl, &msgs, 100, None);
        assert_eq!(eager.len(), 3);
        let slow = simulate_recv(&tl, &msgs, 100, Some(10));
        // Wake at 0 (3 bytes), at 10 ms (3 more), then at 50 ms.
        assert_eq!(slow.iter().map(|c| (c.ts, c.end)).collect::<Vec<_>>(), vec![(0, 3), (10_000_000, 6), (50_000_000, 9)]);
        let slow = simulate_recv(&tl, &msgs, 4, Some(20));
        assert_eq!(slow.iter().map(|c| (c.ts / 1_000_000, c.start, c.end)).collect::<Vec<_>>(), vec![(0, 0, 3), (20, 3, 6), (60, 6, 9)]);
    }
}
