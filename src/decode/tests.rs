use super::*;
use etherparse::PacketBuilder;

fn eth_tcp(payload: &[u8], opts: &[etherparse::TcpOptionElement]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .tcp(40000, 9000, 1000, 64240)
        .syn()
        .options(opts)
        .unwrap();
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

#[test]
fn ethernet_ipv4_tcp_with_options() {
    use etherparse::TcpOptionElement::*;
    let v = eth_tcp(b"", &[MaximumSegmentSize(1460), SelectiveAcknowledgementPermitted, WindowScale(7)]);
    let f = decode(1, &v, v.len() as u32);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    let ip = f.ip().unwrap();
    assert_eq!((ip.version, ip.ttl, ip.proto), (4, 64, 6));
    let t = f.tcp().unwrap();
    assert_eq!((t.sport, t.dport, t.seq, t.win, t.len), (40000, 9000, 1000, 64240, 0));
    assert_eq!(t.flags, tcpflags::SYN);
    assert_eq!((t.opts.mss, t.opts.ws, t.opts.sack_perm), (Some(1460), Some(7), true));
}

#[test]
fn payload_length_comes_from_ip_not_capture() {
    let v = eth_tcp(b"hello world", &[]);
    // snap length cut: 5 payload bytes missing
    let cut = &v[..v.len() - 5];
    let f = decode(1, cut, v.len() as u32);
    assert!(f.warnings.is_empty(), "snaplen truncation is not a malformation: {:?}", f.warnings);
    assert_eq!(f.tcp().unwrap().len, 11);
    assert_eq!(f.payload, b"hello ");
}

#[test]
fn truncated_tcp_header_warns_with_offset() {
    let v = eth_tcp(b"", &[]);
    let cut = &v[..14 + 20 + 10];
    let f = decode(1, cut, cut.len() as u32);
    let w: Vec<String> = f.warnings.iter().map(|w| w.to_string()).collect();
    assert!(w.iter().any(|w| w.starts_with("tcp at offset 34")), "{w:?}");
    assert!(f.ip().is_some(), "IP still decoded");
}

#[test]
fn lying_ipv4_length_warns() {
    let mut v = eth_tcp(b"abc", &[]);
    v[14 + 2] = 0x05; // total length 0x05xx: far beyond the frame
    let f = decode(1, &v, v.len() as u32);
    assert!(f.warnings.iter().any(|w| matches!(w.what, WarnKind::LengthBeyondFrame { .. })), "{:?}", f.warnings);
}

#[test]
fn vlan_and_qinq() {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .double_vlan(etherparse::VlanId::try_new(200).unwrap(), etherparse::VlanId::try_new(100).unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 9)
        .udp(1, 2);
    let mut v = Vec::new();
    b.write(&mut v, b"x").unwrap();
    let f = decode(1, &v, v.len() as u32);
    assert_eq!(f.vlans(), &[200, 100]);
    assert!(matches!(f.transport, Transport::Udp(Udp { sport: 1, dport: 2, len: 9 })));
}

#[test]
fn raw_ipv6_and_null() {
    let b = PacketBuilder::ipv6(
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        5,
    )
    .udp(53, 53);
    let mut v = Vec::new();
    b.write(&mut v, b"q").unwrap();
    let f = decode(101, &v, v.len() as u32);
    assert_eq!(f.ip().unwrap().version, 6);
    let mut n = vec![30, 0, 0, 0];
    n.extend_from_slice(&v);
    let f = decode(0, &n, n.len() as u32);
    assert_eq!(f.link, Link::Null { family: 30 });
    assert!(matches!(f.transport, Transport::Udp(_)));
}

#[test]
fn garbage_never_panics() {
    // every prefix of a few frames, with every byte value in a few positions
    let base = eth_tcp(b"payload", &[etherparse::TcpOptionElement::MaximumSegmentSize(1400)]);
    for lt in [0, 1, 101, 113, 276, 147] {
        for cut in 0..base.len() {
            let _ = decode(lt, &base[..cut], base.len() as u32);
        }
        for pos in [12, 13, 14, 23, 26, 46, 47, 54] {
            for b in 0..=255u8 {
                let mut v = base.clone();
                v[pos] = b;
                let _ = decode(lt, &v, v.len() as u32);
            }
        }
    }
}

/// `decode` as it would be without the fast path: link layer, then the lax path for the rest.
fn decode_lax_only(linktype: u32, data: &[u8], wire_len: u32) -> Frame<'_> {
    let (link, l2_len, proto) = link::slice(linktype, data);
    let mut f = Frame::new(link);
    match link {
        Link::Unknown { linktype } => {
            f.warn(Layer::Link, 0, WarnKind::UnknownLinkType(linktype));
            f
        }
        Link::Truncated { layer, need } => {
            f.warn(layer, 0, WarnKind::Truncated { need: need as u32, have: data.len() as u32 });
            f
        }
        _ => decode_lax(f, proto, data, l2_len, wire_len),
    }
}

/// Every fixture and, when it is beside the repository, every capture of the tcpdump corpus.
fn fixture_and_corpus_files() -> Vec<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("fixtures"), root.join("../shared/corpora/tcpdump-tests")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            files.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path()))
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
                let d = &raw[..cut];
                let a = format!("{:?}", decode(meta.linktype, d, meta.len));
                let b = format!("{:?}", decode_lax_only(meta.linktype, d, meta.len));
                assert_eq!(a, b, "{} frame {} cut to {cut}", path.display(), frames + 1);
                let (link, l2, proto) = link::slice(meta.linktype, d);
                let mut f = Frame::new(link);
                let v = match proto {
                    link::Proto::Ether(0x0800) => Some(4),
                    link::Proto::Ether(0x86dd) => Some(6),
                    link::Proto::Ip => d.get(l2).map(|b| b >> 4),
                    _ => None,
                };
                fast += u64::from(v.is_some_and(|v| fast_ip(&mut f, v, d, l2, meta.len)));
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
                let d = &raw[..cut];
                let decoded = decode(meta.linktype, d, meta.len).flow();
                let at = || format!("{} frame {frames} cut to {cut}", path.display());
                match peek(meta.linktype, d) {
                    Peek::Flow(t) => {
                        assert!(decoded.is_none() || decoded == Some(t), "{}: peek {t:?}, decode {decoded:?}", at());
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
