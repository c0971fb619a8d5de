//! ARP bindings seen so far: flags a reply or announcement that maps an IP to a different MAC
//! than an earlier one in the same input (address conflict, possible spoofing).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::decode::{Arp, MacAddr};

/// An IP that was bound to another MAC before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpConflict {
    /// The IP address now claimed by another MAC.
    pub ip: Ipv4Addr,
    /// The MAC it was bound to before.
    pub previous: MacAddr,
    /// Frame that made the previous binding.
    pub previous_frame: u64,
}

/// IPv4-to-MAC bindings asserted so far (RFC 826 replies, RFC 5227 announcements).
#[derive(Default)]
pub struct ArpTable {
    seen: HashMap<Ipv4Addr, (MacAddr, u64)>,
    cap: usize,
}

impl ArpTable {
    /// An empty table that learns at most `cap` bindings (later IPs are not checked).
    pub fn new(cap: usize) -> Self {
        ArpTable { seen: HashMap::new(), cap }
    }

    /// Learn the sender binding of a reply, announcement or gratuitous ARP (frame `n`).
    /// Requests other than announcements are not bindings a host asserts, and probes come from 0.0.0.0.
    pub fn observe(&mut self, n: u64, arp: &Arp) -> Option<ArpConflict> {
        let a = arp.eth_ipv4?;
        let asserts = arp.op == 2 || (arp.op == 1 && a.spa == a.tpa);
        if !asserts || a.spa.is_unspecified() {
            return None;
        }
        match self.seen.get_mut(&a.spa) {
            Some((mac, frame)) if *mac != a.sha => {
                let c = ArpConflict { ip: a.spa, previous: *mac, previous_frame: *frame };
                *mac = a.sha;
                *frame = n;
                Some(c)
            }
            Some(_) => None,
            None => {
                if self.seen.len() < self.cap {
                    self.seen.insert(a.spa, (a.sha, n));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ArpAddrs;

    fn arp(op: u16, sha: u8, spa: [u8; 4], tpa: [u8; 4]) -> Arp {
        Arp {
            op,
            htype: 1,
            ptype: 0x0800,
            eth_ipv4: Some(ArpAddrs { sha: MacAddr([2, 0, 0, 0, 0, sha]), spa: spa.into(), tha: MacAddr::default(), tpa: tpa.into() }),
        }
    }

    #[test]
    fn conflicting_reply_is_flagged() {
        let mut t = ArpTable::new(100);
        assert_eq!(t.observe(1, &arp(1, 1, [10, 0, 0, 1], [10, 0, 0, 2])), None, "request is not a binding");
        assert_eq!(t.observe(2, &arp(2, 2, [10, 0, 0, 2], [10, 0, 0, 1])), None);
        assert_eq!(t.observe(3, &arp(2, 2, [10, 0, 0, 2], [10, 0, 0, 1])), None, "same binding again");
        let c = t.observe(4, &arp(2, 3, [10, 0, 0, 2], [10, 0, 0, 1])).unwrap();
        assert_eq!((c.previous, c.previous_frame), (MacAddr([2, 0, 0, 0, 0, 2]), 2));
        assert_eq!(t.observe(5, &arp(1, 9, [0, 0, 0, 0], [10, 0, 0, 2])), None, "probe");
    }
}
