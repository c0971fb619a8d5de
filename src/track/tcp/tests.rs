//! Tracker-level tests: whole conversations through the public API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

const S: u8 = TcpFlags::SYN;
const A: u8 = TcpFlags::ACK;
const F: u8 = TcpFlags::FIN;
const R: u8 = TcpFlags::RST;
const P: u8 = TcpFlags::PSH;

fn cli() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 19, 0, 1))
}
fn srv() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 19, 0, 2))
}

/// A little conversation driver: `c(...)` sends client→server, `s(...)` the reverse.
struct Drive {
    t: Tracker,
    n: u64,
    ts: TsNanos,
    cport: u16,
    caddr: IpAddr,
    saddr: IpAddr,
    out: Vec<SegInfo>,
}

#[derive(Default, Clone, Copy)]
struct Opt {
    mss: Option<u16>,
    ws: Option<u8>,
    sackp: bool,
    ts: bool,
}

const SYNOPT: Opt = Opt { mss: Some(1460), ws: Some(7), sackp: true, ts: true };

impl Drive {
    fn new() -> Self {
        Self::with(TrackConfig::default())
    }
    fn with(cfg: TrackConfig) -> Self {
        Drive { t: Tracker::new(cfg), n: 0, ts: 1_000_000_000, cport: 40000, caddr: cli(), saddr: srv(), out: vec![] }
    }
    #[allow(clippy::too_many_arguments)]
    fn seg(&mut self, from_client: bool, flags: u8, seq: u32, ack: u32, len: u32, win: u16, o: Opt, dt_us: i64) -> SegInfo {
        self.n += 1;
        self.ts += dt_us * 1000;
        let (src, dst, sport, dport) =
            if from_client { (self.caddr, self.saddr, self.cport, 80) } else { (self.saddr, self.caddr, 80, self.cport) };
        let seg = Segment {
            n: self.n,
            ts: self.ts,
            src,
            dst,
            sport,
            dport,
            flags: TcpFlags(flags),
            seq,
            ack,
            win,
            mss: o.mss,
            ws: o.ws,
            sack_perm: o.sackp,
            sack: &[],
            tsopt: o.ts.then_some((1, 2)),
            len,
            payload: &[],
        };
        let i = self.t.segment(&seg);
        self.out.push(i);
        i
    }
    fn c(&mut self, flags: u8, seq: u32, ack: u32, len: u32) -> SegInfo {
        self.seg(true, flags, seq, ack, len, 502, Opt::default(), 100)
    }
    fn s(&mut self, flags: u8, seq: u32, ack: u32, len: u32) -> SegInfo {
        self.seg(false, flags, seq, ack, len, 509, Opt::default(), 100)
    }
    fn handshake(&mut self, isn_c: u32, isn_s: u32) {
        self.seg(true, S, isn_c, 0, 0, 64240, SYNOPT, 0);
        self.seg(false, S | A, isn_s, isn_c.wrapping_add(1), 0, 65160, SYNOPT, 50);
        self.c(A, isn_c.wrapping_add(1), isn_s.wrapping_add(1), 0);
    }
    fn phases(&self) -> Vec<String> {
        self.out.iter().map(|i| i.phase.to_string()).collect()
    }
    fn states(&self) -> Vec<(&'static str, &'static str)> {
        self.out.iter().map(|i| (i.client.name(), i.server.name())).collect()
    }
}

