//! UDP flows: ids in order of first datagram, direction relative to the first sender.

use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use super::flows::FlowStats;
use super::{Dir, Proto};
use crate::decode::Encaps;
use crate::track::tcp::ConnSummary;

/// (source address, source port, destination address, destination port) of a flow's first datagram.
type Key = (IpAddr, u16, IpAddr, u16, u64);

/// The UDP flows of a run, keyed by their first datagram's addresses and ports.
pub struct UdpFlows {
    map: FxHashMap<Key, u32>,
    next: u32,
    cap: usize,
    /// Each flow's counters, by id.
    stats: Vec<FlowStats>,
}

impl UdpFlows {
    /// No flows yet; at most `cap` will be numbered.
    pub fn new(cap: usize) -> Self {
        UdpFlows { map: FxHashMap::default(), next: 0, cap, stats: Vec::new() }
    }

    /// The id of the flow between these endpoints (either direction), without creating one.
    pub fn find(&self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<u32> {
        self.map.get(&(src, sport, dst, dport, 0)).or_else(|| self.map.get(&(dst, dport, src, sport, 0))).copied()
    }

    /// (flow id, direction: `C2S` from the first sender) of a datagram from `src` to `dst` in
    /// frame `n` at `ts`, carried in the tunnels `encaps` (`None`: in none; the same addresses
    /// and ports in two tunnels are two flows). `None` once `cap` flows exist.
    pub fn flow(&mut self, n: u64, ts: i64, encaps: Option<&Encaps>, src: SocketAddr, dst: SocketAddr) -> Option<(u32, Dir)> {
        let tunnel = encaps.map_or(0, Encaps::flow_id);
        let (a, b) = ((src.ip(), src.port()), (dst.ip(), dst.port()));
        if let Some(&id) = self.map.get(&(a.0, a.1, b.0, b.1, tunnel)) {
            return Some((id, Dir::C2S));
        }
        if let Some(&id) = self.map.get(&(b.0, b.1, a.0, a.1, tunnel)) {
            return Some((id, Dir::S2C));
        }
        if self.map.len() >= self.cap {
            return None;
        }
        let id = self.next;
        self.next += 1;
        self.map.insert((a.0, a.1, b.0, b.1, tunnel), id);
        let mut stats = FlowStats::new(n, ts, src, dst);
        stats.tunnel = encaps.map(|e| e.label().to_string().into_boxed_str());
        self.stats.push(stats);
        Some((id, Dir::C2S))
    }

    /// Frame `n` at `ts`: a datagram of flow `id` (from [`flow`](Self::flow)) in direction `dir`
    /// with `len` payload bytes.
    pub fn count(&mut self, id: u32, dir: Dir, n: u64, ts: i64, len: u64) {
        if let Some(s) = self.stats.get_mut(id as usize) {
            s.saw(n, ts, dir, len, true);
        }
    }

    /// An ICMP error quoted a datagram between these endpoints: counted on that flow, whose id
    /// is returned.
    /// `tunnel` is the [`Encaps::flow_id`] of the ICMP message's own tunnels (0: none): an error
    /// about a datagram in a tunnel comes back through that tunnel.
    pub fn icmp_error(&mut self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, tunnel: u64) -> Option<u32> {
        let id = *self.map.get(&(src, sport, dst, dport, tunnel)).or_else(|| self.map.get(&(dst, dport, src, sport, tunnel)))?;
        if let Some(s) = self.stats.get_mut(id as usize) {
            s.icmp_errors += 1;
        }
        Some(id)
    }

    /// Every flow's record, in id order.
    pub fn summaries(&self) -> Vec<ConnSummary> {
        self.stats.iter().enumerate().map(|(id, s)| s.summary(id as u32, Proto::Udp)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_and_ids() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut f = UdpFlows::new(2);
        assert_eq!(f.flow(1, 0, None, SocketAddr::new(a, 1), SocketAddr::new(b, 2)), Some((0, Dir::C2S)));
        assert_eq!(f.flow(2, 0, None, SocketAddr::new(b, 2), SocketAddr::new(a, 1)), Some((0, Dir::S2C)));
        assert_eq!(f.flow(3, 0, None, SocketAddr::new(a, 3), SocketAddr::new(b, 2)), Some((1, Dir::C2S)));
        assert_eq!(f.flow(4, 0, None, SocketAddr::new(a, 4), SocketAddr::new(b, 2)), None, "cap");
    }

    /// The same addresses and ports in two VXLAN segments are two flows, each named by its
    /// tunnel; both directions inside one tunnel are one flow.
    #[test]
    fn tunnels_tell_flows_apart() {
        use crate::decode::{Encap, EncapLayer};
        let vxlan = |vni: u32| {
            let mut e = Encaps::NONE;
            let outer = Some(("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()));
            assert!(e.push(EncapLayer { encap: Encap::Vxlan { vni }, outer, udp: Some((4000, 4789)) }));
            e
        };
        let (a, b) = (SocketAddr::new("10.0.0.1".parse().unwrap(), 53), SocketAddr::new("10.0.0.2".parse().unwrap(), 5353));
        let (ten, eleven) = (vxlan(10), vxlan(11));
        let mut f = UdpFlows::new(8);
        assert_eq!(f.flow(1, 0, Some(&ten), a, b), Some((0, Dir::C2S)));
        assert_eq!(f.flow(2, 0, Some(&eleven), a, b), Some((1, Dir::C2S)), "another VNI");
        assert_eq!(f.flow(3, 0, None, a, b), Some((2, Dir::C2S)), "outside the tunnel");
        assert_eq!(f.flow(4, 0, Some(&ten), b, a), Some((0, Dir::S2C)), "the reply in VNI 10");
        assert_eq!(f.stats[0].tunnel.as_deref(), Some("vxlan 10"));
        assert_eq!(f.stats[2].tunnel, None);
        // an ICMP error quoting the datagram counts on the flow of the tunnel it came back in
        assert_eq!(f.icmp_error(a.ip(), 53, b.ip(), 5353, eleven.flow_id()), Some(1));
        assert_eq!(f.icmp_error(a.ip(), 53, b.ip(), 5353, 0), Some(2));
        assert_eq!((f.stats[0].icmp_errors, f.stats[1].icmp_errors, f.stats[2].icmp_errors), (0, 1, 1));
    }
}
