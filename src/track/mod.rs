//! Protocol state: the only stateful layer before the seams. It owns every flow's identity:
//! TCP connection ids (tshark's `tcp.stream`) and UDP flow ids (`udp.stream`), each numbered in
//! order of the flow's first packet in its own sequence, plus ARP bindings. Later stages
//! receive these ids and never mint their own.
//!
//! [`Tracking`] is the whole state of one run (or of one thread's share of the flows); it is fed
//! every decoded frame in capture order and says what it knows of each ([`Tracked`]).

pub mod arp;
pub mod defrag;
pub mod flows;
pub mod icmp;
pub mod tcp;
pub mod udp;

use std::fmt;
use std::net::SocketAddr;

use crate::decode::{Frame, Net, Transport};
use arp::{ArpConflict, ArpTable};
use defrag::{Defrag, DefragConfig};
use icmp::IcmpFlows;
use tcp::{ConnSummary, SegInfo, Segment, TcpFlags, TrackConfig, Tracker};
use udp::UdpFlows;

/// The transport protocol of a flow record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// A TCP connection.
    #[default]
    Tcp,
    /// A UDP flow.
    Udp,
    /// ICMP or ICMPv6 messages between two hosts (an echo exchange, or one type and code).
    Icmp,
}

impl Proto {
    /// `tcp`, `udp` or `icmp`, as Zeek's `proto` column writes it.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }
}

/// The direction of a packet within its flow: `C2S` from the TCP client (or the first sender of
/// a UDP flow), `S2C` back.
pub use tcp::Dir;

/// A flow, by protocol and id. The id is the flow's number in order of first packet among the
/// flows of its protocol, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowId {
    /// A TCP connection (tshark's `tcp.stream`).
    Tcp(u32),
    /// A UDP flow: both directions of one address and port pair (tshark's `udp.stream`).
    Udp(u32),
}

impl FlowId {
    /// The number, without the protocol.
    pub fn id(self) -> u32 {
        match self {
            FlowId::Tcp(id) | FlowId::Udp(id) => id,
        }
    }

    /// True for a UDP flow.
    pub fn is_udp(self) -> bool {
        matches!(self, FlowId::Udp(_))
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowId::Tcp(id) => write!(f, "tcp #{id}"),
            FlowId::Udp(id) => write!(f, "udp #{id}"),
        }
    }
}

/// A UDP datagram's place: its flow and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpInfo {
    /// The flow's id (the `Udp` sequence of [`FlowId`]).
    pub flow: u32,
    /// `C2S` from the flow's first sender.
    pub dir: Dir,
}

/// What tracking says about one frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tracked {
    /// The frame is an ARP binding that contradicts an earlier one.
    pub arp_conflict: Option<ArpConflict>,
    /// The frame is a TCP segment: what the connection tracker says of it.
    pub tcp: Option<SegInfo>,
    /// The frame is a whole UDP datagram: its flow.
    pub udp: Option<UdpInfo>,
    /// The frame is an ICMP error about a tracked TCP connection or UDP flow.
    pub icmp_about: Option<FlowId>,
}

impl Tracked {
    /// The flow the frame belongs to, if any.
    pub fn flow(&self) -> Option<FlowId> {
        match (&self.tcp, &self.udp) {
            (Some(si), _) => Some(FlowId::Tcp(si.conn)),
            (None, Some(u)) => Some(FlowId::Udp(u.flow)),
            (None, None) => None,
        }
    }
}

/// UDP flows tracked at once; datagrams of further flows get no flow id.
pub const MAX_UDP_FLOWS: usize = 1 << 20;

/// ARP bindings seen at once.
const MAX_ARP_BINDINGS: usize = 1 << 16;

/// The protocol state of a run: IP reassembly, ARP bindings, TCP connections, UDP flows.
pub struct Tracking {
    /// IP reassembly, run on every frame before the rest ([`Tracking::defrag_frame`]).
    pub defrag: Defrag,
    arp: ArpTable,
    tcp: Tracker,
    udp: UdpFlows,
    icmp: IcmpFlows,
    done: Vec<ConnSummary>,
}

impl Tracking {
    /// Empty state with the tracker's limits.
    pub fn new(config: TrackConfig) -> Self {
        Tracking {
            defrag: Defrag::new(DefragConfig::default()),
            arp: ArpTable::new(MAX_ARP_BINDINGS),
            tcp: Tracker::new(config),
            udp: UdpFlows::new(MAX_UDP_FLOWS),
            icmp: IcmpFlows::new(MAX_UDP_FLOWS),
            done: Vec::new(),
        }
    }

    /// IP reassembly of frame `n`, captured at `ts`, before it is tracked: see
    /// [`Defrag::frame`].
    pub fn defrag_frame(&mut self, n: u64, ts: i64, frame: &mut Frame<'_>) {
        self.defrag.frame(n, ts, frame);
    }

