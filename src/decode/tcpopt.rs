//! TCP options: a lax walker over the raw option bytes.
//!
//! etherparse's `options_iterator()` stops at the first option kind it does not know (MPTCP 30,
//! TFO 34, ...), so we walk the bytes ourselves: every option with a sane length is reported, an
//! unknown kind by kind and length, and a malformed one ends the walk with its offset.

/// One option, borrowed from the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt<'a> {
    /// End of option list (kind 0, RFC 9293); the walk stops here.
    Eol,
    /// No-operation padding (kind 1, RFC 9293).
    Nop,
    /// Maximum segment size (kind 2, RFC 9293).
    Mss(u16),
    /// Window scale shift count (kind 3, RFC 7323).
    WindowScale(u8),
    /// SACK permitted (kind 4, RFC 2018).
    SackPermitted,
    /// SACK blocks as raw bytes (pairs of big-endian u32), see [`sack_blocks`].
    Sack(&'a [u8]),
    /// Timestamps TSval and TSecr (kind 8, RFC 7323).
    Timestamps(u32, u32),
    /// Any other kind with a sane length.
    Unknown {
        /// The option kind.
        kind: u8,
        /// The option's bytes after kind and length.
        data: &'a [u8],
    },
    /// A length byte that is missing, below 2, runs past the header, or is wrong for the kind.
    Malformed {
        /// The option kind.
        kind: u8,
        /// Offset of the option's kind byte within the options.
        offset: usize,
    },
}

/// Iterator over options; `offset` is relative to the start of the options.
pub struct OptIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

/// Walk the option bytes of a TCP header (what follows the fixed 20 bytes).
pub fn options(bytes: &[u8]) -> OptIter<'_> {
    OptIter { bytes, pos: 0, done: false }
}

impl<'a> Iterator for OptIter<'a> {
    type Item = Opt<'a>;
    fn next(&mut self) -> Option<Opt<'a>> {
        if self.done || self.pos >= self.bytes.len() {
            return None;
        }
        let kind = self.bytes[self.pos];
        match kind {
            0 => {
                self.done = true;
                return Some(Opt::Eol);
            }
            1 => {
                self.pos += 1;
                return Some(Opt::Nop);
            }
            _ => {}
        }
        let offset = self.pos;
        let malformed = |walk: &mut Self| {
            walk.done = true;
            Some(Opt::Malformed { kind, offset })
        };
        let Some(&len) = self.bytes.get(self.pos + 1) else { return malformed(self) };
        let len = len as usize;
        if len < 2 || self.pos + len > self.bytes.len() {
            return malformed(self);
        }
        let data = &self.bytes[self.pos + 2..self.pos + len];
        let opt = match (kind, len) {
            (2, 4) => Opt::Mss(u16::from_be_bytes([data[0], data[1]])),
            (3, 3) => Opt::WindowScale(data[0]),
            (4, 2) => Opt::SackPermitted,
            (5, l) if l >= 10 && (l - 2) % 8 == 0 => Opt::Sack(data),
            (8, 10) => Opt::Timestamps(
                u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ),
            (2..=5 | 8, _) => return malformed(self),
            _ => Opt::Unknown { kind, data },
        };
        self.pos += len;
        Some(opt)
    }
}

/// SACK blocks (left, right) from the raw bytes of a SACK option.
pub fn sack_blocks(bytes: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
    bytes.chunks_exact(8).map(|c| (u32::from_be_bytes([c[0], c[1], c[2], c[3]]), u32::from_be_bytes([c[4], c[5], c[6], c[7]])))
}

/// The options the rest of the program looks at, parsed once per segment (no allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOpts {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift count.
    pub ws: Option<u8>,
    /// SACK permitted was present.
    pub sack_perm: bool,
    /// SACK blocks (left edge, right edge); the first `nsack` are set.
    pub sack: [(u32, u32); 4],
    /// How many entries of `sack` are set (a SACK option holds at most four blocks, RFC 2018).
    pub nsack: u8,
    /// Timestamps (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    /// First malformed option: (kind, offset within the options).
    pub malformed: Option<(u8, usize)>,
}

