use super::*;
use crate::decode::{decode, decode_with, peek, Peek};
use etherparse::{IpNumber, PacketBuilder};

const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// An IPv4/TCP packet 192.168.0.1:1234 -> 192.168.0.2:80 with `payload`.
fn inner_tcp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64).tcp(1234, 80, 1000, 512).psh().ack(7).write(&mut out, payload).unwrap();
    out
}

fn inner_eth(ip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&M2);
    out.extend_from_slice(&M1);
    out.extend_from_slice(&[0x08, 0x00]);
    out.extend_from_slice(ip);
    out
}

/// Ethernet / IPv4 10.0.0.1 -> 10.0.0.2 carrying `payload` as protocol `proto`.
fn outer_ip(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(M1, M2).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).write(&mut out, IpNumber(proto), payload).unwrap();
    out
}

fn outer_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(M1, M2).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(sport, dport).write(&mut out, payload).unwrap();
    out
}

fn check_inner(frame: &Frame<'_>) {
    let tcp = frame.tcp().expect("inner TCP");
    assert_eq!((tcp.sport, tcp.dport, tcp.seq), (1234, 80, 1000));
    assert_eq!(frame.ip().unwrap().src.to_string(), "192.168.0.1");
    assert_eq!(frame.transport_payload(), b"hello");
    assert!(frame.warnings.is_empty(), "{:?}", frame.warnings);
}

fn tag(frame: &Frame<'_>) -> String {
    frame.encaps.tag().to_string()
}

#[test]
fn gre_with_key_and_sequence() {
    let mut gre = vec![0x30, 0x00, 0x08, 0x00];
    gre.extend_from_slice(&7u32.to_be_bytes());
    gre.extend_from_slice(&99u32.to_be_bytes());
    gre.extend_from_slice(&inner_tcp(b"hello"));
    let bytes = outer_ip(47, &gre);
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[gre key 7] ");
    let layer = frame.encaps.iter().next().unwrap();
    assert_eq!(layer.encap, Encap::Gre { version: 0, proto: 0x0800, key: Some(7), seq: Some(99) });
    assert_eq!(layer.outer.unwrap().0.to_string(), "10.0.0.1");
    assert_eq!(peek(1, &bytes), Peek::Unknown);
}

#[test]
fn gre_transparent_ethernet_bridging() {
    let mut gre = vec![0x00, 0x00, 0x65, 0x58];
    gre.extend_from_slice(&inner_eth(&inner_tcp(b"hello")));
    let bytes = outer_ip(47, &gre);
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[gre] ");
    assert_eq!(frame.encaps.inner_eth(), Some((MacAddr(M1), MacAddr(M2), 0x0800)));
}

