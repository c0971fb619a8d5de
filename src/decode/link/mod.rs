//! Link layers: Ethernet, Linux cooked capture v1/v2, BSD null/loop, raw IP, PPP and Cisco
//! HDLC ([`ppp`]), Linux netfilter log ([`nflog`]), IEEE 802.11 with radiotap or PPI
//! ([`wifi`]) and FDDI.

use std::fmt;

use super::Layer;

pub mod nflog;
pub mod ppp;
pub mod wifi;

pub use nflog::Nflog;
pub use ppp::{ppp_proto, ppp_proto_name, Chdlc, Ppp, PppControl, PppFraming, Slarp};
pub use wifi::{Radio, RadioHeader, Wifi, WifiBody, WifiKind};

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

/// The link-layer header of a frame (borrowing from the frame what it shows: an SSID, a log prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link<'a> {
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
    /// PPP, bare or in HDLC-like framing (LINKTYPE_PPP, LINKTYPE_PPP_HDLC).
    Ppp(Ppp),
    /// Cisco HDLC (LINKTYPE_C_HDLC, or LINKTYPE_PPP_HDLC frames with a Cisco address).
    Chdlc(Chdlc),
    /// Linux netfilter log record (LINKTYPE_NFLOG).
    Nflog(Nflog<'a>),
    /// IEEE 802.11, possibly behind radiotap or PPI.
    Wifi(Wifi<'a>),
    /// FDDI (LINKTYPE_FDDI).
    Fddi(Fddi),
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

/// An FDDI MAC header (ANSI X3.139): frame control and the two addresses, in canonical bit
/// order (each byte bit-reversed from the wire's, as tshark shows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fddi {
    /// Frame control: 0x50-0x57 asynchronous LLC, 0xd0-0xd7 synchronous LLC, 0x41/0x4f SMT,
    /// 0xc1-0xcf MAC frames, 0x80/0xc0 token.
    pub fc: u8,
    /// Source address.
    pub src: MacAddr,
    /// Destination address.
    pub dst: MacAddr,
    /// The (DSAP, SSAP) of an LLC header that is not SNAP.
    pub llc: Option<(u8, u8)>,
}

impl Fddi {
    /// What the frame control says the frame is.
    pub fn fc_name(&self) -> &'static str {
        match self.fc {
            0x50..=0x57 | 0xd0..=0xd7 => "llc",
            0x41 | 0x4f => "smt",
            0xc1..=0xcf => "mac",
            0x80 | 0xc0 => "token",
            0x00 | 0x40 => "void",
            _ => "reserved",
        }
    }
}

