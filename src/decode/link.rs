//! Link layers: Ethernet, Linux cooked capture v1/v2, BSD null/loop, raw IP.

use std::fmt;

use super::Layer;

/// An IEEE 802 48-bit MAC address, in transmission order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// All ones: ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }
    /// Group bit (I/G) set: multicast (broadcast included).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    /// U/L bit set: locally administered, no vendor.
    pub fn is_local(&self) -> bool {
        self.0[0] & 2 == 2
    }
    /// All zeros (the unknown target of an ARP request).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
    /// Short description of the address class, `None` for a globally unique unicast address.
    pub fn class(&self) -> Option<&'static str> {
        if self.is_broadcast() {
            Some("broadcast")
        } else if self.is_multicast() {
            Some("multicast")
        } else if self.is_zero() {
            Some("zero")
        } else if self.is_local() {
            Some("local")
        } else {
            None
        }
    }
    /// Write as `aa:bb:cc:dd:ee:ff` into a fixed buffer (no allocation).
    pub fn fmt_buf(&self) -> [u8; 17] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b':'; 17];
        for (i, byte) in self.0.iter().enumerate() {
            text[i * 3] = HEX[(byte >> 4) as usize];
            text[i * 3 + 1] = HEX[(byte & 15) as usize];
        }
        text
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.fmt_buf();
        // fmt_buf only writes ASCII hex digits and colons
        f.pad(std::str::from_utf8(&text).unwrap_or("??"))
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The link-layer header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II (LINKTYPE_ETHERNET).
    Ethernet {
        /// Source address.
        src: MacAddr,
        /// Destination address.
        dst: MacAddr,
    },
    /// Linux cooked capture (v1 or v2): packet type (0 host, 1 broadcast, 2 multicast, 3 other host,
    /// 4 outgoing), ARPHRD type, link-layer source address.
    Sll {
        /// SLL2 (LINKTYPE_LINUX_SLL2) rather than SLL.
        v2: bool,
        /// Packet type, see [`sll_pkttype_name`].
        pkttype: u16,
        /// ARPHRD_ hardware type of the interface (1 Ethernet, 772 loopback, 824 netlink).
        hatype: u16,
        /// Link-layer source address, `alen` bytes of it meaningful.
        addr: [u8; 8],
        /// Length of the address (at most 8).
        alen: u8,
        /// Interface index (SLL2 only; 0 for SLL).
        ifindex: u32,
    },
    /// BSD loopback (null/loop): the address family.
    Null {
        /// Address family (2 AF_INET; 10, 24, 28 or 30 AF_INET6 depending on the OS).
        family: u32,
    },
    /// No link header: the frame starts with the IP header (LINKTYPE_RAW, IPV4, IPV6).
    Raw,
    /// A link type this decoder does not slice.
    Unknown {
        /// Its LINKTYPE_ number.
        linktype: u32,
    },
    /// The link header itself is cut short.
    Truncated {
        /// The link layer whose header is cut.
        layer: Layer,
        /// Bytes its header needs.
        need: usize,
    },
}

impl Link {
    /// (source, destination) of an Ethernet header.
    pub fn eth(&self) -> Option<(MacAddr, MacAddr)> {
        match *self {
            Link::Ethernet { src, dst } => Some((src, dst)),
            _ => None,
        }
    }

    /// Source MAC of an SLL header when it is a 6-byte address.
    pub fn sll_mac(&self) -> Option<MacAddr> {
        match *self {
            Link::Sll { addr, alen: 6, .. } => Some(MacAddr([addr[0], addr[1], addr[2], addr[3], addr[4], addr[5]])),
            _ => None,
        }
    }
}

/// tcpdump's abbreviation of an SLL packet type: In, B(roadcast), M(ulticast), P(romiscuous), Out.
pub fn sll_pkttype_name(pkttype: u16) -> &'static str {
    match pkttype {
        0 => "In",
        1 => "B",
        2 => "M",
        3 => "P",
        4 => "Out",
        _ => "?",
    }
}

/// What follows the link header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// An EtherType (0x0600 and above).
    Ether(u16),
    /// IPv4 or IPv6 by the version nibble.
    Ip,
    /// Not an EtherType we can follow (802.3 length, LLC, CAN, netlink...).
    Other(u16),
}

/// BSD loopback, address family in the capturing host's byte order (tcpdump.org link-layer header types).
pub const LINKTYPE_NULL: u32 = 0;
/// Ethernet II / IEEE 802.3.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Raw IPv4 or IPv6, by the version nibble (DLT_RAW is also 12 or 14 on some BSDs).
pub const LINKTYPE_RAW: u32 = 101;
/// OpenBSD loopback, address family in network byte order.
pub const LINKTYPE_LOOP: u32 = 108;
/// Linux cooked capture v1.
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// Raw IPv4.
pub const LINKTYPE_IPV4: u32 = 228;
/// Raw IPv6.
pub const LINKTYPE_IPV6: u32 = 229;
/// Linux cooked capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// The DLT name tcpdump prints for a link type (`EN10MB`, `LINUX_SLL2`, ...), or `unsupported`.
pub fn linktype_name(linktype: u32) -> &'static str {
    match linktype {
        LINKTYPE_NULL => "NULL",
        LINKTYPE_ETHERNET => "EN10MB",
        LINKTYPE_RAW | 12 | 14 => "RAW",
        LINKTYPE_LOOP => "LOOP",
        LINKTYPE_LINUX_SLL => "LINUX_SLL",
        LINKTYPE_IPV4 => "IPV4",
        LINKTYPE_IPV6 => "IPV6",
        LINKTYPE_LINUX_SLL2 => "LINUX_SLL2",
        _ => "unsupported",
    }
}

