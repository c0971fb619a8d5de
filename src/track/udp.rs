//! UDP flows: ids in order of first datagram, direction relative to the first sender.

use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use super::flows::FlowStats;
use super::{Dir, Proto};
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

    /// (flow id, direction: `C2S` from the first sender) of a datagram in frame `n` at `ts`,
    /// carried in the tunnels `tunnel` ([`Encaps::flow_id`](crate::decode::Encaps::flow_id)).
    /// `None` once `cap` flows exist.
    #[allow(clippy::too_many_arguments)]
    pub fn flow(&mut self, n: u64, ts: i64, tunnel: u64, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<(u32, Dir)> {
        if let Some(&id) = self.map.get(&(src, sport, dst, dport, tunnel)) {
            return Some((id, Dir::C2S));
        }
        if let Some(&id) = self.map.get(&(dst, dport, src, sport, tunnel)) {
            return Some((id, Dir::S2C));
        }
        if self.map.len() >= self.cap {
            return None;
        }
        let id = self.next;
        self.next += 1;
        self.map.insert((src, sport, dst, dport, tunnel), id);
        self.stats.push(FlowStats::new(n, ts, SocketAddr::new(src, sport), SocketAddr::new(dst, dport)));
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
    pub fn icmp_error(&mut self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<u32> {
        let id = self.find(src, sport, dst, dport)?;
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
        assert_eq!(f.flow(1, 0, 0, a, 1, b, 2), Some((0, Dir::C2S)));
        assert_eq!(f.flow(2, 0, 0, b, 2, a, 1), Some((0, Dir::S2C)));
        assert_eq!(f.flow(3, 0, 0, a, 3, b, 2), Some((1, Dir::C2S)));
        assert_eq!(f.flow(4, 0, 0, a, 4, b, 2), None, "cap");
    }
}