#[test]
fn erspan_types() {
    for (proto, seq, header, kind) in [
        (0x88beu16, false, vec![], 1u8),
        (0x88be, true, vec![0x10, 0x05, 0x00, 0x2a, 0, 0, 0, 0], 2),
        (0x22eb, true, vec![0x20, 0x05, 0x00, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0], 3),
    ] {
        let mut gre = if seq { vec![0x10, 0x00] } else { vec![0x00, 0x00] };
        gre.extend_from_slice(&proto.to_be_bytes());
        if seq {
            gre.extend_from_slice(&1u32.to_be_bytes());
        }
        gre.extend_from_slice(&header);
        gre.extend_from_slice(&inner_eth(&inner_tcp(b"hello")));
        let bytes = outer_ip(47, &gre);
        let frame = decode(1, &bytes, bytes.len() as u32);
        check_inner(&frame);
        let layers: Vec<_> = frame.encaps.iter().map(|l| l.encap.kind()).collect();
        assert_eq!(layers, ["gre", "erspan", "eth"], "type {kind}");
        let erspan = frame.encaps.iter().nth(1).unwrap().encap;
        match erspan {
            Encap::Erspan { kind: k, session, vlan, cos, index_or_time } => {
                assert_eq!(k, kind);
                if kind > 1 {
                    assert_eq!((session, vlan, cos), (Some(42), Some(5), Some(0)));
                }
                let extra = match kind {
                    2 => Some(ErspanExtra::Index(0)),
                    3 => Some(ErspanExtra::Timestamp(0)),
                    _ => None,
                };
                assert_eq!(index_or_time, extra);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn vxlan_and_two_vnis_are_two_flows() {
    let vx = |vni: u32| {
        let mut h = vec![0x08, 0, 0, 0];
        h.extend_from_slice(&(vni << 8).to_be_bytes());
        h.extend_from_slice(&inner_eth(&inner_tcp(b"hello")));
        outer_udp(40000, 4789, &h)
    };
    let (a, b) = (vx(42), vx(43));
    let fa = decode(1, &a, a.len() as u32);
    let fb = decode(1, &b, b.len() as u32);
    check_inner(&fa);
    assert_eq!(tag(&fa), "[vxlan 42] ");
    assert_ne!(fa.encaps.flow_id(), fb.encaps.flow_id());
    assert_ne!(fa.encaps.flow_id(), 0);
    assert_eq!(peek(1, &a), Peek::Unknown, "the flow is the inner one");
    // not on the port: a plain UDP datagram
    let mut opts = DecodeOptions::DEFAULT;
    opts.udp.remove(UdpTunnel::Vxlan);
    let plain = decode_with(&opts, 1, &a, a.len() as u32);
    assert!(plain.encaps.is_empty());
    assert!(matches!(plain.transport, Transport::Udp(_)));
    // another port configured
    let moved = {
        let mut h = a.clone();
        let at = 14 + 20 + 2;
        h[at..at + 2].copy_from_slice(&8472u16.to_be_bytes());
        h
    };
    let mut opts = DecodeOptions::DEFAULT;
    opts.udp.add(8472, UdpTunnel::Vxlan).unwrap();
    let f = decode_with(&opts, 1, &moved, moved.len() as u32);
    assert_eq!(tag(&f), "[vxlan 42] ");
    // no decap at all
    let off = DecodeOptions { decap: false, ..DecodeOptions::DEFAULT };
    assert!(decode_with(&off, 1, &a, a.len() as u32).encaps.is_empty());
}

#[test]
fn flow_id_is_the_same_both_ways() {
    let mut gre = vec![0x20, 0x00, 0x08, 0x00];
    gre.extend_from_slice(&7u32.to_be_bytes());
    gre.extend_from_slice(&inner_tcp(b"hello"));
    let there = outer_ip(47, &gre);
    let mut back = Vec::new();
    PacketBuilder::ethernet2(M2, M1).ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64).write(&mut back, IpNumber(47), &gre).unwrap();
    let a = decode(1, &there, there.len() as u32);
    let b = decode(1, &back, back.len() as u32);
    assert_eq!(a.encaps.flow_id(), b.encaps.flow_id());
}

#[test]
fn geneve_with_options() {
    let mut h = vec![0x02, 0x00, 0x65, 0x58];
    h.extend_from_slice(&(5u32 << 8).to_be_bytes());
    h.extend_from_slice(&[0xab; 8]);
    h.extend_from_slice(&inner_eth(&inner_tcp(b"hello")));
    let bytes = outer_udp(40000, 6081, &h);
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(frame.encaps.iter().next().unwrap().encap, Encap::Geneve { vni: 5, proto: 0x6558, opt_len: 8 });
}

#[test]
fn gtpu_with_an_extension_header() {
    let inner = inner_tcp(b"hello");
    // E flag: sequence, N-PDU, next extension 0x85 (PDU session container), one 4-byte extension
    let mut h = vec![0x34, 0xff];
    h.extend_from_slice(&((inner.len() + 8) as u16).to_be_bytes());
    h.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0x85, 1, 0x00, 0x09, 0]);
    h.extend_from_slice(&inner);
    let bytes = outer_udp(2152, 2152, &h);
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[gtpu teid 0x12345678] ");
    assert_eq!(frame.encaps.iter().next().unwrap().encap, Encap::GtpU { teid: 0x1234_5678, seq: None, extensions: 1 });
}

#[test]
fn teredo_with_origin_indication() {
    let mut inner = Vec::new();
    PacketBuilder::ipv6([0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64)
        .tcp(1234, 80, 1000, 512)
        .write(&mut inner, b"hello")
        .unwrap();
    let mut h = vec![0, 0, 0x12, 0x34, 1, 2, 3, 4];
    h.extend_from_slice(&inner);
    let bytes = outer_udp(3544, 50000, &h);
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert_eq!(tag(&frame), "[teredo] ");
    let origin = Some((!0x1234u16, std::net::Ipv4Addr::new(!1, !2, !3, !4)));
    assert_eq!(frame.encaps.iter().next().unwrap().encap, Encap::Teredo { origin });
    assert_eq!(frame.tcp().unwrap().dport, 80);
    assert_eq!(frame.ip().unwrap().version, 6);
}

#[test]
fn mpls_stack_over_vlan_then_ethernet_pseudowire() {
    // VLAN 100 -> MPLS 16/17 -> control word -> Ethernet -> IPv4
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&M2);
    bytes.extend_from_slice(&M1);
    bytes.extend_from_slice(&[0x81, 0x00, 0x00, 100, 0x88, 0x47]);
    bytes.extend_from_slice(&((16u32 << 12) | 64).to_be_bytes());
    bytes.extend_from_slice(&((17u32 << 12) | 0x100 | 64).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(&inner_eth(&inner_tcp(b"hello")));
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[mpls 16/17] ");
    assert_eq!(frame.vlans(), &[100]);
    // IPv4 directly after the stack
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&M2);
    bytes.extend_from_slice(&M1);
    bytes.extend_from_slice(&[0x88, 0x47]);
    bytes.extend_from_slice(&((300u32 << 12) | 0x100 | 64).to_be_bytes());
    bytes.extend_from_slice(&inner_tcp(b"hello"));
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[mpls 300] ");
}

#[test]
fn pppoe_session() {
    let inner = inner_tcp(b"hello");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&M2);
    bytes.extend_from_slice(&M1);
    bytes.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x12, 0x34]);
    bytes.extend_from_slice(&((inner.len() + 2) as u16).to_be_bytes());
    bytes.extend_from_slice(&[0x00, 0x21]);
    bytes.extend_from_slice(&inner);
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[pppoe 0x1234] ");
}

