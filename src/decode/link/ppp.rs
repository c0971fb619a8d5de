//! PPP (RFC 1661) bare or in HDLC-like framing (RFC 1662), and Cisco HDLC.

use super::{be16, Link, Proto};
use crate::decode::Layer;

/// How the PPP header was framed on the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PppFraming {
    /// The frame starts with the protocol field (LINKTYPE_PPP without address/control).
    Bare,
    /// RFC 1662 HDLC-like framing: address 0xff and control 0x03 before the protocol.
    Hdlc,
}

/// A PPP header (RFC 1661 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ppp {
    /// With or without the RFC 1662 address and control bytes.
    pub framing: PppFraming,
    /// The protocol field (uncompressed value; RFC 1661 §6.5 lets it be one byte on the wire).
    pub protocol: u16,
    /// The code and identifier of a control protocol packet (LCP, IPCP, PAP, CHAP, ...).
    pub control: Option<PppControl>,
}

/// The first bytes of a PPP control protocol packet (RFC 1661 §5: code, identifier, length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PppControl {
    /// Code: 1 Configure-Request, 2 Configure-Ack, ... (see [`control_code_name`]).
    pub code: u8,
    /// Identifier, matching requests and replies.
    pub id: u8,
}

/// A Cisco HDLC header: address, control (0) and an EtherType-like protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chdlc {
    /// 0x0f unicast, 0x8f broadcast.
    pub address: u8,
    /// The protocol: an EtherType, or 0x8035 for SLARP.
    pub protocol: u16,
    /// A SLARP packet, when the protocol is 0x8035.
    pub slarp: Option<Slarp>,
}

/// Cisco Serial Line ARP: address request and reply, or keepalive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slarp {
    /// Code 0: asks the other end for its address.
    Request,
    /// Code 1: the sender's address and mask.
    Reply {
        /// The address.
        addr: std::net::Ipv4Addr,
        /// Its mask.
        mask: std::net::Ipv4Addr,
    },
    /// Code 2: keepalive with both sequence numbers.
    Keepalive {
        /// The sender's sequence number.
        mine: u32,
        /// The last sequence number the sender saw from the other end.
        yours: u32,
    },
    /// Another code.
    Other(u32),
}

/// What a PPP protocol number carries: the network protocols decoding follows, `Proto::None`
/// for control protocols and everything else (named by [`ppp_proto_name`]).
pub fn ppp_proto(protocol: u16) -> Proto {
    match protocol {
        0x0021 => Proto::Ether(0x0800),
        0x0057 => Proto::Ether(0x86dd),
        0x0281 => Proto::Ether(0x8847),
        0x0283 => Proto::Ether(0x8848),
        _ => Proto::None,
    }
}

/// The name of a PPP protocol number (IANA PPP DLL protocol numbers), `None` when unknown.
pub fn ppp_proto_name(protocol: u16) -> Option<&'static str> {
    Some(match protocol {
        0x0021 => "IPv4",
        0x0057 => "IPv6",
        0x0023 => "OSI",
        0x0029 => "AppleTalk",
        0x002b => "IPX",
        0x002d => "VJ compressed TCP/IP",
        0x002f => "VJ uncompressed TCP/IP",
        0x0031 => "bridging PDU",
        0x003d => "multilink",
        0x0281 => "MPLS unicast",
        0x0283 => "MPLS multicast",
        0x00fd => "compressed datagram",
        0x8021 => "IPCP",
        0x8023 => "OSINLCP",
        0x8029 => "ATCP",
        0x802b => "IPXCP",
        0x8031 => "BCP",
        0x8057 => "IPV6CP",
        0x80fd => "CCP",
        0x8281 => "MPLSCP",
        0xc021 => "LCP",
        0xc023 => "PAP",
        0xc025 => "LQR",
        0xc223 => "CHAP",
        0xc227 => "EAP",
        0xc02b => "BACP",
        0xc02d => "BAP",
        _ => return None,
    })
}

/// True for the protocols whose packets start with code, identifier and length (RFC 1661 §5;
/// PAP RFC 1334, CHAP RFC 1994, EAP RFC 3748): control protocols 0x8000-0xbfff and 0xc000 up.
fn has_code(protocol: u16) -> bool {
    protocol >= 0x8000
}

