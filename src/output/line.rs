//! [`Line`]: the buffer a per-frame record (a text line, a JSON object) is built in before it
//! goes to the sink's writer in one write.
//!
//! A record is dozens of short pieces: literals such as `" seq "`, addresses, numbers. Written
//! through a `BufWriter` or `Vec<u8>`'s `io::Write`, each piece was a function call and a
//! `memcpy` call (neither is inlined at this many call sites). [`Line`]'s `write_all` is always
//! inlined, so a literal becomes a few stores, and [`Line::uint`] writes a number's digits in
//! place, without a temporary buffer.

use std::io;

/// Two decimal digits of every number below 100: `00`, `01`, ..., `99`.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Powers of ten that fit a `u64`.
const POW10: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// How many decimal digits `value` has: log2 scaled by log10(2) (1233 / 4096) guesses the
/// number of digits less one, and one comparison with a power of ten corrects the guess.
#[inline(always)]
pub(crate) fn decimal_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    let guess = (bits * 1233) >> 12;
    (guess + usize::from(value >= POW10[guess])).max(1)
}

/// `value` as exactly `out.len()` decimal digits, with leading zeros (digits beyond the width
/// are dropped), two at a time.
#[inline]
pub(crate) fn fixed_digits(out: &mut [u8], mut value: u64) {
    let mut at = out.len();
    while at >= 2 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        at -= 2;
        out[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if at == 1 {
        out[0] = b'0' + (value % 10) as u8;
    }
}

/// A growable byte buffer whose `io::Write` never fails and is inlined at every call.
///
/// The storage is always initialised (zeros past the end of what was written), so appending is
/// a bounds-checked slice copy, without `unsafe` and without `Vec`'s out-of-line growth path
/// at every call.
#[derive(Default, Debug, Clone)]
pub struct Line {
    /// Written bytes, then initialised spare room; `buf.len()` is the capacity.
    buf: Vec<u8>,
    /// End of what was written.
    end: usize,
}

impl Line {
    /// An empty line with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Line { buf: vec![0; capacity], end: 0 }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// Empty it, keeping its allocation.
    pub fn clear(&mut self) {
        self.end = 0;
    }

    /// Bytes the buffer holds room for.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.end
    }

    /// Nothing written.
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// Room for `more` bytes after the end: the slice to write them to.
    #[inline(always)]
    fn room(&mut self, more: usize) -> &mut [u8] {
        let (start, end) = (self.end, self.end + more);
        if end > self.buf.len() {
            self.grow(end);
        }
        &mut self.buf[start..end]
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, end: usize) {
        let want = end.max(2 * self.buf.len()).max(64);
        self.buf.resize(want, 0);
    }

    #[cold]
    #[inline(never)]
    fn put_grown(&mut self, bytes: &[u8]) {
        self.room(bytes.len()).copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Append `bytes`. One range check on the fast path: the room is there, or the cold path
    /// makes it.
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) {
        let end = self.end + bytes.len();
        match self.buf.get_mut(self.end..end) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.end = end;
            }
            None => self.put_grown(bytes),
        }
    }

    /// Append the first `len` bytes of `buf` (at most `N`): all `N` are copied, a copy of known
    /// size, and the end moves on by `len`. For short texts of varying length built in a stack
    /// buffer (an address, a number): no `memcpy` call.
    #[inline(always)]
    pub fn put_first<const N: usize>(&mut self, buf: &[u8; N], len: usize) {
        let len = len.min(N);
        let end = self.end + N;
        match self.buf.get_mut(self.end..end) {
            Some(room) => {
                room.copy_from_slice(buf);
                self.end += len;
            }
            None => self.put_grown(&buf[..len]),
        }
    }

    /// Append one byte.
    #[inline(always)]
    pub fn byte(&mut self, b: u8) {
        self.put(&[b]);
    }

    /// Append `value` in decimal, the digits written in place: four at a time, then two.
    #[inline(always)]
    pub fn uint(&mut self, mut value: u64) {
        let digits = decimal_len(value);
        let out = self.room(digits);
        let mut at = digits;
        while value >= 10_000 {
            let four = (value % 10_000) as u32;
            value /= 10_000;
            let (high, low) = ((four / 100) as usize * 2, (four % 100) as usize * 2);
            at -= 4;
            out[at..at + 2].copy_from_slice(&PAIRS[high..high + 2]);
            out[at + 2..at + 4].copy_from_slice(&PAIRS[low..low + 2]);
        }
        let mut value = value as u32;
        if value >= 100 {
            let pair = (value % 100) as usize * 2;
            value /= 100;
            at -= 2;
            out[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        }
        if value >= 10 {
            let pair = value as usize * 2;
            out[..2].copy_from_slice(&PAIRS[pair..pair + 2]);
        } else {
            out[0] = b'0' + value as u8;
        }
        self.end += digits;
    }

    /// Append `value` in decimal, with a `-` when negative.
    #[inline]
    pub fn int(&mut self, value: i64) {
        if value < 0 {
            self.byte(b'-');
        }
        self.uint(value.unsigned_abs());
    }
}