impl TcpOpts {
    /// Parse option bytes: of a repeated option the last counts (SACK blocks add up, four at
    /// most); the walk stops at EOL or the first malformed option.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut opts = TcpOpts::default();
        // What nearly every segment of a Linux connection carries: NOP, NOP, timestamps.
        if let [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3] = *bytes {
            opts.ts = Some((u32::from_be_bytes([v0, v1, v2, v3]), u32::from_be_bytes([e0, e1, e2, e3])));
            return opts;
        }
        for opt in options(bytes) {
            match opt {
                Opt::Mss(mss) => opts.mss = Some(mss),
                Opt::WindowScale(shift) => opts.ws = Some(shift),
                Opt::SackPermitted => opts.sack_perm = true,
                Opt::Sack(blocks) => {
                    for block in sack_blocks(blocks) {
                        if (opts.nsack as usize) < opts.sack.len() {
                            opts.sack[opts.nsack as usize] = block;
                            opts.nsack += 1;
                        }
                    }
                }
                Opt::Timestamps(tsval, tsecr) => opts.ts = Some((tsval, tsecr)),
                Opt::Malformed { kind, offset } => opts.malformed = Some((kind, offset)),
                Opt::Eol | Opt::Nop | Opt::Unknown { .. } => {}
            }
        }
        opts
    }

    /// The SACK blocks present, in option order.
    pub fn sack(&self) -> &[(u32, u32)] {
        &self.sack[..self.nsack as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_options() {
        // mss 1460, sackOK, TS 1 0, nop, wscale 7
        let b = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        let v: Vec<_> = options(&b).collect();
        assert_eq!(v, vec![Opt::Mss(1460), Opt::SackPermitted, Opt::Timestamps(1, 0), Opt::Nop, Opt::WindowScale(7)]);
        let o = TcpOpts::parse(&b);
        assert_eq!((o.mss, o.ws, o.sack_perm, o.ts), (Some(1460), Some(7), true, Some((1, 0))));
    }

    #[test]
    fn unknown_kinds_do_not_stop_the_walk() {
        // MPTCP (30, len 4), TFO (34, len 2), then MSS
        let b = [30, 4, 0, 1, 34, 2, 2, 4, 0x05, 0xb4];
        let v: Vec<_> = options(&b).collect();
        assert_eq!(v[0], Opt::Unknown { kind: 30, data: &[0, 1] });
        assert_eq!(v[1], Opt::Unknown { kind: 34, data: &[] });
        assert_eq!(v[2], Opt::Mss(1460));
    }

    #[test]
    fn malformed_and_eol() {
        assert_eq!(options(&[2, 4, 5]).collect::<Vec<_>>(), vec![Opt::Malformed { kind: 2, offset: 0 }]);
        assert_eq!(options(&[1, 9, 1]).collect::<Vec<_>>(), vec![Opt::Nop, Opt::Malformed { kind: 9, offset: 1 }]);
        assert_eq!(options(&[3, 4, 7, 0]).collect::<Vec<_>>(), vec![Opt::Malformed { kind: 3, offset: 0 }]);
        assert_eq!(options(&[1, 0, 2, 4, 5, 0xb4]).collect::<Vec<_>>(), vec![Opt::Nop, Opt::Eol]);
        assert_eq!(options(&[7, 0]).collect::<Vec<_>>(), vec![Opt::Malformed { kind: 7, offset: 0 }]);
    }

    /// The NOP NOP timestamps shortcut gives what the walk gives.
    #[test]
    fn timestamps_shortcut() {
        let b = [1, 1, 8, 10, 0, 0, 1, 2, 0x80, 0, 0, 3];
        let walked = options(&b).fold(None, |ts, o| if let Opt::Timestamps(a, e) = o { Some((a, e)) } else { ts });
        assert_eq!(walked, Some((0x102, 0x8000_0003)));
        assert_eq!(TcpOpts::parse(&b), TcpOpts { ts: walked, ..TcpOpts::default() });
        // Not the shortcut's shape: walked.
        assert_eq!(TcpOpts::parse(&[1, 1, 8, 10, 0, 0, 1, 2, 0x80, 0, 0, 3, 1, 3, 3, 7]).ws, Some(7));
        assert_eq!(TcpOpts::parse(&[1, 1, 8, 9, 0, 0, 1, 2, 0x80, 0, 0, 3]).malformed, Some((8, 2)));
    }

    #[test]
    fn sack_blocks_parse() {
        let b = [1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40];
        let o = TcpOpts::parse(&b);
        assert_eq!(o.sack(), &[(10, 20), (30, 40)]);
    }
}
