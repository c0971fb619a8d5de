//! Length-prefixed (`len:N:be[+K]`, `len:N:le`, `tls`), fixed-size (`fixed:N`)
//! and `segment` framers.

use super::{FrameCx, Framer};
use crate::analyze::spec::{FramingSpec, LenCovers, LenSpec};

#[derive(Clone, Copy, Debug)]
enum LenState {
    /// Collecting the header (`have` bytes so far).
    Header,
    /// Counting the rest of the message: fixed extra header + body.
    Rest(u64),
}

/// Length-prefixed messages: `pre` bytes, a `width`-byte length L, `extra`
/// bytes, then L body bytes. `len:N:e+K` has pre 0; `tls` has pre 3, width 2.
pub struct LenFramer {
    spec: FramingSpec,
    pre: u8,
    width: u8,
    big_endian: bool,
    extra: u64,
    /// The length counts the whole message (its header included), not only the body.
    covers: LenCovers,
    /// TLS: check the content type and major version of each record header.
    tls: bool,
    pos: u64,
    state: LenState,
    hdr: [u8; 11],
    have: u8,
}

impl LenFramer {
    /// The `len:N:e[+K]` framer of `l`, its first byte (a length field) at stream offset `start`.
    pub fn new(l: LenSpec, start: u64) -> Self {
        LenFramer {
            spec: FramingSpec::Len(l),
            pre: 0,
            width: l.width,
            big_endian: l.big_endian,
            extra: u64::from(l.extra),
            covers: l.covers,
            tls: false,
            pos: start,
            state: LenState::Header,
            hdr: [0; 11],
            have: 0,
        }
    }

    /// The `tls` framer (5-byte record headers, the length at bytes 3..5), its first byte at
    /// stream offset `start`.
    pub fn tls(start: u64) -> Self {
        LenFramer {
            spec: FramingSpec::Tls,
            pre: 3,
            width: 2,
            big_endian: true,
            extra: 0,
            covers: LenCovers::Body,
            tls: true,
            pos: start,
            state: LenState::Header,
            hdr: [0; 11],
            have: 0,
        }
    }

    fn hdr_len(&self) -> u8 {
        self.pre + self.width
    }

    fn length(&self) -> u64 {
        read_len(&self.hdr[self.pre as usize..(self.pre + self.width) as usize], self.big_endian)
    }
}

/// Reads an unsigned length of `width` bytes.
pub fn read_len(b: &[u8], big_endian: bool) -> u64 {
    let mut v: u64 = 0;
    if big_endian {
        for &x in b {
            v = (v << 8) | u64::from(x);
        }
    } else {
        for &x in b.iter().rev() {
            v = (v << 8) | u64::from(x);
        }
    }
    v
}

impl Framer for LenFramer {
    fn spec(&self) -> FramingSpec {
        self.spec
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, mut data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        while !data.is_empty() {
            match self.state {
                LenState::Header => {
                    let need = (self.hdr_len() - self.have) as usize;
                    let take = need.min(data.len());
                    for (k, &b) in data[..take].iter().enumerate() {
                        let i = self.have as usize + k;
                        if self.tls && ((i == 0 && !(0x14..=0x18).contains(&b)) || (i == 1 && b != 3)) {
                            return Some(self.pos + k as u64);
                        }
                        self.hdr[i] = b;
                    }
                    self.have += take as u8;
                    self.pos += take as u64;
                    data = &data[take..];
                    if self.have == self.hdr_len() {
                        self.have = 0;
                        let rest = match self.covers {
                            LenCovers::Body => self.extra.saturating_add(self.length()),
                            // A whole-message length shorter than its own header: out of sync.
                            LenCovers::Message => match self.length().checked_sub(u64::from(self.hdr_len())) {
                                Some(rest) if rest >= self.extra => rest,
                                _ => return Some(self.pos),
                            },
                        };
                        if rest == 0 {
                            cx.ends.push(self.pos);
                        } else {
                            self.state = LenState::Rest(rest);
                        }
                    }
                }
                LenState::Rest(r) => {
                    let take = r.min(data.len() as u64);
                    self.pos += take;
                    data = &data[take as usize..];
                    if take == r {
                        cx.ends.push(self.pos);
                        self.state = LenState::Header;
                    } else {
                        self.state = LenState::Rest(r - take);
                    }
                }
            }
        }
        None
    }
    fn skip(&mut self, len: u64, cx: &mut FrameCx<'_>) -> bool {
        if len == 0 {
            return true;
        }
        match self.state {
            LenState::Rest(r) if len <= r => {
                self.pos += len;
                if len == r {
                    cx.ends.push(self.pos);
                    self.state = LenState::Header;
                } else {
                    self.state = LenState::Rest(r - len);
                }
                true
            }
            _ => {
                self.pos += len;
                false
            }
        }
    }
    fn finish(&mut self, _cx: &mut FrameCx<'_>) {}
    fn held(&self) -> usize {
        self.have as usize
    }
}

/// `fixed:N`: a message ends every N bytes.
pub struct FixedFramer {
    n: u64,
    pos: u64,
    /// Bytes still missing in the current message (1..=n).
    left: u64,
}

impl FixedFramer {
    /// Messages of `n` bytes (0 is taken as 1) from stream offset `start`.
    pub fn new(n: u32, start: u64) -> Self {
        let n = u64::from(n.max(1));
        FixedFramer { n, pos: start, left: n }
    }
    fn advance(&mut self, mut len: u64, cx: &mut FrameCx<'_>) {
        while len >= self.left {
            len -= self.left;
            self.pos += self.left;
            cx.ends.push(self.pos);
            self.left = self.n;
        }
        self.pos += len;
        self.left -= len;
    }
}

/// Most whole `fixed:N` messages a gap may hold and keep sync.
const MAX_GAP_MESSAGES: u64 = 1024;

impl Framer for FixedFramer {
    fn spec(&self) -> FramingSpec {
        FramingSpec::Fixed(self.n as u32)
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        self.advance(data.len() as u64, cx);
        None
    }
    fn skip(&mut self, len: u64, cx: &mut FrameCx<'_>) -> bool {
        // A gap holding more than MAX_GAP_MESSAGES whole messages would make as many records
        // of bytes nobody saw (a 2 GB hole at fixed:7 is 300 M of them: found by fuzzing):
        // lose sync instead, the rest of the direction is framed as `segment`.
        if len / self.n > MAX_GAP_MESSAGES {
            self.pos += len;
            return false;
        }
        self.advance(len, cx);
        true
    }
    fn finish(&mut self, _cx: &mut FrameCx<'_>) {}
}

/// `segment` (and `datagram`): every chunk fed is one message. This framer alone
/// depends on the chunking, by definition.
pub struct SegmentFramer {
    spec: FramingSpec,
    pos: u64,
}

impl SegmentFramer {
    /// A framer reporting `spec` (`segment` or `datagram`) from stream offset `start`.
    pub fn new(spec: FramingSpec, start: u64) -> Self {
        SegmentFramer { spec, pos: start }
    }
}

impl Framer for SegmentFramer {
    fn spec(&self) -> FramingSpec {
        self.spec
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        if !data.is_empty() {
            self.pos += data.len() as u64;
            cx.ends.push(self.pos);
        }
        None
    }
    fn skip(&mut self, len: u64, cx: &mut FrameCx<'_>) -> bool {
        if len > 0 {
            self.pos += len;
            cx.ends.push(self.pos);
        }
        true
    }
    fn finish(&mut self, _cx: &mut FrameCx<'_>) {}
}

#[cfg(test)]
mod tests {
    use crate::analyze::framing::{frame_all, make_framer, FrameCx, PairState};
    use crate::analyze::spec::FramingSpec;
    use crate::track::Dir;

