//! Tracker-level tests: whole conversations through the public API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use Dir::{C2S, S2C};

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;

fn cli() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 19, 0, 1))
}
fn srv() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 19, 0, 2))
}

/// A little conversation driver: `client(...)` sends client→server, `server(...)` the reverse.
struct Conversation {
    tracker: Tracker,
    frame: u64,
    ts: TsNanos,
    client_port: u16,
    client_addr: IpAddr,
    server_addr: IpAddr,
    out: Vec<SegInfo>,
}

/// TCP options of a segment.
#[derive(Default, Clone, Copy)]
struct Options {
    mss: Option<u16>,
    ws: Option<u8>,
    sack_perm: bool,
    timestamps: bool,
}

const SYN_OPTIONS: Options = Options { mss: Some(1460), ws: Some(7), sack_perm: true, timestamps: true };

/// The header fields of a segment to send.
#[derive(Clone, Copy)]
struct Header {
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
    win: u16,
    options: Options,
}

impl Header {
    /// A SYN or SYN,ACK: no payload, window 64240, [`SYN_OPTIONS`].
    fn syn(flags: u8, seq: u32, ack: u32) -> Header {
        Header { flags, seq, ack, len: 0, win: 64240, options: SYN_OPTIONS }
    }
    /// A segment without options.
    fn bare(flags: u8, seq: u32, ack: u32, len: u32, win: u16) -> Header {
        Header { flags, seq, ack, len, win, options: Options::default() }
    }
}

impl Conversation {
    fn new() -> Self {
        Self::with(TrackConfig::default())
    }
    fn with(cfg: TrackConfig) -> Self {
        Conversation {
            tracker: Tracker::new(cfg),
            frame: 0,
            ts: 1_000_000_000,
            client_port: 40000,
            client_addr: cli(),
            server_addr: srv(),
            out: vec![],
        }
    }
    /// Send `header` in direction `from` (its payload captured whole), `after_us` microseconds after the previous segment.
    fn send(&mut self, from: Dir, header: Header, after_us: i64) -> SegInfo {
        self.frame += 1;
        self.ts += after_us * 1000;
        let (src, dst, sport, dport) = match from {
            Dir::C2S => (self.client_addr, self.server_addr, self.client_port, 80),
            Dir::S2C => (self.server_addr, self.client_addr, 80, self.client_port),
        };
        let seg = Segment {
            encaps: None,
            n: self.frame,
            ts: self.ts,
            src,
            dst,
            sport,
            dport,
            flags: TcpFlags(header.flags),
            seq: header.seq,
            ack: header.ack,
            win: header.win,
            mss: header.options.mss,
            ws: header.options.ws,
            sack_perm: header.options.sack_perm,
            sack: &[],
            tsopt: header.options.timestamps.then_some((1, 2)),
            len: header.len,
            payload: &PAYLOAD[..(header.len as usize).min(PAYLOAD.len())],
            len_from_frame: false,
        };
        let info = self.tracker.segment(&seg);
        self.out.push(info);
        info
    }
    fn client(&mut self, flags: u8, seq: u32, ack: u32, len: u32) -> SegInfo {
        self.send(C2S, Header::bare(flags, seq, ack, len, 502), 100)
    }
    fn server(&mut self, flags: u8, seq: u32, ack: u32, len: u32) -> SegInfo {
        self.send(S2C, Header::bare(flags, seq, ack, len, 509), 100)
    }
    fn handshake(&mut self, client_isn: u32, server_isn: u32) {
        self.send(C2S, Header::syn(SYN, client_isn, 0), 0);
        self.send(S2C, Header { win: 65160, ..Header::syn(SYN | ACK, server_isn, client_isn.wrapping_add(1)) }, 50);
        self.client(ACK, client_isn.wrapping_add(1), server_isn.wrapping_add(1), 0);
    }
    fn phases(&self) -> Vec<String> {
        self.out.iter().map(|info| info.phase.to_string()).collect()
    }
    fn states(&self) -> Vec<(&'static str, &'static str)> {
        self.out.iter().map(|info| (info.client.name(), info.server.name())).collect()
    }
}

/// Payload bytes for segments built here (captured whole, unless a test says otherwise).
static PAYLOAD: [u8; 4096] = [0; 4096];