#[test]
fn ip_in_ip_kinds() {
    let bytes = outer_ip(4, &inner_tcp(b"hello"));
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert_eq!(tag(&frame), "[ipip] ");
    let mut v6 = Vec::new();
    PacketBuilder::ipv6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64)
        .tcp(1234, 80, 1000, 512)
        .write(&mut v6, b"hello")
        .unwrap();
    let bytes = outer_ip(41, &v6);
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert_eq!(tag(&frame), "[6in4] ");
    assert_eq!(frame.tcp().unwrap().sport, 1234);
}

#[test]
fn nesting_is_limited_and_cut_headers_warn() {
    // IPv4 in IPv4 seven times
    let mut packet = inner_tcp(b"hello");
    for _ in 0..7 {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).write(&mut out, IpNumber(4), &packet).unwrap();
        packet = out;
    }
    let frame = decode(101, &packet, packet.len() as u32);
    assert_eq!(frame.encaps.len(), MAX_LAYERS);
    assert!(frame.warnings.iter().any(|w| w.layer == Layer::Tunnel), "{:?}", frame.warnings);
    // a VXLAN header cut short: the outer layers stay, with a warning
    let bytes = outer_udp(40000, 4789, &[0x08, 0, 0]);
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert!(frame.encaps.is_empty());
    assert!(matches!(frame.transport, Transport::Udp(_)));
    assert!(frame.warnings.iter().any(|w| w.layer == Layer::Vxlan));
    // every prefix of a nested frame decodes without panicking
    let mut gre = vec![0x30, 0x00, 0x65, 0x58];
    gre.extend_from_slice(&[0; 8]);
    let mut eth = inner_eth(&[]);
    eth.truncate(12);
    eth.extend_from_slice(&[0x88, 0x47]);
    eth.extend_from_slice(&((16u32 << 12) | 0x100).to_be_bytes());
    eth.extend_from_slice(&outer_udp(1, 4789, &[0x08, 0, 0, 0, 0, 0, 1, 0])[14..]);
    gre.extend_from_slice(&eth);
    let bytes = outer_ip(47, &gre);
    for len in 0..=bytes.len() {
        let _ = decode(1, &bytes[..len], bytes.len() as u32);
    }
}

