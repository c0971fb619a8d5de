//! The scripted peer's TCP/IPv4 segments: built with etherparse's `PacketBuilder` (lengths and
//! checksums filled in), parsed with its slicing. Only what the scripts need: flags, numbers,
//! window, MSS / SACK-permitted / SACK options, payload.

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};

/// TCP flags the peer sends or looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// SYN.
    pub syn: bool,
    /// ACK (the acknowledgment number is valid).
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
}

impl Flags {
    /// SYN alone.
    pub const SYN: Flags = Flags { syn: true, ack: false, fin: false, rst: false, psh: false };
    /// SYN,ACK.
    pub const SYN_ACK: Flags = Flags { syn: true, ack: true, fin: false, rst: false, psh: false };
    /// ACK alone.
    pub const ACK: Flags = Flags { syn: false, ack: true, fin: false, rst: false, psh: false };
    /// PSH,ACK (data).
    pub const PSH_ACK: Flags = Flags { syn: false, ack: true, fin: false, rst: false, psh: true };
    /// FIN,ACK.
    pub const FIN_ACK: Flags = Flags { syn: false, ack: true, fin: true, rst: false, psh: false };
    /// RST alone.
    pub const RST: Flags = Flags { syn: false, ack: false, fin: false, rst: true, psh: false };
}

