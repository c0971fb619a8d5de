//! HTTP/1.x framer: requests and responses in one direction.
//!
//! A message is the header block (up to the empty line) plus its body:
//! `Content-Length` bytes, or a chunked body up to and including the trailers,
//! or (responses only) everything up to the close. Requests without a length have
//! no body. Responses to HEAD, 1xx, 204 and 304 have no body. A 101 response or
//! a 2xx answer to CONNECT ends HTTP on the stream (the framer reports a loss of
//! sync after it, and the caller frames the rest as `segment`).
//!
//! Request/response pairing: the request framer of one direction records each
//! request's method in the connection's [`PairState`](super::PairState); the
//! response framer of the other direction takes them in order. When the request
//! was not framed before its response (not captured, or framed later because of
//! out-of-order buffering), the response is assumed to answer a plain request.

use super::{FrameCx, Framer, REQ_CONNECT, REQ_HEAD, REQ_PLAIN};
use crate::analyze::spec::FramingSpec;

/// Largest header block (or chunk-size / trailer line) accepted.
pub const MAX_HEAD: usize = 64 * 1024;

const METHODS: [&[u8]; 10] = [b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"CONNECT ", b"OPTIONS ", b"TRACE ", b"PATCH ", b"PRI "];

/// True when `b` starts an HTTP/1 request or response (`GET `, ..., `HTTP/1.`).
/// `None`: too short to tell.
pub fn starts_http(b: &[u8]) -> Option<bool> {
    let mut maybe = false;
    for p in METHODS.iter().copied().chain(std::iter::once(&b"HTTP/1."[..])) {
        if b.len() >= p.len() {
            if b.starts_with(p) {
                return Some(true);
            }
        } else if p.starts_with(b) {
            maybe = true;
        }
    }
    if maybe {
        None
    } else {
        Some(false)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Collecting the header block into `buf`.
    Head,
    /// Counting a Content-Length body.
    Body(u64),
    /// Collecting a chunk-size line into `buf`.
    ChunkLine,
    /// Counting chunk data.
    ChunkData(u64),
    /// Skipping the CRLF after chunk data (until `\n`).
    ChunkEnd,
    /// Collecting trailer lines until an empty one.
    Trailers,
    /// A response without length: runs to the close.
    ToClose,
    /// HTTP ended on this stream (101, CONNECT): sync is lost at the next byte.
    Over,
}

/// The `http` framer: one message per request or response (see the module documentation).
pub struct HttpFramer {
    pos: u64,
    st: St,
    buf: Vec<u8>,
    /// Head: leading CR/LF bytes in `buf`, and whether the start line was recognised.
    lead: usize,
    validated: bool,
}

struct Head {
    request: bool,
    kind: u8,
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

fn parse_head(block: &[u8]) -> Option<Head> {
    let mut lines = block.split(|&b| b == b'\n').map(trim).skip_while(|l| l.is_empty());
    let first = lines.next()?;
    let mut h = Head { request: true, kind: REQ_PLAIN, status: 0, content_length: None, chunked: false };
    if first.starts_with(b"HTTP/1.") {
        h.request = false;
        let code = first.split(|&b| b == b' ').nth(1)?;
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return None;
        }
        h.status = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    } else {
        let mut parts = first.split(|&b| b == b' ');
        let method = parts.next()?;
        let _target = parts.next()?;
        let version = parts.next()?;
        if method.is_empty() || !method.iter().all(u8::is_ascii_uppercase) || !version.starts_with(b"HTTP/") {
            return None;
        }
        h.kind = match method {
            b"HEAD" => REQ_HEAD,
            b"CONNECT" => REQ_CONNECT,
            _ => REQ_PLAIN,
        };
    }
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            if h.content_length.is_none() && !value.is_empty() && value.len() <= 19 && value.iter().all(u8::is_ascii_digit) {
                h.content_length = Some(value.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')));
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().map(trim).unwrap_or(b"");
            h.chunked = last.eq_ignore_ascii_case(b"chunked");
        }
    }
    Some(h)
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let line = trim(line);
    let end = line.iter().position(|&b| b == b';' || b == b' ' || b == b'\t').unwrap_or(line.len());
    let hex = &line[..end];
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    let mut v = 0u64;
    for &c in hex {
        v = (v << 4) | u64::from((c as char).to_digit(16)?);
    }
    Some(v)
}

impl HttpFramer {
    /// A framer whose first byte is at stream offset `start`, expecting a start line there.
    pub fn new(start: u64) -> Self {
        HttpFramer { pos: start, st: St::Head, buf: Vec::new(), lead: 0, validated: false }
    }

    fn end_message(&mut self, cx: &mut FrameCx<'_>) {
        cx.ends.push(self.pos);
        self.buf.clear();
        if self.buf.capacity() > 4096 {
            self.buf.shrink_to(4096);
        }
        self.st = St::Head;
        self.lead = 0;
        self.validated = false;
    }

    /// The header block is complete (in `buf`): decides the body.
    fn head_done(&mut self, cx: &mut FrameCx<'_>) -> bool {
        let Some(h) = parse_head(&self.buf) else {
            return false;
        };
        if h.request {
            cx.pair.push_request(cx.dir, h.kind);
            if h.chunked {
                self.buf.clear();
                self.st = St::ChunkLine;
            } else {
                match h.content_length {
                    Some(n) if n > 0 => {
                        self.buf.clear();
                        self.st = St::Body(n);
                    }
                    _ => self.end_message(cx),
                }
            }
            return true;
        }
        if (100..200).contains(&h.status) {
            self.end_message(cx);
            if h.status == 101 {
                self.st = St::Over;
            }
            return true;
        }
        let req = cx.pair.pop_request(cx.dir.rev()).unwrap_or(REQ_PLAIN);
        if req == REQ_CONNECT && (200..300).contains(&h.status) {
            self.end_message(cx);
            self.st = St::Over;
            return true;
        }
        if req == REQ_HEAD || h.status == 204 || h.status == 304 {
            self.end_message(cx);
        } else if h.chunked {
            self.buf.clear();
            self.st = St::ChunkLine;
        } else if let Some(n) = h.content_length {
            if n == 0 {
                self.end_message(cx);
            } else {
                self.buf.clear();
                self.st = St::Body(n);
            }
        } else {
            self.buf.clear();
            self.st = St::ToClose;
        }
        true
    }
}

impl Framer for HttpFramer {
    fn spec(&self) -> FramingSpec {
        FramingSpec::Http
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, mut data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        while !data.is_empty() {
            match self.st {
                St::Head | St::ChunkLine | St::Trailers => {
                    // Before the request/response line is recognised: byte by byte,
                    // so that the position of a mismatch does not depend on chunking.
                    if self.st == St::Head && !self.validated {
                        let mut k = 0;
                        while k < data.len() && !self.validated {
                            let b = data[k];
                            k += 1;
                            self.pos += 1;
                            if self.buf.len() == self.lead && (b == b'\r' || b == b'\n') {
                                // Empty lines before a request line are tolerated (RFC 9112 2.2).
                                if self.lead < 64 {
                                    self.buf.push(b);
                                    self.lead += 1;
                                }
                                continue;
                            }
                            self.buf.push(b);
                            match starts_http(&self.buf[self.lead..]) {
                                Some(true) => self.validated = true,
                                Some(false) => return Some(self.pos - 1),
                                None => {}
                            }
                        }
                        data = &data[k..];
                        continue;
                    }
                    let (line, done) = match memchr::memchr(b'\n', data) {
                        Some(i) => (&data[..=i], true),
                        None => (data, false),
                    };
                    if self.buf.len() + line.len() > MAX_HEAD {
                        return Some(self.pos);
                    }
                    self.buf.extend_from_slice(line);
                    self.pos += line.len() as u64;
                    data = &data[line.len()..];
                    if !done {
                        continue;
                    }
                    match self.st {
                        St::Head => {
                            if block_complete(&self.buf) && !self.head_done(cx) {
                                return Some(self.pos);
                            }
                        }
                        St::ChunkLine => match parse_chunk_size(&self.buf) {
                            Some(0) => {
                                self.buf.clear();
                                self.st = St::Trailers;
                            }
                            Some(n) => {
                                self.buf.clear();
                                self.st = St::ChunkData(n);
                            }
                            None => return Some(self.pos),
                        },
                        _ => {
                            // Trailers: an empty line ends the message.
                            if trim(&self.buf).is_empty() {
                                self.end_message(cx);
                            } else {
                                self.buf.clear();
                            }
                        }
                    }
                }
                St::Body(r) | St::ChunkData(r) => {
                    let take = r.min(data.len() as u64);
                    self.pos += take;
                    data = &data[take as usize..];
                    if take < r {
                        self.st = match self.st {
                            St::Body(_) => St::Body(r - take),
                            _ => St::ChunkData(r - take),
                        };
                    } else if matches!(self.st, St::Body(_)) {
                        self.end_message(cx);
                    } else {
                        self.st = St::ChunkEnd;
                    }
                }
                St::ChunkEnd => match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        self.pos += i as u64 + 1;
                        data = &data[i + 1..];
                        self.buf.clear();
                        self.st = St::ChunkLine;
                    }
                    None => {
                        if data.iter().any(|&b| b != b'\r') {
                            return Some(self.pos);
                        }
                        self.pos += data.len() as u64;
                        data = &[];
                    }
                },
                St::ToClose => {
                    self.pos += data.len() as u64;
                    data = &[];
                }
                St::Over => return Some(self.pos),
            }
        }
        None
    }
    fn skip(&mut self, len: u64, cx: &mut FrameCx<'_>) -> bool {
        if len == 0 {
            return true;
        }
        self.pos += len;
        match self.st {
            St::Body(r) if len <= r => {
                if len == r {
                    self.end_message(cx);
                } else {
                    self.st = St::Body(r - len);
                }
                true
            }
            St::ChunkData(r) if len <= r => {
                self.st = if len == r { St::ChunkEnd } else { St::ChunkData(r - len) };
                true
            }
            St::ToClose => true,
            _ => false,
        }
    }
    fn finish(&mut self, cx: &mut FrameCx<'_>) {
        if self.st == St::ToClose {
            self.end_message(cx);
        }
    }
    fn held(&self) -> usize {
        self.buf.len()
    }
}

