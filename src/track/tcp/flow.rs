//! Connections and the flow table.
//!
//! The table is an `FxHashMap` from a normalised 4-tuple to a slot of a slab of
//! fixed-size connection records. Slots are threaded on two intrusive lists, both
//! least recently active first: all connections (eviction at `max_conns`) and the
//! finished ones (expiry after `close_linger`, so `expire` never walks idle
//! unfinished connections). Per segment: one hash lookup, plain field updates and
//! O(1) list moves; no heap allocation except when a connection is created
//! (slab/table growth, or a summary pushed for a replaced/evicted one).

use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use super::analysis::{analyze, Analysis, FlowSeq, SeqInput, WS_NONE, WS_UNKNOWN};
use super::history::Zeek;
use super::phase::{OtherKind, Phase, Teardown};
use super::state::{transition, EndpointEvent, TcpState};
use super::{ConnSummary, Dir, SegInfo, Segment, TcpFlags, TrackConfig, TsNanos};

const NIL: u32 = u32::MAX;

/// Normalised 4-tuple in three machine words: the (address, port) pair that sorts first (as
/// `(IpAddr, u16)` sorts: IPv4 before IPv6, then by value) is `a`. Addresses as numbers, the
/// family and both ports in `ports`, so hashing is three rounds and comparing three words (an
/// `IpAddr` pair hashed field by field was most of a lookup).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FlowKey {
    a: u128,
    b: u128,
    /// IPv6 flag << 32 | port of `a` << 16 | port of `b`.
    ports: u64,
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.a as u64 ^ (self.a >> 64) as u64);
        h.write_u64(self.b as u64 ^ (self.b >> 64) as u64);
        h.write_u64(self.ports);
    }
}

/// An address as a number, and whether it is IPv6.
fn addr_bits(a: &IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v) => (false, u128::from(v.to_bits())),
        IpAddr::V6(v) => (true, v.to_bits()),
    }
}

impl FlowKey {
    fn of(seg: &Segment<'_>) -> FlowKey {
        let (v6s, s) = addr_bits(&seg.src);
        let (v6d, d) = addr_bits(&seg.dst);
        let v6 = u64::from(v6s || v6d) << 32;
        if (v6s, s, seg.sport) <= (v6d, d, seg.dport) {
            FlowKey { a: s, b: d, ports: v6 | u64::from(seg.sport) << 16 | u64::from(seg.dport) }
        } else {
            FlowKey { a: d, b: s, ports: v6 | u64::from(seg.dport) << 16 | u64::from(seg.sport) }
        }
    }
}

/// Everything known about one connection (fixed size, no heap).
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    id: u32,
    client: SocketAddr,
    server: SocketAddr,
    /// Wireshark sequence analysis per direction `[c2s, s2c]`.
    seq: [FlowSeq; 2],
    /// RFC 9293 states `[client, server]`.
    states: [TcpState; 2],
    teardown: Teardown,
    zeek: Zeek,
    ts_mru_syn: TsNanos,
    ts_first_rtt: TsNanos,
    /// ISN per direction, once its SYN (or SYN,ACK) was seen.
    isn: [Option<u32>; 2],
    synack_seen: bool,
    handshake_done: bool,
    /// Shift announced in a SYN,ACK (implies the SYN offered scaling too).
    ws_in_synack: [bool; 2],
    mss: [Option<u16>; 2],
    ws: [Option<u8>; 2],
    sack_perm: [Option<bool>; 2],
    tsopt: [Option<bool>; 2],
    rst_seen: bool,
    first_ts: TsNanos,
    last_ts: TsNanos,
    first_frame: u64,
    last_frame: u64,
    packets: [u64; 2],
    bytes: [u64; 2],
    retransmissions: u64,
    dup_acks: u64,
    zero_windows: u64,
}

