//! IP reassembly (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for IPv6): fragments are kept per
//! datagram, keyed by (source, destination, identification, protocol), until the datagram is
//! whole; the fragment that completes it then carries the whole datagram
//! ([`IpReasm::Completed`]) and its transport layer is the datagram's, so tracking and seams see
//! it as one packet.
//!
//! Rules:
//! * **first copy wins** (IPv4): bytes a later fragment brings for a range already held are
//!   ignored, and the fragment is flagged ([`Overlap`]): differing bytes are a possible evasion
//!   (RFC 1858 §4, Ptacek & Newsham 1998), as receivers differ in which copy they keep;
//! * **IPv6 overlaps** discard the datagram (RFC 5722 §4): every fragment of it, including those
//!   that follow, says so. An exact duplicate (same range, same bytes) is not an overlap, as in
//!   Linux;
//! * **atomic fragments** (RFC 6946: an IPv6 fragment header with offset 0 and M clear) are
//!   whole packets and are never held;
//! * **tiny fragments** (RFC 1858 §3.1: a first fragment too short for the transport header's
//!   ports, or TCP's flags) are named;
//! * a datagram that is not whole [`DefragConfig::timeout_ns`] of capture time after its first
//!   fragment is given up (RFC 791 suggests 15 s, RFC 8200 60 s; Linux's `ipfrag_time` is 30 s);
//! * memory is bounded: at most [`DefragConfig::max_datagrams`] datagrams in progress and
//!   [`DefragConfig::max_bytes`] bytes held; past either the oldest datagram is evicted (counted
//!   in [`DefragCounts::evicted`]).

use std::collections::VecDeque;
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::decode::frag::datagram_transport;
use crate::decode::{Datagram, FragDrop, FragNote, Frame, IpReasm, Net, Overlap, Transport};

/// The limits of reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// Datagrams in progress at once.
    pub max_datagrams: usize,
    /// Bytes held for datagrams in progress (payload buffers and fragment lists).
    pub max_bytes: usize,
    /// Capture time after a datagram's first fragment when it is given up, in nanoseconds.
    pub timeout_ns: i64,
}

/// Fragments one datagram may have (a 65,535-byte datagram in 8-byte fragments has 8,192).
pub const MAX_FRAGMENTS: usize = 8192;

impl Default for DefragConfig {
    /// 4,096 datagrams, 8 MiB, 30 s.
    fn default() -> Self {
        DefragConfig { max_datagrams: 4096, max_bytes: 8 << 20, timeout_ns: 30_000_000_000 }
    }
}

/// What reassembly did over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragCounts {
    /// Fragments seen (atomic fragments not counted).
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Datagrams given up after the timeout.
    pub timed_out: u64,
    /// Datagrams evicted by the caps.
    pub evicted: u64,
    /// Datagrams discarded ([`FragDrop`]).
    pub dropped: u64,
    /// Datagrams still incomplete at the end of input.
    pub incomplete: u64,
    /// Fragments that overlapped held bytes.
    pub overlaps: u64,
}

impl DefragCounts {
    /// Adds `other` (another thread's counts).
    pub fn add(&mut self, other: &DefragCounts) {
        self.fragments += other.fragments;
        self.reassembled += other.reassembled;
        self.timed_out += other.timed_out;
        self.evicted += other.evicted;
        self.dropped += other.dropped;
        self.incomplete += other.incomplete;
        self.overlaps += other.overlaps;
    }
}

/// A datagram's identity (RFC 791 §3.2, RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

/// A datagram in progress.
struct Pending {
    /// Its place in the age queue.
    seq: u64,
    first_ts: i64,
    /// Payload bytes by offset (ranges not in `have` are zero).
    data: Vec<u8>,
    /// Ranges held, sorted, disjoint, not touching.
    have: Vec<(u32, u32)>,
    /// (offset, frame) of each fragment kept.
    frames: Vec<(u32, u64)>,
    /// Fragments seen.
    seen: u16,
    /// The datagram's payload length, once the last fragment came.
    end: Option<u32>,
    /// IP header length of the first fragment (without an IPv6 fragment header).
    hdr_len: u32,
    /// Discarded: later fragments say why, until the datagram times out.
    dead: Option<FragDrop>,
}

impl Pending {
    /// Bytes this datagram holds, as counted against [`DefragConfig::max_bytes`].
    fn cost(&self) -> usize {
        self.data.capacity() + self.have.capacity() * 8 + self.frames.capacity() * 16 + 64
    }