#[test]
fn full_connection() {
    let mut conv = Conversation::new();
    conv.handshake(1000, 5000);
    conv.client(ACK | PSH, 1001, 5001, 10);
    conv.server(ACK, 5001, 1011, 0);
    conv.server(ACK | PSH, 5001, 1011, 20);
    conv.client(ACK, 1011, 5021, 0);
    conv.client(FIN | ACK, 1011, 5021, 0);
    conv.server(ACK, 5021, 1012, 0);
    conv.server(FIN | ACK, 5021, 1012, 0);
    conv.client(ACK, 1012, 5022, 0);
    assert_eq!(
        conv.phases(),
        [
            "handshake 1/3",
            "handshake 2/3",
            "handshake 3/3",
            "data",
            "data",
            "data",
            "data",
            "teardown 1/4",
            "teardown 2/4",
            "teardown 3/4",
            "teardown 4/4"
        ]
    );
    assert_eq!(
        conv.states(),
        [
            ("SYN-SENT", "LISTEN"),
            ("ESTABLISHED", "SYN-RECEIVED"),
            ("ESTABLISHED", "ESTABLISHED"),
            ("ESTABLISHED", "ESTABLISHED"),
            ("ESTABLISHED", "ESTABLISHED"),
            ("ESTABLISHED", "ESTABLISHED"),
            ("ESTABLISHED", "ESTABLISHED"),
            ("FIN-WAIT-1", "CLOSE-WAIT"),
            ("FIN-WAIT-2", "CLOSE-WAIT"),
            ("TIME-WAIT", "LAST-ACK"),
            ("TIME-WAIT", "CLOSED"),
        ]
    );
    let fourth = conv.out[3];
    assert_eq!(
        (fourth.conn, fourth.dir, fourth.rseq, fourth.rack, fourth.seq_base, fourth.ack_base),
        (0, Dir::C2S, 1, Some(1), 1000, Some(5000))
    );
    assert_eq!(conv.out[0].rack, None);
    assert_eq!(conv.out[0].win_scaled, Some(64240), "SYN never scaled");
    assert_eq!(conv.out[1].win_scaled, Some(65160), "SYN,ACK never scaled");
    assert_eq!(conv.out[3].win_scaled, Some(502 << 7));
    assert_eq!(conv.out[4].win_scaled, Some(509 << 7));
    assert!(conv.out[0].new_conn && !conv.out[1].new_conn);
    let sums = conv.tracker.finish();
    assert_eq!(sums.len(), 1);
    let summary = &sums[0];
    assert_eq!((summary.conn_state, summary.history.as_str()), (ZeekConnState::Sf, "ShADadFf"));
    assert_eq!((summary.client_state, summary.server_state), (TcpState::TimeWait, TcpState::Closed));
    assert_eq!((summary.mss, summary.ws), ((Some(1460), Some(1460)), (Some(7), Some(7))));
    assert!(summary.sack_perm && summary.timestamps);
    assert_eq!(summary.irtt, Some(150_000));
    assert_eq!((summary.packets, summary.bytes), ([6, 5], [10, 20]));
    assert_eq!((summary.first_frame, summary.last_frame), (1, 11));
    assert_eq!(summary.client.to_string(), "198.19.0.1:40000");
    assert_eq!(summary.server.to_string(), "198.19.0.2:80");
}

#[test]
fn refused_connection() {
    let mut conv = Conversation::new();
    conv.send(C2S, Header::syn(SYN, 7, 0), 0);
    conv.send(C2S, Header::syn(SYN, 7, 0), 1_000_000);
    let reset = conv.server(RST | ACK, 0, 8, 0);
    assert_eq!(conv.out[1].analysis.names().collect::<Vec<_>>(), ["retransmission"]);
    assert_eq!((reset.client, reset.server, reset.phase), (TcpState::Closed, TcpState::Closed, Phase::Reset));
    let summary = &conv.tracker.finish()[0];
    assert_eq!((summary.conn_state, summary.history.as_str(), summary.retransmissions), (ZeekConnState::Rej, "Sr", 1));
}

#[test]
fn rst_from_client_after_synack_returns_server_to_listen() {
    let mut conv = Conversation::new();
    conv.send(C2S, Header::syn(SYN, 7, 0), 0);
    conv.send(S2C, Header::syn(SYN | ACK, 70, 8), 10);
    let reset = conv.client(RST, 8, 0, 0);
    assert_eq!((reset.client, reset.server), (TcpState::Closed, TcpState::Listen));
}

