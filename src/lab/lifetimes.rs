//! What a lab capture shows of its TCP connections' lives, for the scenarios whose lesson is
//! about them (long against short connections, concurrent servers): how many connections, how
//! many opened with a three-way handshake and closed with a FIN each way, which side closed
//! first, and how many were open at the same time. Counted from the tracker's records of the
//! capture itself, so the line says what the capture holds, not what the scenario meant to do.

use crate::track::tcp::{ConnSummary, TcpState};
use crate::track::Proto;

/// Which side closed a connection first, as its final states show: the side that sends the
/// first FIN ends in TIME-WAIT (RFC 9293 3.6), the other in CLOSED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closer {
    /// The client ends in TIME-WAIT.
    Client,
    /// The server ends in TIME-WAIT.
    Server,
    /// Both end in TIME-WAIT: a simultaneous close.
    Both,
    /// Neither (a reset, or the capture ended before the close).
    Unknown,
}

/// One connection's life as the capture shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// Frame number of its first segment.
    pub first_frame: u64,
    /// Frame number of its last segment.
    pub last_frame: u64,
    /// SYN, SYN-ACK and ACK seen (Zeek history `ShA...`).
    pub handshake: bool,
    /// A FIN seen from each side (history `F` and `f`).
    pub fins: bool,
    /// Who closed first.
    pub closer: Closer,
}

impl Lifetime {
    /// The life of a TCP connection record.
    pub(crate) fn of(summary: &ConnSummary) -> Lifetime {
        let closer = match (summary.client_state, summary.server_state) {
            (TcpState::TimeWait, TcpState::TimeWait) => Closer::Both,
            (TcpState::TimeWait, _) => Closer::Client,
            (_, TcpState::TimeWait) => Closer::Server,
            _ => Closer::Unknown,
        };
        Lifetime {
            first_frame: summary.first_frame,
            last_frame: summary.last_frame,
            handshake: summary.history.starts_with("ShA"),
            fins: summary.history.contains('F') && summary.history.contains('f'),
            closer,
        }
    }
}

/// The lives of the TCP connections among `summaries`, in order of their first frame.
pub(crate) fn lifetimes<'a>(summaries: impl IntoIterator<Item = &'a ConnSummary>) -> Vec<Lifetime> {
    let mut lives: Vec<Lifetime> = summaries.into_iter().filter(|s| s.proto == Proto::Tcp).map(Lifetime::of).collect();
    lives.sort_by_key(|life| life.first_frame);
    lives
}

/// The most connections open at one frame (first to last frame, both included).
pub(crate) fn most_open(lives: &[Lifetime]) -> usize {
    lives
        .iter()
        .map(|at| lives.iter().filter(|other| other.first_frame <= at.first_frame && at.first_frame <= other.last_frame).count())
        .max()
        .unwrap_or(0)
}

/// One line: what the capture shows of `lives`.
pub(crate) fn describe(lives: &[Lifetime]) -> String {
    let n = lives.len();
    let count = |keep: &dyn Fn(&Lifetime) -> bool| lives.iter().filter(|life| keep(life)).count();
    let mut closers = Vec::new();
    for (who, text) in [
        (Closer::Client, "the client closed first (it ends in TIME-WAIT)"),
        (Closer::Server, "the server closed first (it ends in TIME-WAIT)"),
        (Closer::Both, "both closed at once (TIME-WAIT on both sides)"),
        (Closer::Unknown, "no side is left in TIME-WAIT"),
    ] {
        let k = count(&|life| life.closer == who);
        if k > 0 {
            closers.push(format!("in {k} {text}"));
        }
    }
    let open = most_open(lives);
    format!(
        "the capture holds {n} TCP connection{}: {} opened with a three-way handshake, {} closed with a FIN each way; {}; \
         at most {open} open at the same time{}",
        if n == 1 { "" } else { "s" },
        count(&|life| life.handshake),
        count(&|life| life.fins),
        if closers.is_empty() { "none closed".to_string() } else { closers.join(", ") },
        if n > 1 && open == 1 { ", one after the other" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(first_frame: u64, last_frame: u64, closer: Closer) -> Lifetime {
        Lifetime { first_frame, last_frame, handshake: true, fins: true, closer }
    }

    #[test]
    fn serial_connections() {
        let lives = [life(3, 20, Closer::Client), life(21, 30, Closer::Client), life(31, 40, Closer::Client)];
        assert_eq!(most_open(&lives), 1);
        assert_eq!(
            describe(&lives),
            "the capture holds 3 TCP connections: 3 opened with a three-way handshake, 3 closed with a FIN each way; \
             in 3 the client closed first (it ends in TIME-WAIT); at most 1 open at the same time, one after the other"
        );
    }

    #[test]
    fn overlapping_connections() {
        let lives = [life(3, 54, Closer::Client), life(6, 51, Closer::Client), life(9, 60, Closer::Server), life(61, 70, Closer::Unknown)];
        assert_eq!(most_open(&lives), 3);
        let text = describe(&lives);
        assert!(text.contains("in 2 the client closed first (it ends in TIME-WAIT), in 1 the server closed first"), "{text}");
        assert!(text.contains("in 1 no side is left in TIME-WAIT; at most 3 open at the same time"), "{text}");
        let lone = [Lifetime { handshake: false, fins: false, ..life(1, 2, Closer::Unknown) }];
        assert_eq!(
            describe(&lone),
            "the capture holds 1 TCP connection: 0 opened with a three-way handshake, 0 closed with a FIN each way; in 1 \
             no side is left in TIME-WAIT; at most 1 open at the same time"
        );
        assert_eq!(most_open(&[]), 0);
    }
}