    fn complete(&self) -> bool {
        self.dead.is_none() && self.end.is_some_and(|end| self.have.len() == 1 && self.have[0] == (0, end))
    }
}

/// The reassembly state of a run.
pub struct Defrag {
    cfg: DefragConfig,
    pending: FxHashMap<Key, Pending>,
    /// (seq, key) in order of first fragment; entries whose seq no longer matches are stale.
    ages: VecDeque<(u64, Key)>,
    next_seq: u64,
    held: usize,
    counts: DefragCounts,
}

impl Defrag {
    /// Empty, with these limits.
    pub fn new(cfg: DefragConfig) -> Self {
        Defrag { cfg, pending: FxHashMap::default(), ages: VecDeque::new(), next_seq: 0, held: 0, counts: DefragCounts::default() }
    }

    /// The counts so far (datagrams in progress counted as incomplete).
    pub fn counts(&self) -> DefragCounts {
        DefragCounts { incomplete: self.pending.values().filter(|p| p.dead.is_none()).count() as u64, ..self.counts }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Datagrams in progress now.
    pub fn in_progress(&self) -> usize {
        self.pending.len()
    }

    /// Frame `n`, captured at `ts`: a fragment is held, or completes its datagram (the frame's
    /// transport layer becomes the datagram's), or is dropped; [`Frame::reasm`] says which.
    /// Other frames are left alone (an atomic fragment is marked [`IpReasm::Atomic`]).
    pub fn frame(&mut self, n: u64, ts: i64, frame: &mut Frame<'_>) {
        let reasm = self.verdict(n, ts, frame);
        // a frame is decoded as no fragment: nothing to change then
        if !matches!(reasm, IpReasm::NotFragment) {
            apply(frame, reasm);
        }
    }

    /// What [`frame`](Self::frame) makes of frame `n`, without changing the frame.
    pub fn verdict(&mut self, n: u64, ts: i64, frame: &Frame<'_>) -> IpReasm {
        let Net::Ip(ip) = &frame.net else { return IpReasm::NotFragment };
        // the common case first, before the header is copied: no fragment
        let Some((offset, more)) = ip.frag else {
            if ip.version == 6 && ip.exts().contains(&44) {
                return IpReasm::Atomic;
            }
            return IpReasm::NotFragment;
        };
        let ip = *ip;
        self.expire(ts);
        self.counts.fragments += 1;
        let key = Key { src: ip.src, dst: ip.dst, id: ip.id.unwrap_or(0), proto: ip.proto };
        let bytes = frame.ip_payload;
        // The fragment's length is the IP header's, even when the snap length cut its bytes.
        let len = ip.payload_len;
        let tiny = offset == 0 && more && (len as usize) < min_transport(ip.proto);
        if !self.pending.contains_key(&key) {
            self.make_room(true);
            let seq = self.next_seq;
            self.next_seq += 1;
            self.ages.push_back((seq, key));
            let p = Pending {
                seq,
                first_ts: ts,
                data: Vec::new(),
                have: Vec::new(),
                frames: Vec::new(),
                seen: 0,
                end: None,
                hdr_len: 0,
                dead: None,
            };
            self.held += p.cost();
            self.pending.insert(key, p);
        }
        let p = self.pending.get_mut(&key).expect("inserted");
        let before = p.cost();
        p.seen = p.seen.saturating_add(1);
        let mut note = FragNote { index: p.seen, overlap: None, tiny };
        let outcome = add(p, &ip, &Piece { offset, more, len, bytes, n }, &mut note);
        self.held = self.held - before + p.cost();
        if note.overlap.is_some() {
            self.counts.overlaps += 1;
        }
        let reasm = match outcome {
            Err(why) => {
                if p.dead.is_none() {
                    self.counts.dropped += 1;
                    self.held -= p.cost();
                    p.data = Vec::new();
                    p.have = Vec::new();
                    p.frames = Vec::new();
                    p.dead = Some(why);
                    self.held += p.cost();
                }
                IpReasm::Dropped(note, why)
            }
            Ok(()) if p.complete() => {
                let p = self.pending.remove(&key).expect("present");
                self.held -= p.cost();
                self.counts.reassembled += 1;
                let mut frames = p.frames;
                frames.sort_unstable();
                let mut bytes = p.data;
                bytes.truncate(p.end.unwrap_or(0) as usize);
                let len = p.hdr_len + bytes.len() as u32;
                let datagram = Datagram { frames: frames.into_iter().map(|(_, n)| n).collect(), len, bytes, payload_at: 0 };
                IpReasm::Completed(note, Box::new(datagram))
            }
            Ok(()) => IpReasm::Held(note),
        };
        self.make_room(false);
        reasm
    }

    /// Give up datagrams whose first fragment is older than the timeout at `ts`.
    fn expire(&mut self, ts: i64) {
        while let Some(&(seq, key)) = self.ages.front() {
            match self.pending.get(&key) {
                Some(p) if p.seq == seq => {
                    if ts.saturating_sub(p.first_ts) <= self.cfg.timeout_ns {
                        return;
                    }
                    let p = self.pending.remove(&key).expect("present");
                    self.held -= p.cost();
                    if p.dead.is_none() {
                        self.counts.timed_out += 1;
                    }
                }
                _ => {}
            }
            self.ages.pop_front();
        }
    }

    /// Evict the oldest datagrams while over a cap (`new`: leaving room for one more datagram).
    fn make_room(&mut self, new: bool) {
        let max = self.cfg.max_datagrams.max(1);
        while self.pending.len() + usize::from(new) > max || self.held > self.cfg.max_bytes {
            let Some((seq, key)) = self.ages.pop_front() else { return };
            if self.pending.get(&key).is_some_and(|p| p.seq == seq) {
                let p = self.pending.remove(&key).expect("present");
                self.held -= p.cost();
                if p.dead.is_none() {
                    self.counts.evicted += 1;
                }
            }
        }
        // Stale entries of completed datagrams are dropped as they reach the front; bound them
        // too, so a stream of datagrams that all complete keeps the queue short.
        if self.ages.len() > 2 * self.cfg.max_datagrams.max(1) + 16 {
            let pending = &self.pending;
            self.ages.retain(|(seq, key)| pending.get(key).is_some_and(|p| p.seq == *seq));
        }
    }
}

/// Gives frame the reassembly `reasm` decided for it ([`Defrag::verdict`], maybe on another
/// thread): a fragment's transport layer is not decoded (it is the datagram's), and on the
/// completing fragment it is the whole datagram's.
pub fn apply(frame: &mut Frame<'_>, mut reasm: IpReasm) {
    let Net::Ip(ip) = &frame.net else { return };
    let (proto, v6) = (ip.proto, ip.version == 6);
    match &mut reasm {
        IpReasm::NotFragment | IpReasm::Atomic => {}
        IpReasm::Held(_) | IpReasm::Dropped(..) => {
            frame.transport = Transport::Other(proto);
            frame.payload = frame.ip_payload;
        }
        IpReasm::Completed(_, d) => {
            let (transport, payload_at) = datagram_transport(proto, v6, &d.bytes);
            d.payload_at = payload_at;
            frame.transport = transport;
            frame.payload = &[];
        }
    }
    frame.reasm = reasm;
}

/// The shortest first fragment that holds the transport header's ports (and TCP's flags,
/// RFC 1858 §3.1, which asks for 16 bytes of TCP header).
fn min_transport(proto: u8) -> usize {
    match proto {
        6 => 16,
        17 | 132 | 136 => 8,
        1 | 58 => 8,
        _ => 0,
    }
}

/// One fragment's share of its datagram: `len` payload bytes at `offset` (of which `bytes` were
/// captured), from frame `n`; `more`: more fragments follow.
struct Piece<'a> {
    offset: u32,
    more: bool,
    len: u32,
    bytes: &'a [u8],
    n: u64,
}