#[test]
fn port_reuse_new_isn_is_a_new_connection() {
    let mut conv = Conversation::new();
    conv.handshake(1000, 5000);
    conv.client(FIN | ACK, 1001, 5001, 0);
    conv.server(FIN | ACK, 5001, 1002, 0);
    conv.client(ACK, 1002, 5002, 0);
    let reopened = conv.send(C2S, Header::syn(SYN, 900_000, 0), 2_000_000);
    assert_eq!(reopened.conn, 1);
    assert!(reopened.new_conn);
    assert!(reopened.analysis.has(Analysis::REUSED_PORTS));
    assert_eq!((reopened.client, reopened.server), (TcpState::SynSent, TcpState::Listen));
    // the same ISN again is a retransmission of that SYN, same connection
    let again = conv.send(C2S, Header::syn(SYN, 900_000, 0), 1_000_000);
    assert_eq!(again.conn, 1);
    assert!(!again.analysis.has(Analysis::REUSED_PORTS));
    assert!(again.analysis.has(Analysis::RETRANSMISSION));
    let sums = conv.tracker.finish();
    assert_eq!(
        sums.iter().map(|summary| (summary.conn, summary.conn_state)).collect::<Vec<_>>(),
        [(0, ZeekConnState::Sf), (1, ZeekConnState::S0)]
    );
}

#[test]
fn midstream_pickup() {
    let mut conv = Conversation::new();
    let first = conv.server(ACK | PSH, 70_000, 90_000, 100); // server speaks first: it becomes the "client"
    assert_eq!((first.dir, first.rseq, first.rack, first.win_scaled), (Dir::C2S, 1, Some(1), None));
    assert_eq!((first.client, first.server, first.phase), (TcpState::Unknown, TcpState::Unknown, Phase::Data));
    let reply = conv.client(ACK, 90_000, 70_100, 0);
    assert_eq!((reply.dir, reply.rseq, reply.rack), (Dir::S2C, 1, Some(101)));
    let fin = conv.client(FIN | ACK, 90_000, 70_100, 0);
    assert_eq!((fin.client, fin.server), (TcpState::CloseWait, TcpState::FinWait1));
    let summary = &conv.tracker.finish()[0];
    assert_eq!(summary.client.to_string(), "198.19.0.2:80");
    assert_eq!(summary.history, "Daf");
}

#[test]
fn synack_first_flips_roles() {
    let mut conv = Conversation::new();
    let synack = conv.send(S2C, Header::syn(SYN | ACK, 70, 8), 0);
    assert_eq!((synack.dir, synack.client, synack.server), (Dir::S2C, TcpState::Established, TcpState::SynReceived));
    let client_ack = conv.client(ACK, 8, 71, 0);
    assert_eq!(client_ack.phase, Phase::Handshake(3));
    assert_eq!(client_ack.win_scaled, None, "client's shift is unknown without its SYN");
    let server_ack = conv.server(ACK, 71, 8, 0);
    assert_eq!(server_ack.win_scaled, Some(509 << 7), "a shift sent in a SYN,ACK is in effect");
    let summary = &conv.tracker.finish()[0];
    assert!(summary.history.starts_with('^'));
    assert_eq!(summary.client.to_string(), "198.19.0.1:40000");
}

#[test]
fn one_sided_window_scaling_is_not_in_effect() {
    let mut conv = Conversation::new();
    conv.send(C2S, Header::syn(SYN, 1, 0), 0);
    conv.send(S2C, Header { options: Options { mss: Some(1400), ..Options::default() }, ..Header::syn(SYN | ACK, 9, 2) }, 10);
    let client_ack = conv.client(ACK, 2, 10, 0);
    assert_eq!(client_ack.win_scaled, Some(502));
    let server_ack = conv.server(ACK, 10, 2, 0);
    assert_eq!(server_ack.win_scaled, Some(509));
}

#[test]
fn ipv6_and_isn_wraparound() {
    let mut conv = Conversation::new();
    conv.client_addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
    conv.server_addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    let isn = u32::MAX - 10;
    conv.handshake(isn, u32::MAX);
    let data = conv.client(ACK | PSH, isn.wrapping_add(1), 0, 100);
    assert_eq!((data.rseq, data.rack), (1, Some(1)));
    let server_ack = conv.server(ACK, 0, isn.wrapping_add(101), 0);
    assert_eq!(server_ack.rack, Some(101));
    let more = conv.client(ACK | PSH, isn.wrapping_add(101), 0, 100);
    assert!(more.analysis.is_empty(), "{:?}", more.analysis);
    let again = conv.send(C2S, Header::bare(ACK | PSH, isn.wrapping_add(1), 0, 100, 502), 500_000);
    assert!(again.analysis.has(Analysis::SPURIOUS_RETRANSMISSION));
}

