//! The receiving application: what its `recv()` calls (TCP) or `recvfrom()` calls (UDP) return,
//! given when it calls them.
//!
//! TCP keeps no message boundaries: bytes wait in the receiver's buffer until the application
//! reads them, and one `recv(N)` returns `min(N, buffered)` bytes, whatever messages they belong
//! to. So what a program sees depends on *when* it reads: a reader that comes late gets two
//! messages that arrived in separate segments in one call (sticking in the receive buffer), one
//! that asks for less than was sent gets part of a message and the rest in its next call. UDP
//! keeps boundaries: one `recvfrom(N)` returns one datagram, and a datagram larger than `N` is cut,
//! the rest lost.
//!
//! The application is taken to be infinitely fast: all calls of one wake-up happen at the
//! wake-up time. Input: a direction's arrival timeline ([`Arrival`]: each in-order byte range and
//! the capture time it became available) and its messages, in index order.

use std::fmt;
use std::str::FromStr;

use super::{Arrival, Message};

/// When the reading application calls `recv()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvSchedule {
    /// Blocked in `recv()`: it wakes each time data arrives and calls until the buffer is empty.
    Arrival,
    /// Busy for `ms` milliseconds after the connection is established (a server's work after
    /// `accept()`), then call after call: each returns what is buffered, or blocks until data
    /// arrives.
    After {
        /// The delay, in milliseconds.
        ms: u64,
    },
    /// Wakes every `ms` milliseconds from the first arrival and calls until the buffer is empty.
    Every {
        /// The period, in milliseconds.
        ms: u64,
    },
    /// Calls only once everything has arrived: the most glued case.
    End,
    /// One `recv()` after each message the reader itself sends (a request/response client).
    AfterSend,
}

impl fmt::Display for RecvSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvSchedule::Arrival => f.write_str("arrival"),
            RecvSchedule::After { ms } => write!(f, "after:{ms}"),
            RecvSchedule::Every { ms } => write!(f, "every:{ms}"),
            RecvSchedule::End => f.write_str("end"),
            RecvSchedule::AfterSend => f.write_str("after-send"),
        }
    }
}

impl FromStr for RecvSchedule {
    type Err = String;

    /// `arrival`, `after:MS`, `every:MS`, `end` or `after-send`.
    fn from_str(s: &str) -> Result<Self, String> {
        let ms = |v: &str| v.parse::<u64>().map_err(|_| format!("`{s}`: MS must be a whole number of milliseconds"));
        match s.split_once(':') {
            None if s == "arrival" => Ok(RecvSchedule::Arrival),
            None if s == "end" => Ok(RecvSchedule::End),
            None if s == "after-send" => Ok(RecvSchedule::AfterSend),
            Some(("after", v)) => Ok(RecvSchedule::After { ms: ms(v)? }),
            Some(("every", v)) => Ok(RecvSchedule::Every { ms: ms(v)?.max(1) }),
            _ => Err(format!("`{s}`: expected arrival, after:MS, every:MS, end or after-send")),
        }
    }
}

impl RecvSchedule {
    /// The reader in words, for the line above the simulated calls.
    pub fn describe(&self) -> String {
        match self {
            RecvSchedule::Arrival => "calls recv() each time data arrives".into(),
            RecvSchedule::After { ms } => {
                format!("is busy for {ms} ms after the connection is established, then calls recv() call after call")
            }
            RecvSchedule::Every { ms } => format!("wakes every {ms} ms and calls recv() until the buffer is empty"),
            RecvSchedule::End => "calls recv() only once everything has arrived".into(),
            RecvSchedule::AfterSend => "calls recv() once after each message it sends".into(),
        }
    }
}

/// How a direction ended, as its reader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The sender closed with a FIN: a `recv()` on the empty buffer returns `b''`.
    Fin,
    /// The connection was reset: a `recv()` on the empty buffer fails (`ConnectionResetError`).
    Reset,
    /// The capture ends with the connection still open: a further `recv()` would wait.
    Open,
    /// The reader reset the connection itself before the sender closed (a program that closes
    /// its socket with unread data sends RST, RFC 2525 §2.17): it makes no further call.
    ReaderReset,
}