impl Link<'_> {
    /// The short name output uses for the link type: `eth`, `sll`, `ppp`, `802.11`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Link::Ethernet { .. } => "eth",
            Link::Sll { .. } => "sll",
            Link::Null { .. } => "null",
            Link::Raw => "raw",
            Link::Ppp(Ppp { framing: PppFraming::Bare, .. }) => "ppp",
            Link::Ppp(Ppp { framing: PppFraming::Hdlc, .. }) => "ppp_hdlc",
            Link::Chdlc(_) => "chdlc",
            Link::Nflog(_) => "nflog",
            Link::Wifi(_) => "802.11",
            Link::Fddi(_) => "fddi",
            Link::Unknown { .. } => "unknown",
            Link::Truncated { .. } => "truncated",
        }
    }

    /// (source, destination) of a link that has MAC addresses both ways: Ethernet, FDDI,
    /// 802.11 frames with a source address.
    pub fn macs(&self) -> Option<(MacAddr, MacAddr)> {
        match self {
            Link::Ethernet { src, dst } => Some((*src, *dst)),
            Link::Fddi(f) => Some((f.src, f.dst)),
            Link::Wifi(w) if w.naddr >= 2 => Some((w.src()?, w.dst()?)),
            _ => None,
        }
    }

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
    /// Nothing decoding follows: the link layer itself says what the frame is (a PPP control
    /// packet, an 802.11 management frame, protected data, ...).
    None,
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
/// PPP (RFC 1661), with or without RFC 1662 address and control bytes.
pub const LINKTYPE_PPP: u32 = 9;
/// FDDI (ANSI X3.139), frame control first.
pub const LINKTYPE_FDDI: u32 = 10;
/// PPP in HDLC-like framing (RFC 1662), or Cisco PPP with HDLC framing.
pub const LINKTYPE_PPP_HDLC: u32 = 50;
/// Cisco HDLC.
pub const LINKTYPE_C_HDLC: u32 = 104;
/// IEEE 802.11 without a radio header.
pub const LINKTYPE_IEEE802_11: u32 = 105;
/// IEEE 802.11 behind a radiotap header.
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
/// Per-Packet Information header, then the link type it names.
pub const LINKTYPE_PPI: u32 = 192;
/// Linux netfilter log.
pub const LINKTYPE_NFLOG: u32 = 239;

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
        LINKTYPE_PPP => "PPP",
        LINKTYPE_FDDI => "FDDI",
        LINKTYPE_PPP_HDLC => "PPP_SERIAL",
        LINKTYPE_C_HDLC => "C_HDLC",
        LINKTYPE_IEEE802_11 => "IEEE802_11",
        LINKTYPE_IEEE802_11_RADIOTAP => "IEEE802_11_RADIO",
        LINKTYPE_PPI => "PPI",
        LINKTYPE_NFLOG => "NFLOG",
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

fn le16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

fn le32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The answer for a link header cut short.
fn short<'a>(layer: Layer, need: usize) -> (Link<'a>, usize, Proto) {
    (Link::Truncated { layer, need }, 0, Proto::None)
}

/// What an IEEE 802.2 LLC header says follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlcPayload {
    /// SNAP (0xaa 0xaa 0x03) with OUI 00-00-00 (RFC 1042) or 00-00-f8 (802.1H): the EtherType,
    /// 8 bytes after the LLC header's start.
    Snap(u16),
    /// Another LLC header (or SNAP with another OUI).
    Llc {
        /// Destination service access point.
        dsap: u8,
        /// Source service access point.
        ssap: u8,
    },
    /// Fewer than 3 bytes, or SNAP cut before its EtherType.
    Cut,
}

/// Read an LLC header (and SNAP) from the start of `bytes`.
pub fn llc(bytes: &[u8]) -> LlcPayload {
    match bytes {
        [0xaa, 0xaa, 0x03, 0, 0, 0 | 0xf8, t0, t1, ..] => LlcPayload::Snap(u16::from_be_bytes([*t0, *t1])),
        [0xaa, 0xaa, 0x03, ..] if bytes.len() < 8 => LlcPayload::Cut,
        [dsap, ssap, _, ..] => LlcPayload::Llc { dsap: *dsap, ssap: *ssap },
        _ => LlcPayload::Cut,
    }
}

/// FDDI: frame control, destination, source, then LLC for the LLC frame types.
fn slice_fddi(data: &[u8]) -> (Link<'_>, usize, Proto) {
    if data.len() < 13 {
        return short(Layer::Fddi, 13);
    }
    // FDDI sends each address byte most significant bit first: reversed into canonical order,
    // as tshark shows them (tcpdump on Linux shows the bytes unchanged)
    let mac = |at: usize| {
        let mut addr = [0u8; 6];
        for (i, byte) in addr.iter_mut().enumerate() {
            *byte = data[at + i].reverse_bits();
        }
        MacAddr(addr)
    };
    let mut fddi = Fddi { fc: data[0], dst: mac(1), src: mac(7), llc: None };
    if fddi.fc_name() != "llc" {
        return (Link::Fddi(fddi), 13, Proto::None);
    }
    match llc(&data[13..]) {
        LlcPayload::Snap(ethertype) => (Link::Fddi(fddi), 21, Proto::Ether(ethertype)),
        LlcPayload::Llc { dsap, ssap } => {
            fddi.llc = Some((dsap, ssap));
            (Link::Fddi(fddi), 13, Proto::None)
        }
        LlcPayload::Cut => (Link::Fddi(fddi), 13, Proto::None),
    }
}

