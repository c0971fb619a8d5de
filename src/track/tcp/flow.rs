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
use std::num::NonZeroI64;

use rustc_hash::FxHashMap;

use super::analysis::{analyze, Analysis, FlowSeq, SeqInput, WindowScale};
use super::gaps::StreamGaps;
use super::history::ZeekConn;
use super::phase::{OtherKind, Phase, Teardown};
use super::state::{transition, EndpointEvent, TcpState};
use super::{ConnSummary, Dir, Offload, SegInfo, Segment, TcpFlags, TrackConfig, TsNanos};

/// End of an intrusive list (no slot).
const NIL: u32 = u32::MAX;

/// Normalised 4-tuple in three machine words: the (address, port) pair that sorts first (as
/// `(IpAddr, u16)` sorts: IPv4 before IPv6, then by value) is `first_addr`. Addresses as numbers,
/// the family and both ports in `ports`, so hashing is three rounds and comparing three words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FlowKey {
    first_addr: u128,
    second_addr: u128,
    /// IPv6 flag << 32 | port of `first_addr` << 16 | port of `second_addr`.
    ports: u64,
    /// The tunnels' identity (0: none), see [`Segment::tunnel`].
    tunnel: u64,
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.first_addr as u64 ^ (self.first_addr >> 64) as u64);
        state.write_u64(self.second_addr as u64 ^ (self.second_addr >> 64) as u64);
        state.write_u64(self.ports ^ self.tunnel);
    }
}

/// An address as a number, and whether it is IPv6.
fn addr_bits(addr: &IpAddr) -> (bool, u128) {
    match addr {
        IpAddr::V4(v4) => (false, u128::from(v4.to_bits())),
        IpAddr::V6(v6) => (true, v6.to_bits()),
    }
}

impl FlowKey {
    fn of(seg: &Segment<'_>) -> FlowKey {
        FlowKey {
            tunnel: seg.encaps.map_or(0, crate::decode::Encaps::flow_id),
            ..FlowKey::between(&seg.src, seg.sport, &seg.dst, seg.dport)
        }
    }

    /// The key of both directions between two endpoints.
    fn between(src: &IpAddr, sport: u16, dst: &IpAddr, dport: u16) -> FlowKey {
        let (src_v6, src) = addr_bits(src);
        let (dst_v6, dst) = addr_bits(dst);
        let v6 = u64::from(src_v6 || dst_v6) << 32;
        if (src_v6, src, sport) <= (dst_v6, dst, dport) {
            FlowKey { first_addr: src, second_addr: dst, ports: v6 | u64::from(sport) << 16 | u64::from(dport), tunnel: 0 }
        } else {
            FlowKey { first_addr: dst, second_addr: src, ports: v6 | u64::from(dport) << 16 | u64::from(sport), tunnel: 0 }
        }
    }
}

/// How far the three-way handshake of a connection's current incarnation has got.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Handshake {
    /// No SYN,ACK seen yet.
    #[default]
    AwaitingSynAck,
    /// A SYN,ACK was seen: the client's next segment with ACK and without SYN is `handshake 3/3`.
    SynAckSeen,
    /// The client has acknowledged the SYN,ACK (or started the teardown instead).
    Done,
}

/// Phase bookkeeping of one incarnation of a connection; a SYN without ACK after the
/// connection is over starts the next incarnation (see [`super::phase`]).
#[derive(Clone, Copy, Debug, Default)]
struct Incarnation {
    handshake: Handshake,
    teardown: Teardown,
    /// Sender of the first RST. A RST ends the incarnation: every RST seen is taken as valid
    /// (see [`super::state`]).
    reset_by: Option<Dir>,
}

impl Incarnation {
    /// True once it is over: reset, or both FINs acknowledged.
    fn over(&self) -> bool {
        self.reset_by.is_some() || self.teardown.complete()
    }

