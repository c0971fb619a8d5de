//! `lines` (`\n`) and `crlf` (`\r\n`) framers.

use super::{FrameCx, Framer};
use crate::analyze::spec::FramingSpec;

/// Ends a message after every `\n` (lines) or every `\n` preceded by `\r` (crlf).
/// A `\r` at the end of one chunk and the `\n` at the start of the next still
/// make a CRLF. After a gap, the previous byte is unknown, so a `\n` right
/// after a gap does not end a crlf line.
pub struct LineFramer {
    crlf: bool,
    pos: u64,
    prev_cr: bool,
}

impl LineFramer {
    /// A `crlf` (true) or `lines` framer whose first byte is at stream offset `start`.
    pub fn new(crlf: bool, start: u64) -> Self {
        LineFramer { crlf, pos: start, prev_cr: false }
    }
}

impl Framer for LineFramer {
    fn spec(&self) -> FramingSpec {
        if self.crlf {
            FramingSpec::Crlf
        } else {
            FramingSpec::Lines
        }
    }
    fn pos(&self) -> u64 {
        self.pos
    }
    fn feed(&mut self, data: &[u8], cx: &mut FrameCx<'_>) -> Option<u64> {
        if data.is_empty() {
            return None;
        }
        for i in memchr::memchr_iter(b'\n', data) {
            let ends = if !self.crlf {
                true
            } else if i == 0 {
                self.prev_cr
            } else {
                data[i - 1] == b'\r'
            };
            if ends {
                cx.ends.push(self.pos + i as u64 + 1);
            }
        }
        self.prev_cr = data[data.len() - 1] == b'\r';
        self.pos += data.len() as u64;
        None
    }
    fn skip(&mut self, len: u64, _cx: &mut FrameCx<'_>) -> bool {
        if len > 0 {
            self.prev_cr = false;
            self.pos += len;
        }
        true
    }
    fn finish(&mut self, _cx: &mut FrameCx<'_>) {}
}

#[cfg(test)]
mod tests {
    use crate::analyze::framing::frame_all;
    use crate::analyze::spec::FramingSpec;

    #[test]
    fn lines_and_crlf() {
        let (e, _) = frame_all(FramingSpec::Lines, &[b"ab\ncd\n\nx"]);
        assert_eq!(e, vec![3, 6, 7]);
        let (e, _) = frame_all(FramingSpec::Crlf, &[b"ab\r", b"\ncd\nef\r\n"]);
        assert_eq!(e, vec![4, 11]);
        let (e, _) = frame_all(FramingSpec::Crlf, &[b"\n\r\n"]);
        assert_eq!(e, vec![3]);
    }
}
