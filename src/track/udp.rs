//! UDP flows: ids in order of first datagram, direction relative to the first sender.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use super::Dir;

/// (source address, source port, destination address, destination port) of a flow's first datagram.
type Key = (IpAddr, u16, IpAddr, u16);

/// The UDP flows of a run, keyed by their first datagram's addresses and ports.
pub struct UdpFlows {
    map: FxHashMap<Key, u32>,
    next: u32,
    cap: usize,
}

impl UdpFlows {
    /// No flows yet; at most `cap` will be numbered.
    pub fn new(cap: usize) -> Self {
        UdpFlows { map: FxHashMap::default(), next: 0, cap }
    }

    /// The id of the flow between these endpoints (either direction), without creating one.
    pub fn find(&self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<u32> {
        self.map.get(&(src, sport, dst, dport)).or_else(|| self.map.get(&(dst, dport, src, sport))).copied()
    }

    /// (flow id, direction: `C2S` from the first sender). `None` once `cap` flows exist.
    pub fn flow(&mut self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<(u32, Dir)> {
        if let Some(&id) = self.map.get(&(src, sport, dst, dport)) {
            return Some((id, Dir::C2S));
        }
        if let Some(&id) = self.map.get(&(dst, dport, src, sport)) {
            return Some((id, Dir::S2C));
        }
        if self.map.len() >= self.cap {
            return None;
        }
        let id = self.next;
        self.next += 1;
        self.map.insert((src, sport, dst, dport), id);
        Some((id, Dir::C2S))
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
        assert_eq!(f.flow(a, 1, b, 2), Some((0, Dir::C2S)));
        assert_eq!(f.flow(b, 2, a, 1), Some((0, Dir::S2C)));
        assert_eq!(f.flow(a, 3, b, 2), Some((1, Dir::C2S)));
        assert_eq!(f.flow(a, 4, b, 2), None, "cap");
    }
}