/// What one call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// Bytes `[start, end)` of the stream.
    Bytes,
    /// `b''`: the end of the stream (FIN).
    Eof,
    /// The call failed: the connection was reset.
    Reset,
}

/// One simulated `recv()` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvCall {
    /// 1-based call number.
    pub call: u64,
    /// Time of the call (capture time, ns).
    pub ts: i64,
    /// Requested size.
    pub asked: usize,
    /// First byte returned (stream offset; for `Eof`/`Reset`, where the stream ended).
    pub start: u64,
    /// End of the range returned, exclusive.
    pub end: u64,
    /// Message ends strictly inside the range (where `|` is drawn).
    pub boundaries: Vec<u64>,
    /// First message whose bytes are in the range, `None` if no message covers it.
    pub first_msg: Option<u64>,
    /// Last message whose bytes are in the range.
    pub last_msg: Option<u64>,
    /// The range holds unknown bytes (a gap).
    pub gap: bool,
    /// What the call returned.
    pub returned: Returned,
}

/// Who reads, and when.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    /// `sizes[i]` is the size asked by call i+1; the last size repeats.
    pub sizes: &'a [usize],
    /// When it calls.
    pub schedule: RecvSchedule,
    /// When the connection was established (capture time, ns), for [`RecvSchedule::After`];
    /// `None`: the first arrival.
    pub established: Option<i64>,
    /// When the reader sent each of its own messages (capture time, ns, ascending), for
    /// [`RecvSchedule::AfterSend`].
    pub sends: &'a [i64],
    /// How the direction ended.
    pub end: StreamEnd,
    /// Most calls simulated.
    pub max_calls: usize,
}

/// The stream's availability: `(time, bytes available up to)` steps, times non-decreasing.
fn steps_of(timeline: &[Arrival]) -> Vec<(i64, u64)> {
    let mut steps: Vec<(i64, u64)> = Vec::new();
    let mut t_max = i64::MIN;
    for a in timeline {
        t_max = t_max.max(a.ts);
        match steps.last_mut() {
            Some(last) if last.0 == t_max => last.1 = last.1.max(a.end),
            _ => steps.push((t_max, a.end)),
        }
    }
    steps
}

/// The calls the reader makes, in order: data calls, then (unless the reader stops first or the
/// call limit is reached) the call that meets the end of the stream, when it ended.
pub fn simulate_reader(timeline: &[Arrival], messages: &[Message], reader: &Reader<'_>) -> Vec<RecvCall> {
    let mut sim = Sim { timeline, messages, reader, calls: Vec::new(), consumed: timeline.first().map_or(0, |a| a.start) };
    if reader.sizes.is_empty() {
        return sim.calls;
    }
    let steps = steps_of(timeline);
    let Some(&(t_last, total)) = steps.last() else {
        sim.end_of_stream(i64::MIN);
        return sim.calls;
    };
    match reader.schedule {
        RecvSchedule::Arrival => {
            for &(t, avail) in &steps {
                sim.drain(t, avail);
            }
        }
        RecvSchedule::After { ms } => {
            let first = reader.established.unwrap_or(steps[0].0).saturating_add(ms_to_ns(ms));
            let i = steps.partition_point(|s| s.0 <= first);
            if i > 0 {
                sim.drain(first, steps[i - 1].1);
            }
            for &(t, avail) in &steps[i..] {
                sim.drain(t, avail);
            }
        }
        RecvSchedule::Every { ms } => {
            let period = ms_to_ns(ms.max(1));
            let t0 = steps[0].0;
            let mut k: i64 = 0;
            let mut i = 0;
            while sim.consumed < total && sim.room() {
                let wake = t0.saturating_add(k.saturating_mul(period));
                while i + 1 < steps.len() && steps[i + 1].0 <= wake {
                    i += 1;
                }
                let avail = if steps[i].0 <= wake { steps[i].1 } else { sim.consumed };
                if avail > sim.consumed {
                    sim.drain(wake, avail);
                    k += 1;
                } else if i + 1 < steps.len() {
                    // Sleep through the wake-ups that find nothing new.
                    k = ((steps[i + 1].0 - t0) + period - 1) / period;
                } else {
                    break;
                }
            }
        }
        RecvSchedule::End => sim.drain(t_last, total),
        RecvSchedule::AfterSend => {
            for &sent in reader.sends {
                if !sim.room() {
                    break;
                }
                // Buffered at `sent`, or else the first arrival after it (the call blocks).
                let i = steps.partition_point(|s| s.0 <= sent);
                let now = if i > 0 && steps[i - 1].1 > sim.consumed { Some((sent, steps[i - 1].1)) } else { None };
                let later = || steps[i..].iter().find(|s| s.1 > sim.consumed).copied();
                match now.or_else(later) {
                    Some((t, avail)) => sim.one(t, avail),
                    None => {
                        // Nothing more will come: the call meets the end of the stream.
                        sim.end_of_stream(sent.max(t_last));
                        return sim.calls;
                    }
                }
            }
            return sim.calls;
        }
    }
    if sim.consumed >= total {
        let t = sim.calls.last().map_or(t_last, |c| c.ts).max(t_last);
        sim.end_of_stream(t);
    }
    sim.calls
}