#[test]
fn simultaneous_open_and_close() {
    let mut conv = Conversation::new();
    conv.send(C2S, Header::syn(SYN, 100, 0), 0);
    conv.send(S2C, Header::syn(SYN, 500, 0), 10);
    conv.send(C2S, Header::syn(SYN | ACK, 100, 501), 10);
    conv.send(S2C, Header::syn(SYN | ACK, 500, 101), 10);
    conv.client(FIN | ACK, 101, 501, 0);
    conv.server(FIN | ACK, 501, 101, 0);
    conv.client(ACK, 102, 502, 0);
    conv.server(ACK, 502, 102, 0);
    assert_eq!(
        conv.states(),
        [
            ("SYN-SENT", "LISTEN"),
            ("SYN-RECEIVED", "SYN-RECEIVED"),
            ("SYN-RECEIVED", "ESTABLISHED"),
            ("ESTABLISHED", "ESTABLISHED"),
            ("FIN-WAIT-1", "CLOSE-WAIT"),
            ("CLOSING", "CLOSING"),
            ("CLOSING", "TIME-WAIT"),
            ("TIME-WAIT", "TIME-WAIT"),
        ]
    );
    assert_eq!(conv.phases()[4..], ["teardown 1/4", "teardown 3/4", "teardown 4/4", "teardown 2/4"]);
}

#[test]
fn eviction_keeps_summaries() {
    let mut conv = Conversation::with(TrackConfig { max_conns: 2, close_linger: 1_000_000_000 });
    for offset in 0..3u16 {
        conv.client_port = 41000 + offset;
        conv.send(C2S, Header::syn(SYN, 1, 0), 10);
    }
    assert_eq!(conv.tracker.live(), 2);
    conv.client_port = 41001; // touch it: 41002's connection is now the oldest idle one
    conv.send(C2S, Header::bare(ACK, 2, 0, 0, 500), 10);
    conv.client_port = 41003;
    conv.send(C2S, Header::syn(SYN, 1, 0), 10);
    let mut out = vec![];
    conv.tracker.expire(conv.ts, &mut out);
    assert_eq!(out.iter().map(|summary| summary.conn).collect::<Vec<_>>(), [0, 2]);
    let rest = conv.tracker.finish();
    assert_eq!(rest.iter().map(|summary| summary.conn).collect::<Vec<_>>(), [1, 3]);
}

#[test]
fn expire_frees_finished_idle_connections_only() {
    let mut conv = Conversation::with(TrackConfig { max_conns: 100, close_linger: 1_000_000_000 });
    conv.client_port = 42000;
    conv.send(C2S, Header::syn(SYN, 1, 0), 0);
    conv.send(S2C, Header::bare(RST | ACK, 0, 2, 0, 0), 10); // refused: finished
    conv.client_port = 42001;
    conv.send(C2S, Header::syn(SYN, 1, 0), 10); // open: never expired by expire()
    let mut out = vec![];
    conv.tracker.expire(conv.ts, &mut out);
    assert!(out.is_empty(), "not idle long enough yet");
    conv.tracker.expire(conv.ts + 5_000_000_000, &mut out);
    assert_eq!(out.iter().map(|summary| (summary.conn, summary.conn_state)).collect::<Vec<_>>(), [(0, ZeekConnState::Rej)]);
    assert_eq!(conv.tracker.live(), 1);
    // the same 4-tuple after expiry starts a fresh connection id
    conv.client_port = 42000;
    let reopened = conv.send(C2S, Header::syn(SYN, 1, 0), 10);
    assert_eq!((reopened.conn, reopened.new_conn), (2, true));
    assert_eq!(conv.tracker.finish().len(), 2);
}