#[test]
fn full_connection() {
    let mut d = Drive::new();
    d.handshake(1000, 5000);
    d.c(A | P, 1001, 5001, 10);
    d.s(A, 5001, 1011, 0);
    d.s(A | P, 5001, 1011, 20);
    d.c(A, 1011, 5021, 0);
    d.c(F | A, 1011, 5021, 0);
    d.s(A, 5021, 1012, 0);
    d.s(F | A, 5021, 1012, 0);
    d.c(A, 1012, 5022, 0);
    assert_eq!(
        d.phases(),
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
        d.states(),
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
    let i = d.out[3];
    assert_eq!((i.conn, i.dir, i.rseq, i.rack, i.seq_base, i.ack_base), (0, Dir::C2S, 1, Some(1), 1000, Some(5000)));
    assert_eq!(d.out[0].rack, None);
    assert_eq!(d.out[0].win_scaled, Some(64240), "SYN never scaled");
    assert_eq!(d.out[1].win_scaled, Some(65160), "SYN,ACK never scaled");
    assert_eq!(d.out[3].win_scaled, Some(502 << 7));
    assert_eq!(d.out[4].win_scaled, Some(509 << 7));
    assert!(d.out[0].new_conn && !d.out[1].new_conn);
    let sums = d.t.finish();
    assert_eq!(sums.len(), 1);
    let s = &sums[0];
    assert_eq!((s.conn_state, s.history.as_str()), (ZeekConnState::Sf, "ShADadFf"));
    assert_eq!((s.client_state, s.server_state), (TcpState::TimeWait, TcpState::Closed));
    assert_eq!((s.mss, s.ws), ((Some(1460), Some(1460)), (Some(7), Some(7))));
    assert!(s.sack_perm && s.timestamps);
    assert_eq!(s.irtt, Some(150_000));
    assert_eq!((s.packets, s.bytes), ([6, 5], [10, 20]));
    assert_eq!((s.first_frame, s.last_frame), (1, 11));
    assert_eq!(s.client.to_string(), "198.19.0.1:40000");
    assert_eq!(s.server.to_string(), "198.19.0.2:80");
}

#[test]
fn refused_connection() {
    let mut d = Drive::new();
    d.seg(true, S, 7, 0, 0, 64240, SYNOPT, 0);
    d.seg(true, S, 7, 0, 0, 64240, SYNOPT, 1_000_000);
    let i = d.s(R | A, 0, 8, 0);
    assert_eq!(d.out[1].analysis.names().collect::<Vec<_>>(), ["retransmission"]);
    assert_eq!((i.client, i.server, i.phase), (TcpState::Closed, TcpState::Closed, Phase::Reset));
    let s = &d.t.finish()[0];
    assert_eq!((s.conn_state, s.history.as_str(), s.retransmissions), (ZeekConnState::Rej, "Sr", 1));
}

#[test]
fn rst_from_client_after_synack_returns_server_to_listen() {
    let mut d = Drive::new();
    d.seg(true, S, 7, 0, 0, 64240, SYNOPT, 0);
    d.seg(false, S | A, 70, 8, 0, 64240, SYNOPT, 10);
    let i = d.c(R, 8, 0, 0);
    assert_eq!((i.client, i.server), (TcpState::Closed, TcpState::Listen));
}

#[test]
fn port_reuse_new_isn_is_a_new_connection() {
    let mut d = Drive::new();
    d.handshake(1000, 5000);
    d.c(F | A, 1001, 5001, 0);
    d.s(F | A, 5001, 1002, 0);
    d.c(A, 1002, 5002, 0);
    let i = d.seg(true, S, 900_000, 0, 0, 64240, SYNOPT, 2_000_000);
    assert_eq!(i.conn, 1);
    assert!(i.new_conn);
    assert!(i.analysis.has(Analysis::REUSED_PORTS));
    assert_eq!((i.client, i.server), (TcpState::SynSent, TcpState::Listen));
    // the same ISN again is a retransmission of that SYN, same connection
    let j = d.seg(true, S, 900_000, 0, 0, 64240, SYNOPT, 1_000_000);
    assert_eq!(j.conn, 1);
    assert!(!j.analysis.has(Analysis::REUSED_PORTS));
    assert!(j.analysis.has(Analysis::RETRANSMISSION));
    let sums = d.t.finish();
    assert_eq!(sums.iter().map(|s| (s.conn, s.conn_state)).collect::<Vec<_>>(), [(0, ZeekConnState::Sf), (1, ZeekConnState::S0)]);
}

#[test]
fn midstream_pickup() {
    let mut d = Drive::new();
    let i = d.s(A | P, 70_000, 90_000, 100); // server speaks first: it becomes the "client"
    assert_eq!((i.dir, i.rseq, i.rack, i.win_scaled), (Dir::C2S, 1, Some(1), None));
    assert_eq!((i.client, i.server, i.phase), (TcpState::Unknown, TcpState::Unknown, Phase::Data));
    let j = d.c(A, 90_000, 70_100, 0);
    assert_eq!((j.dir, j.rseq, j.rack), (Dir::S2C, 1, Some(101)));
    let k = d.c(F | A, 90_000, 70_100, 0);
    assert_eq!((k.client, k.server), (TcpState::CloseWait, TcpState::FinWait1));
    let s = &d.t.finish()[0];
    assert_eq!(s.client.to_string(), "198.19.0.2:80");
    assert_eq!(s.history, "Daf");
}

#[test]
fn synack_first_flips_roles() {
    let mut d = Drive::new();
    let i = d.seg(false, S | A, 70, 8, 0, 64240, SYNOPT, 0);
    assert_eq!((i.dir, i.client, i.server), (Dir::S2C, TcpState::Established, TcpState::SynReceived));
    let j = d.c(A, 8, 71, 0);
    assert_eq!(j.phase, Phase::Handshake(3));
    assert_eq!(j.win_scaled, None, "client's shift is unknown without its SYN");
    let k = d.s(A, 71, 8, 0);
    assert_eq!(k.win_scaled, Some(509 << 7), "a shift sent in a SYN,ACK is in effect");
    let s = &d.t.finish()[0];
    assert!(s.history.starts_with('^'));
    assert_eq!(s.client.to_string(), "198.19.0.1:40000");
}

#[test]
fn one_sided_window_scaling_is_not_in_effect() {
    let mut d = Drive::new();
    d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 0);
    d.seg(false, S | A, 9, 2, 0, 64240, Opt { mss: Some(1400), ..Opt::default() }, 10);
    let i = d.c(A, 2, 10, 0);
    assert_eq!(i.win_scaled, Some(502));
    let s = d.s(A, 10, 2, 0);
    assert_eq!(s.win_scaled, Some(509));
}