    /// The phase of a segment sent in direction `from` (rules in [`super::phase`]);
    /// `teardown_steps` is what [`Teardown::step`] said about it. Advances the handshake.
    fn phase(&mut self, from: Dir, flags: TcpFlags, analysis: Analysis, teardown_steps: u8) -> Phase {
        let (syn, ack_flag) = (flags.has(TcpFlags::SYN), flags.has(TcpFlags::ACK));
        let from_client = from == Dir::C2S;
        if flags.has(TcpFlags::RST) {
            Phase::Reset
        } else if syn && !ack_flag {
            Phase::Handshake(1)
        } else if syn {
            if self.handshake == Handshake::AwaitingSynAck {
                self.handshake = Handshake::SynAckSeen;
            }
            Phase::Handshake(2)
        } else if analysis.has(Analysis::KEEP_ALIVE) {
            Phase::Other(OtherKind::KeepAlive)
        } else if analysis.has(Analysis::KEEP_ALIVE_ACK) {
            Phase::Other(OtherKind::KeepAliveAck)
        } else if analysis.has(Analysis::ZERO_WINDOW_PROBE) {
            Phase::Other(OtherKind::ZeroWindowProbe)
        } else if analysis.has(Analysis::ZERO_WINDOW_PROBE_ACK) {
            Phase::Other(OtherKind::ZeroWindowProbeAck)
        } else if teardown_steps != 0 {
            if from_client && self.handshake == Handshake::SynAckSeen {
                self.handshake = Handshake::Done;
            }
            Phase::Teardown(teardown_steps)
        } else if from_client && ack_flag && self.handshake == Handshake::SynAckSeen {
            self.handshake = Handshake::Done;
            Phase::Handshake(3)
        } else if !ack_flag || self.over() {
            Phase::Other(OtherKind::Plain)
        } else {
            Phase::Data
        }
    }
}

/// What a direction's SYN,ACK said about window scaling.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum SynAckScale {
    /// No SYN,ACK with a window-scale option seen from this direction.
    #[default]
    NotAnnounced,
    /// A SYN,ACK from this direction carried the option. RFC 7323 2.2 allows that only when
    /// the SYN offered scaling, so this direction's shift is in effect.
    Announced,
}

/// What a direction's latest SYN (or SYN,ACK) announced.
#[derive(Clone, Copy, Debug)]
struct SynParams {
    isn: u32,
    mss: Option<u16>,
    /// Window-scale shift as in the option (unclamped).
    ws: Option<u8>,
    sack_perm: bool,
    timestamps: bool,
}

/// Everything known about one connection (fixed size; on the heap only the tunnel label of a
/// connection inside tunnels). Per-direction arrays are
/// indexed by [`Dir::idx`].
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    id: u32,
    client: SocketAddr,
    server: SocketAddr,
    /// Wireshark sequence analysis per direction.
    seq: [FlowSeq; 2],
    /// RFC 9293 states `[client, server]`.
    states: [TcpState; 2],
    incarnation: Incarnation,
    zeek: ZeekConn,
    /// Zeek's content gaps per direction.
    gaps: [StreamGaps; 2],
    /// Time of the most recent SYN without ACK (Wireshark's `ts_mru_syn`). Like both these
    /// Wireshark times, a zero value counts as unset (`nstime_is_zero`): hence non-zero.
    last_syn_ts: Option<NonZeroI64>,
    /// Most recent SYN to the first ACK without SYN (Wireshark's `ts_first_rtt`).
    first_rtt: Option<NonZeroI64>,
    /// Per direction, once its SYN (or SYN,ACK) was seen.
    syn_params: [Option<SynParams>; 2],
    synack_scale: [SynAckScale; 2],
    first_ts: TsNanos,
    last_ts: TsNanos,
    first_frame: u64,
    last_frame: u64,
    packets: [u64; 2],
    bytes: [u64; 2],
    retransmissions: u64,
    dup_acks: u64,
    zero_windows: u64,
    /// ICMP errors that quoted one of its segments.
    icmp_errors: u64,
    /// [`ConnSummary::tunnel`].
    tunnel: Option<Box<str>>,
}