impl Conn {
    fn new(id: u32, client: SocketAddr, server: SocketAddr, flipped: bool, seg: &Segment<'_>) -> Conn {
        Conn {
            id,
            client,
            server,
            seq: [FlowSeq::default(); 2],
            states: [TcpState::Unknown; 2],
            teardown: Teardown::default(),
            zeek: Zeek::new(flipped),
            ts_mru_syn: 0,
            ts_first_rtt: 0,
            isn: [None; 2],
            synack_seen: false,
            handshake_done: false,
            ws_in_synack: [false; 2],
            mss: [None; 2],
            ws: [None; 2],
            sack_perm: [None; 2],
            tsopt: [None; 2],
            rst_seen: false,
            first_ts: seg.ts,
            last_ts: seg.ts,
            first_frame: seg.n,
            last_frame: seg.n,
            packets: [0; 2],
            bytes: [0; 2],
            retransmissions: 0,
            dup_acks: 0,
            zero_windows: 0,
        }
    }

    /// Direction of `seg` in this connection.
    fn dir_of(&self, seg: &Segment<'_>) -> Dir {
        if seg.src == self.client.ip() && seg.sport == self.client.port() {
            Dir::C2S
        } else {
            Dir::S2C
        }
    }

    /// Both sides are done (RST, or both FINs acknowledged, or both states closed).
    fn finished(&self) -> bool {
        self.rst_seen
            || self.teardown.complete()
            || (matches!(self.states[0], TcpState::Closed | TcpState::TimeWait)
                && matches!(self.states[1], TcpState::Closed | TcpState::TimeWait))
    }

    fn summary(&self) -> ConnSummary {
        let both = |v: [Option<bool>; 2]| v[0] == Some(true) && v[1] == Some(true);
        ConnSummary {
            conn: self.id,
            client: self.client,
            server: self.server,
            conn_state: self.zeek.conn_state(),
            history: self.zeek.history(),
            client_state: self.states[0],
            server_state: self.states[1],
            mss: (self.mss[0], self.mss[1]),
            ws: (self.ws[0], self.ws[1]),
            sack_perm: both(self.sack_perm),
            timestamps: both(self.tsopt),
            irtt: (self.ts_first_rtt != 0).then_some(self.ts_first_rtt),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            packets: self.packets,
            bytes: self.bytes,
            retransmissions: self.retransmissions,
            dup_acks: self.dup_acks,
            zero_windows: self.zero_windows,
        }
    }

    /// tshark's `tcp.window_size`, or `None` where the sender's shift is unknown.
    fn window(&self, d: usize, seg: &Segment<'_>) -> Option<u32> {
        let raw = u32::from(seg.win);
        if seg.flags.has(TcpFlags::SYN) {
            return Some(raw); // SYNs are never scaled
        }
        let (fwd, rev) = (&self.seq[d], &self.seq[1 - d]);
        match fwd.win_scale {
            WS_NONE => Some(raw),
            ws if ws >= 0 && (rev.win_scale >= 0 || self.ws_in_synack[d]) => Some(raw << ws),
            _ => None,
        }
    }