/// The header block in `buf` ends with an empty line (after a non-empty one).
fn block_complete(buf: &[u8]) -> bool {
    let lead = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let b = &buf[lead..];
    b.ends_with(b"\n\r\n") || b.ends_with(b"\n\n")
}

#[cfg(test)]
mod tests {
    use crate::analyze::framing::{frame_all, make_framer, FrameCx, PairState};
    use crate::analyze::spec::FramingSpec;
    use crate::track::Dir;

    const REQS: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n\r\n";

    #[test]
    fn pipelined_requests() {
        let (e, d) = frame_all(FramingSpec::Http, &[REQS]);
        assert_eq!(d, None);
        assert_eq!(e, vec![28, 70, 89]);
    }

    #[test]
    fn responses_chunked_and_to_close() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest of it";
        let (e, d) = frame_all(FramingSpec::Http, &[r]);
        assert_eq!(d, None);
        let first = r.windows(4).position(|w| w == b"X-T:").unwrap() + 10;
        assert_eq!(e, vec![first as u64, first as u64 + 27, r.len() as u64]);
    }

    #[test]
    fn head_response_has_no_body() {
        let mut pair = PairState::default();
        let mut ends = Vec::new();
        let mut req = make_framer(FramingSpec::Http, 0);
        let mut cx = FrameCx { ends: &mut ends, pair: &mut pair, dir: Dir::C2S };
        req.feed(b"HEAD / HTTP/1.1\r\n\r\n", &mut cx);
        let mut resp = make_framer(FramingSpec::Http, 0);
        let mut ends2 = Vec::new();
        let mut cx = FrameCx { ends: &mut ends2, pair: &mut pair, dir: Dir::S2C };
        resp.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", &mut cx);
        assert_eq!(ends2, vec![39, 78]);
    }

    #[test]
    fn not_http_desyncs() {
        let (e, d) = frame_all(FramingSpec::Http, &[b"GET / HTTP/1.1\r\n\r\n\x16\x03\x01"]);
        assert_eq!((e, d), (vec![18], Some(18)));
        let (_, d) = frame_all(FramingSpec::Http, &[b"GE", b"X"]);
        assert_eq!(d, Some(2));
    }
}
