//! What IP reassembly made of a frame, as data the later stages read: the types are here,
//! beside [`Frame`](super::Frame), because the completing frame carries the whole datagram;
//! the reassembly itself is protocol state and lives in `track::defrag`. Decoding leaves every
//! frame [`IpReasm::NotFragment`].
//!
//! Also here: the stateless decode of a reassembled datagram's transport header
//! ([`datagram_transport`]).

use super::{icmp, tcp_view, Transport, Udp};

/// A fragment's place in its datagram, as reassembly saw it when the fragment arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragNote {
    /// 1-based: the how-many-th fragment of its datagram this is, in arrival order.
    pub index: u16,
    /// The fragment overlaps bytes of the datagram that earlier fragments brought.
    pub overlap: Option<Overlap>,
    /// A first fragment too short to hold its transport header's ports and flags (RFC 1858
    /// §3.1, "tiny fragment attack"): a filter that looks at the first fragment only is fooled.
    pub tiny: bool,
}

/// How an overlapping fragment compares with the bytes already held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// The overlapped bytes are the same (a duplicate, e.g. a retransmitted fragment).
    Same,
    /// The overlapped bytes differ: receivers that keep the first copy and those that keep the
    /// last see different datagrams (RFC 1858 §4, a possible evasion). The first copy is kept,
    /// as Linux and tshark do.
    Differs,
}

/// Why a fragment's datagram is not reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragDrop {
    /// IPv6 fragments that overlap (other than exact duplicates): RFC 5722 §4 has the whole
    /// datagram discarded, this fragment, those before it and those that follow.
    Ipv6Overlap,
    /// The fragment reaches past 65,535 bytes of payload (RFC 791 total length; RFC 8200 §4.5
    /// payload length): no such datagram can exist ("ping of death").
    TooLong,
    /// A last fragment that disagrees with an earlier one about where the datagram ends, or a
    /// fragment past that end.
    BadEnd,
    /// A non-last fragment whose length is not a multiple of 8 (RFC 791, RFC 8200 §4.5).
    Unaligned,
    /// The datagram has more fragments than reassembly keeps for one datagram.
    TooManyFragments,
}

impl FragDrop {
    /// Words for output.
    pub fn words(self) -> &'static str {
        match self {
            FragDrop::Ipv6Overlap => "overlapping IPv6 fragments: datagram discarded (RFC 5722)",
            FragDrop::TooLong => "fragment ends past 65,535 bytes: datagram discarded",
            FragDrop::BadEnd => "fragment disagrees about the datagram's end: datagram discarded",
            FragDrop::Unaligned => "non-last fragment not a multiple of 8 bytes: datagram discarded",
            FragDrop::TooManyFragments => "too many fragments for one datagram: datagram discarded",
        }
    }
}

/// A datagram reassembled from fragments, carried by the fragment that completed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Frame numbers of its fragments in offset order (each once: the copy that was kept).
    pub frames: Vec<u64>,
    /// The datagram's length: the IP header (without IPv6 fragment header) plus the payload.
    pub len: u32,
    /// The IP payload: transport header and data.
    pub bytes: Vec<u8>,
    /// Where the transport payload starts in `bytes`.
    pub payload_at: usize,
}

impl Datagram {
    /// The transport payload.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.payload_at.min(self.bytes.len())..]
    }
}

/// What IP reassembly made of a frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IpReasm {
    /// Not a fragment (or reassembly did not look at it).
    #[default]
    NotFragment,
    /// An IPv6 "atomic fragment" (RFC 6946): a fragment header with offset 0 and no more
    /// fragments. It is processed as a whole packet, never kept for reassembly.
    Atomic,
    /// A fragment held for reassembly (its transport layer is not decoded: it is the
    /// datagram's, shown on the frame that completes it).
    Held(FragNote),
    /// The fragment that completed a datagram: the frame's transport layer is the whole
    /// datagram's.
    Completed(FragNote, Box<Datagram>),
    /// A fragment of a datagram that is not reassembled.
    Dropped(FragNote, FragDrop),
}

impl IpReasm {
    /// The fragment's note, for fragments.
    pub fn note(&self) -> Option<&FragNote> {
        match self {
            IpReasm::Held(n) | IpReasm::Completed(n, _) | IpReasm::Dropped(n, _) => Some(n),
            IpReasm::NotFragment | IpReasm::Atomic => None,
        }
    }

    /// The reassembled datagram, on the completing fragment.
    pub fn datagram(&self) -> Option<&Datagram> {
        match self {
            IpReasm::Completed(_, d) => Some(d),
            _ => None,
        }
    }
}

/// The transport layer of a reassembled datagram of IP protocol `proto`, `v6` for an IPv6 one,
/// decoded from its IP payload `bytes`, and where the transport payload starts. The TCP view's
/// option bytes are left empty (they are read from the datagram, see
/// [`Frame::tcp_opt_bytes`](super::Frame::tcp_opt_bytes)): the view outlives the borrow.
pub fn datagram_transport(proto: u8, v6: bool, bytes: &[u8]) -> (Transport<'static>, usize) {
    match proto {
        6 => match tcp_view(bytes, bytes.len() as u32) {
            Some(tcp) if usize::from(tcp.hdr_len) <= bytes.len() => {
                let hdr = usize::from(tcp.hdr_len);
                (Transport::Tcp(super::Tcp { opt_bytes: &[], ..tcp }), hdr)
            }
            _ => (Transport::Other(proto), 0),
        },
        17 if bytes.len() >= 8 => {
            let be16 = |o: usize| u16::from_be_bytes([bytes[o], bytes[o + 1]]);
            (Transport::Udp(Udp { sport: be16(0), dport: be16(2), len: be16(4) }), 8)
        }
        1 | 58 if bytes.len() >= 8 && (proto == 58) == v6 => (Transport::Icmp(icmp::header(v6, bytes)), 8),
        _ => (Transport::Other(proto), 0),
    }
}