impl Conn {
    fn new(id: u32, client: SocketAddr, server: SocketAddr, flipped: bool, seg: &Segment<'_>) -> Conn {
        Conn {
            id,
            client,
            server,
            seq: [FlowSeq::default(); 2],
            states: [TcpState::Unknown; 2],
            incarnation: Incarnation::default(),
            zeek: ZeekConn::new(flipped),
            gaps: [StreamGaps::default(); 2],
            last_syn_ts: None,
            first_rtt: None,
            syn_params: [None; 2],
            synack_scale: [SynAckScale::NotAnnounced; 2],
            first_ts: seg.ts,
            last_ts: seg.ts,
            first_frame: seg.n,
            last_frame: seg.n,
            packets: [0; 2],
            bytes: [0; 2],
            retransmissions: 0,
            dup_acks: 0,
            zero_windows: 0,
            icmp_errors: 0,
            tunnel: seg.encaps.map(|e| e.label().to_string().into_boxed_str()),
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
        self.incarnation.over()
            || (matches!(self.states[0], TcpState::Closed | TcpState::TimeWait)
                && matches!(self.states[1], TcpState::Closed | TcpState::TimeWait))
    }

    fn summary(&self) -> ConnSummary {
        let [client_syn, server_syn] = self.syn_params;
        let both = |option: fn(&SynParams) -> bool| self.syn_params.iter().all(|params| params.as_ref().is_some_and(option));
        ConnSummary {
            conn: self.id,
            proto: crate::track::Proto::Tcp,
            client: self.client,
            server: self.server,
            conn_state: self.zeek.conn_state(),
            history: self.zeek.history(),
            client_state: self.states[0],
            server_state: self.states[1],
            mss: (client_syn.and_then(|syn| syn.mss), server_syn.and_then(|syn| syn.mss)),
            ws: (client_syn.and_then(|syn| syn.ws), server_syn.and_then(|syn| syn.ws)),
            sack_perm: both(|syn| syn.sack_perm),
            timestamps: both(|syn| syn.timestamps),
            irtt: self.first_rtt.map(NonZeroI64::get),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            packets: self.packets,
            bytes: self.bytes,
            retransmissions: self.retransmissions,
            dup_acks: self.dup_acks,
            zero_windows: self.zero_windows,
            icmp_errors: self.icmp_errors,
            missed_bytes: [self.gaps[0].missed, self.gaps[1].missed],
            unacked: [self.unacked(Dir::C2S), self.unacked(Dir::S2C)],
            tunnel: self.tunnel.clone(),
        }
    }

    /// See [`ConnSummary::unacked`]: what `from` sent beyond the peer's last acknowledgment, if
    /// that acknowledgment falls within what `from` sent at all.
    fn unacked(&self, from: Dir) -> u32 {
        let (fwd, rev) = (&self.seq[from.idx()], &self.seq[from.rev().idx()]);
        let Some(base) = fwd.seq_base else { return 0 };
        if rev.lastacktime == 0 {
            return 0;
        }
        let sent = fwd.nextseq.wrapping_sub(base);
        let unacked = fwd.nextseq.wrapping_sub(rev.lastack);
        if unacked <= sent {
            unacked
        } else {
            0
        }
    }

    /// tshark's `tcp.window_size` of a segment sent in direction `from`, or `None` where the
    /// sender's shift is unknown (rules in the module documentation of [`super`]).
    fn window(&self, from: Dir, seg: &Segment<'_>) -> Option<u32> {
        let raw = u32::from(seg.win);
        if seg.flags.has(TcpFlags::SYN) {
            return Some(raw); // RFC 7323 2.2: the window of a SYN is never scaled
        }
        let (fwd, rev) = (&self.seq[from.idx()], &self.seq[from.rev().idx()]);
        let peer_scales = matches!(rev.win_scale, WindowScale::Shift(_));
        match fwd.win_scale {
            WindowScale::Absent => Some(raw),
            WindowScale::Shift(shift) if peer_scales || self.synack_scale[from.idx()] == SynAckScale::Announced => Some(raw << shift),
            _ => None,
        }
    }

    /// Whether a segment sent in direction `from` stands for several wire segments (rules in
    /// [`Offload`]). A side whose SYN was seen without the MSS option announced the default
    /// (RFC 9293 3.7.1: 536 bytes over IPv4, 1220 over IPv6).
    fn offload(&self, from: Dir, seg: &Segment<'_>) -> Option<Offload> {
        if seg.len == 0 {
            return None;
        }
        let default_mss = if seg.src.is_ipv6() { 1220 } else { 536 };
        let announced = |dir: Dir| self.syn_params[dir.idx()].map(|syn| u32::from(syn.mss.unwrap_or(default_mss)));
        let limit = match (announced(from), announced(from.rev())) {
            (Some(own), Some(peer)) => Some(own.min(peer)),
            (own, peer) => own.or(peer),
        };
        let timestamps = self.syn_params.iter().all(|syn| syn.is_some_and(|syn| syn.timestamps));
        match limit {
            Some(limit) => {
                let mss = limit.saturating_sub(if timestamps { 12 } else { 0 }).max(1);
                (seg.len > mss).then(|| Offload::Segments { mss, segments: seg.len.div_ceil(mss) })
            }
            None => seg.len_from_frame.then_some(Offload::UnknownMss),
        }
    }

    /// The per-segment work once the connection is known.
    /// `new_conn`: first segment of this connection.
    fn process(&mut self, seg: &Segment<'_>, new_conn: bool, preset: Analysis) -> SegInfo {
        let dir = self.dir_of(seg);
        let (sender, receiver) = (dir.idx(), dir.rev().idx());
        let flags = seg.flags;
        let (syn, ack_flag, fin, rst) =
            (flags.has(TcpFlags::SYN), flags.has(TcpFlags::ACK), flags.has(TcpFlags::FIN), flags.has(TcpFlags::RST));

        self.last_ts = seg.ts;
        self.last_frame = seg.n;
        self.packets[sender] += 1;
        self.bytes[sender] += u64::from(seg.len);

        // Wireshark: relative sequence bases (set once; a SYN,ACK with a new ISN rebases in
        // `Tracker::segment`).
        let seq_base = *self.seq[sender].seq_base.get_or_insert(if syn { seg.seq } else { seg.seq.wrapping_sub(1) });
        let ack_base = ack_flag.then(|| *self.seq[receiver].seq_base.get_or_insert(seg.ack.wrapping_sub(1)));

        // Wireshark: sequence analysis.
        let input = SeqInput { frame: seg.n, ts: seg.ts, seq: seg.seq, ack: seg.ack, seglen: seg.len, flags, window: u32::from(seg.win) };
        let out = {
            let [c2s, s2c] = &mut self.seq;
            let (fwd, rev) = match dir {
                Dir::C2S => (c2s, s2c),
                Dir::S2C => (s2c, c2s),
            };
            analyze(fwd, rev, &input, self.first_rtt.map(NonZeroI64::get), preset)
        };
        let rseq = seg.seq.wrapping_sub(seq_base);
        let rack = ack_base.map(|base| seg.ack.wrapping_sub(base));
        let win_scaled = self.window(dir, seg);

        // Wireshark: SYN bookkeeping, initial RTT, first-ACK marker, options.
        if syn {
            if !ack_flag {
                self.last_syn_ts = NonZeroI64::new(seg.ts);
            }
            self.seq[sender].is_first_ack = true;
        }
        if ack_flag && !syn {
            // Only a handshake has an initial RTT: with no SYN,ACK seen, the ACK (e.g. of a RST
            // giving up on the SYN) measures nothing.
            let synack_seen = self.incarnation.handshake != Handshake::AwaitingSynAck;
            if let (Some(syn_ts), None, true) = (self.last_syn_ts, self.first_rtt, synack_seen) {
                self.first_rtt = NonZeroI64::new(seg.ts.wrapping_sub(syn_ts.get()));
            }
            self.seq[sender].is_first_ack = false;
        }
        // RFC 7323 2.2: scaling is in effect only if both SYNs carried the option; once a SYN or
        // SYN,ACK without it turned it off both ways, a retransmitted SYN with it does not
        // turn it back on.
        let scaling_off = self.seq.iter().all(|flow| flow.win_scale == WindowScale::Absent);
        if let (Some(shift), false) = (seg.ws, scaling_off) {
            self.seq[sender].win_scale = WindowScale::Shift(shift.min(14));
            if syn && ack_flag {
                self.synack_scale[sender] = SynAckScale::Announced;
            }
        }
        self.seq[sender].sack_sum = seg.sack.iter().take(3).fold(0u32, |acc, &(left, right)| acc.wrapping_add(right.wrapping_sub(left)));
        if syn {
            // verify_tcp_window_scaling(): a SYN without the option turns scaling off both
            // ways, a SYN,ACK answering such a SYN turns off its own (RFC 7323 2.2).
            if self.seq[sender].win_scale == WindowScale::Unknown {
                self.seq[sender].win_scale = WindowScale::Absent;
                self.seq[receiver].win_scale = WindowScale::Absent;
            } else if ack_flag && self.seq[receiver].win_scale == WindowScale::Absent {
                self.seq[sender].win_scale = WindowScale::Absent;
            }
            self.syn_params[sender] =
                Some(SynParams { isn: seg.seq, mss: seg.mss, ws: seg.ws, sack_perm: seg.sack_perm, timestamps: seg.tsopt.is_some() });
        }

        // Counters.
        let analysis = out.flags;
        if analysis.has(Analysis::RETRANSMISSION) {
            self.retransmissions += 1;
        }
        if analysis.has(Analysis::DUPLICATE_ACK) {
            self.dup_acks += 1;
        }
        if analysis.has(Analysis::ZERO_WINDOW) {
            self.zero_windows += 1;
        }

        // Zeek history / conn_state, and its content gaps: each hole (bytes acknowledged or
        // passed but never captured, or cut by the snap length) once, in the stream it is in.
        self.zeek.packet(dir, flags, seg.seq, seg.ack, seg.len, seg.win);
        let captured = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
        for _ in 0..self.gaps[sender].segment(seg.seq, seg.len, captured, syn, fin) {
            self.zeek.gap(dir);
        }
        if ack_flag {
            for _ in 0..self.gaps[receiver].acked(seg.ack) {
                self.zeek.gap(dir.rev());
            }
        }

        // A SYN after the connection is over (same ISN, so tshark keeps the stream)
        // opens a new incarnation: restart the phase bookkeeping.
        if syn && !ack_flag && self.finished() {
            self.incarnation = Incarnation::default();
        }

        // RFC 9293 states and the teardown steps.
        let acks_peer_fin = ack_flag && self.incarnation.teardown.acks_peer_fin(dir, seg.ack);
        let teardown_steps = if rst {
            0
        } else {
            let fin_octet = fin.then(|| seg.seq.wrapping_add(seg.len).wrapping_add(u32::from(syn)));
            self.incarnation.teardown.step(dir, fin_octet, ack_flag.then_some(seg.ack))
        };
        self.apply_states(dir, flags, seg.ack, acks_peer_fin);
        if rst {
            self.incarnation.reset_by.get_or_insert(dir);
        }

        SegInfo {
            conn: self.id,
            dir,
            rseq,
            rack,
            seq_base,
            ack_base,
            win_scaled,
            phase: self.incarnation.phase(dir, flags, analysis, teardown_steps),
            client: self.states[0],
            server: self.states[1],
            analysis,
            dup_ack_num: out.dup_ack_num,
            dup_ack_of: out.dup_ack_of,
            new_conn,
            bytes_in_flight: out.bytes_in_flight,
            offload: self.offload(dir, seg),
        }
    }

    /// Apply a segment sent in direction `from` to both endpoints' RFC 9293 states: the
    /// sender's `Send*` event and the receiver's `Recv*` event (see [`super::state`]).
    /// `acks_peer_fin`: the segment acknowledges the receiver's FIN.
    fn apply_states(&mut self, from: Dir, flags: TcpFlags, ack: u32, acks_peer_fin: bool) {
        use EndpointEvent::*;
        let (sender, receiver) = (from.idx(), from.rev().idx());
        let (syn, ack_flag, fin) = (flags.has(TcpFlags::SYN), flags.has(TcpFlags::ACK), flags.has(TcpFlags::FIN));
        let receiver_isn = self.syn_params[receiver].map(|params| params.isn);
        let states = &mut self.states;
        if flags.has(TcpFlags::RST) {
            states[sender] = transition(states[sender], SendRst);
            states[receiver] = transition(states[receiver], RecvRst);
            return;
        }
        if syn && !ack_flag {
            let crossing = states[sender] == TcpState::Listen; // it already received the peer's SYN
            states[sender] = transition(states[sender], SendSyn);
            if crossing {
                states[sender] = transition(states[sender], RecvSyn);
            }
            states[receiver] = transition(states[receiver], RecvSyn);
        } else if syn {
            states[sender] = transition(states[sender], SendSynAck);
            states[receiver] = transition(states[receiver], RecvSynAck);
        }
        if fin {
            states[sender] = transition(states[sender], SendFin { peer_fin_acked: acks_peer_fin });
            states[receiver] = transition(states[receiver], RecvFin { fin_acked: acks_peer_fin });
        } else if ack_flag && !syn {
            // ack >= isn + 1 in sequence space; without the receiver's SYN, assume it is covered
            let syn_acked = receiver_isn.is_none_or(|isn| (ack.wrapping_sub(isn.wrapping_add(1)) as i32) >= 0);
            states[sender] = transition(states[sender], SendAck);
            states[receiver] = transition(states[receiver], RecvAck { syn_acked, fin_acked: acks_peer_fin });
        }
    }
}

/// Size probe for tests: one table slot (connection record plus links).
#[cfg(test)]
pub(crate) type ConnSize = Slot;

/// The two intrusive lists a slot is threaded on, both least recently active first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum List {
    /// All live connections (eviction order).
    Live = 0,
    /// Finished connections (expiry order).
    Finished = 1,
}

