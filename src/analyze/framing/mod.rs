//! Framers: small state machines that are fed a direction's reassembled bytes in
//! arbitrary chunks and report where messages end.
//!
//! Every framer here is chunking-independent: the end offsets it reports depend
//! only on the bytes, never on how they were cut (checked by the property tests).
//! No framer allocates in proportion to a length field: lengths are only counted.
//! What a framer keeps is bounded: a partial length header (at most 11 bytes), a
//! JSON header (at most [`jsonhdr::MAX_HEADER`]), an HTTP header block or chunk
//! line (at most [`http::MAX_HEAD`]).

pub mod detect;
pub mod http;
pub mod jsonhdr;
pub mod len;
pub mod text;

use std::collections::VecDeque;

use super::spec::FramingSpec;
use crate::track::Dir;

/// What the two directions of one connection share: the HTTP requests seen in each
/// direction (HEAD or CONNECT matter to the response framer of the other direction).
#[derive(Debug, Default)]
pub struct PairState {
    reqs: [VecDeque<u8>; 2],
}

/// Request kinds queued in [`PairState`]: any method but HEAD and CONNECT (its response may
/// have a body).
pub const REQ_PLAIN: u8 = 0;
/// A HEAD request: its response has no body (RFC 9110 9.3.2).
pub const REQ_HEAD: u8 = 1;
/// A CONNECT request: a 2xx response ends HTTP on the connection (RFC 9110 9.3.6).
pub const REQ_CONNECT: u8 = 2;

/// At most this many unanswered requests are remembered per direction.
const MAX_QUEUED_REQS: usize = 4096;

impl PairState {
    /// A request of kind `kind` was framed in direction `dir`.
    pub fn push_request(&mut self, dir: Dir, kind: u8) {
        let q = &mut self.reqs[dir.idx()];
        if q.len() >= MAX_QUEUED_REQS {
            q.pop_front();
        }
        q.push_back(kind);
    }
    /// The oldest unanswered request sent in direction `dir`, if one was seen.
    pub fn pop_request(&mut self, dir: Dir) -> Option<u8> {
        self.reqs[dir.idx()].pop_front()
    }
}

/// Context of one framer call.
pub struct FrameCx<'a> {
    /// Message end offsets found (absolute stream offsets, strictly increasing).
    pub ends: &'a mut Vec<u64>,
    /// State shared with the reverse direction.
    pub pair: &'a mut PairState,
    /// This framer's direction.
    pub dir: Dir,
}

/// A message framer. Offsets are absolute positions in the direction's stream;
/// a framer made by [`make_framer`] with `start` expects its first byte at `start`.
pub trait Framer: Send {
    /// The framing this framer implements.
    fn spec(&self) -> FramingSpec;
    /// Offset of the next byte to feed.
    fn pos(&self) -> u64;
    /// Feeds the next bytes; pushes the end offset of every message that ends in
    /// them to `cx.ends`. Returns `Some(x)` when the bytes from offset `x` (within
    /// this chunk) cannot be framed (not this protocol after all, or an oversized
    /// header); the framer is then unusable and the caller falls back to `segment`.
    fn feed(&mut self, data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64>;
    /// `len` bytes of unknown content follow (a gap). Returns true when the framer
    /// still knows where messages end afterwards (the gap fell inside a body of
    /// known length, or the framing does not depend on content); message ends that
    /// fall inside the gap are pushed. False: sync lost, fall back to `segment`.
    fn skip(&mut self, len: u64, cx: &mut FrameCx<'_>) -> bool;
    /// The stream ended: pushes the end of a message that ends at the close
    /// (an HTTP response without length). An open message is then incomplete.
    fn finish(&mut self, cx: &mut FrameCx<'_>);
    /// Bytes the framer holds (partial headers).
    fn held(&self) -> usize {
        0
    }
}

/// Builds the framer for `spec`, expecting its first byte at stream offset `start`.
pub fn make_framer(spec: FramingSpec, start: u64) -> Box<dyn Framer> {
    match spec {
        FramingSpec::Lines => Box::new(text::LineFramer::new(false, start)),
        FramingSpec::Crlf => Box::new(text::LineFramer::new(true, start)),
        FramingSpec::Len(l) => Box::new(len::LenFramer::new(l, start)),
        FramingSpec::Tls => Box::new(len::LenFramer::tls(start)),
        FramingSpec::Fixed(n) => Box::new(len::FixedFramer::new(n, start)),
        FramingSpec::JsonHdr(j) => Box::new(jsonhdr::JsonHdrFramer::new(j, start)),
        FramingSpec::Http => Box::new(http::HttpFramer::new(start)),
        FramingSpec::Segment | FramingSpec::Datagram => Box::new(len::SegmentFramer::new(spec, start)),
    }
}

/// Frames `data` in one piece with a fresh framer and returns the message ends
/// (then the end pushed by `finish`). For tests and tools.
pub fn frame_all(spec: FramingSpec, chunks: &[&[u8]]) -> (Vec<u64>, Option<u64>) {
    let mut f = make_framer(spec, 0);
    let mut ends = Vec::new();
    let mut pair = PairState::default();
    let mut cx = FrameCx { ends: &mut ends, pair: &mut pair, dir: Dir::C2S };
    let mut desync = None;
    for c in chunks {
        if let Some(x) = f.feed(c, &mut cx) {
            desync = Some(x);
            break;
        }
    }
    if desync.is_none() {
        f.finish(&mut cx);
    }
    (ends, desync)
}