#[test]
fn tunnel_ports() {
    let mut ports = TunnelPorts::REGISTERED;
    assert_eq!(ports.lookup(40000, 4789), Some(UdpTunnel::Vxlan));
    assert_eq!(ports.lookup(3544, 40000), Some(UdpTunnel::Teredo));
    ports.add(4789, UdpTunnel::Geneve).unwrap();
    assert_eq!(ports.lookup(1, 4789), Some(UdpTunnel::Geneve));
    ports.remove(UdpTunnel::Geneve);
    assert_eq!(ports.lookup(1, 4789), None);
    assert_eq!(ports.lookup(1, 6081), None);
    assert_eq!(UdpTunnel::from_name("gtpu"), Some(UdpTunnel::GtpU));
}

#[test]
fn gre_cut_inside_its_key_says_the_whole_header_length() {
    // K flag only: 4 + 4 bytes; cut after 6 (RFC 2890 2.1)
    let bytes = outer_ip(47, &[0x20, 0x00, 0x08, 0x00, 0x00, 0x00]);
    let frame = decode(1, &bytes, bytes.len() as u32);
    let gre_warning = |frame: &Frame<'_>| frame.warnings.iter().find(|w| w.layer == Layer::Gre).map(|w| w.what.clone());
    assert_eq!(gre_warning(&frame), Some(WarnKind::Truncated { need: 8, have: 6 }), "{:?}", frame.warnings);
    // checksum and sequence: 4 + 4 + 4; cut after 10
    let bytes = outer_ip(47, &[0x90, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 1]);
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert_eq!(gre_warning(&frame), Some(WarnKind::Truncated { need: 12, have: 10 }), "{:?}", frame.warnings);
}

#[test]
fn vlan_tags_inside_a_tunnel_stay_with_the_inner_frame() {
    // GRE 0x6558 -> Ethernet -> 802.1Q vlan 10 -> IPv4, in an outer frame without VLAN tags
    let mut eth = inner_eth(&inner_tcp(b"hello"));
    eth.splice(12..12, [0x81, 0x00, 0x00, 0x0a]);
    let mut gre = vec![0x00, 0x00, 0x65, 0x58];
    gre.extend_from_slice(&eth);
    let bytes = outer_ip(47, &gre);
    let frame = decode(1, &bytes, bytes.len() as u32);
    check_inner(&frame);
    assert!(frame.vlans().is_empty(), "the outer frame has no VLAN tag: {:?}", frame.vlans());
    assert_eq!(frame.ethertype, Some(0x0800), "the outer frame's EtherType");
    assert_eq!(tag(&frame), "[gre] [vlan 10] ");
    let inner = frame.encaps.iter().nth(1).unwrap();
    assert_eq!(inner.encap, Encap::Ether { src: MacAddr(M1), dst: MacAddr(M2), ethertype: 0x0800, vlans: [10, 0], nvlan: 1 });
    assert_eq!(LongEncap(inner).to_string(), "Ethernet 02:00:00:00:00:01 > 02:00:00:00:00:02, vlan 10, ethertype 0x0800");
}

#[test]
fn warnings_inside_a_tunnel_under_an_outer_vlan_have_the_right_offset() {
    // 802.1Q vlan 20 -> MPLS 16 (bottom) -> an IPv4 header with IHL 3, or cut inside TCP
    for (ihl3, layers, offset) in [(true, &[Layer::Ip, Layer::Ipv4][..], 22), (false, &[Layer::Tcp][..], 42)] {
        let mut ip = inner_tcp(b"hello");
        if ihl3 {
            ip[0] = 0x43;
        } else {
            ip.truncate(30);
        }
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&M2);
        bytes.extend_from_slice(&M1);
        bytes.extend_from_slice(&[0x81, 0x00, 0x00, 20, 0x88, 0x47]);
        bytes.extend_from_slice(&((16u32 << 12) | 0x100 | 64).to_be_bytes());
        bytes.extend_from_slice(&ip);
        let frame = decode(1, &bytes, bytes.len() as u32);
        assert_eq!(frame.vlans(), &[20], "the outer frame's tag");
        assert_eq!(frame.ethertype, Some(0x8847));
        let warning = frame.warnings.iter().find(|w| layers.contains(&w.layer)).expect("a warning");
        // Ethernet 14 + VLAN 4 + MPLS 4 (+ IPv4 20)
        assert_eq!(warning.offset, offset, "{:?}", frame.warnings);
    }
}