/// A slab slot threaded on two intrusive lists ([`List::Live`] always, [`List::Finished`]
/// once the connection is finished); links are slot numbers or `NIL`, indexed by `List`.
#[derive(Debug)]
pub(crate) struct Slot {
    key: FlowKey,
    conn: Option<Conn>,
    prev: [u32; 2],
    next: [u32; 2],
    on_finished_list: bool,
}

/// The connection tracker.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackConfig,
    map: FxHashMap<FlowKey, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// First and last slot of each list, indexed by `List`.
    head: [u32; 2],
    tail: [u32; 2],
    next_id: u32,
    pending: Vec<ConnSummary>,
    evicted: u64,
}

impl Tracker {
    /// An empty tracker; `max_conns` is at least 1.
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

    /// The id of the connection now held between these endpoints (either direction), if any;
    /// looking does not count as activity.
    pub fn find(&self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<u32> {
        let slot = *self.map.get(&FlowKey::between(&src, sport, &dst, dport))?;
        self.slots[slot as usize].conn.as_ref().map(|c| c.id)
    }

    /// An ICMP error quoted a segment between these endpoints: counted on that connection, whose
    /// id is returned.
    /// `tunnel` is the [`crate::decode::Encaps::flow_id`] of the ICMP message's own tunnels (0:
    /// none): an error about a segment in a tunnel comes back through that tunnel.
    pub fn icmp_error(&mut self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, tunnel: u64) -> Option<u32> {
        let slot = *self.map.get(&FlowKey { tunnel, ..FlowKey::between(&src, sport, &dst, dport) })?;
        let conn = self.slots[slot as usize].conn.as_mut()?;
        conn.icmp_errors += 1;
        Some(conn.id)
    }

    fn unlink(&mut self, list: List, slot: u32) {
        let list = list as usize;
        let (prev, next) = (self.slots[slot as usize].prev[list], self.slots[slot as usize].next[list]);
        if prev == NIL {
            self.head[list] = next;
        } else {
            self.slots[prev as usize].next[list] = next;
        }
        if next == NIL {
            self.tail[list] = prev;
        } else {
            self.slots[next as usize].prev[list] = prev;
        }
    }

    fn push_tail(&mut self, list: List, slot: u32) {
        let list = list as usize;
        self.slots[slot as usize].prev[list] = self.tail[list];
        self.slots[slot as usize].next[list] = NIL;
        if self.tail[list] == NIL {
            self.head[list] = slot;
        } else {
            let tail = self.tail[list] as usize;
            self.slots[tail].next[list] = slot;
        }
        self.tail[list] = slot;
    }

    /// Remove `slot` from the table and keep its summary.
    fn retire(&mut self, slot: u32) {
        self.unlink(List::Live, slot);
        if self.slots[slot as usize].on_finished_list {
            self.unlink(List::Finished, slot);
            self.slots[slot as usize].on_finished_list = false;
        }
        let entry = &mut self.slots[slot as usize];
        if let Some(conn) = entry.conn.take() {
            self.pending.push(conn.summary());
        }
        let key = entry.key;
        self.map.remove(&key);
        self.free.push(slot);
    }

    fn insert(&mut self, key: FlowKey, conn: Conn) -> u32 {
        if self.map.len() >= self.cfg.max_conns && self.head[List::Live as usize] != NIL {
            let victim = self.head[List::Live as usize];
            self.evicted += 1;
            self.retire(victim);
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.key = key;
                entry.conn = Some(conn);
                slot
            }
            None => {
                self.slots.push(Slot { key, conn: Some(conn), prev: [NIL; 2], next: [NIL; 2], on_finished_list: false });
                (self.slots.len() - 1) as u32
            }
        };
        self.push_tail(List::Live, slot);
        self.map.insert(key, slot);
        slot
    }