#[test]
fn keepalive_and_zero_window_phases() {
    let mut conv = Conversation::new();
    conv.handshake(0, 0);
    conv.client(ACK | PSH, 1, 1, 10);
    conv.server(ACK, 1, 11, 0);
    let keep_alive = conv.client(ACK, 10, 1, 0);
    let keep_alive_ack = conv.server(ACK, 1, 11, 0);
    assert_eq!(keep_alive.phase.to_string(), "other keep-alive");
    assert_eq!(keep_alive_ack.phase.to_string(), "other keep-alive-ack");
    let zero_window = conv.send(S2C, Header::bare(ACK, 1, 11, 0, 0), 10);
    assert!(zero_window.analysis.has(Analysis::ZERO_WINDOW));
    let probe = conv.client(ACK, 11, 1, 1);
    assert_eq!(probe.phase.to_string(), "other zero-window-probe");
    let summary = &conv.tracker.finish()[0];
    assert_eq!(summary.zero_windows, 1);
}

#[test]
fn dir_display() {
    assert_eq!((Dir::C2S.to_string(), Dir::S2C.to_string()), ("c2s".into(), "s2c".into()));
    assert_eq!((Dir::C2S.arrow(), Dir::S2C.arrow()), ("c→s", "s→c"));
    assert!(TcpFlags(SYN | ACK).has(SYN) && !TcpFlags(SYN).has(SYN | ACK));
}

#[test]
fn record_sizes_stay_small() {
    // fixed-size per-connection state (no heap): keep an eye on its size
    let size = std::mem::size_of::<flow::ConnSize>();
    assert!(size < 1200, "{size} bytes per connection");
}

/// Random segments on a few 4-tuples: no panic (debug overflow checks on), ids
/// stay dense, every connection gets exactly one summary, the table stays bounded.
#[test]
fn random_segments_never_panic() {
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut tracker = Tracker::new(TrackConfig { max_conns: 5, close_linger: 1_000_000 });
    let mut out = vec![];
    let mut ts: TsNanos = 0;
    let mut max_id = 0;
    let sack = [(1u32, 9u32), (20, 30)];
    for frame in 1..200_000u64 {
        let bits = next();
        ts += (bits % 3_000_000) as i64 - 1_000; // sometimes goes backwards
        let from_client = bits & 1 == 0;
        let port = 1000 + (bits >> 8) as u16 % 8;
        let base = (bits >> 20) as u32 % 4;
        let seq = base.wrapping_mul(0x4000_0000).wrapping_add((bits >> 24) as u32 % 5000);
        let ack = ((bits >> 32) as u32 % 5000).wrapping_add(((bits >> 60) as u32).wrapping_mul(0x3000_0000));
        let seg = Segment {
            encaps: None,
            n: frame,
            ts,
            src: if from_client { cli() } else { srv() },
            dst: if from_client { srv() } else { cli() },
            sport: if from_client { port } else { 80 },
            dport: if from_client { 80 } else { port },
            flags: TcpFlags((bits >> 40) as u8),
            seq,
            ack,
            win: (bits >> 48) as u16 % 3,
            mss: (bits & 4 != 0).then_some(1400),
            ws: (bits & 8 != 0).then_some((bits >> 52) as u8 % 20),
            sack_perm: bits & 16 != 0,
            sack: if bits & 32 != 0 { &sack } else { &[] },
            tsopt: None,
            len: ((bits >> 56) as u32 % 4) * 700,
            payload: &PAYLOAD[..((bits >> 56) as usize % 4) * 700],
            len_from_frame: false,
        };
        let info = tracker.segment(&seg);
        max_id = max_id.max(info.conn);
        let _ = info.phase.to_string();
        if frame % 1000 == 0 {
            tracker.expire(ts, &mut out);
        }
        assert!(tracker.live() <= 5);
    }
    out.extend(tracker.finish());
    out.sort_by_key(|summary| summary.conn);
    let ids: Vec<u32> = out.iter().map(|summary| summary.conn).collect();
    assert_eq!(ids, (0..=max_id).collect::<Vec<_>>());
}

#[test]
fn expire_skips_over_older_unfinished_connections() {
    let mut conv = Conversation::with(TrackConfig { max_conns: 100_000, close_linger: 1_000_000_000 });
    for offset in 0..20_000u16 {
        conv.client_port = 1024 + offset;
        conv.send(C2S, Header::syn(SYN, 1, 0), 1); // never answered: not finished
    }
    conv.client_port = 60000;
    conv.send(C2S, Header::syn(SYN, 1, 0), 10);
    conv.send(S2C, Header::bare(RST | ACK, 0, 2, 0, 0), 10);
    let mut out = vec![];
    for step in 0..2000 {
        conv.tracker.expire(conv.ts + step, &mut out); // cheap: only finished connections are visited
    }
    assert!(out.is_empty());
    conv.tracker.expire(conv.ts + 2_000_000_000, &mut out);
    assert_eq!(out.iter().map(|summary| summary.conn_state).collect::<Vec<_>>(), [ZeekConnState::Rej]);
    assert_eq!(conv.tracker.live(), 20_000);
}