impl From<Line> for Vec<u8> {
    fn from(mut line: Line) -> Vec<u8> {
        line.buf.truncate(line.end);
        line.buf
    }
}

impl io::Write for Line {
    #[inline(always)]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    #[inline(always)]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.put(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Integers [`Line`] writes: widened to 64 bits without loss.
pub trait Decimal: Copy {
    /// Write `self` into `line`.
    fn put_into(self, line: &mut Line);
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Decimal for $t {
            #[inline(always)]
            fn put_into(self, line: &mut Line) {
                line.uint(self as u64);
            }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Decimal for $t {
            #[inline(always)]
            fn put_into(self, line: &mut Line) {
                line.int(self as i64);
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn numbers_match_the_standard_formatting() {
        let mut values: Vec<u64> = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, u32::MAX as u64, u64::MAX];
        for p in 0..20 {
            let ten = 10u64.pow(p);
            values.extend([ten - 1, ten, ten + 1]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(state >> (state % 64));
        }
        for v in values {
            let mut line = Line::default();
            line.uint(v);
            assert_eq!(line.as_bytes(), v.to_string().as_bytes(), "{v}");
            let signed = v as i64;
            let mut line = Line::default();
            line.int(signed);
            assert_eq!(line.as_bytes(), signed.to_string().as_bytes(), "{signed}");
        }
        let mut line = Line::default();
        line.int(i64::MIN);
        assert_eq!(line.as_bytes(), i64::MIN.to_string().as_bytes());
    }

    #[test]
    fn fixed_width_digits() {
        for (value, width, want) in [
            (0u64, 1, "0"),
            (7, 3, "007"),
            (123_456, 9, "000123456"),
            (999_999_999, 9, "999999999"),
            (2026, 4, "2026"),
            (5, 2, "05"),
            (12_345, 2, "45"),
        ] {
            let mut out = vec![b'x'; width];
            fixed_digits(&mut out, value);
            assert_eq!(out, want.as_bytes(), "{value} in {width}");
        }
    }

    #[test]
    fn decimal_lengths() {
        assert_eq!(decimal_len(0), 1);
        for (p, &power) in POW10.iter().enumerate().skip(1) {
            assert_eq!(decimal_len(power - 1), p, "10^{p} - 1");
            assert_eq!(decimal_len(power), p + 1, "10^{p}");
        }
        assert_eq!(decimal_len(u64::MAX), 20);
    }

    #[test]
    fn pieces_and_formatting_append_in_order() {
        let mut line = Line::with_capacity(1);
        line.put(b"seq ");
        line.uint(42);
        let word = "win";
        write!(line, " {word}").unwrap();
        line.byte(b' ');
        7u16.put_into(&mut line);
        (-3i32).put_into(&mut line);
        line.write_all(&[b'x'; 300]).unwrap();
        line.put_first(b"abcdef", 2);
        let mut want = b"seq 42 win 7-3".to_vec();
        want.extend([b'x'; 300]);
        want.extend(b"ab");
        assert_eq!(line.as_bytes(), &want[..]);
        // at the very end of the room: the whole buffer must fit, only `len` bytes count
        let mut tight = Line::with_capacity(3);
        tight.put_first(b"xyz12", 3);
        tight.put_first(&[b'7'; 32], 1);
        assert_eq!(tight.as_bytes(), b"xyz7");
        line.clear();
        assert!(line.is_empty());
    }
}
