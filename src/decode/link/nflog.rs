//! Linux netfilter log (LINKTYPE_NFLOG, 239): a 4-byte header (address family, version,
//! resource id), then type-length-value attributes. The TLV headers are in the capturing host's
//! byte order, aligned to 4 bytes; the values are in network byte order
//! (linux/netfilter/nfnetlink_log.h, tcpdump.org LINKTYPE_NFLOG).

use super::{Link, MacAddr, Proto};
use crate::decode::Layer;

/// NFULA_PACKET_HDR: hardware protocol (an EtherType), hook.
const PACKET_HDR: u16 = 1;
/// NFULA_IFINDEX_INDEV: input interface index.
const INDEV: u16 = 4;
/// NFULA_IFINDEX_OUTDEV: output interface index.
const OUTDEV: u16 = 5;
/// NFULA_HWADDR: address length, 2 padding bytes, 8 address bytes.
const HWADDR: u16 = 8;
/// NFULA_PAYLOAD: the packet, from its network header.
const PAYLOAD: u16 = 9;
/// NFULA_PREFIX: the rule's log prefix, NUL-terminated.
const PREFIX: u16 = 10;
/// NFULA_UID: the socket owner's user id.
const UID: u16 = 11;
/// NFULA_GID: the socket owner's group id.
const GID: u16 = 14;

/// An NFLOG record's header and the attributes shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nflog<'a> {
    /// Address family of the payload: 2 AF_INET, 10 AF_INET6 (0 unspecified).
    pub family: u8,
    /// The netfilter log group (`--nflog-group`).
    pub group: u16,
    /// The log prefix (`--nflog-prefix`) as on the wire, without its terminating NUL; escape
    /// it before showing it.
    pub prefix: &'a [u8],
    /// Input interface index.
    pub indev: Option<u32>,
    /// Output interface index.
    pub outdev: Option<u32>,
    /// Owner of the local socket.
    pub uid: Option<u32>,
    /// Group of the local socket.
    pub gid: Option<u32>,
    /// Source hardware address, when it is 6 bytes long.
    pub hwaddr: Option<MacAddr>,
    /// Where the payload attribute's value ends (offset in the frame); 0 without a payload.
    pub(crate) payload_end: u32,
}

/// Slice an NFLOG record: the link header runs to the payload attribute's value.
pub(super) fn slice(data: &[u8]) -> (Link<'_>, usize, Proto) {
    if data.len() < 4 {
        return super::short(Layer::Nflog, 4);
    }
    let mut nflog = Nflog {
        family: data[0],
        group: u16::from_be_bytes([data[2], data[3]]),
        prefix: &[],
        indev: None,
        outdev: None,
        uid: None,
        gid: None,
        hwaddr: None,
        payload_end: 0,
    };
    let little = little_endian(&data[4..]);
    let u16_at = |at: usize| {
        let bytes = [data[at], data[at + 1]];
        if little {
            u16::from_le_bytes(bytes)
        } else {
            u16::from_be_bytes(bytes)
        }
    };
    let mut at = 4;
    let mut payload = None;
    while at + 4 <= data.len() {
        let len = usize::from(u16_at(at));
        // the top bits of the type are netlink's nested / byte-order flags
        let ty = u16_at(at + 2) & 0x3fff;
        if len < 4 {
            break;
        }
        let value = &data[at + 4..(at + len).min(data.len())];
        let be32 = || value.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        match ty {
            PAYLOAD => {
                payload = Some((at + 4, at + 4 + value.len()));
                break;
            }
            PREFIX => nflog.prefix = value.split(|&b| b == 0).next().unwrap_or(&[]),
            INDEV => nflog.indev = be32(),
            OUTDEV => nflog.outdev = be32(),
            UID => nflog.uid = be32(),
            GID => nflog.gid = be32(),
            HWADDR => {
                if let (Some([0, 6]), Some(addr)) = (value.get(..2), value.get(4..10)) {
                    nflog.hwaddr = Some(MacAddr([addr[0], addr[1], addr[2], addr[3], addr[4], addr[5]]));
                }
            }
            PACKET_HDR => {}
            _ => {}
        }
        // attributes are padded to 4 bytes (NFA_ALIGN)
        at += (len + 3) & !3;
    }
    let (start, proto) = match payload {
        Some((start, end)) => {
            nflog.payload_end = end as u32;
            let proto = match nflog.family {
                2 => Proto::Ether(0x0800),
                10 => Proto::Ether(0x86dd),
                _ => Proto::Ip,
            };
            (start, proto)
        }
        None => (data.len(), Proto::None),
    };
    (Link::Nflog(nflog), start, proto)
}

