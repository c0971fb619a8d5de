//! Capture sets: the connection rows of many files as one table, with the connections that
//! continue across consecutive rotated files (`tcpdump -C`/`-G`) joined into one row.
//!
//! The join rule (docs/parquet.md): files are taken in the order of their first connection's
//! start. A TCP row of a later file continues the latest earlier row of the same 4-tuple
//! (either orientation: a piece that starts mid-stream names as client whichever side sent
//! first) when
//! - the later row has no SYN from the earlier row's client (a new SYN is a new connection; a
//!   SYN-ACK or anything else continues a handshake or stream cut by the file boundary), and
//! - it started at most [`JOIN_GAP_NS`] after the earlier row's last packet, or at most
//!   [`CLOSED_GAP_NS`] when the earlier row had closed (both FINs or a RST: the tracker of one
//!   file lets a closed connection go after that linger, and a later packet starts a new one).
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

/// The longest pause between an open connection's last packet in one file and its first in a
/// later one for the two to be joined: 120 s.
pub const JOIN_GAP_NS: i64 = 120_000_000_000;

/// The same for a connection that had closed: the tracker's linger after a close (60 s of
/// capture time, `TrackConfig::default().close_linger`).
pub const CLOSED_GAP_NS: i64 = 60_000_000_000;

/// One file's rows.
pub struct FileRows {
    /// The file, as given.
    pub file: String,
    /// Its connection rows.
    pub rows: Vec<ConnRow>,
}

fn closed(row: &ConnRow) -> bool {
    row.summary.history.contains(['R', 'r']) || row.summary.history.contains('F') && row.summary.history.contains('f')
}

/// Does `later` carry a SYN from `earlier`'s client (a new connection on the 4-tuple)?
fn new_syn(earlier: &ConnRow, later: &ConnRow) -> bool {
    let syn_of_its_client = later.summary.history.contains('S');
    let syn_of_its_server = later.summary.history.contains('s');
    if later.summary.client == earlier.summary.client {
        syn_of_its_client
    } else {
        syn_of_its_server
    }
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
/// the end and final states from the later one (see the module's rules). True when the
/// boundary cut the handshake (the SYN before it, the SYN-ACK after).
fn join(row: &mut ConnRow, first_state: ZeekConnState, mut later: ConnRow) -> bool {
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
    let handshake_cut = !row.summary.history.contains('h') && later.summary.history.contains('h');
    let (a, b) = (&mut row.summary, later.summary);
    if handshake_cut {
        // the server's SYN-ACK options are in the later piece
        a.mss.1 = a.mss.1.or(b.mss.1);
        a.ws.1 = a.ws.1.or(b.ws.1);
    }
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
    handshake_cut
}

/// The rows of all files, joined where a connection continues into a later file, in file
/// order (by first start) and each file's row order.
pub fn join_files(mut files: Vec<FileRows>) -> Vec<(ConnOrigin, ConnRow)> {
    files.sort_by_key(|f| f.rows.iter().map(|r| r.summary.first_ts).min().unwrap_or(i64::MAX));
    let mut out: Vec<(ConnOrigin, ConnRow)> = Vec::new();
    // the first piece's own conn_state, by row of `out` (the handshake the join rule builds on)
    let mut first_states: Vec<ZeekConnState> = Vec::new();
    // the latest row of each TCP 4-tuple in the files before this one: the one to continue
    let mut latest: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for file in files {
        let mut this_file = Vec::new();
        for row in file.rows {
            let tuple = key(row.summary.client, row.summary.server);
            let tcp = row.summary.proto == Proto::Tcp;
            let continues = latest.get(&tuple).copied().filter(|&i| {
                let earlier = &out[i].1;
                let gap = row.summary.first_ts.saturating_sub(earlier.summary.last_ts);
                let max_gap = if closed(earlier) { CLOSED_GAP_NS } else { JOIN_GAP_NS };
                tcp && !new_syn(earlier, &row) && (0..=max_gap).contains(&gap)
            });
            let at = match continues {
                Some(i) => {
                    let (origin, joined) = &mut out[i];
                    origin.handshake_cut |= join(joined, first_states[i], row);
                    origin.file_last = Some(file.file.clone());
                    origin.pieces += 1;
                    i
                }
                None => {
                    first_states.push(row.summary.conn_state);
                    out.push((ConnOrigin { file: Some(file.file.clone()), file_last: None, pieces: 1, handshake_cut: false }, row));
                    out.len() - 1
                }
            };
            if tcp {
                this_file.push((tuple, at));
            }
        }
        // a file's rows become candidates only for the files after it (two rows of one file
        // on one 4-tuple are two connections: its tracker said so)
        latest.extend(this_file);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::track::tcp::{ConnSummary, TcpState, ZeekConnState};

    /// A TCP conn row of `conn` between `client` and `server` (other tests build on it).
    pub(crate) fn row(conn: u32, client: &str, server: &str, history: &str, first_ts: i64, last_ts: i64) -> ConnRow {
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
        assert_eq!(origin, &ConnOrigin { file: Some("a".into()), file_last: Some("c".into()), pieces: 3, handshake_cut: false });
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
            (row(0, c, s, "ShADadFf", 0, S), row(0, c, s, "Da", S + CLOSED_GAP_NS + 1, S + CLOSED_GAP_NS + 2)),
            (row(0, c, s, "ShADad", 0, S), row(0, c, s, "ShA", 2 * S, 3 * S)),
            (row(0, c, s, "ShADad", 0, S), row(0, s, c, "sHa", 2 * S, 3 * S)),
            (row(0, c, s, "ShADad", 0, S), row(0, c, s, "Da", S + JOIN_GAP_NS + 1, S + JOIN_GAP_NS + 2)),
        ] {
            let files = vec![FileRows { file: "a".into(), rows: vec![first] }, FileRows { file: "b".into(), rows: vec![second] }];
            assert_eq!(join_files(files).len(), 2);
        }
    }

    #[test]
    fn a_handshake_or_close_cut_by_the_boundary_is_joined() {
        let c = "10.0.0.1:40000";
        let s = "10.0.0.2:80";
        for (first, second, history) in [
            // the SYN at the end of one file, the SYN-ACK at the start of the next
            (row(0, c, s, "S", 0, S), row(0, c, s, "^hADad", 2 * S, 3 * S), "ShADad"),
            // both FINs in one file, the last ACK in the next
            (row(0, c, s, "ShADadFf", 0, S), row(0, c, s, "A", 2 * S, 2 * S), "ShADadFf"),
        ] {
            let files = vec![FileRows { file: "a".into(), rows: vec![first] }, FileRows { file: "b".into(), rows: vec![second] }];
            let out = join_files(files);
            assert_eq!(out.len(), 1, "{out:?}");
            assert_eq!(out[0].1.summary.history, history);
            assert_eq!(out[0].0.handshake_cut, history == "ShADad", "the SYN-ACK came in the second file");
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
