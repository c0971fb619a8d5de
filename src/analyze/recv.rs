//! What an application's `recv()` calls would have returned.
//!
//! Input: a direction's arrival timeline ([`Arrival`]: each in-order byte range
//! and the capture time it became available) and its messages. Two receivers:
//! * eager (`slow_ms` = `None`): blocked in `recv`, it wakes as soon as bytes are
//!   available and calls `recv(N)` until the receive buffer is empty;
//! * slow (`slow_ms` = `Some(MS)`): it wakes every MS ms from the first arrival
//!   and calls `recv(N)` until the buffer is empty, then sleeps again.
//!
//! The application is taken to be infinitely fast: all calls of one wake-up
//! happen at the wake-up time. Each call returns `min(N, buffered)` bytes.

use super::{Arrival, Message};
use std::fmt::Write as _;

/// One simulated `recv()` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvCall {
    /// 1-based call number.
    pub call: u64,
    /// Time of the call (ns).
    pub ts: i64,
    /// Requested size.
    pub asked: usize,
    /// Stream offset of the first byte returned.
    pub start: u64,
    /// Stream offset just past the last byte returned (`end - start` ≤ `asked`).
    pub end: u64,
    /// Message ends strictly inside the range (where `|` is drawn).
    pub boundaries: Vec<u64>,
    /// Index of the message holding the first byte returned, `None` if no message covers it.
    pub first_msg: Option<u64>,
    /// Index of the message holding the last byte returned, `None` if no message covers it.
    pub last_msg: Option<u64>,
    /// The range holds unknown bytes (a gap).
    pub gap: bool,
}

/// [`simulate_recv_sizes`] with one size for every call and at most a million calls.
pub fn simulate_recv(timeline: &[Arrival], messages: &[Message], n: usize, slow_ms: Option<u64>) -> Vec<RecvCall> {
    simulate_recv_sizes(timeline, messages, &[n], slow_ms, 1_000_000)
}

/// Simulates the receiver. `messages`: the direction's messages, in index order.
/// `sizes[i]` is the size asked by call i+1; the last size repeats (the seed
/// lesson: "hello" and "world" coalesced, `recv(2)` then `recv(10)` returns "he"
/// then "lloworld"). Stops after `max_calls` calls.
pub fn simulate_recv_sizes(
    timeline: &[Arrival],
    messages: &[Message],
    sizes: &[usize],
    slow_ms: Option<u64>,
    max_calls: usize,
) -> Vec<RecvCall> {
    let mut calls = Vec::new();
    if timeline.is_empty() || sizes.is_empty() {
        return calls;
    }
    // Availability steps: (time, stream end available), times made non-decreasing.
    let mut steps: Vec<(i64, u64)> = Vec::new();
    let mut t_max = i64::MIN;
    for a in timeline {
        t_max = t_max.max(a.ts);
        match steps.last_mut() {
            Some(last) if last.0 == t_max => last.1 = last.1.max(a.end),
            _ => steps.push((t_max, a.end)),
        }
    }
    let mut consumed = timeline[0].start;
    let total = steps.last().map_or(consumed, |s| s.1);
    let drain = |t: i64, avail: u64, consumed: &mut u64, calls: &mut Vec<RecvCall>| {
        while *consumed < avail && calls.len() < max_calls {
            let asked = sizes[calls.len().min(sizes.len() - 1)].max(1);
            let end = avail.min(*consumed + asked as u64);
            calls.push(make_call(calls.len() as u64 + 1, t, asked, *consumed, end, timeline, messages));
            *consumed = end;
        }
    };
    match slow_ms {
        None => {
            for &(t, avail) in &steps {
                drain(t, avail, &mut consumed, &mut calls);
            }
        }
        Some(ms) => {
            let period = (ms.max(1) as i64).saturating_mul(1_000_000);
            let t0 = steps[0].0;
            // The wake-up number (from 0 at the first arrival) and the last step it sees.
            let mut wakeup: i64 = 0;
            let mut step = 0;
            while consumed < total && calls.len() < max_calls {
                let wake = t0.saturating_add(wakeup.saturating_mul(period));
                while step + 1 < steps.len() && steps[step + 1].0 <= wake {
                    step += 1;
                }
                let avail = if steps[step].0 <= wake { steps[step].1 } else { consumed };
                if avail > consumed {
                    drain(wake, avail, &mut consumed, &mut calls);
                    wakeup += 1;
                } else if step + 1 < steps.len() {
                    // Sleep through the wake-ups that find nothing new.
                    let next_t = steps[step + 1].0;
                    wakeup = ((next_t - t0) + period - 1) / period;
                } else {
                    break;
                }
            }
        }
    }
    calls
}

fn make_call(call: u64, ts: i64, asked: usize, start: u64, end: u64, timeline: &[Arrival], messages: &[Message]) -> RecvCall {
    let boundaries = messages
        .iter()
        .skip(messages.partition_point(|m| m.offset + m.len <= start))
        .map(|m| m.offset + m.len)
        .take_while(|&e| e < end)
        .collect();
    let find = |o: u64| -> Option<u64> {
        let i = messages.partition_point(|m| m.offset + m.len <= o);
        messages.get(i).filter(|m| m.offset <= o).map(|m| m.index)
    };
    let from = timeline.partition_point(|a| a.end <= start);
    let gap = timeline[from..].iter().take_while(|a| a.start < end).any(|a| a.gap);
    RecvCall { call, ts, asked, start, end, boundaries, first_msg: find(start), last_msg: find(end - 1), gap }
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
    let mut parts = Vec::new();
    for i in a..=z {
        let Some(m) = messages.iter().find(|m| m.index == i) else {
            continue;
        };
        let (ms, me) = (m.offset, m.offset + m.len);
        let whole = ms >= c.start && me <= c.end;
        parts.push(if whole {
            format!("msg {i}")
        } else if ms < c.start && me <= c.end {
            format!("msg {i} end")
        } else {
            format!("msg {i} part")
        });
    }
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
            complete: true,
            first_ts: 0,
            last_ts: 0,
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