/// True for the link types [`slice`] decodes.
pub fn linktype_supported(linktype: u32) -> bool {
    linktype_name(linktype) != "unsupported"
}

fn be16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// A type/length field: an EtherType from 0x0600 up (IEEE 802.3), a length or other below.
fn ether_or_other(type_or_len: u16) -> Proto {
    if type_or_len >= 0x0600 {
        Proto::Ether(type_or_len)
    } else {
        Proto::Other(type_or_len)
    }
}

/// Slice the link header: (link, header length, what follows).
pub fn slice(linktype: u32, data: &[u8]) -> (Link, usize, Proto) {
    let short = |layer, need| (Link::Truncated { layer, need }, 0, Proto::Other(0));
    match linktype {
        LINKTYPE_ETHERNET => {
            if data.len() < 14 {
                return short(Layer::Ethernet, 14);
            }
            let dst = MacAddr([data[0], data[1], data[2], data[3], data[4], data[5]]);
            let src = MacAddr([data[6], data[7], data[8], data[9], data[10], data[11]]);
            (Link::Ethernet { src, dst }, 14, ether_or_other(be16(&data[12..14])))
        }
        LINKTYPE_LINUX_SLL => {
            if data.len() < 16 {
                return short(Layer::Sll, 16);
            }
            let mut addr = [0u8; 8];
            addr.copy_from_slice(&data[6..14]);
            let hatype = be16(&data[2..4]);
            let link = Link::Sll { v2: false, pkttype: be16(&data[0..2]), hatype, addr, alen: be16(&data[4..6]).min(8) as u8, ifindex: 0 };
            let proto = if hatype == 824 { Proto::Other(0) } else { ether_or_other(be16(&data[14..16])) };
            (link, 16, proto)
        }
        LINKTYPE_LINUX_SLL2 => {
            if data.len() < 20 {
                return short(Layer::Sll2, 20);
            }
            let mut addr = [0u8; 8];
            addr.copy_from_slice(&data[12..20]);
            let hatype = be16(&data[8..10]);
            let link = Link::Sll {
                v2: true,
                pkttype: data[10] as u16,
                hatype,
                addr,
                alen: data[11].min(8),
                ifindex: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            };
            let proto = if hatype == 824 { Proto::Other(0) } else { ether_or_other(be16(&data[0..2])) };
            (link, 20, proto)
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            if data.len() < 4 {
                return short(Layer::Null, 4);
            }
            let raw = [data[0], data[1], data[2], data[3]];
            // DLT_NULL is in the capturing host's byte order: a small family number has its
            // significant byte first (little endian) or last (big endian).
            let family = if linktype == LINKTYPE_LOOP || raw[0] == 0 { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) };
            let proto = match family {
                2 | 10 | 24 | 28 | 30 => Proto::Ip,
                _ => Proto::Other(family as u16),
            };
            (Link::Null { family }, 4, proto)
        }
        LINKTYPE_RAW | 12 | 14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => (Link::Raw, 0, Proto::Ip),
        other => (Link::Unknown { linktype: other }, 0, Proto::Other(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_classes_and_format() {
        let m = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(m.to_string(), "52:54:00:12:34:56");
        assert_eq!(m.class(), Some("local"));
        assert_eq!(MacAddr([0xff; 6]).class(), Some("broadcast"));
        assert_eq!(MacAddr([1, 0, 0x5e, 0, 0, 1]).class(), Some("multicast"));
        assert_eq!(MacAddr([0, 0x1b, 0x21, 1, 2, 3]).class(), None);
    }

    #[test]
    fn null_byte_order() {
        assert_eq!(slice(0, &[2, 0, 0, 0, 0x45]).0, Link::Null { family: 2 });
        assert_eq!(slice(0, &[0, 0, 0, 30, 0x60]).0, Link::Null { family: 30 });
        assert_eq!(slice(0, &[0, 0, 0, 30, 0x60]).2, Proto::Ip);
        assert_eq!(slice(0, &[1, 2]).0, Link::Truncated { layer: Layer::Null, need: 4 });
    }

    #[test]
    fn sll2_header() {
        let mut d = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        d.extend_from_slice(&[0x45]);
        let (l, n, p) = slice(276, &d);
        assert_eq!(n, 20);
        assert_eq!(p, Proto::Ether(0x0800));
        assert_eq!(l.sll_mac(), Some(MacAddr([1, 2, 3, 4, 5, 6])));
        assert!(matches!(l, Link::Sll { v2: true, pkttype: 4, ifindex: 3, .. }));
    }
}