/// The byte order of the TLV headers: little endian unless the first attribute's length only
/// makes sense big endian (a capture from a big-endian host).
fn little_endian(tlvs: &[u8]) -> bool {
    let Some(first) = tlvs.get(..4) else { return true };
    let plausible = |len: u16, ty: u16| len >= 4 && usize::from(len) <= tlvs.len() && ty & 0x3fff <= 32;
    let le = plausible(u16::from_le_bytes([first[0], first[1]]), u16::from_le_bytes([first[2], first[3]]));
    let be = plausible(u16::from_be_bytes([first[0], first[1]]), u16::from_be_bytes([first[2], first[3]]));
    le || !be
}

/// The name of an NFLOG address family.
pub fn family_name(family: u8) -> &'static str {
    match family {
        2 => "ipv4",
        10 => "ipv6",
        7 => "bridge",
        0 => "unspec",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(out: &mut Vec<u8>, ty: u16, value: &[u8], little: bool) {
        let len = (4 + value.len()) as u16;
        if little {
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
        } else {
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&ty.to_be_bytes());
        }
        out.extend_from_slice(value);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn record(little: bool) -> Vec<u8> {
        let mut d = vec![2, 0, 0, 20];
        tlv(&mut d, PACKET_HDR, &[0x08, 0x00, 1, 0], little);
        tlv(&mut d, PREFIX, b"drop in\0", little);
        tlv(&mut d, INDEV, &[0, 0, 0, 2], little);
        tlv(&mut d, HWADDR, &[0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0], little);
        tlv(&mut d, UID, &[0, 0, 3, 0xe8], little);
        tlv(&mut d, PAYLOAD, &[0x45, 0, 0, 3, 9], little);
        d
    }

    #[test]
    fn attributes_in_either_byte_order() {
        for little in [true, false] {
            let d = record(little);
            let (link, start, proto) = slice(&d);
            let Link::Nflog(n) = link else { panic!("{link:?}") };
            assert_eq!((n.family, n.group, n.prefix), (2, 20, &b"drop in"[..]));
            assert_eq!((n.indev, n.uid, n.gid, n.outdev), (Some(2), Some(1000), None, None));
            assert_eq!(n.hwaddr, Some(MacAddr([1, 2, 3, 4, 5, 6])));
            assert_eq!(proto, Proto::Ether(0x0800));
            assert_eq!(&d[start..n.payload_end as usize], &[0x45, 0, 0, 3, 9]);
            // the padding after the payload is not part of it
            assert_eq!(d.len() - n.payload_end as usize, 3);
        }
    }

    #[test]
    fn cut_and_lying_lengths_never_panic() {
        let d = record(true);
        for cut in 0..d.len() {
            let (link, start, _) = slice(&d[..cut]);
            assert!(start <= cut || matches!(link, Link::Truncated { .. }));
            if let Link::Nflog(n) = link {
                assert!(n.payload_end as usize <= cut);
            }
        }
        // a length running past the record, and a length below the TLV header
        let mut lying = vec![2, 0, 0, 1, 0xff, 0x00, 9, 0, 0x45];
        let (link, start, _) = slice(&lying);
        let Link::Nflog(n) = link else { panic!() };
        assert_eq!((start, n.payload_end as usize), (8, 9));
        lying[4] = 1;
        let (link, start, proto) = slice(&lying);
        assert!(matches!((link, start, proto), (Link::Nflog(_), 9, Proto::None)));
        assert!(matches!(slice(&[2, 0]).0, Link::Truncated { layer: Layer::Nflog, need: 4 }));
    }
}