fn ms_to_ns(ms: u64) -> i64 {
    (ms as i64).saturating_mul(1_000_000)
}

/// The reader's progress through the stream.
struct Sim<'a> {
    timeline: &'a [Arrival],
    messages: &'a [Message],
    reader: &'a Reader<'a>,
    calls: Vec<RecvCall>,
    consumed: u64,
}

impl Sim<'_> {
    fn room(&self) -> bool {
        self.calls.len() < self.reader.max_calls
    }

    fn asked(&self) -> usize {
        let sizes = self.reader.sizes;
        sizes[self.calls.len().min(sizes.len() - 1)].max(1)
    }

    /// Calls at `t` until the buffer (bytes up to `avail`) is empty.
    fn drain(&mut self, t: i64, avail: u64) {
        while self.consumed < avail && self.room() {
            self.one(t, avail);
        }
    }

    /// One call at `t` with bytes up to `avail` buffered.
    fn one(&mut self, t: i64, avail: u64) {
        let asked = self.asked();
        let end = avail.min(self.consumed + asked as u64);
        let call = make_call(self.calls.len() as u64 + 1, t, asked, self.consumed, end, self.timeline, self.messages);
        self.calls.push(call);
        self.consumed = end;
    }

    /// The buffer is empty and nothing more arrives: the next call returns `b''` or fails (an
    /// open stream adds no call).
    fn end_of_stream(&mut self, t: i64) {
        let returned = match self.reader.end {
            StreamEnd::Fin => Returned::Eof,
            StreamEnd::Reset => Returned::Reset,
            StreamEnd::Open | StreamEnd::ReaderReset => return,
        };
        if !self.room() {
            return;
        }
        let at = self.consumed;
        let asked = self.asked();
        let call = self.calls.len() as u64 + 1;
        self.calls.push(RecvCall {
            call,
            ts: t,
            asked,
            start: at,
            end: at,
            boundaries: Vec::new(),
            first_msg: None,
            last_msg: None,
            gap: false,
            returned,
        });
    }
}

/// The call returning `[start, end)`, with the messages it touches.
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
    let k = timeline.partition_point(|a| a.end <= start);
    let gap = timeline[k..].iter().take_while(|a| a.start < end).any(|a| a.gap);
    RecvCall { call, ts, asked, start, end, boundaries, first_msg: find(start), last_msg: find(end - 1), gap, returned: Returned::Bytes }
}

/// One simulated `recvfrom(N)` call on a UDP socket: it returns one datagram, cut to `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvFromCall {
    /// 1-based call number.
    pub call: u64,
    /// Requested size.
    pub asked: usize,
    /// The datagram's message index.
    pub index: u64,
    /// The datagram's length.
    pub len: u64,
    /// Bytes returned: `min(asked, len)`; the rest of the datagram is lost.
    pub returned: u64,
}

impl RecvFromCall {
    /// Bytes of the datagram the call dropped.
    pub fn lost(&self) -> u64 {
        self.len - self.returned
    }
}

