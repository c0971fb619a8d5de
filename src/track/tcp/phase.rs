//! The phase of a segment in the life of its connection.
//!
//! Scheme (computed while streaming, from what has been seen so far):
//!
//! * `handshake 1/3`: a SYN without ACK (also its retransmissions, and both SYNs of
//!   a simultaneous open); `handshake 2/3`: a SYN,ACK; `handshake 3/3`: the first
//!   segment from the client that has ACK and no SYN after a SYN,ACK was seen (it
//!   may carry data).
//! * `teardown N/4` numbers the four events of a close: **1** the first FIN (from
//!   whichever side closes first), **2** the first acknowledgement of that FIN by the
//!   other side, **3** the other side's FIN, **4** the first acknowledgement of that
//!   second FIN. A segment doing several of them lists them all joined by `+`, so
//!   the FIN,ACK of a three-segment close is `teardown 2+3/4`. A retransmitted FIN
//!   repeats its number. In a half-close, the data the other side keeps sending
//!   between steps 2 and 3 is `data`. In a simultaneous close the second FIN does
//!   not acknowledge the first, so the order seen is 1, 3, then 4 and 2.
//! * `reset`: any segment with RST.
//! * `other keep-alive`, `other keep-alive-ack`, `other zero-window-probe`,
//!   `other zero-window-probe-ack`: the Wireshark analysis classes of that name.
//! * `other`: a segment after the connection is over (e.g. a repeated final ACK), or
//!   one that fits nothing else (no ACK flag, …).
//! * `data`: everything else in between (payload, pure ACKs, window updates,
//!   retransmissions, mid-stream traffic).

use std::fmt;

/// Sub-kinds of the `other` phase.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum OtherKind {
    Plain,
    KeepAlive,
    KeepAliveAck,
    ZeroWindowProbe,
    ZeroWindowProbeAck,
}

/// Phase of one segment. `Display` gives the contract string.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Phase {
    /// Step 1, 2 or 3 of the three-way handshake.
    Handshake(u8),
    Data,
    /// Teardown steps done by this segment, as a bit set: bit `k-1` = step `k` (1..=4).
    Teardown(u8),
    Reset,
    Other(OtherKind),
}

impl Phase {
    /// First word of the display string: `handshake`, `data`, `teardown`, `reset`, `other`.
    pub fn category(&self) -> &'static str {
        match self {
            Phase::Handshake(_) => "handshake",
            Phase::Data => "data",
            Phase::Teardown(_) => "teardown",
            Phase::Reset => "reset",
            Phase::Other(_) => "other",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Phase::Handshake(n) => write!(f, "handshake {n}/3"),
            Phase::Data => f.write_str("data"),
            Phase::Teardown(mask) => {
                f.write_str("teardown ")?;
                let mut first = true;
                for k in 1..=4u8 {
                    if mask & (1 << (k - 1)) != 0 {
                        if !first {
                            f.write_str("+")?;
                        }
                        write!(f, "{k}")?;
                        first = false;
                    }
                }
                f.write_str("/4")
            }
            Phase::Reset => f.write_str("reset"),
            Phase::Other(k) => f.write_str(match k {
                OtherKind::Plain => "other",
                OtherKind::KeepAlive => "other keep-alive",
                OtherKind::KeepAliveAck => "other keep-alive-ack",
                OtherKind::ZeroWindowProbe => "other zero-window-probe",
                OtherKind::ZeroWindowProbeAck => "other zero-window-probe-ack",
            }),
        }
    }
}

/// Teardown bookkeeping of one connection (index 0 = client→server, 1 = server→client).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Teardown {
    /// Direction whose FIN came first.
    pub first_closer: Option<u8>,
    /// Sequence number of each direction's FIN octet.
    pub fin_seq: [Option<u32>; 2],
    /// Whether each direction's FIN has been acknowledged by the other side.
    pub fin_acked: [bool; 2],
}