/// One TCP segment over IPv4, as sent or received on the TUN device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver.
    pub dst: SocketAddrV4,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: Flags,
    /// Window field as sent (the peer never scales: it offers no window scale option).
    pub window: u16,
    /// MSS option (SYNs).
    pub mss: Option<u16>,
    /// SACK-permitted option (SYNs).
    pub sack_permitted: bool,
    /// SACK blocks (left, right), at most 3 here.
    pub sack: Vec<(u32, u32)>,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Segment {
    /// A segment from `src` to `dst` with no options and no payload.
    pub fn new(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, ack: u32, flags: Flags, window: u16) -> Segment {
        Segment { src, dst, seq, ack, flags, window, mss: None, sack_permitted: false, sack: Vec::new(), payload: Vec::new() }
    }

    /// Sequence space the segment takes: payload, plus one for SYN and one for FIN.
    pub fn len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }

    /// True when the segment takes no sequence space (a pure ACK or RST).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sequence number after this segment.
    pub fn end(&self) -> u32 {
        self.seq.wrapping_add(self.len())
    }

    /// The IPv4 packet (TTL 64, checksums filled in).
    pub fn build(&self) -> Vec<u8> {
        let mut tcp = PacketBuilder::ipv4(self.src.ip().octets(), self.dst.ip().octets(), 64).tcp(
            self.src.port(),
            self.dst.port(),
            self.seq,
            self.window,
        );
        if self.flags.syn {
            tcp = tcp.syn();
        }
        if self.flags.ack {
            tcp = tcp.ack(self.ack);
        }
        if self.flags.fin {
            tcp = tcp.fin();
        }
        if self.flags.rst {
            tcp = tcp.rst();
        }
        if self.flags.psh {
            tcp = tcp.psh();
        }
        let mut options = Vec::new();
        if let Some(mss) = self.mss {
            options.push(TcpOptionElement::MaximumSegmentSize(mss));
        }
        if self.sack_permitted {
            options.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        }
        if let Some((&first, rest)) = self.sack.split_first() {
            let mut more = [None; 3];
            for (slot, &block) in more.iter_mut().zip(rest.iter().take(2)) {
                *slot = Some(block);
            }
            options.push(TcpOptionElement::SelectiveAcknowledgement(first, more));
        }
        if !options.is_empty() {
            // at most MSS (4) + SACK-permitted (2) + 3 SACK blocks (26) bytes: within the 40 allowed
            tcp = tcp.options(&options).expect("the peer's options fit in 40 bytes");
        }
        let mut out = Vec::with_capacity(60 + self.payload.len());
        tcp.write(&mut out, &self.payload).expect("writing to a Vec");
        out
    }

    /// Parse an IPv4 TCP packet; `None` for anything else (ICMP, IPv6, malformed).
    pub fn parse(packet: &[u8]) -> Option<Segment> {
        let sliced = SlicedPacket::from_ip(packet).ok()?;
        let Some(NetSlice::Ipv4(ip)) = sliced.net else { return None };
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else { return None };
        let (src, dst) = (Ipv4Addr::from(ip.header().source()), Ipv4Addr::from(ip.header().destination()));
        let mut seg = Segment::new(
            SocketAddrV4::new(src, tcp.source_port()),
            SocketAddrV4::new(dst, tcp.destination_port()),
            tcp.sequence_number(),
            tcp.acknowledgment_number(),
            Flags { syn: tcp.syn(), ack: tcp.ack(), fin: tcp.fin(), rst: tcp.rst(), psh: tcp.psh() },
            tcp.window_size(),
        );
        for option in tcp.options_iterator().flatten() {
            match option {
                TcpOptionElement::MaximumSegmentSize(mss) => seg.mss = Some(mss),
                TcpOptionElement::SelectiveAcknowledgementPermitted => seg.sack_permitted = true,
                TcpOptionElement::SelectiveAcknowledgement(first, more) => {
                    seg.sack.push(first);
                    seg.sack.extend(more.iter().flatten());
                }
                _ => {}
            }
        }
        seg.payload = tcp.payload().to_vec();
        Some(seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddrV4, SocketAddrV4) {
        ("198.19.0.2:9000".parse().unwrap(), "198.19.0.1:40000".parse().unwrap())
    }

    #[test]
    fn syn_ack_with_options_round_trips_through_etherparse() {
        let (a, b) = addrs();
        let mut seg = Segment::new(a, b, 1000, 77, Flags::SYN_ACK, 65535);
        seg.mss = Some(1000);
        seg.sack_permitted = true;
        let packet = seg.build();
        // checked by etherparse's own header parsers too: lengths and checksum
        let ip = etherparse::Ipv4HeaderSlice::from_slice(&packet).unwrap();
        assert_eq!(ip.total_len() as usize, packet.len());
        let header = ip.to_header();
        assert_eq!(header.header_checksum, header.calc_header_checksum());
        let tcp = etherparse::TcpHeaderSlice::from_slice(&packet[20..]).unwrap().to_header();
        assert_eq!(tcp.checksum, tcp.calc_checksum_ipv4(&header, &packet[20 + tcp.header_len()..]).unwrap());
        assert_eq!(Segment::parse(&packet).unwrap(), seg);
        assert_eq!(seg.len(), 1);
        assert_eq!(seg.end(), 1001);
    }

    #[test]
    fn data_fin_rst_and_sack_blocks_round_trip() {
        let (a, b) = addrs();
        let mut data = Segment::new(a, b, u32::MAX - 1, 5, Flags::PSH_ACK, 0);
        data.payload = b"hello".to_vec();
        data.sack = vec![(10, 20), (30, 40), (50, 60)];
        assert_eq!(Segment::parse(&data.build()).unwrap(), data);
        assert_eq!(data.end(), 3, "sequence numbers wrap");
        let fin = Segment::new(a, b, 7, 9, Flags::FIN_ACK, 100);
        assert_eq!(Segment::parse(&fin.build()).unwrap(), fin);
        assert_eq!(fin.len(), 1);
        let rst = Segment::new(a, b, 7, 0, Flags::RST, 0);
        let back = Segment::parse(&rst.build()).unwrap();
        assert!(back.flags.rst && !back.flags.ack && back.is_empty());
    }

    #[test]
    fn non_tcp_is_none() {
        let udp = {
            let mut out = Vec::new();
            PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64).udp(1, 2).write(&mut out, b"x").unwrap();
            out
        };
        assert!(Segment::parse(&udp).is_none());
        assert!(Segment::parse(&[0x45, 0, 0]).is_none());
    }
}
