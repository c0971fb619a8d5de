//! Capture sets: the connection rows of many files as one table, with the connections that
//! continue across consecutive rotated files (`tcpdump -C`/`-G`) joined into one row.
//!
//! The join rule (docs/parquet.md): files are taken in the order of their first connection's
//! start. A TCP row of a later file continues an earlier file's row when
//! - both have the same 4-tuple (either orientation: a piece that starts mid-stream names as
//!   client whichever side sent first),
//! - the earlier row was still open at the end of its file (no RST, and not both FINs),
//! - the later row saw no SYN (it started mid-stream), and
//! - it started at most [`JOIN_GAP_NS`] after the earlier row's last packet.
//!
//! Sequence numbers are not compared: the connection summaries carry none.
//!
//! What the joined row says (each piece was tracked alone, so a later piece starts mid-stream):
//! counts and bytes are summed; the handshake's facts (MSS, window scale, iRTT, options) and
//! `first_frame` come from the first piece, `last_frame` (numbered in `file_last`) and the end
//! from the last. `history` is the first piece's letters followed by the later pieces' letters
//! not seen yet in that direction (Zeek writes each letter once per direction); `conn_state` is
//! worked out again from the handshake of the first piece and the closing letters of all
//! ([`joined_conn_state`]). The final RFC 9293 states are the last piece's when no earlier
//! piece carried a FIN or RST; otherwise `UNKNOWN` (the last piece's tracker did not see that
//! close step, and there is no sound way to replay it).

use std::collections::HashMap;
use std::net::SocketAddr;

use super::ConnOrigin;
use crate::output::conns::{ConnRow, DirCounts};
use crate::track::tcp::{TcpState, ZeekConnState};
use crate::track::Proto;

/// The longest pause between a connection's last packet in one file and its first in the
/// next for the two to be joined: 120 s.
pub const JOIN_GAP_NS: i64 = 120_000_000_000;

/// One file's rows.
pub struct FileRows {
    /// The file, as given.
    pub file: String,
    /// Its connection rows.
    pub rows: Vec<ConnRow>,
}

fn open_at_end(row: &ConnRow) -> bool {
    let h = &row.summary.history;
    !(h.contains('R') || h.contains('r') || (h.contains('F') && h.contains('f')))
}