/// Zeek counts gaps, not ACKs of unseen data: five holes acknowledged ten times are five gap
/// events, so one `G` (letters come at the 1st, 10th, 100th, … event); their bytes are missed.
#[test]
fn gaps_count_holes_not_acks() {
    let mut conv = Conversation::new();
    conv.handshake(1000, 5000);
    for i in (1..10u32).step_by(2) {
        conv.client(ACK, 1001 + i * 100, 5001, 100);
    }
    for _ in 0..10 {
        conv.server(ACK, 5001, 2001, 0);
    }
    let summary = &conv.tracker.finish()[0];
    assert_eq!(summary.history, "ShADaG");
    assert_eq!(summary.missed_bytes, [500, 0]);
}

/// A payload cut by the snap length is a gap of the bytes cut (Zeek's missed_bytes).
#[test]
fn snap_length_cut_is_a_gap() {
    let mut conv = Conversation::new();
    conv.handshake(1000, 5000);
    let seg = Segment {
        encaps: None,
        n: 4,
        ts: conv.ts + 1000,
        src: cli(),
        dst: srv(),
        sport: conv.client_port,
        dport: 80,
        flags: TcpFlags(ACK | PSH),
        seq: 1001,
        ack: 5001,
        win: 502,
        mss: None,
        ws: None,
        sack_perm: false,
        sack: &[],
        tsopt: None,
        len: 100,
        payload: &PAYLOAD[..6],
        len_from_frame: false,
    };
    conv.tracker.segment(&seg);
    conv.server(ACK, 5001, 1101, 0);
    let summary = &conv.tracker.finish()[0];
    assert_eq!(summary.history, "ShADGa");
    assert_eq!(summary.missed_bytes, [94, 0]);
}

/// RFC 7323 2.2: a SYN,ACK without the window-scale option turns scaling off both ways; the
/// SYN sent again with the option does not turn it back on.
#[test]
fn retransmitted_syn_does_not_restore_scaling() {
    let mut conv = Conversation::new();
    conv.send(C2S, Header::syn(SYN, 1000, 0), 0);
    conv.send(S2C, Header { options: Options { ws: None, ..SYN_OPTIONS }, ..Header::syn(SYN | ACK, 5000, 1001) }, 50);
    conv.send(C2S, Header::syn(SYN, 1000, 0), 1_000_000);
    conv.client(ACK, 1001, 5001, 0);
    let data = conv.client(ACK | PSH, 1001, 5001, 10);
    let answer = conv.server(ACK, 5001, 1011, 0);
    assert_eq!((data.win_scaled, answer.win_scaled), (Some(502), Some(509)));
}

/// No SYN,ACK, no initial RTT: a SYN then the client's RST/ACK 64 s later measures nothing.
#[test]
fn no_irtt_without_synack() {
    let mut conv = Conversation::new();
    conv.send(C2S, Header::syn(SYN, 1000, 0), 0);
    conv.send(C2S, Header::bare(RST | ACK, 1001, 0, 0, 0), 64_000_000);
    assert_eq!(conv.tracker.finish()[0].irtt, None);
}

/// A segment larger than the MSS in force (the smaller announced, less the timestamps option)
/// stands for several wire segments; on loopback (MSS 65483) a 60 KB segment is real.
#[test]
fn offload_by_mss() {
    let mut conv = Conversation::new();
    conv.handshake(1000, 5000);
    let big = conv.client(ACK | PSH, 1001, 5001, 2896);
    let small = conv.client(ACK | PSH, 3897, 5001, 1448);
    assert_eq!(big.offload, Some(Offload::Segments { mss: 1448, segments: 2 }));
    assert_eq!(small.offload, None);

    let mut lo = Conversation::new();
    let lo_syn = Options { mss: Some(65483), ..SYN_OPTIONS };
    lo.send(C2S, Header { options: lo_syn, ..Header::syn(SYN, 1000, 0) }, 0);
    lo.send(S2C, Header { options: lo_syn, ..Header::syn(SYN | ACK, 5000, 1001) }, 50);
    lo.client(ACK, 1001, 5001, 0);
    assert_eq!(lo.client(ACK | PSH, 1001, 5001, 4000).offload, None);
}