/// Adds a fragment's bytes to `p`. Updates `note.overlap`; `Err` when the datagram must be
/// discarded.
fn add(p: &mut Pending, ip: &crate::decode::Ip, piece: &Piece<'_>, note: &mut FragNote) -> Result<(), FragDrop> {
    let Piece { offset, more, len, bytes, n } = *piece;
    if let Some(why) = p.dead {
        return Err(why);
    }
    let end = offset + len;
    if end > 65_535 {
        return Err(FragDrop::TooLong);
    }
    if more && !len.is_multiple_of(8) {
        return Err(FragDrop::Unaligned);
    }
    match (p.end, more) {
        (Some(e), false) if e != end => return Err(FragDrop::BadEnd),
        (Some(e), true) if end > e => return Err(FragDrop::BadEnd),
        (None, false) if p.have.last().is_some_and(|&(_, hi)| hi > end) => return Err(FragDrop::BadEnd),
        _ => {}
    }
    if p.frames.len() >= super::defrag::MAX_FRAGMENTS {
        return Err(FragDrop::TooManyFragments);
    }
    // What overlaps, and whether the bytes there are the same.
    let mut overlapped = false;
    let mut differs = false;
    let mut exact = false;
    for &(lo, hi) in &p.have {
        let (a, b) = (lo.max(offset), hi.min(end));
        if a < b {
            overlapped = true;
            exact |= lo <= offset && hi >= end;
            let theirs = p.data.get(a as usize..(b as usize).min(p.data.len())).unwrap_or(&[]);
            let mine = bytes.get((a - offset) as usize..((b - offset) as usize).min(bytes.len())).unwrap_or(&[]);
            let k = theirs.len().min(mine.len());
            differs |= theirs[..k] != mine[..k];
        }
    }
    if overlapped {
        note.overlap = Some(if differs { Overlap::Differs } else { Overlap::Same });
        if ip.version == 6 && (differs || !exact) {
            return Err(FragDrop::Ipv6Overlap);
        }
    }
    if !more {
        p.end = Some(end);
    }
    if offset == 0 {
        // Without the IPv6 fragment header: the reassembled datagram has none.
        p.hdr_len = u32::from(ip.hdr_len) - if ip.version == 6 { 8 } else { 0 };
    }
    if len == 0 {
        return Ok(());
    }
    if p.data.len() < end as usize {
        p.data.resize(end as usize, 0);
    }
    // First copy wins: write only the gaps between the ranges held.
    let mut cur = offset;
    let write = |data: &mut Vec<u8>, from: u32, to: u32| {
        if from < to {
            let src = bytes.get((from - offset) as usize..((to - offset) as usize).min(bytes.len())).unwrap_or(&[]);
            data[from as usize..from as usize + src.len()].copy_from_slice(src);
        }
    };
    for &(lo, hi) in &p.have {
        if hi <= cur {
            continue;
        }
        if lo >= end {
            break;
        }
        write(&mut p.data, cur, lo.min(end));
        cur = cur.max(hi);
        if cur >= end {
            break;
        }
    }
    if cur < end {
        write(&mut p.data, cur, end);
    }
    if !(overlapped && exact) {
        p.frames.push((offset, n));
    }
    // Merge [offset, end) into the ranges.
    let mut merged = (offset, end);
    p.have.retain(|&(lo, hi)| {
        if hi < merged.0 || lo > merged.1 {
            true
        } else {
            merged = (merged.0.min(lo), merged.1.max(hi));
            false
        }
    });
    let at = p.have.partition_point(|&(lo, _)| lo < merged.0);
    p.have.insert(at, merged);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    /// An Ethernet + IPv4 fragment: `payload` at byte `off` of datagram `id` (UDP).
    fn frag4(id: u16, off: usize, more: bool, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        v.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&((off / 8) as u16 | if more { 0x2000 } else { 0 }).to_be_bytes());
        v.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        v.extend_from_slice(payload);
        v
    }

    /// A UDP datagram's IP payload: header and `len` bytes of data.
    fn udp_datagram(len: usize) -> Vec<u8> {
        let mut v = vec![0x9c, 0x40, 0x23, 0x29];
        v.extend_from_slice(&((8 + len) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend((0..len).map(|i| (i % 251) as u8));
        v
    }

    fn feed(d: &mut Defrag, n: u64, ts: i64, raw: &[u8]) -> IpReasm {
        let mut frame = decode(1, raw, raw.len() as u32);
        d.frame(n, ts, &mut frame);
        frame.reasm
    }

    /// Random fragmentations of a datagram, in random order, with duplicates: whatever the
    /// order, the datagram comes out whole and equal to what was sent, once; held memory goes
    /// back to zero.
    #[test]
    fn random_orders_reassemble_the_same_datagram() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        let mut d = Defrag::new(DefragConfig::default());
        for round in 0..300u16 {
            let data = udp_datagram(1 + rnd(6000));
            let mut cuts = vec![0];
            while *cuts.last().unwrap() < data.len() {
                let next = cuts.last().unwrap() + 8 * (1 + rnd(200));
                cuts.push(next.min(data.len()));
            }
            let mut pieces: Vec<Vec<u8>> = cuts.windows(2).map(|w| frag4(round, w[0], w[1] < data.len(), &data[w[0]..w[1]])).collect();
            if pieces.len() == 1 {
                continue;
            }
            let dup = pieces[rnd(pieces.len())].clone();
            pieces.push(dup);
            for i in (1..pieces.len()).rev() {
                pieces.swap(i, rnd(i + 1));
            }
            let mut done = 0;
            for (i, p) in pieces.iter().enumerate() {
                match feed(&mut d, i as u64 + 1, 0, p) {
                    IpReasm::Completed(_, dg) => {
                        done += 1;
                        assert_eq!(dg.bytes, data, "round {round}");
                        assert_eq!(dg.len as usize, 20 + data.len());
                        let mut sorted = dg.frames.clone();
                        sorted.dedup();
                        assert_eq!(sorted.len(), dg.frames.len(), "each frame once");
                    }
                    IpReasm::Held(_) => {}
                    other => panic!("round {round}: {other:?}"),
                }
            }
            // a duplicate after completion starts a new datagram: drop it by timeout
            assert!(done == 1, "round {round}: completed {done} times");
            d.expire(i64::MAX);
            assert_eq!(d.held(), 0, "round {round}");
        }
        assert_eq!(d.counts().dropped, 0);
    }

    /// A million first fragments that never complete: the caps hold, the oldest are evicted
    /// and counted.
    #[test]
    fn flood_of_incomplete_datagrams_stays_within_the_caps() {
        let cfg = DefragConfig { max_datagrams: 1000, max_bytes: 256 << 10, timeout_ns: i64::MAX };
        let mut d = Defrag::new(cfg);
        let mut raw = frag4(0, 0, true, &udp_datagram(1472));
        let mut peak = 0;
        for i in 0..1_000_000u32 {
            raw[18..20].copy_from_slice(&(i as u16).to_be_bytes());
            // vary the source too, so that ids do not repeat
            raw[26..28].copy_from_slice(&((i >> 16) as u16).to_be_bytes());
            feed(&mut d, u64::from(i) + 1, i64::from(i), &raw);
            assert!(d.in_progress() <= cfg.max_datagrams);
            peak = peak.max(d.held());
        }
        assert!(peak <= cfg.max_bytes + 70_000, "peak {peak}");
        let c = d.counts();
        assert_eq!(c.fragments, 1_000_000);
        assert_eq!(c.evicted + c.incomplete, 1_000_000);
        assert!(c.evicted > 990_000, "{c:?}");
        assert!(d.ages.len() <= 2 * cfg.max_datagrams + 16);
    }

    #[test]
    fn timeout_gives_up_in_capture_time() {
        let mut d = Defrag::new(DefragConfig::default());
        let data = udp_datagram(2000);
        assert!(matches!(feed(&mut d, 1, 0, &frag4(7, 0, true, &data[..1480])), IpReasm::Held(_)));
        let late = feed(&mut d, 2, 31_000_000_000, &frag4(7, 1480, false, &data[1480..]));
        assert!(matches!(late, IpReasm::Held(FragNote { index: 1, .. })), "{late:?}");
        assert_eq!((d.counts().timed_out, d.counts().incomplete), (1, 1));
    }

    #[test]
    fn overlaps_first_copy_wins_and_tiny_fragments() {
        let mut d = Defrag::new(DefragConfig::default());
        let data = udp_datagram(40);
        feed(&mut d, 1, 0, &frag4(1, 0, true, &data[..32]));
        let mut evil = data[24..].to_vec();
        evil[0] ^= 0xff;
        match feed(&mut d, 2, 0, &frag4(1, 24, false, &evil)) {
            IpReasm::Completed(note, dg) => {
                assert_eq!(note.overlap, Some(Overlap::Differs));
                assert_eq!(dg.bytes, data, "first copy kept");
            }
            other => panic!("{other:?}"),
        }
        let tiny = feed(&mut d, 3, 0, &frag4(2, 0, true, &data[..0]));
        assert!(matches!(tiny, IpReasm::Held(FragNote { tiny: true, .. })), "{tiny:?}");
        let unaligned = feed(&mut d, 4, 0, &frag4(3, 0, true, &data[..13]));
        assert!(matches!(unaligned, IpReasm::Dropped(_, FragDrop::Unaligned)), "{unaligned:?}");
    }
}
