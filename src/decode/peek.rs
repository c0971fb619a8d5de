//! Which flow a frame belongs to, read from fixed offsets of its first bytes without decoding
//! it, so that frames can be routed by flow before anyone decodes them.
//!
//! [`peek`] answers only for the common shapes (a link header, at most one VLAN tag, then IPv4
//! or IPv6 without extension headers, then TCP or UDP, not a fragment) and otherwise answers
//! [`Peek::Unknown`], so that the caller decodes the frame. It never disagrees with [`decode`]:
//! a frame it puts in a flow decodes to that flow or to none, and a frame it calls flowless
//! decodes to no flow (`peek_agrees_with_decode` checks every fixture and corpus frame).
//!
//! [`decode`]: super::decode

use super::link::{self, Link, Proto};
use super::{Frame, Net, Transport, TunnelPorts};

/// The addresses and ports of a TCP segment or UDP datagram, in the order of the frame.
/// IPv4 addresses are their 32-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTuple {
    /// Source address.
    pub src: u128,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub dst: u128,
    /// Destination port.
    pub dport: u16,
}

impl FlowTuple {
    /// A hash equal for both directions of a flow: the two sides combined by XOR (which does
    /// not care about their order), then one multiplication (Fibonacci hashing), so the high
    /// bits are the well-mixed ones. A few arithmetic operations, no allocation and no branch.
    pub fn symmetric_hash(&self) -> u64 {
        let addrs = self.src ^ self.dst;
        let key = (addrs as u64) ^ ((addrs >> 64) as u64).rotate_left(23) ^ u64::from(self.sport ^ self.dport) << 40;
        key.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// What the first bytes of a frame say about its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// A TCP segment or UDP datagram of this flow (unless decoding finds it malformed).
    Flow(FlowTuple),
    /// Certainly no TCP segment or UDP datagram (ARP, ICMP, an unknown or cut link header).
    NoFlow,
    /// Anything else: decode to know.
    Unknown,
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn addr4(bytes: &[u8], at: usize) -> u128 {
    u128::from(u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]))
}

fn addr6(bytes: &[u8], at: usize) -> u128 {
    let mut addr = [0u8; 16];
    addr.copy_from_slice(&bytes[at..at + 16]);
    u128::from_be_bytes(addr)
}

/// Peek at a frame of link type `linktype`: reads fixed offsets only, allocates nothing, and
/// never contradicts [`decode`](super::decode) (see the module docs).
pub fn peek(linktype: u32, data: &[u8]) -> Peek {
    peek_with(&TunnelPorts::REGISTERED, linktype, data)
}

/// [`peek`] for a decoder whose UDP tunnels are on `tunnels` ([`DecodeOptions::peek_ports`]):
/// a datagram to or from one of them is left to decoding (its flow is the one inside).
///
/// [`DecodeOptions::peek_ports`]: super::DecodeOptions::peek_ports
pub fn peek_with(tunnels: &TunnelPorts, linktype: u32, data: &[u8]) -> Peek {
    let (link, l2_len, proto) = link::slice(linktype, data);
    if matches!(link, Link::Unknown { .. } | Link::Truncated { .. }) {
        // decode stops at the link layer
        return Peek::NoFlow;
    }
    let (data, _) = link::trim(&link, data, l2_len, data.len() as u32);
    let (mut ip, mut proto) = (&data[l2_len..], proto);
    // one 802.1Q or 802.1ad tag
    if let (Proto::Ether(0x8100 | 0x88a8), Some(tag)) = (proto, ip.get(..4)) {
        proto = Proto::Ether(be16(tag, 2));
        ip = &ip[4..];
    }
    let version = match proto {
        Proto::Ether(0x0800) => 4,
        Proto::Ether(0x86dd) => 6,
        Proto::Ether(0x0806) => return Peek::NoFlow,
        // the link layer is the whole frame (a control packet, a management frame)
        Proto::None => return Peek::NoFlow,
        Proto::Ip => match ip.first() {
            Some(b) => b >> 4,
            None => return Peek::Unknown,
        },
        _ => return Peek::Unknown,
    };
    match version {
        4 if ip.len() >= 20 && ip[0] >> 4 == 4 => {
            let hdr_len = usize::from(ip[0] & 0x0f) * 4;
            // more-fragments or a fragment offset: decode (first fragments carry ports)
            if hdr_len < 20 || ip.len() < hdr_len + 4 || be16(ip, 6) & 0x3fff != 0 {
                return Peek::Unknown;
            }
            match ip[9] {
                17 if tunnels.is_tunnel(be16(ip, hdr_len), be16(ip, hdr_len + 2)) => Peek::Unknown,
                6 | 17 => {
                    Peek::Flow(FlowTuple { src: addr4(ip, 12), sport: be16(ip, hdr_len), dst: addr4(ip, 16), dport: be16(ip, hdr_len + 2) })
                }
                // an ICMP error belongs with the flow it quotes (see `Frame::route_flow`)
                1 if !super::icmp::is_error(false, ip[hdr_len]) => Peek::NoFlow,
                _ => Peek::Unknown,
            }
        }
        6 if ip.len() >= 44 && ip[0] >> 4 == 6 => match ip[6] {
            17 if tunnels.is_tunnel(be16(ip, 40), be16(ip, 42)) => Peek::Unknown,
            6 | 17 => Peek::Flow(FlowTuple { src: addr6(ip, 8), sport: be16(ip, 40), dst: addr6(ip, 24), dport: be16(ip, 42) }),
            // ICMPv6 other than errors, no next header
            58 if !super::icmp::is_error(true, ip[40]) => Peek::NoFlow,
            59 => Peek::NoFlow,
            _ => Peek::Unknown,
        },
        _ => Peek::Unknown,
    }
}

