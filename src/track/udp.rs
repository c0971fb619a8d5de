//! UDP flows: ids in order of first datagram, direction relative to the first sender.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

type Key = (IpAddr, u16, IpAddr, u16);

/// UDP flow ids by 4-tuple, either way round.
pub struct UdpFlows {
    map: FxHashMap<Key, u32>,
    next: u32,
    cap: usize,
}

impl UdpFlows {
    /// An empty table that numbers at most `cap` flows.
    pub fn new(cap: usize) -> Self {
        UdpFlows { map: FxHashMap::default(), next: 0, cap }
    }

    /// (flow id, direction: 0 from the first sender, 1 back). `None` once `cap` flows exist.
    pub fn flow(&mut self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Option<(u32, usize)> {
        if let Some(&id) = self.map.get(&(src, sport, dst, dport)) {
            return Some((id, 0));
        }
        if let Some(&id) = self.map.get(&(dst, dport, src, sport)) {
            return Some((id, 1));
        }
        if self.map.len() >= self.cap {
            return None;
        }
        let id = self.next;
        self.next += 1;
        self.map.insert((src, sport, dst, dport), id);
        Some((id, 0))
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
        assert_eq!(f.flow(a, 1, b, 2), Some((0, 0)));
        assert_eq!(f.flow(b, 2, a, 1), Some((0, 1)));
        assert_eq!(f.flow(a, 3, b, 2), Some((1, 0)));
        assert_eq!(f.flow(a, 4, b, 2), None, "cap");
    }
}
