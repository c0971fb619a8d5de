use super::*;
use etherparse::PacketBuilder;

fn eth_tcp(payload: &[u8], opts: &[etherparse::TcpOptionElement]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .tcp(40000, 9000, 1000, 64240)
        .syn()
        .options(opts)
        .unwrap();
    let mut bytes = Vec::new();
    builder.write(&mut bytes, payload).unwrap();
    bytes
}

#[test]
fn ethernet_ipv4_tcp_with_options() {
    use etherparse::TcpOptionElement::*;
    let bytes = eth_tcp(b"", &[MaximumSegmentSize(1460), SelectiveAcknowledgementPermitted, WindowScale(7)]);
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert!(frame.warnings.is_empty(), "{:?}", frame.warnings);
    let ip = frame.ip().unwrap();
    assert_eq!((ip.version, ip.ttl, ip.proto), (4, 64, 6));
    let tcp = frame.tcp().unwrap();
    assert_eq!((tcp.sport, tcp.dport, tcp.seq, tcp.win, tcp.len), (40000, 9000, 1000, 64240, 0));
    assert_eq!(tcp.flags, tcpflags::SYN);
    assert_eq!((tcp.opts.mss, tcp.opts.ws, tcp.opts.sack_perm), (Some(1460), Some(7), true));
}

#[test]
fn payload_length_comes_from_ip_not_capture() {
    let bytes = eth_tcp(b"hello world", &[]);
    // snap length cut: 5 payload bytes missing
    let cut = &bytes[..bytes.len() - 5];
    let frame = decode(1, cut, bytes.len() as u32);
    assert!(frame.warnings.is_empty(), "snaplen truncation is not a malformation: {:?}", frame.warnings);
    assert_eq!(frame.tcp().unwrap().len, 11);
    assert_eq!(frame.payload, b"hello ");
}

#[test]
fn truncated_tcp_header_warns_with_offset() {
    let bytes = eth_tcp(b"", &[]);
    let cut = &bytes[..14 + 20 + 10];
    let frame = decode(1, cut, cut.len() as u32);
    let warnings: Vec<String> = frame.warnings.iter().map(|w| w.to_string()).collect();
    assert!(warnings.iter().any(|w| w.starts_with("tcp at offset 34")), "{warnings:?}");
    assert!(frame.ip().is_some(), "IP still decoded");
}

#[test]
fn lying_ipv4_length_warns() {
    let mut bytes = eth_tcp(b"abc", &[]);
    bytes[14 + 2] = 0x05; // total length 0x05xx: far beyond the frame
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert!(frame.warnings.iter().any(|w| matches!(w.what, WarnKind::LengthBeyondFrame { .. })), "{:?}", frame.warnings);
}

#[test]
fn vlan_and_qinq() {
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .double_vlan(etherparse::VlanId::try_new(200).unwrap(), etherparse::VlanId::try_new(100).unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 9)
        .udp(1, 2);
    let mut bytes = Vec::new();
    builder.write(&mut bytes, b"x").unwrap();
    let frame = decode(1, &bytes, bytes.len() as u32);
    assert_eq!(frame.vlans(), &[200, 100]);
    assert!(matches!(frame.transport, Transport::Udp(Udp { sport: 1, dport: 2, len: 9 })));
}

#[test]
fn raw_ipv6_and_null() {
    let builder = PacketBuilder::ipv6(
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        5,
    )
    .udp(53, 53);
    let mut bytes = Vec::new();
    builder.write(&mut bytes, b"q").unwrap();
    let frame = decode(101, &bytes, bytes.len() as u32);
    assert_eq!(frame.ip().unwrap().version, 6);
    let mut null_frame = vec![30, 0, 0, 0];
    null_frame.extend_from_slice(&bytes);
    let frame = decode(0, &null_frame, null_frame.len() as u32);
    assert_eq!(frame.link, Link::Null { family: 30 });
    assert!(matches!(frame.transport, Transport::Udp(_)));
}

#[test]
fn garbage_never_panics() {
    // every prefix of a few frames, with every byte value in a few positions
    let base = eth_tcp(b"payload", &[etherparse::TcpOptionElement::MaximumSegmentSize(1400)]);
    for linktype in [0, 1, 101, 113, 276, 147] {
        for cut in 0..base.len() {
            let _ = decode(linktype, &base[..cut], base.len() as u32);
        }
        for pos in [12, 13, 14, 23, 26, 46, 47, 54] {
            for byte in 0..=255u8 {
                let mut mutated = base.clone();
                mutated[pos] = byte;
                let _ = decode(linktype, &mutated, mutated.len() as u32);
            }
        }
    }
}

/// `decode` as it would be without the fast path: link layer, then the lax path for the rest.
fn decode_lax_only(linktype: u32, data: &[u8], wire_len: u32) -> Frame<'_> {
    let (link, l2_len, proto) = link::slice(linktype, data);
    let mut frame = Frame::new(link);
    match link {
        Link::Unknown { linktype } => {
            frame.warn(Layer::Link, 0, WarnKind::UnknownLinkType(linktype));
            frame
        }
        Link::Truncated { layer, need } => {
            frame.warn(layer, 0, WarnKind::Truncated { need: need as u32, have: data.len() as u32 });
            frame
        }
        _ => {
            let (data, wire_len) = link::trim(&link, data, l2_len, wire_len);
            decode_lax(&mut frame, proto, data, l2_len, wire_len);
            frame
        }
    }
}