    /// TCP connections created so far (the next connection's id).
    pub fn tcp_created(&self) -> u32 {
        self.tcp.created()
    }

    /// Frame `n`, captured at `ts` (ns): its ARP conflict, TCP segment facts or UDP flow.
    pub fn frame(&mut self, n: u64, ts: i64, frame: &Frame<'_>) -> Tracked {
        let mut tracked = Tracked::default();
        match (&frame.net, &frame.transport) {
            (Net::Arp(a), _) => tracked.arp_conflict = self.arp.observe(n, a),
            (Net::Ip(_), Transport::Tcp(_)) => tracked.tcp = segment_of(n, ts, frame).map(|s| self.tcp.segment(&s)),
            // A fragment's UDP header covers a datagram this frame does not hold whole.
            (Net::Ip(ip), Transport::Udp(u)) if frame.is_whole() => {
                tracked.udp = self
                    .udp
                    .flow(
                        n,
                        ts,
                        (!frame.encaps.is_empty()).then_some(&frame.encaps),
                        SocketAddr::new(ip.src, u.sport),
                        SocketAddr::new(ip.dst, u.dport),
                    )
                    .map(|(flow, dir)| UdpInfo { flow, dir });
                if let Some(info) = tracked.udp {
                    // the payload on the wire (the length field), not what the snap length kept
                    self.udp.count(info.flow, info.dir, n, ts, u64::from(u.len.saturating_sub(8)));
                }
            }
            // An ICMP error is about the flow of the header it quotes; the quote is never
            // counted as a packet of that flow.
            (Net::Ip(ip), Transport::Icmp(icmp)) => {
                if frame.is_whole() {
                    let len = frame.transport_payload().len() as u64;
                    let echo = icmp.echo.map(|(id, _)| id);
                    let m = icmp::IcmpMessage { v6: icmp.v6, src: ip.src, dst: ip.dst, ty: icmp.ty, code: icmp.code, echo, len };
                    self.icmp.message(n, ts, &m, (!frame.encaps.is_empty()).then_some(&frame.encaps));
                }
                if let Some((q, (sport, dport))) = icmp.quoted.and_then(|q| q.ports.map(|p| (q, p))) {
                    tracked.icmp_about = match q.proto {
                        6 => self.tcp.icmp_error(q.src, sport, q.dst, dport, frame.encaps.flow_id()).map(FlowId::Tcp),
                        17 => self.udp.icmp_error(q.src, sport, q.dst, dport, frame.encaps.flow_id()).map(FlowId::Udp),
                        _ => None,
                    };
                }
            }
            _ => {}
        }
        tracked
    }

    /// Connections finished (and lingered) by capture time `ts`, or evicted, in id order.
    pub fn expired(&mut self, ts: i64) -> Vec<ConnSummary> {
        self.tcp.expire(ts, &mut self.done);
        self.done.sort_by_key(|c| c.conn);
        std::mem::take(&mut self.done)
    }

    /// End of input: every connection still held, in id order.
    pub fn remaining(&mut self) -> Vec<ConnSummary> {
        self.tcp.finish()
    }

    /// End of input: the records of the UDP flows, then of the ICMP flows, each in id order
    /// (they have no close: Zeek writes them when they time out or at the end).
    pub fn flow_records(&self) -> Vec<ConnSummary> {
        let mut all = self.udp.summaries();
        all.extend(self.icmp.summaries());
        all
    }

    /// Connections evicted from the full table.
    pub fn evicted(&self) -> u64 {
        self.tcp.evicted()
    }
}

/// The tracker's view of a decoded frame: `None` for non-TCP frames and IP fragments that did
/// not complete a datagram (their length is not the segment's; a TCP header with no IP around
/// it cannot occur).
pub fn segment_of<'a>(n: u64, ts: i64, f: &'a Frame<'a>) -> Option<Segment<'a>> {
    let (Net::Ip(ip), Transport::Tcp(t)) = (&f.net, &f.transport) else { return None };
    if !f.is_whole() {
        return None;
    }
    let o = &t.opts;
    Some(Segment {
        n,
        ts,
        encaps: (!f.encaps.is_empty()).then_some(&f.encaps),
        src: ip.src,
        dst: ip.dst,
        sport: t.sport,
        dport: t.dport,
        flags: TcpFlags(t.flags),
        seq: t.seq,
        ack: t.ack,
        win: t.win,
        mss: o.mss,
        ws: o.ws,
        sack_perm: o.sack_perm,
        sack: o.sack(),
        tsopt: o.ts,
        len: t.len,
        payload: f.transport_payload(),
        len_from_frame: ip.len_from_frame,
    })
}