    /// The per-segment work once the connection is known.
    /// `new_conn`: first segment of this connection.
    fn process(&mut self, seg: &Segment<'_>, new_conn: bool, preset: Analysis) -> SegInfo {
        let d = self.dir_of(seg).idx();
        let o = 1 - d;
        let f = seg.flags;
        let (syn, ackf, fin, rst) = (f.has(TcpFlags::SYN), f.has(TcpFlags::ACK), f.has(TcpFlags::FIN), f.has(TcpFlags::RST));

        self.last_ts = seg.ts;
        self.last_frame = seg.n;
        self.packets[d] += 1;
        self.bytes[d] += u64::from(seg.len);

        // Wireshark: relative sequence bases.
        {
            let fwd = &mut self.seq[d];
            if !fwd.base_set {
                fwd.base_seq = if syn { seg.seq } else { seg.seq.wrapping_sub(1) };
                fwd.base_set = true;
            }
        }
        if ackf && !self.seq[o].base_set {
            self.seq[o].base_seq = seg.ack.wrapping_sub(1);
            self.seq[o].base_set = true;
        }

        // Wireshark: sequence analysis.
        let input = SeqInput {
            frame: seg.n,
            ts: seg.ts,
            seq: seg.seq,
            ack: seg.ack,
            seglen: seg.len,
            syn,
            fin,
            rst,
            ack_flag: ackf,
            window: u32::from(seg.win),
        };
        let first_rtt = (self.ts_first_rtt != 0).then_some(self.ts_first_rtt);
        let out = {
            let (a, b) = self.seq.split_at_mut(1);
            let (fwd, rev) = if d == 0 { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };
            analyze(fwd, rev, &input, first_rtt, preset)
        };
        let rseq = seg.seq.wrapping_sub(self.seq[d].base_seq);
        let rack = ackf.then(|| seg.ack.wrapping_sub(self.seq[o].base_seq));
        let win_scaled = self.window(d, seg);

        // Wireshark: SYN bookkeeping, initial RTT, first-ACK marker, options.
        if syn {
            if !ackf {
                self.ts_mru_syn = seg.ts;
            }
            self.seq[d].is_first_ack = true;
        }
        if ackf && !syn {
            if self.ts_mru_syn != 0 && self.ts_first_rtt == 0 {
                self.ts_first_rtt = seg.ts.wrapping_sub(self.ts_mru_syn);
            }
            self.seq[d].is_first_ack = false;
        }
        if let Some(ws) = seg.ws {
            self.seq[d].win_scale = i16::from(ws.min(14));
            if syn && ackf {
                self.ws_in_synack[d] = true;
            }
        }
        self.seq[d].sack_sum = seg.sack.iter().take(3).fold(0u32, |acc, &(l, r)| acc.wrapping_add(r.wrapping_sub(l)));
        if syn {
            // verify_tcp_window_scaling()
            if self.seq[d].win_scale == WS_UNKNOWN {
                self.seq[d].win_scale = WS_NONE;
                self.seq[o].win_scale = WS_NONE;
            } else if ackf && self.seq[o].win_scale == WS_NONE {
                self.seq[d].win_scale = WS_NONE;
            }
            self.isn[d] = Some(seg.seq);
            self.mss[d] = seg.mss;
            self.ws[d] = seg.ws;
            self.sack_perm[d] = Some(seg.sack_perm);
            self.tsopt[d] = Some(seg.tsopt.is_some());
        }

        // Counters.
        let flags = out.flags;
        if flags.has(Analysis::RETRANSMISSION) {
            self.retransmissions += 1;
        }
        if flags.has(Analysis::DUPLICATE_ACK) {
            self.dup_acks += 1;
        }
        if flags.has(Analysis::ZERO_WINDOW) {
            self.zero_windows += 1;
        }

        // Zeek history / conn_state.
        self.zeek.packet(d == 0, f, seg.seq, seg.ack, seg.len, seg.win);
        if flags.has(Analysis::ACK_LOST_SEGMENT) {
            self.zeek.gap(o == 0);
        }

        // A SYN after the connection is over (same ISN, so tshark keeps the stream)
        // opens a new incarnation: restart the phase bookkeeping.
        if syn && !ackf && self.finished() {
            self.teardown = Teardown::default();
            self.synack_seen = false;
            self.handshake_done = false;
            self.rst_seen = false;
        }

        // RFC 9293 states and the teardown steps.
        let acks_peer_fin = ackf && self.teardown.acks_peer_fin(d, seg.ack);
        let tmask = if rst {
            0
        } else {
            let fin_octet = fin.then(|| seg.seq.wrapping_add(seg.len).wrapping_add(u32::from(syn)));
            self.teardown.step(d, fin_octet, ackf.then_some(seg.ack))
        };
        self.apply_states(d, syn, ackf, fin, rst, seg.ack, acks_peer_fin);
        if rst {
            self.rst_seen = true;
        }

        // Phase.
        let phase = if rst {
            Phase::Reset
        } else if syn && !ackf {
            Phase::Handshake(1)
        } else if syn {
            self.synack_seen = true;
            Phase::Handshake(2)
        } else if flags.has(Analysis::KEEP_ALIVE) {
            Phase::Other(OtherKind::KeepAlive)
        } else if flags.has(Analysis::KEEP_ALIVE_ACK) {
            Phase::Other(OtherKind::KeepAliveAck)
        } else if flags.has(Analysis::ZERO_WINDOW_PROBE) {
            Phase::Other(OtherKind::ZeroWindowProbe)
        } else if flags.has(Analysis::ZERO_WINDOW_PROBE_ACK) {
            Phase::Other(OtherKind::ZeroWindowProbeAck)
        } else if tmask != 0 {
            if d == 0 && self.synack_seen {
                self.handshake_done = true;
            }
            Phase::Teardown(tmask)
        } else if d == 0 && ackf && self.synack_seen && !self.handshake_done {
            self.handshake_done = true;
            Phase::Handshake(3)
        } else if !ackf || self.teardown.complete() || self.rst_seen {
            Phase::Other(OtherKind::Plain)
        } else {
            Phase::Data
        };

        SegInfo {
            conn: self.id,
            dir: if d == 0 { Dir::C2S } else { Dir::S2C },
            rseq,
            rack,
            seq_base: self.seq[d].base_seq,
            ack_base: ackf.then_some(self.seq[o].base_seq),
            win_scaled,
            phase,
            client: self.states[0],
            server: self.states[1],
            analysis: flags,
            dup_ack_num: out.dup_ack_num,
            dup_ack_of: out.dup_ack_of,
            new_conn,
            bytes_in_flight: out.bytes_in_flight,
        }
    }