fn saw_syn(row: &ConnRow) -> bool {
    row.summary.history.contains('S') || row.summary.history.contains('s')
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn add_dir(a: Option<DirCounts>, b: Option<DirCounts>) -> Option<DirCounts> {
    match (a, b) {
        (Some(a), Some(b)) => Some(DirCounts {
            framing: a.framing.or(b.framing),
            messages: a.messages + b.messages,
            sticky: a.sticky.zip(b.sticky).map(|(x, y)| x + y),
            split: a.split.zip(b.split).map(|(x, y)| x + y),
            gaps: a.gaps + b.gaps,
        }),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Upper case (client) and lower case (server) swapped: a piece's history told from the other
/// side. `^` (roles flipped) is dropped: the first piece decides the roles.
fn swap_sides(history: &str) -> String {
    history
        .chars()
        .filter(|c| *c != '^')
        .map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() })
        .collect()
}

/// Zeek's `conn_state` of a joined connection, from the first piece's state (did it see the
/// handshake?) and the letters of the whole joined history (the closing steps of any piece),
/// by the rules of Zeek's `conn_state` (RFC 9293 closes and resets): a reset by the responder
/// is `RSTR` (`REJ` after a bare SYN, `RSTRH` without a handshake), by the originator `RSTO`
/// (`OTH` without a handshake); both FINs `SF`; one FIN `S2`/`S3` (`SH`/`SHR` without a
/// handshake); else the first piece's own state (`S1`, `S0`, `OTH`).
pub fn joined_conn_state(first: ZeekConnState, history: &str) -> ZeekConnState {
    use ZeekConnState::*;
    let has = |c: char| history.contains(c);
    let established = matches!(first, S1 | S2 | S3);
    if has('r') {
        match first {
            S0 => Rej,
            _ if established => Rstr,
            _ => Rstrh,
        }
    } else if has('R') {
        if established {
            Rsto
        } else {
            Oth
        }
    } else if has('F') && has('f') {
        Sf
    } else if has('F') {
        if established {
            S2
        } else {
            Sh
        }
    } else if has('f') {
        if established {
            S3
        } else {
            Shr
        }
    } else {
        first
    }
}

/// `later` appended to `row`: counts summed, the handshake's facts kept from the first piece,
/// the end and final states from the later one (see the module's rules).
fn join(row: &mut ConnRow, first_state: ZeekConnState, mut later: ConnRow) {
    if later.summary.client != row.summary.client {
        // the later piece named the server as client: its directions are the other way round
        let s = &mut later.summary;
        s.packets.swap(0, 1);
        s.bytes.swap(0, 1);
        s.missed_bytes.swap(0, 1);
        s.unacked.swap(0, 1);
        std::mem::swap(&mut s.client_state, &mut s.server_state);
        s.history = swap_sides(&s.history);
        later.seams.swap(0, 1);
    }
    let closed_before = row.summary.history.contains(['F', 'f', 'R', 'r']);
    let (a, b) = (&mut row.summary, later.summary);
    for i in 0..2 {
        a.packets[i] += b.packets[i];
        a.bytes[i] += b.bytes[i];
        a.missed_bytes[i] += b.missed_bytes[i];
    }
    a.unacked = b.unacked;
    a.retransmissions += b.retransmissions;
    a.dup_acks += b.dup_acks;
    a.zero_windows += b.zero_windows;
    a.icmp_errors += b.icmp_errors;
    for letter in b.history.chars().filter(|c| *c != '^') {
        if !a.history.contains(letter) {
            a.history.push(letter);
        }
    }
    a.conn_state = joined_conn_state(first_state, &a.history);
    if closed_before {
        (a.client_state, a.server_state) = (TcpState::Unknown, TcpState::Unknown);
    } else {
        (a.client_state, a.server_state) = (b.client_state, b.server_state);
    }
    a.last_ts = b.last_ts;
    a.last_frame = b.last_frame;
    for i in 0..2 {
        row.seams[i] = add_dir(row.seams[i], later.seams[i]);
    }
}

/// The rows of all files, joined where a connection continues into the next file, in file
/// order (by first start) and each file's row order.
pub fn join_files(mut files: Vec<FileRows>) -> Vec<(ConnOrigin, ConnRow)> {
    files.sort_by_key(|f| f.rows.iter().map(|r| r.summary.first_ts).min().unwrap_or(i64::MAX));
    let mut out: Vec<(ConnOrigin, ConnRow)> = Vec::new();
    // the first piece's own conn_state, by row of `out` (the handshake the join rule builds on)
    let mut first_states: Vec<ZeekConnState> = Vec::new();
    // rows of the previous file still open at its end, by 4-tuple: the candidates to continue
    let mut open: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for file in files {
        let mut next_open = HashMap::new();
        for row in file.rows {
            let tuple = key(row.summary.client, row.summary.server);
            let tcp = row.summary.proto == Proto::Tcp;
            let earlier = if tcp && !saw_syn(&row) { open.remove(&tuple) } else { None };
            let at = match earlier {
                Some(i) if (0..=JOIN_GAP_NS).contains(&row.summary.first_ts.saturating_sub(out[i].1.summary.last_ts)) => {
                    let (origin, joined) = &mut out[i];
                    join(joined, first_states[i], row);
                    origin.file_last = Some(file.file.clone());
                    origin.pieces += 1;
                    i
                }
                _ => {
                    first_states.push(row.summary.conn_state);
                    out.push((ConnOrigin { file: Some(file.file.clone()), file_last: None, pieces: 1 }, row));
                    out.len() - 1
                }
            };
            if tcp && open_at_end(&out[at].1) {
                next_open.insert(tuple, at);
            }
        }
        open = next_open;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::tcp::{ConnSummary, TcpState, ZeekConnState};

    fn row(conn: u32, client: &str, server: &str, history: &str, first_ts: i64, last_ts: i64) -> ConnRow {
        ConnRow {
            summary: ConnSummary {
                conn,
                proto: Proto::Tcp,
                client: client.parse().unwrap(),
                server: server.parse().unwrap(),
                conn_state: ZeekConnState::S1,
                history: history.into(),
                client_state: TcpState::Established,
                server_state: TcpState::Established,
                mss: (Some(1460), Some(1460)),
                ws: (None, None),
                sack_perm: false,
                timestamps: false,
                irtt: Some(1000),
                first_ts,
                last_ts,
                first_frame: 1,
                last_frame: 10,
                packets: [5, 3],
                bytes: [100, 50],
                retransmissions: 1,
                dup_acks: 0,
                zero_windows: 0,
                icmp_errors: 0,
                missed_bytes: [0, 0],
                unacked: [0, 0],
                tunnel: None,
            },
            seams: [None, None],
        }
    }

    const S: i64 = 1_000_000_000;

    #[test]
    fn continuing_connection_joined_across_three_files() {
        let c = "10.0.0.1:40000";
        let s = "10.0.0.2:80";
        let files = vec![
            // given out of order: b's piece names the server as client (it sent first there)
            FileRows { file: "b".into(), rows: vec![row(0, s, c, "da", 11 * S, 20 * S)] },
            FileRows { file: "a".into(), rows: vec![row(0, c, s, "ShADad", 0, 10 * S), row(1, "10.0.0.3:1000", s, "ShAFaf", S, 2 * S)] },
            FileRows { file: "c".into(), rows: vec![row(0, c, s, "DaFf", 21 * S, 22 * S)] },
        ];
        let out = join_files(files);
        assert_eq!(out.len(), 2, "{out:?}");
        let (origin, joined) = &out[0];
        assert_eq!(origin, &ConnOrigin { file: Some("a".into()), file_last: Some("c".into()), pieces: 3 });
        assert_eq!(joined.summary.client, c.parse().unwrap());
        assert_eq!(joined.summary.packets, [5 + 3 + 5, 3 + 5 + 3], "b's directions swapped back");
        assert_eq!(joined.summary.retransmissions, 3);
        assert_eq!((joined.summary.first_ts, joined.summary.last_ts), (0, 22 * S));
        // b's "da" told from the client's side is "DA": only A is new; c adds F and f
        assert_eq!(joined.summary.history, "ShADadFf");
        assert_eq!(joined.summary.conn_state, ZeekConnState::Sf);
        assert_eq!(out[1].0.pieces, 1, "the closed connection stays alone");
    }

    #[test]
    fn not_joined_when_closed_new_syn_or_too_late() {
        let c = "10.0.0.1:40000";
        let s = "10.0.0.2:80";
        for (first, second) in [
            (row(0, c, s, "ShADadFf", 0, S), row(0, c, s, "Da", 2 * S, 3 * S)),
            (row(0, c, s, "ShADad", 0, S), row(0, c, s, "ShA", 2 * S, 3 * S)),
            (row(0, c, s, "ShADad", 0, S), row(0, c, s, "Da", S + JOIN_GAP_NS + 1, S + JOIN_GAP_NS + 2)),
        ] {
            let files = vec![FileRows { file: "a".into(), rows: vec![first] }, FileRows { file: "b".into(), rows: vec![second] }];
            assert_eq!(join_files(files).len(), 2);
        }
    }

    #[test]
    fn joined_state_from_first_handshake_and_all_closes() {
        use ZeekConnState::*;
        assert_eq!(joined_conn_state(S1, "ShADadFf"), Sf);
        assert_eq!(joined_conn_state(S1, "ShADadF"), S2);
        assert_eq!(joined_conn_state(S1, "ShADadf"), S3);
        assert_eq!(joined_conn_state(S1, "ShADadr"), Rstr);
        assert_eq!(joined_conn_state(S1, "ShADadR"), Rsto);
        assert_eq!(joined_conn_state(S1, "ShADad"), S1);
        // a capture that began mid-stream stays without a handshake
        assert_eq!(joined_conn_state(Oth, "DadFf"), Sf);
        assert_eq!(joined_conn_state(Oth, "DadF"), Sh);
        assert_eq!(joined_conn_state(Oth, "Dadr"), Rstrh);
        assert_eq!(joined_conn_state(Oth, "Dad"), Oth);
    }

    #[test]
    fn states_unknown_when_an_earlier_piece_closed_a_side() {
        let c = "10.0.0.1:40000";
        let s = "10.0.0.2:80";
        let mut first = row(0, c, s, "ShADadF", 0, S);
        first.summary.client_state = TcpState::FinWait1;
        // the next piece starts with the server's FIN: it names the server as client
        let mut second = row(0, s, c, "Fa", 2 * S, 3 * S);
        second.summary.client_state = TcpState::FinWait2;
        second.summary.server_state = TcpState::CloseWait;
        let out = join_files(vec![FileRows { file: "a".into(), rows: vec![first] }, FileRows { file: "b".into(), rows: vec![second] }]);
        assert_eq!(out.len(), 1);
        let joined = &out[0].1.summary;
        assert_eq!(joined.history, "ShADadFf");
        assert_eq!(joined.conn_state, ZeekConnState::Sf);
        assert_eq!((joined.client_state, joined.server_state), (TcpState::Unknown, TcpState::Unknown));
    }
}
