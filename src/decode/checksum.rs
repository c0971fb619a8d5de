//! Checksum verification (`--check-checksums`): the IPv4 header checksum (RFC 791) and the
//! TCP, UDP, ICMP and ICMPv6 checksums (RFC 9293 §3.1, RFC 768, RFC 792, RFC 4443 §2.3, with the
//! pseudo-headers of RFC 9293 and RFC 8200 §8.1), all the Internet checksum of RFC 1071.
//!
//! A bad checksum becomes a [`Warning`] of its layer ([`WarnKind::BadChecksum`]). A sending host's
//! own capture often holds checksums the NIC fills in later (checksum offload): Linux then leaves
//! the folded pseudo-header sum in the field, which is reported as
//! [`WarnKind::ChecksumNotComputed`], not as bad. Only what is captured whole is checked: a
//! segment cut by the snap length, a non-first fragment, or a frame whose IP length was taken
//! from the frame (segmentation offload) is left alone, and so is a UDP checksum of 0 over IPv4
//! (no checksum, RFC 768).

use super::{Frame, IpReasm, Layer, Net, Transport, WarnKind, Warning};
use std::net::IpAddr;

/// The ones'-complement sum of `bytes` (big-endian 16-bit words; an odd last byte is padded
/// with zero) added to `sum`, not yet folded.
fn add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
        // keep the carries: fold when the top bits fill up
        if sum > 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = words.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds the carries back in (RFC 1071 §4.1).
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The pseudo-header sum for `proto` and `len` transport bytes.
fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let sum = add(add(0, &s.octets()), &d.octets());
            sum + u32::from(proto) + (len & 0xffff)
        }
        (s, d) => {
            let (s, d) = (to_v6(s), to_v6(d));
            let sum = add(add(0, &s), &d);
            sum + (len >> 16) + (len & 0xffff) + u32::from(proto)
        }
    }
}

fn to_v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// The checksum a header of `bytes` should carry, whose checksum field is at `field` (it is
/// counted as zero), with `extra` (a pseudo-header sum) added.
fn expected(bytes: &[u8], field: usize, extra: u32) -> u16 {
    let sum = add(add(extra, &bytes[..field]), &bytes[field + 2..]);
    !fold(sum)
}

/// Offset of `inner` in `outer`, if it lies inside it.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

/// Verifies the checksums of `frame` (decoded from `raw`) and adds a warning for each that is
/// wrong or was not computed.
pub fn verify(frame: &mut Frame<'_>, raw: &[u8]) {
    let Net::Ip(ip) = &frame.net else { return };
    let ip = *ip;
    let (layer, field) = match &frame.transport {
        Transport::Tcp(_) => (Layer::Tcp, 16),
        Transport::Udp(_) => (Layer::Udp, 6),
        Transport::Icmp(icmp) => (if icmp.v6 { Layer::Icmpv6 } else { Layer::Icmp }, 2),
        _ => (Layer::Ip, 0),
    };
    // the IP payload is a view into the frame: where it starts, less the IP header, is the header
    let Some(l4_at) = offset_in(raw, frame.ip_payload).filter(|_| !frame.ip_payload.is_empty()) else { return };
    let Some(ip_at) = l4_at.checked_sub(usize::from(ip.hdr_len)) else { return };
    if ip.version == 4 {
        let ihl = usize::from(ip.hdr_len.min(60));
        // the IPv4 header without options and extension headers of other kinds: ihl bytes
        if let Some(header) = raw.get(ip_at..ip_at + ihl).filter(|h| h.len() >= 20 && h[0] >> 4 == 4) {
            let value = u16::from_be_bytes([header[10], header[11]]);
            let want = expected(header, 10, 0);
            if value != want {
                frame.warnings.push(Warning {
                    layer: Layer::Ipv4,
                    offset: (ip_at + 10) as u32,
                    what: WarnKind::BadChecksum { value, expected: want },
                });
            }
        }
    }
    // a fragment holds part of the transport segment; the datagram is checked nowhere
    if layer == Layer::Ip
        || ip.frag.is_some_and(|(offset, more)| offset > 0 || more)
        || ip.len_from_frame
        || frame.reasm != IpReasm::NotFragment
    {
        return;
    }
    let len = ip.payload_len as usize;
    let Some(segment) = raw.get(l4_at..l4_at + len) else { return };
    if segment.len() < field + 2 {
        return;
    }
    let value = u16::from_be_bytes([segment[field], segment[field + 1]]);
    if layer == Layer::Udp && value == 0 && ip.version == 4 {
        return;
    }
    let extra = match layer {
        Layer::Icmp => 0,
        _ => pseudo(ip.src, ip.dst, ip.proto, len as u32),
    };
    let mut want = expected(segment, field, extra);
    if layer == Layer::Udp && want == 0 {
        // a computed 0 is sent as all ones (RFC 768)
        want = 0xffff;
    }
    if value == want {
        return;
    }
    let offset = (l4_at + field) as u32;
    let what = if layer != Layer::Icmp && (value == fold(extra) || value == !fold(extra)) {
        WarnKind::ChecksumNotComputed { value }
    } else {
        WarnKind::BadChecksum { value, expected: want }
    };
    frame.warnings.push(Warning { layer, offset, what });
}