/// The name of a control packet's code: the LCP/NCP codes (RFC 1661 §5, RFC 1962 for CCP's
/// Reset-Request/Ack), PAP's (RFC 1334), CHAP's (RFC 1994) and EAP's (RFC 3748).
pub fn control_code_name(protocol: u16, code: u8) -> Option<&'static str> {
    Some(match (protocol, code) {
        (0xc023, 1) => "Auth-Request",
        (0xc023, 2) => "Auth-Ack",
        (0xc023, 3) => "Auth-Nak",
        (0xc223, 1) => "Challenge",
        (0xc223, 2) => "Response",
        (0xc223, 3) => "Success",
        (0xc223, 4) => "Failure",
        (0xc227, 1) => "Request",
        (0xc227, 2) => "Response",
        (0xc227, 3) => "Success",
        (0xc227, 4) => "Failure",
        (0xc023 | 0xc223 | 0xc227, _) => return None,
        (_, 1) => "Configure-Request",
        (_, 2) => "Configure-Ack",
        (_, 3) => "Configure-Nak",
        (_, 4) => "Configure-Reject",
        (_, 5) => "Terminate-Request",
        (_, 6) => "Terminate-Ack",
        (_, 7) => "Code-Reject",
        (0xc021, 8) => "Protocol-Reject",
        (0xc021, 9) => "Echo-Request",
        (0xc021, 10) => "Echo-Reply",
        (0xc021, 11) => "Discard-Request",
        (0xc021, 12) => "Identification",
        (0xc021, 13) => "Time-Remaining",
        (0x80fd, 14) => "Reset-Request",
        (0x80fd, 15) => "Reset-Ack",
        _ => return None,
    })
}

/// Slice the PPP protocol field at `data[at..]` (one byte when compressed, RFC 1661 §6.5: an
/// odd first byte is the whole field), then the control packet's code if any.
fn ppp_at(framing: PppFraming, data: &[u8], at: usize) -> (Link<'_>, usize, Proto) {
    let Some(&first) = data.get(at) else { return super::short(Layer::Ppp, at + 2) };
    let (protocol, len) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        match data.get(at..at + 2) {
            Some(field) => (be16(field), 2),
            None => return super::short(Layer::Ppp, at + 2),
        }
    };
    let start = at + len;
    let control = match data.get(start..start + 2) {
        Some(&[code, id]) if has_code(protocol) => Some(PppControl { code, id }),
        _ => None,
    };
    (Link::Ppp(Ppp { framing, protocol, control }), start, ppp_proto(protocol))
}

/// LINKTYPE_PPP (9): RFC 1662 framing when the frame starts with 0xff 0x03, bare otherwise.
pub(super) fn slice_ppp(data: &[u8]) -> (Link<'_>, usize, Proto) {
    if data.starts_with(&[0xff, 0x03]) {
        ppp_at(PppFraming::Hdlc, data, 2)
    } else {
        ppp_at(PppFraming::Bare, data, 0)
    }
}

/// LINKTYPE_PPP_HDLC (50): RFC 1662 framing, or Cisco HDLC when the address is 0x0f/0x8f
/// (tcpdump's `ppp_hdlc_if_print` does the same); a frame without the address and control
/// bytes is read from the protocol field.
pub(super) fn slice_ppp_hdlc(data: &[u8]) -> (Link<'_>, usize, Proto) {
    match data.first() {
        Some(0x0f | 0x8f) => slice_chdlc(data),
        Some(0xff) => ppp_at(PppFraming::Hdlc, data, 2),
        _ => ppp_at(PppFraming::Bare, data, 0),
    }
}

/// LINKTYPE_C_HDLC (104): address, control, EtherType; SLARP (0x8035) is decoded here.
pub(super) fn slice_chdlc(data: &[u8]) -> (Link<'_>, usize, Proto) {
    if data.len() < 4 {
        return super::short(Layer::Chdlc, 4);
    }
    let protocol = be16(&data[2..4]);
    let be32 = |at: usize| data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (slarp, proto) = match protocol {
        // SLARP (not RARP, which shares the number on Ethernet)
        0x8035 => {
            let slarp = be32(4).map(|code| match (code, be32(8), be32(12)) {
                (0, _, _) => Slarp::Request,
                (1, Some(addr), Some(mask)) => Slarp::Reply { addr: addr.into(), mask: mask.into() },
                (2, Some(mine), Some(yours)) => Slarp::Keepalive { mine, yours },
                (code, _, _) => Slarp::Other(code),
            });
            (slarp, Proto::None)
        }
        // Cisco HDLC carries OSI (CLNS) with protocol 0xfefe, and other non-EtherType numbers
        other if other < 0x0600 => (None, Proto::None),
        other => (None, Proto::Ether(other)),
    };
    (Link::Chdlc(Chdlc { address: data[0], protocol, slarp }), 4, proto)
}