    fn spec(s: &str) -> FramingSpec {
        FramingSpec::parse(s).unwrap()
    }

    #[test]
    fn len_be_le_extra() {
        let (e, _) = frame_all(spec("len:4:be"), &[b"\0\0\0\x02hi\0\0\0\0\0\0\0\x01x"]);
        assert_eq!(e, vec![6, 10, 15]);
        let (e, _) = frame_all(spec("len:2:le"), &[b"\x03\0abc\x01", b"\0z"]);
        assert_eq!(e, vec![5, 8]);
        let (e, _) = frame_all(spec("len:4:be+2"), &[b"\0\0\0\x01TTx\0\0\0\0TT"]);
        assert_eq!(e, vec![7, 13]);
        let (e, _) = frame_all(spec("len:1:be"), &[b"\x01a\x00\x02bc"]);
        assert_eq!(e, vec![2, 3, 6]);
        let (e, _) = frame_all(spec("len:8:le"), &[b"\x01\0\0\0\0\0\0\0a"]);
        assert_eq!(e, vec![9]);
    }

    #[test]
    fn huge_length_only_counts() {
        let mut f = make_framer(spec("len:8:be"), 0);
        let mut ends = Vec::new();
        let mut pair = PairState::default();
        let mut cx = FrameCx { ends: &mut ends, pair: &mut pair, dir: Dir::C2S };
        assert!(f.feed(&[0xff; 8], &mut cx).is_none());
        assert!(f.feed(&[0u8; 100_000], &mut cx).is_none());
        assert!(f.skip(1 << 40, &mut cx));
        assert!(ends.is_empty());
        assert!(f.held() == 0);
    }

    #[test]
    fn len_gap_in_body_keeps_sync_gap_in_header_loses_it() {
        let mut f = make_framer(spec("len:2:be"), 0);
        let mut ends = Vec::new();
        let mut pair = PairState::default();
        let mut cx = FrameCx { ends: &mut ends, pair: &mut pair, dir: Dir::C2S };
        f.feed(b"\0\x0aab", &mut cx);
        assert!(f.skip(8, &mut cx));
        assert_eq!(cx.ends, &vec![12]);
        f.feed(b"\0", &mut cx);
        assert!(!f.skip(3, &mut cx));
    }

    #[test]
    fn tls_records_and_desync() {
        let (e, d) = frame_all(FramingSpec::Tls, &[b"\x16\x03\x01\0\x02ab\x17\x03\x03\0\x01z"]);
        assert_eq!((e, d), (vec![7, 13], None));
        let (e, d) = frame_all(FramingSpec::Tls, &[b"\x16\x03\x01\0\x01aGET /"]);
        assert_eq!((e, d), (vec![6], Some(6)));
    }

    #[test]
    fn fixed_and_segment() {
        let (e, _) = frame_all(spec("fixed:3"), &[b"ab", b"cdefg", b"h"]);
        assert_eq!(e, vec![3, 6]);
        let (e, _) = frame_all(FramingSpec::Segment, &[b"ab", b"", b"cde"]);
        assert_eq!(e, vec![2, 5]);
    }
}
