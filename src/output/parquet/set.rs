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

use std::collections::HashMap;
use std::net::SocketAddr;

use super::ConnOrigin;
use crate::output::conns::{ConnRow, DirCounts};
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

/// `later` appended to `row`: counts summed, the handshake's facts kept from the first piece,
/// the final states and last time from the later one.
fn join(row: &mut ConnRow, mut later: ConnRow) {
    if later.summary.client != row.summary.client {
        // the later piece named the server as client: its directions are the other way round
        let s = &mut later.summary;
        s.packets.swap(0, 1);
        s.bytes.swap(0, 1);
        s.missed_bytes.swap(0, 1);
        std::mem::swap(&mut s.client_state, &mut s.server_state);
        later.seams.swap(0, 1);
    }
    let (a, b) = (&mut row.summary, later.summary);
    for i in 0..2 {
        a.packets[i] += b.packets[i];
        a.bytes[i] += b.bytes[i];
        a.missed_bytes[i] += b.missed_bytes[i];
    }
    a.retransmissions += b.retransmissions;
    a.dup_acks += b.dup_acks;
    a.zero_windows += b.zero_windows;
    a.icmp_errors += b.icmp_errors;
    a.history.push_str(&b.history);
    a.client_state = b.client_state;
    a.server_state = b.server_state;
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
                    join(joined, row);
                    origin.file_last = Some(file.file.clone());
                    origin.pieces += 1;
                    i
                }
                _ => {
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
        assert_eq!(joined.summary.history, "ShADaddaDaFf");
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
}
