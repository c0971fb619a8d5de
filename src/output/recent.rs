//! Per-sink memories of text that repeats from frame to frame: the MAC address pair of a link
//! (two hosts talk in both directions) and the date and time of day of the current second.
//! Formatting them costs more than the rest of a record's numbers (a vendor lookup, a calendar
//! conversion); the cache makes it a comparison and a copy, with output unchanged.

use crate::decode::MacAddr;

/// The text written for the last few (source, destination) MAC pairs.
#[derive(Default)]
pub struct MacPairs {
    /// Two entries (a link carries both directions of a conversation), replaced in turn.
    entries: [Option<MacPairText>; 2],
    next: usize,
}

/// What a sink writes for one pair, in the two places its record has them.
pub struct MacPairText {
    src: MacAddr,
    dst: MacAddr,
    /// Where the addresses go.
    pub addrs: Vec<u8>,
    /// Where the notes go (vendors, address classes).
    pub notes: Vec<u8>,
}

impl MacPairs {
    /// The texts of `(src, dst)`, made by `make(src, dst, addrs, notes)` (into empty buffers) the
    /// first time the pair is seen after it was last replaced.
    pub fn get(&mut self, src: MacAddr, dst: MacAddr, make: impl FnOnce(MacAddr, MacAddr, &mut Vec<u8>, &mut Vec<u8>)) -> &MacPairText {
        let found = self.entries.iter().position(|e| e.as_ref().is_some_and(|e| e.src == src && e.dst == dst));
        let at = match found {
            Some(at) => at,
            None => {
                let at = self.next;
                self.next = (self.next + 1) % self.entries.len();
                let entry = self.entries[at].get_or_insert_with(|| MacPairText { src, dst, addrs: Vec::new(), notes: Vec::new() });
                entry.src = src;
                entry.dst = dst;
                entry.addrs.clear();
                entry.notes.clear();
                make(src, dst, &mut entry.addrs, &mut entry.notes);
                at
            }
        };
        self.entries[at].as_ref().expect("entry just found or made")
    }
}

/// The date and time of day of the last second formatted (RFC 3339 up to the seconds).
#[derive(Default)]
pub struct Second {
    sec: Option<i64>,
    /// `YYYY-MM-DDTHH:MM:SS` (19 bytes).
    text: [u8; 19],
}

impl Second {
    /// `ts_ns` as [`super::time::rfc3339_buf`] writes it: the first 19 bytes come from the
    /// memory while the second is the same.
    pub fn rfc3339(&mut self, ts_ns: i64, nanos: bool) -> ([u8; 30], usize) {
        let sec = ts_ns.div_euclid(1_000_000_000);
        if self.sec != Some(sec) {
            let (text, _) = super::time::rfc3339_buf(ts_ns, nanos);
            self.text.copy_from_slice(&text[..19]);
            self.sec = Some(sec);
        }
        let mut text = *b"0000-00-00T00:00:00.000000000Z";
        text[..19].copy_from_slice(&self.text);
        let frac = ts_ns.rem_euclid(1_000_000_000) as u64;
        let digits = if nanos { 9 } else { 6 };
        super::line::fixed_digits(&mut text[20..20 + digits], if nanos { frac } else { frac / 1000 });
        text[20 + digits] = b'Z';
        (text, 21 + digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_match_the_full_conversion() {
        let mut memory = Second::default();
        for ts in [
            0i64,
            999_999_999,
            1_000_000_000,
            1_764_870_000_123_456_789,
            1_764_870_000_999_999_999,
            1_764_870_001_000_000_000,
            -1,
            -1_000_000_001,
        ] {
            for nanos in [true, false] {
                assert_eq!(memory.rfc3339(ts, nanos), super::super::time::rfc3339_buf(ts, nanos), "{ts} {nanos}");
            }
        }
    }

    #[test]
    fn pairs_are_remembered_and_replaced() {
        let (a, b, c) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]), MacAddr([2, 0, 0, 0, 0, 3]));
        let mut pairs = MacPairs::default();
        let mut made = 0;
        let make = |s: MacAddr, d: MacAddr, addrs: &mut Vec<u8>, notes: &mut Vec<u8>| {
            addrs.extend([s.0[5], d.0[5]]);
            notes.push(s.0[5] + d.0[5]);
        };
        for (s, d) in [(a, b), (b, a), (a, b), (b, a), (a, c), (a, c), (a, b)] {
            let text = pairs.get(s, d, |s, d, x, y| {
                made += 1;
                make(s, d, x, y)
            });
            assert_eq!(text.addrs, [s.0[5], d.0[5]]);
            assert_eq!(text.notes, [s.0[5] + d.0[5]]);
        }
        // (a,b) and (b,a) once each; (a,c) replaced (a,b), which came back
        assert_eq!(made, 4);
    }
}