    fn new_conn(&mut self, seg: &Segment<'_>) -> Conn {
        let flags = seg.flags;
        let src = SocketAddr::new(seg.src, seg.sport);
        let dst = SocketAddr::new(seg.dst, seg.dport);
        // Client: sender of the first SYN; receiver of a SYN,ACK seen first;
        // otherwise (mid-stream) the sender of the first packet seen.
        let flipped = flags.has(TcpFlags::SYN | TcpFlags::ACK) && !flags.has(TcpFlags::RST);
        let (client, server) = if flipped { (dst, src) } else { (src, dst) };
        let id = self.next_id;
        self.next_id += 1;
        Conn::new(id, client, server, flipped, seg)
    }

    /// Process one segment in capture order.
    pub fn segment(&mut self, seg: &Segment<'_>) -> SegInfo {
        let key = FlowKey::of(seg);
        let flags = seg.flags;
        let syn_only = flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::ACK);
        let synack = flags.has(TcpFlags::SYN | TcpFlags::ACK);
        let mut preset = Analysis::default();

        let (slot, new_conn) = match self.map.get(&key).copied() {
            None => {
                let conn = self.new_conn(seg);
                (self.insert(key, conn), true)
            }
            Some(slot) => {
                let conn = self.slots[slot as usize].conn.as_mut().expect("live slot");
                let sender = conn.dir_of(seg).idx();
                // tshark 4.0: a SYN whose sequence number differs from the base of its
                // direction (the ISN when its SYN was seen) starts a new conversation (same
                // ISN: a retransmission, even after FIN or RST); a SYN,ACK with a new ISN
                // only rebases that direction. Both are "reused ports".
                let new_isn = conn.seq[sender].seq_base.is_some_and(|base| base != seg.seq);
                if synack && new_isn {
                    conn.seq[sender].seq_base = Some(seg.seq);
                    preset.set(Analysis::REUSED_PORTS);
                }
                if syn_only && new_isn {
                    preset.set(Analysis::REUSED_PORTS);
                    self.retire(slot);
                    let conn = self.new_conn(seg);
                    (self.insert(key, conn), true)
                } else {
                    self.unlink(List::Live, slot);
                    self.push_tail(List::Live, slot);
                    (slot, false)
                }
            }
        };
        let entry = &mut self.slots[slot as usize];
        let conn = entry.conn.as_mut().expect("live slot");
        let info = conn.process(seg, new_conn, preset);
        // keep the finished list ordered by last activity too
        let finished = conn.finished();
        if entry.on_finished_list {
            self.unlink(List::Finished, slot);
        }
        self.slots[slot as usize].on_finished_list = finished;
        if finished {
            self.push_tail(List::Finished, slot);
        }
        info
    }

    /// Move the summaries of finished connections idle for longer than
    /// `close_linger` (capture time `now`), and of evicted ones, into `out`.
    pub fn expire(&mut self, now: TsNanos, out: &mut Vec<ConnSummary>) {
        // The finished list is ordered by last activity: stop at the first one
        // still lingering. Unfinished connections are never visited here.
        while self.head[List::Finished as usize] != NIL {
            let slot = self.head[List::Finished as usize];
            let conn = self.slots[slot as usize].conn.as_ref().expect("live slot");
            if conn.last_ts.saturating_add(self.cfg.close_linger) >= now {
                break;
            }
            self.retire(slot);
        }
        out.append(&mut self.pending);
    }

    /// End of input: summaries of every remaining connection, sorted by id.
    /// The table is freed, not kept for reuse, the list is sized once, and the sort (ids are
    /// unique) needs no buffer: this is the end of a run's memory peak.
    pub fn finish(&mut self) -> Vec<ConnSummary> {
        let mut out = std::mem::take(&mut self.pending);
        out.reserve_exact(self.map.len());
        self.map = Default::default();
        for entry in std::mem::take(&mut self.slots) {
            if let Some(conn) = entry.conn {
                out.push(conn.summary());
            }
        }
        self.free = Vec::new();
        self.head = [NIL; 2];
        self.tail = [NIL; 2];
        out.sort_unstable_by_key(|summary| summary.conn);
        out
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    fn seg(src: &str, sport: u16, dst: &str, dport: u16) -> Segment<'static> {
        Segment {
            encaps: None,
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
            len_from_frame: false,
        }
    }

    /// Both directions give one key; ports, addresses and the family all tell keys apart; the
    /// side that sorts first is the one `(IpAddr, u16)` puts first.
    #[test]
    fn flow_keys() {
        let key = FlowKey::of(&seg("10.0.0.2", 80, "10.0.0.1", 4000));
        assert_eq!(key, FlowKey::of(&seg("10.0.0.1", 4000, "10.0.0.2", 80)));
        assert_eq!(key.first_addr, u128::from(u32::from_be_bytes([10, 0, 0, 1])));
        assert_eq!(key.ports & 0xffff_ffff, 4000 << 16 | 80);
        assert_ne!(key, FlowKey::of(&seg("10.0.0.1", 4001, "10.0.0.2", 80)));
        assert_ne!(key, FlowKey::of(&seg("10.0.0.1", 4000, "10.0.0.3", 80)));
        assert_ne!(key, FlowKey::of(&seg("::ffff:10.0.0.1", 4000, "::ffff:10.0.0.2", 80)), "IPv4-mapped IPv6 is another flow");
        let same_addr = FlowKey::of(&seg("10.0.0.1", 5000, "10.0.0.1", 80));
        assert_eq!(same_addr.ports & 0xffff_ffff, 80 << 16 | 5000);
        let v6 = FlowKey::of(&seg("2001:db8::2", 1, "2001:db8::1", 2));
        assert_eq!(v6, FlowKey::of(&seg("2001:db8::1", 2, "2001:db8::2", 1)));
        assert_eq!(v6.ports >> 32, 1);
    }
}