#[test]
fn ipv6_and_isn_wraparound() {
    let mut d = Drive::new();
    d.caddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
    d.saddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    let isn = u32::MAX - 10;
    d.handshake(isn, u32::MAX);
    let i = d.c(A | P, isn.wrapping_add(1), 0, 100);
    assert_eq!((i.rseq, i.rack), (1, Some(1)));
    let j = d.s(A, 0, isn.wrapping_add(101), 0);
    assert_eq!(j.rack, Some(101));
    let k = d.c(A | P, isn.wrapping_add(101), 0, 100);
    assert!(k.analysis.is_empty(), "{:?}", k.analysis);
    let r = d.seg(true, A | P, isn.wrapping_add(1), 0, 100, 502, Opt::default(), 500_000);
    assert!(r.analysis.has(Analysis::SPURIOUS_RETRANSMISSION));
}

#[test]
fn simultaneous_open_and_close() {
    let mut d = Drive::new();
    d.seg(true, S, 100, 0, 0, 64240, SYNOPT, 0);
    d.seg(false, S, 500, 0, 0, 64240, SYNOPT, 10);
    d.seg(true, S | A, 100, 501, 0, 64240, SYNOPT, 10);
    d.seg(false, S | A, 500, 101, 0, 64240, SYNOPT, 10);
    d.c(F | A, 101, 501, 0);
    d.s(F | A, 501, 101, 0);
    d.c(A, 102, 502, 0);
    d.s(A, 502, 102, 0);
    assert_eq!(
        d.states(),
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
    assert_eq!(d.phases()[4..], ["teardown 1/4", "teardown 3/4", "teardown 4/4", "teardown 2/4"]);
}

#[test]
fn eviction_keeps_summaries() {
    let mut d = Drive::with(TrackConfig { max_conns: 2, close_linger: 1_000_000_000 });
    for p in 0..3u16 {
        d.cport = 41000 + p;
        d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 10);
    }
    assert_eq!(d.t.live(), 2);
    d.cport = 41001; // touch it: 41002's connection is now the oldest idle one
    d.seg(true, A, 2, 0, 0, 500, Opt::default(), 10);
    d.cport = 41003;
    d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 10);
    let mut out = vec![];
    d.t.expire(d.ts, &mut out);
    assert_eq!(out.iter().map(|s| s.conn).collect::<Vec<_>>(), [0, 2]);
    let rest = d.t.finish();
    assert_eq!(rest.iter().map(|s| s.conn).collect::<Vec<_>>(), [1, 3]);
}

#[test]
fn expire_frees_finished_idle_connections_only() {
    let mut d = Drive::with(TrackConfig { max_conns: 100, close_linger: 1_000_000_000 });
    d.cport = 42000;
    d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 0);
    d.seg(false, R | A, 0, 2, 0, 0, Opt::default(), 10); // refused: finished
    d.cport = 42001;
    d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 10); // open: never expired by expire()
    let mut out = vec![];
    d.t.expire(d.ts, &mut out);
    assert!(out.is_empty(), "not idle long enough yet");
    d.t.expire(d.ts + 5_000_000_000, &mut out);
    assert_eq!(out.iter().map(|s| (s.conn, s.conn_state)).collect::<Vec<_>>(), [(0, ZeekConnState::Rej)]);
    assert_eq!(d.t.live(), 1);
    // the same 4-tuple after expiry starts a fresh connection id
    d.cport = 42000;
    let i = d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 10);
    assert_eq!((i.conn, i.new_conn), (2, true));
    assert_eq!(d.t.finish().len(), 2);
}