/// One `recvfrom()` per datagram, in order; `sizes[i]` is the size of call i+1 (the last
/// repeats).
pub fn simulate_recvfrom(datagrams: &[Message], sizes: &[usize]) -> Vec<RecvFromCall> {
    if sizes.is_empty() {
        return Vec::new();
    }
    datagrams
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let asked = sizes[i.min(sizes.len() - 1)];
            RecvFromCall { call: i as u64 + 1, asked, index: m.index, len: m.len, returned: m.len.min(asked as u64) }
        })
        .collect()
}

/// Two adjacent messages that arrived in different frames: a reader that comes later than the
/// second one's arrival gets the end of the first and the start of the second in one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferGlue {
    /// The first message's index (the second is `first + 1`).
    pub first: u64,
    /// From the arrival of the first message's last byte to that of the second's first byte.
    pub gap_ns: i64,
}

/// The message's arrival gap to the next message in the same direction, when the next one came
/// in another frame (the contract's `next_gap`): `None` for the last message, for two messages
/// that share a frame (stuck together on the wire), and when the frames are not listed.
pub fn next_gap(m: &Message, next: &Message) -> Option<i64> {
    match (m.frames.last(), next.frames.first()) {
        (Some(a), Some(b)) if a != b => Some(next.first_ts.saturating_sub(m.last_ts).max(0)),
        _ => None,
    }
}