/// True when `frame` carries a checksum found wrong (not one left to offload).
pub fn has_bad_checksum(frame: &Frame<'_>) -> bool {
    frame.warnings.iter().any(|w| matches!(w.what, WarnKind::BadChecksum { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 9000, 1000, 64240)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn warnings(raw: &[u8]) -> Vec<String> {
        let mut frame = decode(1, raw, raw.len() as u32);
        verify(&mut frame, raw);
        frame.warnings.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded)
        assert_eq!(fold(add(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0xddf2);
    }

    #[test]
    fn good_frames_pass() {
        assert!(warnings(&tcp_frame(b"hello")).is_empty());
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([2; 6], [3; 6])
            .ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0xfe; 16], 64)
            .udp(5, 6)
            .write(&mut udp, b"odd")
            .unwrap();
        assert!(warnings(&udp).is_empty(), "{:?}", warnings(&udp));
        let mut icmp = Vec::new();
        PacketBuilder::ethernet2([2; 6], [3; 6])
            .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)
            .icmpv4_echo_request(1, 2)
            .write(&mut icmp, b"ping")
            .unwrap();
        assert!(warnings(&icmp).is_empty(), "{:?}", warnings(&icmp));
    }

    #[test]
    fn bad_and_offloaded_checksums() {
        let good = tcp_frame(b"hello");
        let mut bad = good.clone();
        let at = 14 + 20 + 16;
        let right = u16::from_be_bytes([bad[at], bad[at + 1]]);
        bad[at] ^= 0x10;
        let w = warnings(&bad);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains(&format!("expected 0x{right:04x}")) && w[0].starts_with("tcp at offset 50"), "{w:?}");
        // the pseudo-header sum left by checksum offload
        let mut partial = good.clone();
        let sum = fold(pseudo("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), 6, 25));
        partial[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        let w = warnings(&partial);
        assert!(w[0].contains("not computed"), "{w:?}");
        let mut frame = decode(1, &partial, partial.len() as u32);
        verify(&mut frame, &partial);
        assert!(!has_bad_checksum(&frame));
        // the IPv4 header's own
        let mut iphdr = good.clone();
        iphdr[14 + 8] = 1; // TTL
        assert!(warnings(&iphdr).iter().any(|w| w.starts_with("ipv4 at offset 24: bad checksum")), "{:?}", warnings(&iphdr));
    }

    #[test]
    fn cut_segments_are_not_judged() {
        let raw = tcp_frame(b"hello world");
        let cut = &raw[..raw.len() - 4];
        let mut frame = decode(1, cut, raw.len() as u32);
        verify(&mut frame, cut);
        assert!(frame.warnings.iter().all(|w| !matches!(w.what, WarnKind::BadChecksum { .. })));
    }
}