impl Teardown {
    /// Record a segment from direction `d` and return the teardown steps it performs
    /// (bit set as in [`Phase::Teardown`]). `fin_octet` is the sequence number of the
    /// FIN octet (`seq + len`) when the segment has FIN; `ack` is `Some` when ACK is set.
    pub fn step(&mut self, d: usize, fin_octet: Option<u32>, ack: Option<u32>) -> u8 {
        let o = 1 - d;
        let mut mask = 0u8;
        if let Some(f) = fin_octet {
            match self.first_closer {
                None => {
                    self.first_closer = Some(d as u8);
                    mask |= 1;
                }
                Some(c) if c as usize == d => mask |= 1,
                Some(_) => mask |= 1 << 2,
            }
            self.fin_seq[d] = Some(f);
        }
        if let (Some(a), Some(f)) = (ack, self.fin_seq[o]) {
            // acknowledges the peer's FIN octet: ack >= f + 1
            if !self.fin_acked[o] && (a.wrapping_sub(f.wrapping_add(1)) as i32) >= 0 {
                self.fin_acked[o] = true;
                let first = self.first_closer == Some(o as u8);
                mask |= if first { 1 << 1 } else { 1 << 3 };
            }
        }
        mask
    }

    /// True once both FINs have been sent and acknowledged.
    pub fn complete(&self) -> bool {
        self.fin_acked[0] && self.fin_acked[1]
    }

    /// Does `ack` (from direction `d`) acknowledge the FIN of the other direction?
    pub fn acks_peer_fin(&self, d: usize, ack: u32) -> bool {
        match self.fin_seq[1 - d] {
            Some(f) => (ack.wrapping_sub(f.wrapping_add(1)) as i32) >= 0,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_strings() {
        assert_eq!(Phase::Handshake(1).to_string(), "handshake 1/3");
        assert_eq!(Phase::Handshake(3).to_string(), "handshake 3/3");
        assert_eq!(Phase::Data.to_string(), "data");
        assert_eq!(Phase::Teardown(0b0001).to_string(), "teardown 1/4");
        assert_eq!(Phase::Teardown(0b0110).to_string(), "teardown 2+3/4");
        assert_eq!(Phase::Teardown(0b1000).to_string(), "teardown 4/4");
        assert_eq!(Phase::Reset.to_string(), "reset");
        assert_eq!(Phase::Other(OtherKind::KeepAlive).to_string(), "other keep-alive");
        assert_eq!(Phase::Other(OtherKind::Plain).to_string(), "other");
        for p in [Phase::Handshake(2), Phase::Data, Phase::Teardown(1), Phase::Reset, Phase::Other(OtherKind::ZeroWindowProbe)] {
            assert!(p.to_string().starts_with(p.category()));
        }
    }

    #[test]
    fn four_way_close() {
        let mut t = Teardown::default();
        assert_eq!(t.step(0, Some(100), Some(500)), 0b0001);
        assert_eq!(t.step(1, None, Some(101)), 0b0010);
        assert_eq!(t.step(1, Some(500), Some(101)), 0b0100);
        assert_eq!(t.step(0, None, Some(501)), 0b1000);
        assert!(t.complete());
        assert_eq!(t.step(0, None, Some(501)), 0);
    }

    #[test]
    fn three_segment_close() {
        let mut t = Teardown::default();
        assert_eq!(t.step(1, Some(9), Some(3)), 0b0001); // server closes first
        assert_eq!(t.step(0, Some(3), Some(10)), 0b0110);
        assert_eq!(t.step(1, None, Some(4)), 0b1000);
    }

    #[test]
    fn simultaneous_close_and_retransmitted_fin() {
        let mut t = Teardown::default();
        assert_eq!(t.step(0, Some(100), Some(500)), 0b0001);
        assert_eq!(t.step(0, Some(100), Some(500)), 0b0001);
        assert_eq!(t.step(1, Some(500), Some(100)), 0b0100);
        assert_eq!(t.step(0, None, Some(501)), 0b1000);
        assert_eq!(t.step(1, None, Some(101)), 0b0010);
    }

    #[test]
    fn wrapping_fin() {
        let mut t = Teardown::default();
        t.step(0, Some(u32::MAX), Some(1));
        assert!(t.acks_peer_fin(1, 0));
        assert!(!t.acks_peer_fin(1, u32::MAX));
        assert_eq!(t.step(1, None, Some(0)), 0b0010);
    }
}