/// Every pair of adjacent messages that arrived in different frames, in order.
pub fn buffer_glue(messages: &[Message]) -> Vec<BufferGlue> {
    messages
        .windows(2)
        .filter(|w| w[1].index == w[0].index + 1)
        .filter_map(|w| next_gap(&w[0], &w[1]).map(|gap_ns| BufferGlue { first: w[0].index, gap_ns }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::FramingSpec;
    use crate::track::{Dir, FlowId};

    fn msg(index: u64, offset: u64, len: u64, frame: u64, ts: i64) -> Message {
        Message {
            flow: FlowId::Tcp(0),
            dir: Dir::C2S,
            index,
            offset,
            len,
            framing: FramingSpec::Segment,
            frames: vec![frame],
            nframes: 1,
            sticky: false,
            split: false,
            wire_unknown: false,
            complete: true,
            first_ts: ts,
            last_ts: ts,
            head: None,
        }
    }

    fn reader(sizes: &[usize], schedule: RecvSchedule) -> Reader<'_> {
        Reader { sizes, schedule, established: Some(0), sends: &[], end: StreamEnd::Fin, max_calls: 100 }
    }

    /// "hello" and "world" in two segments 41 µs apart, then the FIN (seed 002).
    fn hello_world() -> ([Arrival; 2], [Message; 2]) {
        (
            [Arrival { start: 0, end: 5, ts: 1_000, gap: false }, Arrival { start: 5, end: 10, ts: 42_000, gap: false }],
            [msg(0, 0, 5, 4, 1_000), msg(1, 5, 5, 6, 42_000)],
        )
    }

    fn ranges(calls: &[RecvCall]) -> Vec<(u64, u64, Returned)> {
        calls.iter().map(|c| (c.start, c.end, c.returned)).collect()
    }

    #[test]
    fn late_reader_gets_both_and_then_eof() {
        let (tl, msgs) = hello_world();
        let calls = simulate_reader(&tl, &msgs, &reader(&[1024], RecvSchedule::End));
        assert_eq!(ranges(&calls), vec![(0, 10, Returned::Bytes), (10, 10, Returned::Eof)]);
        assert_eq!(calls[0].boundaries, vec![5]);
        let eager = simulate_reader(&tl, &msgs, &reader(&[1024], RecvSchedule::Arrival));
        assert_eq!(ranges(&eager), vec![(0, 5, Returned::Bytes), (5, 10, Returned::Bytes), (10, 10, Returned::Eof)]);
    }

    #[test]
    fn small_first_read_takes_the_rest_next() {
        let (tl, msgs) = hello_world();
        let calls = simulate_reader(&tl, &msgs, &reader(&[2, 10], RecvSchedule::End));
        assert_eq!(ranges(&calls), vec![(0, 2, Returned::Bytes), (2, 10, Returned::Bytes), (10, 10, Returned::Eof)]);
    }

    #[test]
    fn after_delay_reads_what_arrived_then_follows_arrivals() {
        let (tl, msgs) = hello_world();
        // At once after the handshake: the first call blocks until "hello" arrives.
        let calls = simulate_reader(&tl, &msgs, &reader(&[1024], RecvSchedule::After { ms: 0 }));
        assert_eq!(ranges(&calls), vec![(0, 5, Returned::Bytes), (5, 10, Returned::Bytes), (10, 10, Returned::Eof)]);
        assert_eq!(calls[0].ts, 1_000);
        let late = simulate_reader(&tl, &msgs, &reader(&[1024], RecvSchedule::After { ms: 1 }));
        assert_eq!(ranges(&late), vec![(0, 10, Returned::Bytes), (10, 10, Returned::Eof)]);
        assert_eq!(late[0].ts, 1_000_000);
    }

    #[test]
    fn after_send_reads_once_per_request_and_shifts() {
        // Reply 1 (1,500 bytes) arrives in two segments, reply 2 (3 bytes) after request 2.
        let tl = [
            Arrival { start: 0, end: 1000, ts: 10, gap: false },
            Arrival { start: 1000, end: 1500, ts: 11, gap: false },
            Arrival { start: 1500, end: 1503, ts: 30, gap: false },
        ];
        let msgs = [msg(0, 0, 1500, 1, 10), msg(1, 1500, 3, 3, 30)];
        let sends = [5, 20, 40];
        let r = Reader { sends: &sends, end: StreamEnd::Open, ..reader(&[1024], RecvSchedule::AfterSend) };
        let calls = simulate_reader(&tl, &msgs, &r);
        // request 1 at 5: blocks until 10, gets 1,000; request 2 at 20: gets the 500 left of
        // reply 1 (its own reply comes at 30); request 3 at 40: gets reply 2.
        assert_eq!(ranges(&calls), vec![(0, 1000, Returned::Bytes), (1000, 1500, Returned::Bytes), (1500, 1503, Returned::Bytes)]);
        assert_eq!(calls.iter().map(|c| c.ts).collect::<Vec<_>>(), vec![10, 20, 40]);
    }

    #[test]
    fn reset_fails_the_call_on_an_empty_buffer() {
        let (tl, msgs) = hello_world();
        let calls = simulate_reader(&tl, &msgs, &Reader { end: StreamEnd::Reset, ..reader(&[1024], RecvSchedule::End) });
        assert_eq!(calls.last().map(|c| c.returned), Some(Returned::Reset));
        let open = simulate_reader(&tl, &msgs, &Reader { end: StreamEnd::Open, ..reader(&[1024], RecvSchedule::End) });
        assert_eq!(open.len(), 1, "an open stream adds no end call");
    }

    #[test]
    fn every_period_wakes() {
        let tl = [
            Arrival { start: 0, end: 3, ts: 0, gap: false },
            Arrival { start: 3, end: 6, ts: 1_000_000, gap: false },
            Arrival { start: 6, end: 9, ts: 50_000_000, gap: false },
        ];
        let msgs = [msg(0, 0, 3, 1, 0), msg(1, 3, 3, 2, 1_000_000), msg(2, 6, 3, 3, 50_000_000)];
        let r = Reader { end: StreamEnd::Open, ..reader(&[4], RecvSchedule::Every { ms: 20 }) };
        let calls = simulate_reader(&tl, &msgs, &r);
        assert_eq!(calls.iter().map(|c| (c.ts / 1_000_000, c.start, c.end)).collect::<Vec<_>>(), vec![(0, 0, 3), (20, 3, 6), (60, 6, 9)]);
    }

    #[test]
    fn schedules_parse_and_print() {
        for s in ["arrival", "after:250", "every:10", "end", "after-send"] {
            assert_eq!(s.parse::<RecvSchedule>().unwrap().to_string(), s);
        }
        assert!("after".parse::<RecvSchedule>().is_err());
        assert!("every:x".parse::<RecvSchedule>().is_err());
        assert!("soon".parse::<RecvSchedule>().is_err());
    }

    #[test]
    fn recvfrom_cuts_and_loses() {
        let d = [msg(0, 0, 2000, 1, 0), msg(1, 0, 5, 2, 0)];
        let calls = simulate_recvfrom(&d, &[1024]);
        assert_eq!((calls[0].returned, calls[0].lost()), (1024, 976));
        assert_eq!((calls[1].returned, calls[1].lost()), (5, 0));
    }

    #[test]
    fn glue_only_between_frames() {
        let (_, msgs) = hello_world();
        assert_eq!(buffer_glue(&msgs), vec![BufferGlue { first: 0, gap_ns: 41_000 }]);
        let same_frame = [msg(0, 0, 5, 4, 0), msg(1, 5, 5, 4, 0)];
        assert!(buffer_glue(&same_frame).is_empty());
    }

    /// The brute-force reader: a byte buffer filled at each arrival, emptied by calls at the
    /// schedule's times; compared with the simulation for random timelines and sizes.
    #[test]
    fn simulation_equals_a_brute_force_buffer() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..500 {
            let n = 1 + rnd(8) as usize;
            let mut tl = Vec::new();
            let (mut off, mut t) = (0u64, 0i64);
            for _ in 0..n {
                let len = 1 + rnd(50);
                t += rnd(3) as i64 * 1_000_000;
                tl.push(Arrival { start: off, end: off + len, ts: t, gap: false });
                off += len;
            }
            let sizes: Vec<usize> = (0..1 + rnd(3)).map(|_| 1 + rnd(40) as usize).collect();
            let msgs: Vec<Message> = tl.iter().enumerate().map(|(i, a)| msg(i as u64, a.start, a.end - a.start, i as u64, a.ts)).collect();
            for schedule in
                [RecvSchedule::Arrival, RecvSchedule::End, RecvSchedule::After { ms: rnd(4) }, RecvSchedule::Every { ms: 1 + rnd(3) }]
            {
                let r = Reader { sizes: &sizes, schedule, established: Some(0), sends: &[], end: StreamEnd::Fin, max_calls: 10_000 };
                let got: Vec<(i64, u64, u64)> = simulate_reader(&tl, &msgs, &r)
                    .iter()
                    .filter(|c| c.returned == Returned::Bytes)
                    .map(|c| (c.ts, c.start, c.end))
                    .collect();
                assert_eq!(got, brute(&tl, &sizes, schedule), "{schedule} sizes {sizes:?} timeline {tl:?}");
            }
        }
    }

    /// Wake-up times of the schedule, then at each: read until the buffer is empty.
    fn brute(tl: &[Arrival], sizes: &[usize], schedule: RecvSchedule) -> Vec<(i64, u64, u64)> {
        let last = tl.last().unwrap().ts;
        let wakes: Vec<i64> = match schedule {
            RecvSchedule::Arrival => tl.iter().map(|a| a.ts).collect(),
            RecvSchedule::End => vec![last],
            RecvSchedule::After { ms } => {
                let first = ms as i64 * 1_000_000;
                std::iter::once(first).chain(tl.iter().map(|a| a.ts).filter(|&t| t > first)).collect()
            }
            RecvSchedule::Every { ms } => {
                let t0 = tl[0].ts;
                (0..).map(|k| t0 + k * ms as i64 * 1_000_000).take_while(|&w| w <= last + ms as i64 * 1_000_000).collect()
            }
            RecvSchedule::AfterSend => unreachable!(),
        };
        let mut out = Vec::new();
        let mut consumed = 0u64;
        let mut buffered: Vec<u8> = Vec::new();
        let mut arrived = 0;
        for w in wakes {
            while arrived < tl.len() && tl[arrived].ts <= w {
                buffered.extend(std::iter::repeat_n(0u8, (tl[arrived].end - tl[arrived].start) as usize));
                arrived += 1;
            }
            while !buffered.is_empty() {
                let asked = sizes[out.len().min(sizes.len() - 1)];
                let take = asked.min(buffered.len());
                buffered.drain(..take);
                out.push((w, consumed, consumed + take as u64));
                consumed += take as u64;
            }
        }
        out
    }
}