    /// Turn the segment into sender/receiver events for the state machine.
    #[allow(clippy::too_many_arguments)]
    fn apply_states(&mut self, d: usize, syn: bool, ackf: bool, fin: bool, rst: bool, ack: u32, acks_peer_fin: bool) {
        let (s, r) = (d, 1 - d);
        let st = &mut self.states;
        if rst {
            st[s] = transition(st[s], EndpointEvent::SendRst);
            st[r] = transition(st[r], EndpointEvent::RecvRst);
            return;
        }
        if syn && !ackf {
            let crossing = st[s] == TcpState::Listen; // it already received the peer's SYN
            st[s] = transition(st[s], EndpointEvent::SendSyn);
            if crossing {
                st[s] = transition(st[s], EndpointEvent::RecvSyn);
            }
            st[r] = transition(st[r], EndpointEvent::RecvSyn);
        } else if syn {
            st[s] = transition(st[s], EndpointEvent::SendSynAck);
            st[r] = transition(st[r], EndpointEvent::RecvSynAck);
        }
        if fin {
            st[s] = transition(st[s], EndpointEvent::SendFin { peer_fin_acked: acks_peer_fin });
            st[r] = transition(st[r], EndpointEvent::RecvFin { fin_acked: acks_peer_fin });
        } else if ackf && !syn {
            let syn_acked = match self.isn[r] {
                Some(isn) => (ack.wrapping_sub(isn.wrapping_add(1)) as i32) >= 0,
                None => true,
            };
            st[s] = transition(st[s], EndpointEvent::SendAck);
            st[r] = transition(st[r], EndpointEvent::RecvAck { syn_acked, fin_acked: acks_peer_fin });
        }
    }
}

/// Size probe for tests: one table slot (connection record plus links).
#[cfg(test)]
pub(crate) type ConnSize = Slot;

/// Index of the list of all live connections, least recently active first
/// (eviction order).
const LRU: usize = 0;
/// Index of the list of finished connections, least recently active first
/// (expiry order).
const FIN: usize = 1;

/// A slab slot threaded on two intrusive lists (`LRU` always, `FIN` once the
/// connection is finished).
#[derive(Debug)]
pub(crate) struct Slot {
    key: FlowKey,
    conn: Option<Conn>,
    prev: [u32; 2],
    next: [u32; 2],
    in_fin: bool,
}

/// The connection tracker.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackConfig,
    map: FxHashMap<FlowKey, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    head: [u32; 2],
    tail: [u32; 2],
    next_id: u32,
    pending: Vec<ConnSummary>,
    evicted: u64,
}

impl Tracker {
    pub fn new(cfg: TrackConfig) -> Self {
        Tracker {
            cfg: TrackConfig { max_conns: cfg.max_conns.max(1), ..cfg },
            map: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: [NIL; 2],
            tail: [NIL; 2],
            next_id: 0,
            pending: Vec::new(),
            evicted: 0,
        }
    }