/// Every fixture and, when it is beside the repository, every capture of the tcpdump corpus.
fn fixture_and_corpus_files() -> Vec<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("fixtures"), root.join("../shared/corpora/tcpdump-tests")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            files.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap"))),
            );
        }
    }
    files.sort();
    files
}

/// Every frame of every fixture and of the tcpdump corpus (when it is beside the repository)
/// decodes to the same `Frame` with and without the fast path, also cut to a snap length.
#[test]
fn frames_decode_the_same_on_both_paths() {
    let files = fixture_and_corpus_files();
    let (mut frames, mut fast) = (0u64, 0u64);
    for path in &files {
        let Ok(mut src) = crate::capture::FileSource::open(path) else { continue };
        while let Some(Ok((meta, raw))) = src.next_packet() {
            for cut in [raw.len(), raw.len().min(54), raw.len().min(40)] {
                let data = &raw[..cut];
                // tunnels are peeled off by the same code after either path: compared without
                let no_decap = DecodeOptions { decap: false, ..DecodeOptions::DEFAULT };
                let both_paths = format!("{:?}", decode_with(&no_decap, meta.linktype, data, meta.len));
                let lax_only = format!("{:?}", decode_lax_only(meta.linktype, data, meta.len));
                assert_eq!(both_paths, lax_only, "{} frame {} cut to {cut}", path.display(), frames + 1);
                let (link, l2_len, proto) = link::slice(meta.linktype, data);
                let (data, wire_len) = link::trim(&link, data, l2_len, meta.len);
                let mut frame = Frame::new(link);
                let version = match proto {
                    link::Proto::Ether(0x0800) => Some(4),
                    link::Proto::Ether(0x86dd) => Some(6),
                    link::Proto::Ip => data.get(l2_len).map(|b| b >> 4),
                    _ => None,
                };
                fast += u64::from(version.is_some_and(|version| fast_ip(&mut frame, version, data, l2_len, wire_len)));
            }
            frames += 1;
        }
    }
    assert!(frames > 100, "{frames} frames");
    assert!(fast > frames / 4, "the fast path took {fast} of {frames} frames");
    eprintln!("{frames} frames, {fast} decodes on the fast path");
}

/// The peek never disagrees with decoding, on every fixture and corpus frame, whole and cut: a
/// frame it puts in a flow decodes to that flow or to none; one it calls flowless has no flow.
#[test]
fn peek_agrees_with_decode() {
    let (mut frames, mut flows, mut known) = (0u64, 0u64, 0u64);
    for path in &fixture_and_corpus_files() {
        let Ok(mut src) = crate::capture::FileSource::open(path) else { continue };
        while let Some(Ok((meta, raw))) = src.next_packet() {
            frames += 1;
            for cut in [raw.len(), raw.len().min(54), raw.len().min(38), raw.len().min(20)] {
                let data = &raw[..cut];
                let decoded = decode(meta.linktype, data, meta.len).flow();
                let at = || format!("{} frame {frames} cut to {cut}", path.display());
                match peek(meta.linktype, data) {
                    Peek::Flow(tuple) => {
                        assert!(decoded.is_none() || decoded == Some(tuple), "{}: peek {tuple:?}, decode {decoded:?}", at());
                        known += 1;
                        flows += u64::from(decoded.is_some());
                    }
                    Peek::NoFlow => {
                        assert_eq!(decoded, None, "{}: peek says no flow", at());
                        known += 1;
                    }
                    Peek::Unknown => {}
                }
            }
        }
    }
    assert!(frames > 100 && flows > frames / 4, "{frames} frames, {flows} flows peeked");
    eprintln!("{frames} frames: {known} peeks known, {flows} flows");
}

/// RARP (RFC 903) is read like ARP; a VLAN-tagged frame of an EtherType not decoded names the
/// inner EtherType, not the tag's.
#[test]
fn rarp_and_vlan_inner_ethertype() {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x80, 0x35]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 3, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    let frame = decode(1, &f, f.len() as u32);
    assert_eq!(frame.ethertype, Some(0x8035));
    let Net::Arp(arp) = frame.net else { panic!("{:?}", frame.net) };
    assert_eq!(arp.op, 3);
    assert_eq!(arp.eth_ipv4.unwrap().tha, MacAddr([2, 0, 0, 0, 0, 1]));
    let frame = decode(1, &f[..20], 60);
    assert!(frame.warnings.iter().any(|w| w.layer == Layer::Arp), "{:?}", frame.warnings);

    let mut v = vec![0xff; 6];
    v.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x64, 0x88, 0xcc, 1, 2, 3, 4]);
    let frame = decode(1, &v, v.len() as u32);
    assert_eq!((frame.ethertype, frame.vlans()), (Some(0x88cc), &[100][..]));
    assert_eq!(frame.net, Net::Other(0x88cc));
}