impl Frame<'_> {
    /// The flow of a whole (unfragmented) TCP segment or UDP datagram: what connection
    /// tracking and datagram seams key on.
    pub fn flow(&self) -> Option<FlowTuple> {
        let Net::Ip(ip) = &self.net else { return None };
        if !self.is_whole() {
            return None;
        }
        let (sport, dport) = match &self.transport {
            Transport::Tcp(t) => (t.sport, t.dport),
            Transport::Udp(u) => (u.sport, u.dport),
            _ => return None,
        };
        let bits = |a: std::net::IpAddr| match a {
            std::net::IpAddr::V4(v) => u128::from(u32::from(v)),
            std::net::IpAddr::V6(v) => u128::from(v),
        };
        Some(FlowTuple { src: bits(ip.src), sport, dst: bits(ip.dst), dport })
    }
}

impl Frame<'_> {
    /// The flow whose state the frame touches: its own ([`flow`](Self::flow)), or for an ICMP
    /// error the flow of the header it quotes (its addresses and ports in the quoted order: the
    /// symmetric hash puts it with that flow).
    pub fn route_flow(&self) -> Option<FlowTuple> {
        if let Transport::Icmp(icmp) = &self.transport {
            let q = icmp.quoted?;
            let (sport, dport) = q.ports?;
            let bits = |a: std::net::IpAddr| match a {
                std::net::IpAddr::V4(v) => u128::from(u32::from(v)),
                std::net::IpAddr::V6(v) => u128::from(v),
            };
            return Some(FlowTuple { src: bits(q.src), sport, dst: bits(q.dst), dport });
        }
        self.flow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4(proto: u8, frag: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1]);
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x1f, 0x90, 0xc0, 0x00]);
        f.extend_from_slice(&[0u8; 16]);
        f
    }

    #[test]
    fn shapes() {
        let t = FlowTuple { src: 0x0a00_0001, sport: 8080, dst: 0x0a00_0002, dport: 0xc000 };
        assert_eq!(peek(1, &eth_ipv4(6, 0x4000)), Peek::Flow(t), "DF is no fragment");
        assert_eq!(peek(1, &eth_ipv4(17, 0)), Peek::Flow(t));
        assert_eq!(peek(1, &eth_ipv4(6, 0x2000)), Peek::Unknown, "more fragments");
        assert_eq!(peek(1, &eth_ipv4(6, 0x0001)), Peek::Unknown, "fragment offset");
        assert_eq!(peek(1, &eth_ipv4(1, 0)), Peek::NoFlow);
        assert_eq!(peek(1, &eth_ipv4(47, 0)), Peek::Unknown);
        assert_eq!(peek(1, &eth_ipv4(6, 0)[..36]), Peek::Unknown, "ports cut off");
        assert_eq!(peek(1, &[0u8; 10]), Peek::NoFlow, "cut link header");
        let mut arp = eth_ipv4(6, 0);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(peek(1, &arp), Peek::NoFlow);
        let mut vlan = eth_ipv4(6, 0);
        vlan.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
        assert_eq!(peek(1, &vlan), Peek::Flow(t), "one VLAN tag");
        vlan.splice(12..12, [0x88, 0xa8, 0x00, 0x07]);
        assert_eq!(peek(1, &vlan), Peek::Unknown, "two tags");
        // raw IP (link type 101)
        assert_eq!(peek(101, &eth_ipv4(6, 0)[14..]), Peek::Flow(t));
    }

    #[test]
    fn hash_is_symmetric_and_spreads() {
        let mut quarters = [0u32; 4];
        let mut buckets = std::collections::HashSet::new();
        for i in 0..4000u32 {
            // clients on a few addresses with consecutive ports, to one server port
            let t = FlowTuple {
                src: u128::from(0x0a00_0001 + i % 3),
                sport: 40000 + (i / 3) as u16,
                dst: u128::from(0x0a00_0100u32),
                dport: 9000,
            };
            let r = FlowTuple { src: t.dst, sport: t.dport, dst: t.src, dport: t.sport };
            assert_eq!(t.symmetric_hash(), r.symmetric_hash());
            quarters[(t.symmetric_hash() >> 62) as usize] += 1;
            buckets.insert(t.symmetric_hash() >> 52);
        }
        // even over the high bits (within 10 %), and about as many of 4096 buckets used as
        // random placement would (2,545 expected)
        assert!(quarters.iter().all(|&c| (900..=1100).contains(&c)), "{quarters:?}");
        assert!(buckets.len() > 2_300, "{} buckets", buckets.len());
    }
}