/// The frame without what the link layer puts after its payload: an 802.11 FCS (from the
/// captured bytes, as far as they reach it, and from the wire length), the attributes and
/// padding after an NFLOG payload. Never cuts into the first `l2_len` bytes (the link header
/// [`slice`] measured). Returns the bytes and wire length to decode.
pub fn trim<'a>(link: &Link, data: &'a [u8], l2_len: usize, wire_len: u32) -> (&'a [u8], u32) {
    let end = match link {
        Link::Wifi(w) if w.fcs => {
            let wire = wire_len.max(data.len() as u32).saturating_sub(4);
            let end = data.len().min(wire as usize).max(l2_len.min(data.len()));
            return (&data[..end], wire);
        }
        Link::Nflog(n) => n.payload_end as usize,
        _ => return (data, wire_len),
    };
    let end = end.min(data.len()).max(l2_len.min(data.len()));
    (&data[..end], wire_len.saturating_sub((data.len() - end) as u32))
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
pub fn slice(linktype: u32, data: &[u8]) -> (Link<'_>, usize, Proto) {
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
        LINKTYPE_PPP => ppp::slice_ppp(data),
        LINKTYPE_PPP_HDLC => ppp::slice_ppp_hdlc(data),
        LINKTYPE_C_HDLC => ppp::slice_chdlc(data),
        LINKTYPE_NFLOG => nflog::slice(data),
        LINKTYPE_IEEE802_11 => wifi::slice_plain(data),
        LINKTYPE_IEEE802_11_RADIOTAP => wifi::slice_radiotap(data),
        LINKTYPE_PPI => wifi::slice_ppi(data),
        LINKTYPE_FDDI => slice_fddi(data),
        other => (Link::Unknown { linktype: other }, 0, Proto::None),
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
    fn fddi_llc_snap_and_smt() {
        let mut d = vec![0x50, 0x40, 0xee, 0xce, 0, 0, 0xd0, 0x80, 0, 0, 0, 0, 0x01];
        d.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        let (link, len, proto) = slice(LINKTYPE_FDDI, &d);
        assert_eq!((len, proto), (21, Proto::Ether(0x0800)));
        let Link::Fddi(f) = link else { panic!() };
        assert_eq!((f.dst, f.src), (MacAddr([0x02, 0x77, 0x73, 0, 0, 0x0b]), MacAddr([0x01, 0, 0, 0, 0, 0x80])));
        d[0] = 0x41;
        assert_eq!(slice(LINKTYPE_FDDI, &d).2, Proto::None);
        d[0] = 0x50;
        d[13] = 0x42;
        assert!(matches!(slice(LINKTYPE_FDDI, &d).0, Link::Fddi(Fddi { llc: Some((0x42, 0xaa)), .. })));
        for cut in 0..d.len() {
            let (_, len, _) = slice(LINKTYPE_FDDI, &d[..cut]);
            assert!(len <= cut);
        }
    }

    #[test]
    fn trim_drops_fcs_and_never_the_header() {
        let mut frame = vec![0x08, 0x02, 0, 0];
        frame.extend_from_slice(&[2; 18]);
        frame.extend_from_slice(&[0, 0, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45, 1, 2, 3, 4]);
        let mut d = vec![0, 0, 9, 0, 2, 0, 0, 0, 0x10];
        d.extend_from_slice(&frame);
        let (link, len, _) = slice(LINKTYPE_IEEE802_11_RADIOTAP, &d);
        assert_eq!(trim(&link, &d, len, d.len() as u32), (&d[..d.len() - 4], d.len() as u32 - 4));
        // cut by the snap length: the FCS was not captured, nothing captured is dropped
        assert_eq!(trim(&link, &d, len, d.len() as u32 + 4).0.len(), d.len());
        assert_eq!(trim(&link, &d[..len], len, 100).0.len(), len);
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
