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

use super::Dir;

/// Sub-kinds of the `other` phase.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum OtherKind {
    /// After the connection is over, or no ACK flag: `other`.
    Plain,
    /// Flagged keep-alive: `other keep-alive`.
    KeepAlive,
    /// Flagged keep-alive ACK: `other keep-alive-ack`.
    KeepAliveAck,
    /// Flagged zero-window probe: `other zero-window-probe`.
    ZeroWindowProbe,
    /// Flagged zero-window probe ACK: `other zero-window-probe-ack`.
    ZeroWindowProbeAck,
}

/// Phase of one segment. `Display` gives the contract string.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Phase {
    /// Step 1, 2 or 3 of the three-way handshake.
    Handshake(u8),
    /// Payload, pure ACKs and anything else between handshake and teardown.
    Data,
    /// Teardown steps done by this segment, as a bit set: bit `k-1` = step `k` (1..=4).
    Teardown(u8),
    /// Any segment with RST.
    Reset,
    /// Keep-alives, zero-window probes and their ACKs, and segments that fit no other phase.
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

/// Bit of [`Phase::Teardown`] for step 1: the first FIN.
const FIRST_FIN: u8 = 1 << 0;
/// Step 2: the first acknowledgement of the first FIN.
const FIRST_FIN_ACKED: u8 = 1 << 1;
/// Step 3: the other side's FIN.
const SECOND_FIN: u8 = 1 << 2;
/// Step 4: the first acknowledgement of the second FIN.
const SECOND_FIN_ACKED: u8 = 1 << 3;

/// Teardown bookkeeping of one connection (arrays indexed by [`Dir::idx`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Teardown {
    /// Direction whose FIN came first.
    pub first_closer: Option<Dir>,
    /// Sequence number of each direction's FIN octet.
    pub fin_seq: [Option<u32>; 2],
    /// Whether each direction's FIN has been acknowledged by the other side.
    pub fin_acked: [bool; 2],
}

impl Teardown {
    /// Record a segment sent in direction `from` and return the teardown steps it performs
    /// (bit set as in [`Phase::Teardown`]). `fin_octet` is the sequence number of the
    /// FIN octet (`seq + len`) when the segment has FIN; `ack` is `Some` when ACK is set.
    pub fn step(&mut self, from: Dir, fin_octet: Option<u32>, ack: Option<u32>) -> u8 {
        let peer = from.rev();
        let mut steps = 0u8;
        if let Some(fin_seq) = fin_octet {
            match self.first_closer {
                None => {
                    self.first_closer = Some(from);
                    steps |= FIRST_FIN;
                }
                Some(closer) if closer == from => steps |= FIRST_FIN,
                Some(_) => steps |= SECOND_FIN,
            }
            self.fin_seq[from.idx()] = Some(fin_seq);
        }
        if let (Some(ack), Some(peer_fin)) = (ack, self.fin_seq[peer.idx()]) {
            if !self.fin_acked[peer.idx()] && covers_fin(ack, peer_fin) {
                self.fin_acked[peer.idx()] = true;
                steps |= if self.first_closer == Some(peer) { FIRST_FIN_ACKED } else { SECOND_FIN_ACKED };
            }
        }
        steps
    }

    /// True once both FINs have been sent and acknowledged.
    pub fn complete(&self) -> bool {
        self.fin_acked[0] && self.fin_acked[1]
    }

    /// Does `ack` (sent in direction `from`) acknowledge the FIN of the other direction?
    pub fn acks_peer_fin(&self, from: Dir, ack: u32) -> bool {
        self.fin_seq[from.rev().idx()].is_some_and(|fin_seq| covers_fin(ack, fin_seq))
    }
}

/// An acknowledgement number covers the FIN octet `fin_seq` when `ack >= fin_seq + 1` in
/// sequence space (RFC 9293 3.4: SEG.ACK acknowledges everything below it).
fn covers_fin(ack: u32, fin_seq: u32) -> bool {
    (ack.wrapping_sub(fin_seq.wrapping_add(1)) as i32) >= 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dir::{C2S, S2C};

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
        for phase in [Phase::Handshake(2), Phase::Data, Phase::Teardown(1), Phase::Reset, Phase::Other(OtherKind::ZeroWindowProbe)] {
            assert!(phase.to_string().starts_with(phase.category()));
        }
    }

    #[test]
    fn four_way_close() {
        let mut teardown = Teardown::default();
        assert_eq!(teardown.step(C2S, Some(100), Some(500)), 0b0001);
        assert_eq!(teardown.step(S2C, None, Some(101)), 0b0010);
        assert_eq!(teardown.step(S2C, Some(500), Some(101)), 0b0100);
        assert_eq!(teardown.step(C2S, None, Some(501)), 0b1000);
        assert!(teardown.complete());
        assert_eq!(teardown.step(C2S, None, Some(501)), 0);
    }

    #[test]
    fn three_segment_close() {
        let mut teardown = Teardown::default();
        assert_eq!(teardown.step(S2C, Some(9), Some(3)), 0b0001); // server closes first
        assert_eq!(teardown.step(C2S, Some(3), Some(10)), 0b0110);
        assert_eq!(teardown.step(S2C, None, Some(4)), 0b1000);
    }

    #[test]
    fn simultaneous_close_and_retransmitted_fin() {
        let mut teardown = Teardown::default();
        assert_eq!(teardown.step(C2S, Some(100), Some(500)), 0b0001);
        assert_eq!(teardown.step(C2S, Some(100), Some(500)), 0b0001);
        assert_eq!(teardown.step(S2C, Some(500), Some(100)), 0b0100);
        assert_eq!(teardown.step(C2S, None, Some(501)), 0b1000);
        assert_eq!(teardown.step(S2C, None, Some(101)), 0b0010);
    }

    #[test]
    fn wrapping_fin() {
        let mut teardown = Teardown::default();
        teardown.step(C2S, Some(u32::MAX), Some(1));
        assert!(teardown.acks_peer_fin(S2C, 0));
        assert!(!teardown.acks_peer_fin(S2C, u32::MAX));
        assert_eq!(teardown.step(S2C, None, Some(0)), 0b0010);
    }
}
