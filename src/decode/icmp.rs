//! ICMP (RFC 792) and ICMPv6 (RFC 4443) headers, and the datagram an error quotes.
//!
//! An ICMP error carries the start of the datagram that caused it: the whole IP header and at
//! least the first 8 bytes of its payload (RFC 792; RFC 1812 §4.3.2.3 lets routers quote more;
//! ICMPv6 quotes as much as fits in the minimum MTU, RFC 4443 §2.4 (c)). Those 8 bytes hold the
//! ports of TCP, UDP and SCTP, which name the flow the error is about.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Icmp;

/// The header an ICMP error quotes: the flow it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// IP protocol of the quoted datagram (after IPv6 extension headers).
    pub proto: u8,
    /// Its source: the host that sent the datagram (usually the one the error goes to).
    pub src: IpAddr,
    /// Its destination.
    pub dst: IpAddr,
    /// Source and destination port, when the quote holds them (TCP, UDP, SCTP, UDP-Lite; not
    /// for a quoted non-first fragment).
    pub ports: Option<(u16, u16)>,
    /// The quoted TCP header's sequence number, when quoted.
    pub tcp_seq: Option<u32>,
}

/// True for the error messages that quote the datagram that caused them: destination
/// unreachable, time exceeded, parameter problem (ICMPv4 types 3, 11, 12); destination
/// unreachable, packet too big, time exceeded, parameter problem (ICMPv6 types 1 to 4).
pub fn is_error(v6: bool, ty: u8) -> bool {
    if v6 {
        matches!(ty, 1..=4)
    } else {
        matches!(ty, 3 | 11 | 12)
    }
}

/// An ICMP message from its first bytes (`bytes.len() >= 8`): type, code, echo fields, the
/// neighbour-discovery target, and for an error what it quotes.
pub fn header(v6: bool, bytes: &[u8]) -> Icmp {
    let (ty, code) = (bytes[0], bytes[1]);
    let body = &bytes[8..];
    let echo_types = if v6 { matches!(ty, 128 | 129) } else { matches!(ty, 0 | 8) };
    let echo = echo_types.then(|| (u16::from_be_bytes([bytes[4], bytes[5]]), u16::from_be_bytes([bytes[6], bytes[7]])));
    let target = (v6 && matches!(ty, 135..=137) && body.len() >= 16).then(|| {
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&body[..16]);
        Ipv6Addr::from(addr)
    });
    Icmp { v6, ty, code, echo, target, quoted: if is_error(v6, ty) { quoted(v6, body) } else { None } }
}

/// The datagram an error of ICMP (`v6` false) or ICMPv6 quotes, from the error's body (the
/// bytes after its 8-byte header). `None` when the quote is not an IP header of the error's
/// own IP version or is cut before the addresses.
pub fn quoted(v6: bool, body: &[u8]) -> Option<Quoted> {
    let be16 = |b: &[u8], o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
    let (proto, src, dst, rest) = if v6 {
        if body.len() < 40 || body[0] >> 4 != 6 {
            return None;
        }
        let addr = |o: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&body[o..o + 16]);
            IpAddr::V6(Ipv6Addr::from(a))
        };
        let (mut next, mut rest) = (body[6], &body[40..]);
        // Extension headers (RFC 8200 §4): hop-by-hop, routing, fragment, destination options, AH.
        loop {
            let len = match next {
                0 | 43 | 60 if rest.len() >= 2 => (usize::from(rest[1]) + 1) * 8,
                44 if rest.len() >= 8 => {
                    if be16(rest, 2) >> 3 != 0 {
                        // a later fragment: no transport header
                        return Some(Quoted { proto: rest[0], src: addr(8), dst: addr(24), ports: None, tcp_seq: None });
                    }
                    8
                }
                51 if rest.len() >= 2 => (usize::from(rest[1]) + 2) * 4,
                0 | 43 | 44 | 51 | 60 => {
                    return Some(Quoted { proto: next, src: addr(8), dst: addr(24), ports: None, tcp_seq: None });
                }
                _ => break,
            };
            if len > rest.len() {
                return Some(Quoted { proto: next, src: addr(8), dst: addr(24), ports: None, tcp_seq: None });
            }
            next = rest[0];
            rest = &rest[len..];
        }
        (next, addr(8), addr(24), rest)
    } else {
        if body.len() < 20 || body[0] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(body[0] & 0x0f) * 4;
        let addr = |o: usize| IpAddr::V4(Ipv4Addr::new(body[o], body[o + 1], body[o + 2], body[o + 3]));
        let (proto, src, dst) = (body[9], addr(12), addr(16));
        let later_fragment = be16(body, 6) & 0x1fff != 0;
        if ihl < 20 || ihl > body.len() || later_fragment {
            return Some(Quoted { proto, src, dst, ports: None, tcp_seq: None });
        }
        (proto, src, dst, &body[ihl..])
    };
    let ports = (matches!(proto, 6 | 17 | 132 | 136) && rest.len() >= 4).then(|| (be16(rest, 0), be16(rest, 2)));
    let tcp_seq = (proto == 6 && rest.len() >= 8).then(|| u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]));
    Some(Quoted { proto, src, dst, ports, tcp_seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_udp_of_port_unreachable() {
        // fixtures/udp.pcap frame 8: the body of the port unreachable
        let body = [
            0x45, 0x00, 0x00, 0x37, 0x81, 0x3a, 0x40, 0x00, 0x40, 0x11, 0x2d, 0x54, 198, 18, 0, 1, 198, 18, 0, 2, 0xb8, 0x28, 0x23, 0x2a,
            0, 0x23, 0xa0, 0x6b,
        ];
        let q = quoted(false, &body).unwrap();
        assert_eq!(q.proto, 17);
        assert_eq!(q.src, "198.18.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(q.ports, Some((47144, 9002)));
        assert_eq!(q.tcp_seq, None);
        assert_eq!(quoted(false, &body[..10]), None, "cut before the addresses");
        assert_eq!(quoted(false, &body[..22]).unwrap().ports, None, "cut before the ports");
        assert_eq!(quoted(true, &body), None, "not an IPv6 header");
    }

    #[test]
    fn quoted_ipv6_through_extension_headers() {
        let mut body = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        body.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].iter().chain(&[0u8; 11]).chain(&[1]).copied().collect::<Vec<_>>());
        body.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].iter().chain(&[0u8; 11]).chain(&[2]).copied().collect::<Vec<_>>());
        // hop-by-hop (8 bytes) then TCP
        body.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        body.extend_from_slice(&[0x1f, 0x90, 0xc3, 0x50, 0, 0, 0, 7]);
        let q = quoted(true, &body).unwrap();
        assert_eq!((q.proto, q.ports, q.tcp_seq), (6, Some((8080, 50000)), Some(7)));
        body[6] = 44; // a fragment header of a later fragment instead
        body[40..48].copy_from_slice(&[6, 0, 0, 8 << 3, 0, 0, 0, 1]);
        let q = quoted(true, &body).unwrap();
        assert_eq!((q.proto, q.ports), (6, None));
    }
}