    /// Connections currently held in the table.
    pub fn live(&self) -> usize {
        self.map.len()
    }

    /// Connections created so far: the id the next one gets.
    pub fn created(&self) -> u32 {
        self.next_id
    }

    /// Connections evicted because the table was full (their summaries were still emitted).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn unlink(&mut self, l: usize, i: u32) {
        let (p, n) = (self.slots[i as usize].prev[l], self.slots[i as usize].next[l]);
        if p == NIL {
            self.head[l] = n;
        } else {
            self.slots[p as usize].next[l] = n;
        }
        if n == NIL {
            self.tail[l] = p;
        } else {
            self.slots[n as usize].prev[l] = p;
        }
    }

    fn push_tail(&mut self, l: usize, i: u32) {
        self.slots[i as usize].prev[l] = self.tail[l];
        self.slots[i as usize].next[l] = NIL;
        if self.tail[l] == NIL {
            self.head[l] = i;
        } else {
            let t = self.tail[l] as usize;
            self.slots[t].next[l] = i;
        }
        self.tail[l] = i;
    }

    /// Remove slot `i` from the table and keep its summary.
    fn retire(&mut self, i: u32) {
        self.unlink(LRU, i);
        if self.slots[i as usize].in_fin {
            self.unlink(FIN, i);
            self.slots[i as usize].in_fin = false;
        }
        let slot = &mut self.slots[i as usize];
        if let Some(c) = slot.conn.take() {
            self.pending.push(c.summary());
        }
        let key = slot.key;
        self.map.remove(&key);
        self.free.push(i);
    }

    fn insert(&mut self, key: FlowKey, conn: Conn) -> u32 {
        if self.map.len() >= self.cfg.max_conns && self.head[LRU] != NIL {
            let victim = self.head[LRU];
            self.evicted += 1;
            self.retire(victim);
        }
        let i = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.key = key;
                s.conn = Some(conn);
                i
            }
            None => {
                self.slots.push(Slot { key, conn: Some(conn), prev: [NIL; 2], next: [NIL; 2], in_fin: false });
                (self.slots.len() - 1) as u32
            }
        };
        self.push_tail(LRU, i);
        self.map.insert(key, i);
        i
    }

    fn new_conn(&mut self, seg: &Segment<'_>) -> Conn {
        let f = seg.flags;
        let src = SocketAddr::new(seg.src, seg.sport);
        let dst = SocketAddr::new(seg.dst, seg.dport);
        // Client: sender of the first SYN; receiver of a SYN,ACK seen first;
        // otherwise (mid-stream) the sender of the first packet seen.
        let flipped = f.has(TcpFlags::SYN | TcpFlags::ACK) && !f.has(TcpFlags::RST);
        let (client, server) = if flipped { (dst, src) } else { (src, dst) };
        let id = self.next_id;
        self.next_id += 1;
        Conn::new(id, client, server, flipped, seg)
    }

    /// Process one segment in capture order.
    pub fn segment(&mut self, seg: &Segment<'_>) -> SegInfo {
        let key = FlowKey::of(seg);
        let f = seg.flags;
        let syn_only = f.has(TcpFlags::SYN) && !f.has(TcpFlags::ACK);
        let synack = f.has(TcpFlags::SYN | TcpFlags::ACK);
        let mut preset = Analysis::default();

        // (slot, first segment of a connection)
        let (idx, new_conn) = match self.map.get(&key).copied() {
            None => {
                let c = self.new_conn(seg);
                (self.insert(key, c), true)
            }
            Some(i) => {
                let c = self.slots[i as usize].conn.as_mut().expect("live slot");
                let d = c.dir_of(seg).idx();
                let fwd = c.seq[d];
                // tshark 4.0: a SYN whose sequence number differs from the ISN
                // recorded for its direction starts a new conversation (same ISN:
                // a retransmission, even after FIN or RST); a SYN,ACK with a new
                // ISN only rebases that direction. Both are "reused ports".
                let replace = syn_only && fwd.base_set && seg.seq != fwd.base_seq;
                if synack && fwd.base_set && seg.seq != fwd.base_seq {
                    c.seq[d].base_seq = seg.seq;
                    preset.set(Analysis::REUSED_PORTS);
                }
                if replace {
                    preset.set(Analysis::REUSED_PORTS);
                    self.retire(i);
                    let c = self.new_conn(seg);
                    (self.insert(key, c), true)
                } else {
                    self.unlink(LRU, i);
                    self.push_tail(LRU, i);
                    (i, false)
                }
            }
        };
        let slot = &mut self.slots[idx as usize];
        let conn = slot.conn.as_mut().expect("live slot");
        let info = conn.process(seg, new_conn, preset);
        // keep the finished list ordered by last activity too
        let finished = conn.finished();
        if slot.in_fin {
            self.unlink(FIN, idx);
        }
        self.slots[idx as usize].in_fin = finished;
        if finished {
            self.push_tail(FIN, idx);
        }
        info
    }

    /// Move the summaries of finished connections idle for longer than
    /// `close_linger` (capture time `now`), and of evicted ones, into `out`.
    pub fn expire(&mut self, now: TsNanos, out: &mut Vec<ConnSummary>) {
        // The finished list is ordered by last activity: stop at the first one
        // still lingering. Unfinished connections are never visited here.
        while self.head[FIN] != NIL {
            let i = self.head[FIN];
            let c = self.slots[i as usize].conn.as_ref().expect("live slot");
            if c.last_ts.saturating_add(self.cfg.close_linger) >= now {
                break;
            }
            self.retire(i);
        }
        out.append(&mut self.pending);
    }

    /// End of input: summaries of every remaining connection, sorted by id.
    /// This is the end of a run's memory peak: the table is freed, not kept for reuse, the
    /// list is sized once, and the sort (ids are unique) needs no buffer.
    pub fn finish(&mut self) -> Vec<ConnSummary> {
        let mut out = std::mem::take(&mut self.pending);
        out.reserve_exact(self.map.len());
        self.map = Default::default();
        for s in std::mem::take(&mut self.slots) {
            if let Some(c) = s.conn {
                out.push(c.summary());
            }
        }
        self.free = Vec::new();
        self.head = [NIL; 2];
        self.tail = [NIL; 2];
        out.sort_unstable_by_key(|s| s.conn);
        out
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    fn seg(src: &str, sport: u16, dst: &str, dport: u16) -> Segment<'static> {
        Segment {
            n: 1,
            ts: 0,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            flags: TcpFlags(0x10),
            seq: 0,
            ack: 0,
            win: 0,
            mss: None,
            ws: None,
            sack_perm: false,
            sack: &[],
            tsopt: None,
            len: 0,
            payload: &[],
        }
    }

    /// Both directions give one key; ports, addresses and the family all tell keys apart; the
    /// side that sorts first is the one `(IpAddr, u16)` puts first.
    #[test]
    fn flow_keys() {
        let k = FlowKey::of(&seg("10.0.0.2", 80, "10.0.0.1", 4000));
        assert_eq!(k, FlowKey::of(&seg("10.0.0.1", 4000, "10.0.0.2", 80)));
        assert_eq!(k.a, u128::from(u32::from_be_bytes([10, 0, 0, 1])));
        assert_eq!(k.ports & 0xffff_ffff, 4000 << 16 | 80);
        assert_ne!(k, FlowKey::of(&seg("10.0.0.1", 4001, "10.0.0.2", 80)));
        assert_ne!(k, FlowKey::of(&seg("10.0.0.1", 4000, "10.0.0.3", 80)));
        assert_ne!(k, FlowKey::of(&seg("::ffff:10.0.0.1", 4000, "::ffff:10.0.0.2", 80)), "IPv4-mapped IPv6 is another flow");
        let same_addr = FlowKey::of(&seg("10.0.0.1", 5000, "10.0.0.1", 80));
        assert_eq!(same_addr.ports & 0xffff_ffff, 80 << 16 | 5000);
        let v6 = FlowKey::of(&seg("2001:db8::2", 1, "2001:db8::1", 2));
        assert_eq!(v6, FlowKey::of(&seg("2001:db8::1", 2, "2001:db8::2", 1)));
        assert_eq!(v6.ports >> 32, 1);
    }
}