#[test]
fn keepalive_and_zero_window_phases() {
    let mut d = Drive::new();
    d.handshake(0, 0);
    d.c(A | P, 1, 1, 10);
    d.s(A, 1, 11, 0);
    let ka = d.c(A, 10, 1, 0);
    let kaa = d.s(A, 1, 11, 0);
    assert_eq!(ka.phase.to_string(), "other keep-alive");
    assert_eq!(kaa.phase.to_string(), "other keep-alive-ack");
    let zw = d.seg(false, A, 1, 11, 0, 0, Opt::default(), 10);
    assert!(zw.analysis.has(Analysis::ZERO_WINDOW));
    let p = d.c(A, 11, 1, 1);
    assert_eq!(p.phase.to_string(), "other zero-window-probe");
    let s = &d.t.finish()[0];
    assert_eq!(s.zero_windows, 1);
}

#[test]
fn dir_display() {
    assert_eq!((Dir::C2S.to_string(), Dir::S2C.to_string()), ("c2s".into(), "s2c".into()));
    assert_eq!((Dir::C2S.arrow(), Dir::S2C.arrow()), ("c→s", "s→c"));
    assert!(TcpFlags(S | A).has(S) && !TcpFlags(S).has(S | A));
}

#[test]
fn record_sizes_stay_small() {
    // fixed-size per-connection state (no heap): keep an eye on its size
    let c = std::mem::size_of::<flow::ConnSize>();
    assert!(c < 1200, "{c} bytes per connection");
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
    let mut t = Tracker::new(TrackConfig { max_conns: 5, close_linger: 1_000_000 });
    let mut out = vec![];
    let mut ts: TsNanos = 0;
    let mut max_id = 0;
    let sack = [(1u32, 9u32), (20, 30)];
    for n in 1..200_000u64 {
        let r = next();
        ts += (r % 3_000_000) as i64 - 1_000; // sometimes goes backwards
        let from_c = r & 1 == 0;
        let port = 1000 + (r >> 8) as u16 % 8;
        let base = (r >> 20) as u32 % 4;
        let seq = base.wrapping_mul(0x4000_0000).wrapping_add((r >> 24) as u32 % 5000);
        let ack = ((r >> 32) as u32 % 5000).wrapping_add(((r >> 60) as u32).wrapping_mul(0x3000_0000));
        let seg = Segment {
            n,
            ts,
            src: if from_c { cli() } else { srv() },
            dst: if from_c { srv() } else { cli() },
            sport: if from_c { port } else { 80 },
            dport: if from_c { 80 } else { port },
            flags: TcpFlags((r >> 40) as u8),
            seq,
            ack,
            win: (r >> 48) as u16 % 3,
            mss: (r & 4 != 0).then_some(1400),
            ws: (r & 8 != 0).then_some((r >> 52) as u8 % 20),
            sack_perm: r & 16 != 0,
            sack: if r & 32 != 0 { &sack } else { &[] },
            tsopt: None,
            len: ((r >> 56) as u32 % 4) * 700,
            payload: &[],
        };
        let i = t.segment(&seg);
        max_id = max_id.max(i.conn);
        let _ = i.phase.to_string();
        if n % 1000 == 0 {
            t.expire(ts, &mut out);
        }
        assert!(t.live() <= 5);
    }
    out.extend(t.finish());
    out.sort_by_key(|s| s.conn);
    let ids: Vec<u32> = out.iter().map(|s| s.conn).collect();
    assert_eq!(ids, (0..=max_id).collect::<Vec<_>>());
}

#[test]
fn expire_skips_over_older_unfinished_connections() {
    let mut d = Drive::with(TrackConfig { max_conns: 100_000, close_linger: 1_000_000_000 });
    for p in 0..20_000u16 {
        d.cport = 1024 + p;
        d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 1); // never answered: not finished
    }
    d.cport = 60000;
    d.seg(true, S, 1, 0, 0, 64240, SYNOPT, 10);
    d.seg(false, R | A, 0, 2, 0, 0, Opt::default(), 10);
    let mut out = vec![];
    for k in 0..2000 {
        d.t.expire(d.ts + k, &mut out); // cheap: only finished connections are visited
    }
    assert!(out.is_empty());
    d.t.expire(d.ts + 2_000_000_000, &mut out);
    assert_eq!(out.iter().map(|s| s.conn_state).collect::<Vec<_>>(), [ZeekConnState::Rej]);
    assert_eq!(d.t.live(), 20_000);
}