/// The protocol name Cisco HDLC uses for a number that is not an EtherType we name.
pub fn chdlc_proto_name(protocol: u16) -> Option<&'static str> {
    match protocol {
        0x8035 => Some("SLARP"),
        0x2000 => Some("CDP"),
        0xfefe => Some("OSI"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppp_bare_hdlc_and_compressed() {
        let (link, len, proto) = slice_ppp(&[0x00, 0x21, 0x45]);
        assert_eq!((len, proto), (2, Proto::Ether(0x0800)));
        assert!(matches!(link, Link::Ppp(Ppp { framing: PppFraming::Bare, protocol: 0x21, control: None })));
        let (link, len, proto) = slice_ppp(&[0xff, 0x03, 0x00, 0x57, 0x60]);
        assert_eq!((len, proto), (4, Proto::Ether(0x86dd)));
        assert!(matches!(link, Link::Ppp(Ppp { framing: PppFraming::Hdlc, .. })));
        // compressed protocol field: one odd byte
        let (link, len, proto) = slice_ppp(&[0xff, 0x03, 0x21, 0x45]);
        assert_eq!((len, proto), (3, Proto::Ether(0x0800)));
        assert!(matches!(link, Link::Ppp(Ppp { protocol: 0x21, .. })));
        let (_, len, _) = slice_ppp_hdlc(&[0x21, 0x45]);
        assert_eq!(len, 1);
    }

    #[test]
    fn lcp_code_named() {
        let (link, len, proto) = slice_ppp_hdlc(&[0xff, 0x03, 0xc0, 0x21, 0x01, 0x07, 0x00, 0x04]);
        assert_eq!((len, proto), (4, Proto::None));
        let Link::Ppp(ppp) = link else { panic!("{link:?}") };
        assert_eq!(ppp.control, Some(PppControl { code: 1, id: 7 }));
        assert_eq!(control_code_name(0xc021, 1), Some("Configure-Request"));
        assert_eq!(control_code_name(0xc021, 9), Some("Echo-Request"));
        assert_eq!(control_code_name(0x8021, 9), None);
        assert_eq!(control_code_name(0xc223, 1), Some("Challenge"));
        assert_eq!(ppp_proto_name(0x8057), Some("IPV6CP"));
    }

    #[test]
    fn cut_ppp_headers_never_panic() {
        for data in [&[][..], &[0xff, 0x03], &[0xff, 0x03, 0xc0], &[0x00]] {
            let (link, _, _) = slice_ppp(data);
            assert!(matches!(link, Link::Truncated { layer: Layer::Ppp, .. }), "{data:?}: {link:?}");
            let _ = slice_ppp_hdlc(data);
            let _ = slice_chdlc(data);
        }
        // a control packet cut before its identifier has no code
        let (link, _, _) = slice_ppp(&[0xc0, 0x21, 0x01]);
        assert!(matches!(link, Link::Ppp(Ppp { control: None, .. })));
    }

    #[test]
    fn chdlc_ip_and_slarp() {
        let (link, len, proto) = slice_chdlc(&[0x0f, 0x00, 0x08, 0x00, 0x45]);
        assert_eq!((len, proto), (4, Proto::Ether(0x0800)));
        assert!(matches!(link, Link::Chdlc(Chdlc { address: 0x0f, protocol: 0x0800, slarp: None })));
        let keepalive = [0x8f, 0, 0x80, 0x35, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 4, 0xff, 0xff];
        let (link, _, proto) = slice_chdlc(&keepalive);
        assert_eq!(proto, Proto::None);
        assert!(matches!(link, Link::Chdlc(Chdlc { slarp: Some(Slarp::Keepalive { mine: 5, yours: 4 }), .. })));
        // a keepalive cut before its sequence numbers is still named by its code
        let (link, _, _) = slice_chdlc(&keepalive[..9]);
        assert!(matches!(link, Link::Chdlc(Chdlc { slarp: Some(Slarp::Other(2)), .. })));
        assert!(matches!(slice_chdlc(&[0x0f, 0]).0, Link::Truncated { layer: Layer::Chdlc, need: 4 }));
    }
}
