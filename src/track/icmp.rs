//! ICMP and ICMPv6 flows, as Zeek counts them in conn.log: an echo request and its replies are
//! one flow (per requester, replier and echo identifier); any other message type is a flow of
//! its own per source, destination, type and code. Ids in order of first message, from 0.

use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use super::flows::FlowStats;
use super::{Dir, Proto};
use crate::decode::Encaps;
use crate::track::tcp::ConnSummary;

/// How a message is keyed: an echo by its identifier (request and reply together), the rest by
/// type and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Echo(u16),
    Other(u8, u8),
}

/// (originator, responder, kind, tunnels: [`Encaps::flow_id`], 0 for none).
type Key = (IpAddr, IpAddr, Kind, u64);

/// One ICMP or ICMPv6 message, as flows count it.
#[derive(Clone, Copy, Debug)]
pub struct IcmpMessage {
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    /// Sender.
    pub src: IpAddr,
    /// Receiver.
    pub dst: IpAddr,
    /// Message type.
    pub ty: u8,
    /// Message code.
    pub code: u8,
    /// The echo identifier of an echo request or reply.
    pub echo: Option<u16>,
    /// Bytes after the ICMP header.
    pub len: u64,
}

/// The ICMP flows of a run.
pub struct IcmpFlows {
    map: FxHashMap<Key, u32>,
    stats: Vec<FlowStats>,
    cap: usize,
}

impl IcmpFlows {
    /// No flows yet; at most `cap` are kept.
    pub fn new(cap: usize) -> Self {
        IcmpFlows { map: FxHashMap::default(), stats: Vec::new(), cap }
    }

    /// Frame `n` at `ts` carried message `m`, in the tunnels `encaps` (`None`: in none; the
    /// same messages in two tunnels are two flows, as for TCP and UDP).
    pub fn message(&mut self, n: u64, ts: i64, m: &IcmpMessage, encaps: Option<&Encaps>) {
        let IcmpMessage { v6, src, dst, ty, code, echo, len } = *m;
        let (request, reply) = if v6 { (128, 129) } else { (8, 0) };
        let tunnel = encaps.map_or(0, Encaps::flow_id);
        let (key, dir) = match echo {
            Some(id) if ty == request => ((src, dst, Kind::Echo(id), tunnel), Dir::C2S),
            Some(id) if ty == reply => ((dst, src, Kind::Echo(id), tunnel), Dir::S2C),
            _ => ((src, dst, Kind::Other(ty, code), tunnel), Dir::C2S),
        };
        let id = match self.map.get(&key) {
            Some(&id) => id,
            None if self.stats.len() >= self.cap => return,
            None => {
                let id = self.stats.len() as u32;
                // Zeek's ports for ICMP: the originator's is the type, the responder's the code
                // (an echo: the request's type and the reply's)
                let (oport, rport) = match key.2 {
                    Kind::Echo(_) => (u16::from(request), u16::from(reply)),
                    Kind::Other(t, c) => (u16::from(t), u16::from(c)),
                };
                let mut stats = FlowStats::new(n, ts, SocketAddr::new(key.0, oport), SocketAddr::new(key.1, rport));
                stats.tunnel = encaps.map(|e| e.label().to_string().into_boxed_str());
                self.stats.push(stats);
                self.map.insert(key, id);
                id
            }
        };
        self.stats[id as usize].saw(n, ts, dir, len, false);
    }

    /// Every flow's record, in id order.
    pub fn summaries(&self) -> Vec<ConnSummary> {
        self.stats.iter().enumerate().map(|(id, s)| s.summary(id as u32, Proto::Icmp)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_and_reply_are_one_flow() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut f = IcmpFlows::new(10);
        let m = |src, dst, ty, code, echo, len| IcmpMessage { v6: false, src, dst, ty, code, echo, len };
        f.message(1, 0, &m(a, b, 8, 0, Some(7), 56), None);
        f.message(2, 5, &m(b, a, 0, 0, Some(7), 56), None);
        f.message(3, 9, &m(b, a, 3, 3, None, 28), None);
        let s = f.summaries();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].client.port(), s[0].server.port(), s[0].packets, s[0].bytes), (8, 0, [1, 1], [56, 56]));
        assert_eq!((s[1].client, s[1].server.port()), (SocketAddr::new(b, 3), 3));
        assert_eq!(s[0].conn_state.to_string(), "OTH");
    }

    /// The same echo in two VXLAN segments is two flows, each named by its tunnel.
    #[test]
    fn tunnels_tell_icmp_flows_apart() {
        use crate::decode::{Encap, EncapLayer};
        let vxlan = |vni: u32| {
            let mut e = Encaps::NONE;
            let outer = Some(("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()));
            assert!(e.push(EncapLayer { encap: Encap::Vxlan { vni }, outer, udp: Some((4000, 4789)) }));
            e
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let (ten, eleven) = (vxlan(10), vxlan(11));
        let mut f = IcmpFlows::new(10);
        let m = |src, dst, ty| IcmpMessage { v6: false, src, dst, ty, code: 0, echo: Some(7), len: 56 };
        f.message(1, 0, &m(a, b, 8), Some(&ten));
        f.message(2, 1, &m(a, b, 8), Some(&eleven));
        f.message(3, 2, &m(b, a, 0), Some(&ten));
        f.message(4, 3, &m(a, b, 8), None);
        let s = f.summaries();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].packets, s[1].packets, s[2].packets), ([1, 1], [1, 0], [1, 0]));
        assert_eq!(s[0].tunnel.as_deref(), Some("vxlan 10"));
        assert_eq!(s[1].tunnel.as_deref(), Some("vxlan 11"));
        assert_eq!(s[2].tunnel, None);
    }
}
