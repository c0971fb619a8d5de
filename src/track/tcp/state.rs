//! Per-endpoint RFC 9293 connection states, and the one function that changes them.
//!
//! Every state change of every endpoint goes through [`transition`]. Each match arm
//! carries a one-line rule citing the RFC 9293 section it follows.
//!
//! # The capture-point simplification
//!
//! A capture sees a segment when it is *sent* by one endpoint; the peer only changes
//! state when it *receives* it, a little later. The tracker applies both halves at
//! the moment the segment is seen: the sender's transition (`Send*` events) and the
//! receiver's (`Recv*` events). This is exact for a capture taken next to either
//! host as long as segments do not cross on the wire; crossings (simultaneous open,
//! simultaneous close) are recognised from the acknowledgement numbers and mapped to
//! the RFC's crossing transitions (SYN-SENT→SYN-RECEIVED, FIN-WAIT-1→CLOSING).
//!
//! Two inferences go beyond the literal RFC event list because a passive observer
//! cannot see socket calls:
//! * the receiver of a SYN is shown as LISTEN (a host that answers SYN with SYN,ACK
//!   was listening; one that answers with RST was CLOSED and is shown CLOSED then);
//! * an endpoint first seen in the middle of a connection is UNKNOWN until a FIN,
//!   RST or SYN tells its state (a FIN from an UNKNOWN endpoint means it was
//!   ESTABLISHED, so it goes to FIN-WAIT-1 and its peer to CLOSE-WAIT).
//!
//! RST segments are not checked for sequence acceptability (RFC 9293 3.10.7.4
//! first check / RFC 5961): every RST seen is taken as valid.

use std::fmt;

/// RFC 9293 connection state of one endpoint (plus UNKNOWN for mid-stream pickups).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum TcpState {
    /// Not yet inferable from the capture.
    Unknown,
    /// No connection state at all (RFC 9293 3.3.2).
    Closed,
    /// Waiting for a connection request (RFC 9293 3.3.2).
    Listen,
    /// Sent a SYN, waiting for a matching SYN (RFC 9293 3.3.2).
    SynSent,
    /// Received and sent a SYN, waiting for the ACK of its own (RFC 9293 3.3.2).
    SynReceived,
    /// Open connection, the data transfer state (RFC 9293 3.3.2).
    Established,
    /// Sent its FIN, waiting for the peer's FIN or the ACK of its own (RFC 9293 3.3.2).
    FinWait1,
    /// Its FIN acknowledged, waiting for the peer's FIN (RFC 9293 3.3.2).
    FinWait2,
    /// Received the peer's FIN, waiting for its own user to close (RFC 9293 3.3.2).
    CloseWait,
    /// Both FINs sent, waiting for the ACK of its own (RFC 9293 3.3.2).
    Closing,
    /// Sent its FIN after the peer's, waiting for its ACK (RFC 9293 3.3.2).
    LastAck,
    /// Both FINs acknowledged, waiting out 2 MSL for delayed segments (RFC 9293 3.3.2).
    TimeWait,
}

impl TcpState {
    /// All states, in declaration order.
    pub const ALL: [TcpState; 12] = [
        TcpState::Unknown,
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The RFC 9293 spelling: `UNKNOWN`, `CLOSED`, `LISTEN`, `SYN-SENT`, …
    pub fn name(&self) -> &'static str {
        match self {
            TcpState::Unknown => "UNKNOWN",
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// True for the states in which the endpoint has sent its FIN or is gone
    /// (FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT, CLOSED).
    pub fn has_closed_its_side(&self) -> bool {
        matches!(
            self,
            TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing | TcpState::LastAck | TcpState::TimeWait | TcpState::Closed
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happened to one endpoint, as seen from the capture point.
///
/// `Send*` events describe a segment the endpoint sent, `Recv*` events a segment its
/// peer sent (which it receives, see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EndpointEvent {
    /// It sent a SYN without ACK.
    SendSyn,
    /// It sent a SYN,ACK.
    SendSynAck,
    /// It sent a segment with ACK and without SYN/FIN/RST (data or pure ACK).
    SendAck,
    /// It sent a FIN.
    SendFin {
        /// The segment acknowledges a FIN the peer sent earlier (false also when the peer
        /// has sent no FIN).
        peer_fin_acked: bool,
    },
    /// It sent a RST.
    SendRst,
    /// It received a SYN without ACK.
    RecvSyn,
    /// It received a SYN,ACK.
    RecvSynAck,
    /// It received a segment with ACK and without SYN/FIN/RST.
    RecvAck {
        /// The ACK covers its SYN.
        syn_acked: bool,
        /// The ACK covers its FIN.
        fin_acked: bool,
    },
    /// It received a FIN.
    RecvFin {
        /// The same segment acknowledges its own FIN.
        fin_acked: bool,
    },
    /// It received a RST.
    RecvRst,
}

/// The state machine: the state of one endpoint after `event`, given its state before.
///
/// Arms are tried in order; each carries the RFC 9293 rule it applies.
#[rustfmt::skip]
pub fn transition(state: TcpState, event: EndpointEvent) -> TcpState {
    use EndpointEvent::*;
    use TcpState::*;
    match (state, event) {
        // ---- RST received
        (Listen, RecvRst) => Listen,           // 3.10.7.2 first check: an incoming RST in LISTEN is ignored
        (SynReceived, RecvRst) => Listen,      // 3.10.7.4 second check: SYN-RECEIVED from a passive OPEN returns to LISTEN
        (Closed, RecvRst) => Closed,           // 3.10.7.1: an incoming RST to a CLOSED port is discarded
        (_, RecvRst) => Closed,                // 3.10.7.3 / 3.10.7.4 second check: connection reset, enter CLOSED
        // ---- RST sent
        (_, SendRst) => Closed,                // 3.10.5 ABORT, 3.10.7.1 (RST from a port with no listener): no TCB, CLOSED
        // ---- SYN sent
        (Unknown | Closed | Listen, SendSyn) => SynSent, // 3.10.1 active OPEN / 3.10.2 SEND in LISTEN: send SYN, SYN-SENT
        (TimeWait, SendSyn) => SynSent,        // 3.6.1: TIME-WAIT over (or cut short, RFC 6191): a new OPEN enters SYN-SENT
        (SynSent | SynReceived, SendSyn) => state, // 3.8.1: retransmission of the SYN, state unchanged
        (_, SendSyn) => state,                 // 3.10.7.4 fourth check: a SYN in a synchronized state changes nothing
        // ---- SYN received
        (Unknown | Closed | Listen, RecvSyn) => Listen, // 3.10.7.2: a SYN reaches a passive endpoint; LISTEN until it answers
        (TimeWait, RecvSyn) => Listen,         // 3.6.1: a new SYN may reopen a connection from TIME-WAIT (RFC 6191)
        (SynSent, RecvSyn) => SynReceived,     // 3.10.7.3 fourth check: simultaneous open, enter SYN-RECEIVED
        (_, RecvSyn) => state,                 // 3.10.7.4 fourth check: SYN in a synchronized state only gets a challenge ACK
        // ---- SYN,ACK sent
        (Unknown | Closed | Listen | SynSent | SynReceived, SendSynAck) => SynReceived, // 3.10.7.2 third check / 3.10.7.3: SYN,ACK is sent in SYN-RECEIVED
        (_, SendSynAck) => state,              // 3.8.1: a retransmitted SYN,ACK from a synchronized state changes nothing
        // ---- SYN,ACK received
        (Unknown | SynSent | SynReceived, RecvSynAck) => Established, // 3.10.7.3 / 3.10.7.4 fifth check: our SYN is ACKed, ESTABLISHED
        (Listen, RecvSynAck) => Listen,        // 3.10.7.2 second check: an ACK in LISTEN is answered by RST, state unchanged
        (_, RecvSynAck) => state,              // 3.10.7.4 fourth check: a duplicate SYN,ACK is just ACKed
        // ---- ACK / data sent
        (SynSent, SendAck) => Established,     // 3.10.7.3: SYN-SENT only ACKs after an acceptable SYN,ACK (not captured)
        (SynReceived, SendAck) => Established, // 3.10.2: SYN-RECEIVED holds data until ESTABLISHED: its SYN was ACKed
        (_, SendAck) => state,                 // 3.10.2 SEND: sending data or ACKs does not change the state
        // ---- ACK / data received
        (SynReceived, RecvAck { syn_acked: true, .. }) => Established, // 3.10.7.4 fifth check: SYN-RECEIVED + acceptable ACK → ESTABLISHED
        (FinWait1, RecvAck { fin_acked: true, .. }) => FinWait2,       // 3.10.7.4 fifth check: FIN-WAIT-1, our FIN ACKed → FIN-WAIT-2
        (Closing, RecvAck { fin_acked: true, .. }) => TimeWait,        // 3.10.7.4 fifth check: CLOSING, our FIN ACKed → TIME-WAIT
        (LastAck, RecvAck { fin_acked: true, .. }) => Closed,          // 3.10.7.4 fifth check: LAST-ACK, our FIN ACKed → CLOSED
        (_, RecvAck { .. }) => state,          // 3.10.7.4 fifth/seventh check: other ACKs and data leave the state alone
        // ---- FIN sent
        (Unknown | SynSent | SynReceived | Established, SendFin { .. }) => FinWait1, // 3.10.4 CLOSE in SYN-RECEIVED/ESTABLISHED: FIN, FIN-WAIT-1
        (CloseWait, SendFin { peer_fin_acked: true }) => LastAck,  // 3.10.4 CLOSE in CLOSE-WAIT: send FIN, enter LAST-ACK
        (CloseWait, SendFin { peer_fin_acked: false }) => Closing, // 3.10.7.4 eighth check: FIN crossed the peer's: FIN-WAIT-1 + FIN → CLOSING
        (_, SendFin { .. }) => state,          // 3.8.1: retransmitted FIN (or a FIN where none is possible): unchanged
        // ---- FIN received
        (Unknown | SynReceived | Established, RecvFin { .. }) => CloseWait, // 3.10.7.4 eighth check: SYN-RECEIVED/ESTABLISHED + FIN → CLOSE-WAIT
        (FinWait1, RecvFin { fin_acked: true }) => TimeWait,  // 3.10.7.4 eighth check: FIN-WAIT-1, our FIN ACKed → TIME-WAIT
        (FinWait1, RecvFin { fin_acked: false }) => Closing,  // 3.10.7.4 eighth check: FIN-WAIT-1, FIN not ACKed → CLOSING
        (FinWait2, RecvFin { .. }) => TimeWait,               // 3.10.7.4 eighth check: FIN-WAIT-2 + FIN → TIME-WAIT
        (Closing, RecvFin { fin_acked: true }) => TimeWait,   // 3.10.7.4 fifth check: CLOSING, our FIN ACKed → TIME-WAIT
        (LastAck, RecvFin { fin_acked: true }) => Closed,     // 3.10.7.4 fifth check: LAST-ACK, our FIN ACKed → CLOSED
        (TimeWait, RecvFin { .. }) => TimeWait,               // 3.10.7.4 eighth check: TIME-WAIT, a retransmitted FIN restarts 2 MSL
        (_, RecvFin { .. }) => state,          // 3.10.7.3 / 3.10.7.4 eighth check: otherwise the FIN is dropped or the state remains
    }
}

#[cfg(test)]
mod tests {
    //! One test per state (smoltcp style): every arm of [`transition`] is exercised.
    use super::EndpointEvent::*;
    use super::TcpState::*;
    use super::*;

    const ACK_NONE: EndpointEvent = RecvAck { syn_acked: false, fin_acked: false };
    const ACK_SYN: EndpointEvent = RecvAck { syn_acked: true, fin_acked: false };
    const ACK_FIN: EndpointEvent = RecvAck { syn_acked: true, fin_acked: true };
    const FIN_ACKING: EndpointEvent = RecvFin { fin_acked: true };
    const FIN_PLAIN: EndpointEvent = RecvFin { fin_acked: false };
    const SFIN_ACKING: EndpointEvent = SendFin { peer_fin_acked: true };
    const SFIN_CROSS: EndpointEvent = SendFin { peer_fin_acked: false };

    fn all_events() -> Vec<EndpointEvent> {
        vec![
            SendSyn,
            SendSynAck,
            SendAck,
            SFIN_ACKING,
            SFIN_CROSS,
            SendRst,
            RecvSyn,
            RecvSynAck,
            ACK_NONE,
            ACK_SYN,
            ACK_FIN,
            RecvAck { syn_acked: false, fin_acked: true },
            FIN_ACKING,
            FIN_PLAIN,
            RecvRst,
        ]
    }

    fn check(state: TcpState, table: &[(EndpointEvent, TcpState)]) {
        for &(event, want) in table {
            assert_eq!(transition(state, event), want, "{state} + {event:?}");
        }
    }

    #[test]
    fn names() {
        let names: Vec<&str> = TcpState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names.join(" "),
            "UNKNOWN CLOSED LISTEN SYN-SENT SYN-RECEIVED ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 \
             CLOSE-WAIT CLOSING LAST-ACK TIME-WAIT"
        );
        assert_eq!(format!("{}", TimeWait), "TIME-WAIT");
    }

    #[test]
    fn state_unknown() {
        check(
            Unknown,
            &[
                (SendSyn, SynSent),
                (RecvSyn, Listen),
                (SendSynAck, SynReceived),
                (RecvSynAck, Established),
                (SendAck, Unknown),
                (ACK_FIN, Unknown),
                (SFIN_ACKING, FinWait1),
                (SFIN_CROSS, FinWait1),
                (FIN_PLAIN, CloseWait),
                (FIN_ACKING, CloseWait),
                (SendRst, Closed),
                (RecvRst, Closed),
            ],
        );
    }

    #[test]
    fn state_closed() {
        check(
            Closed,
            &[
                (SendSyn, SynSent),
                (RecvSyn, Listen),
                (SendSynAck, SynReceived),
                (RecvSynAck, Closed),
                (SendAck, Closed),
                (ACK_FIN, Closed),
                (SFIN_ACKING, Closed),
                (FIN_PLAIN, Closed),
                (SendRst, Closed),
                (RecvRst, Closed),
            ],
        );
    }

    #[test]
    fn state_listen() {
        check(
            Listen,
            &[
                (RecvSyn, Listen),
                (SendSynAck, SynReceived),
                (SendSyn, SynSent),
                (RecvSynAck, Listen),
                (ACK_SYN, Listen),
                (SendAck, Listen),
                (FIN_PLAIN, Listen),
                (SFIN_CROSS, Listen),
                (RecvRst, Listen),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_syn_sent() {
        check(
            SynSent,
            &[
                (SendSyn, SynSent),
                (RecvSynAck, Established),
                (RecvSyn, SynReceived),
                (SendSynAck, SynReceived),
                (SendAck, Established),
                (ACK_SYN, SynSent),
                (FIN_PLAIN, SynSent),
                (SFIN_ACKING, FinWait1),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_syn_received() {
        check(
            SynReceived,
            &[
                (SendSynAck, SynReceived),
                (SendSyn, SynReceived),
                (RecvSyn, SynReceived),
                (RecvSynAck, Established),
                (ACK_NONE, SynReceived),
                (ACK_SYN, Established),
                (SendAck, Established),
                (FIN_PLAIN, CloseWait),
                (SFIN_ACKING, FinWait1),
                (RecvRst, Listen),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_established() {
        check(
            Established,
            &[
                (SendAck, Established),
                (ACK_FIN, Established),
                (SendSyn, Established),
                (RecvSyn, Established),
                (SendSynAck, Established),
                (RecvSynAck, Established),
                (SFIN_ACKING, FinWait1),
                (SFIN_CROSS, FinWait1),
                (FIN_PLAIN, CloseWait),
                (FIN_ACKING, CloseWait),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_fin_wait_1() {
        check(
            FinWait1,
            &[
                (ACK_SYN, FinWait1),
                (ACK_FIN, FinWait2),
                (RecvAck { syn_acked: false, fin_acked: true }, FinWait2),
                (FIN_ACKING, TimeWait),
                (FIN_PLAIN, Closing),
                (SFIN_ACKING, FinWait1),
                (SendAck, FinWait1),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_fin_wait_2() {
        check(
            FinWait2,
            &[
                (ACK_FIN, FinWait2),
                (SendAck, FinWait2),
                (FIN_PLAIN, TimeWait),
                (FIN_ACKING, TimeWait),
                (SFIN_ACKING, FinWait2),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_close_wait() {
        check(
            CloseWait,
            &[
                (SendAck, CloseWait),
                (ACK_SYN, CloseWait),
                (SFIN_ACKING, LastAck),
                (SFIN_CROSS, Closing),
                (FIN_PLAIN, CloseWait),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_closing() {
        check(
            Closing,
            &[
                (ACK_SYN, Closing),
                (ACK_FIN, TimeWait),
                (FIN_PLAIN, Closing),
                (FIN_ACKING, TimeWait),
                (SendAck, Closing),
                (SFIN_CROSS, Closing),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_last_ack() {
        check(
            LastAck,
            &[
                (ACK_SYN, LastAck),
                (ACK_FIN, Closed),
                (FIN_PLAIN, LastAck),
                (FIN_ACKING, Closed),
                (SFIN_ACKING, LastAck),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    #[test]
    fn state_time_wait() {
        check(
            TimeWait,
            &[
                (SendSyn, SynSent),
                (RecvSyn, Listen),
                (FIN_PLAIN, TimeWait),
                (FIN_ACKING, TimeWait),
                (SendAck, TimeWait),
                (ACK_FIN, TimeWait),
                (SFIN_ACKING, TimeWait),
                (RecvRst, Closed),
                (SendRst, Closed),
            ],
        );
    }

    /// Total function: every (state, event) pair yields a state, and only the
    /// documented "sink" pairs leave CLOSED-like states.
    #[test]
    fn total_and_rst_always_closes_synchronized() {
        for state in TcpState::ALL {
            for event in all_events() {
                let _ = transition(state, event);
            }
            assert_eq!(transition(state, SendRst), Closed);
            if !matches!(state, Listen | SynReceived) {
                assert_eq!(transition(state, RecvRst), Closed);
            }
        }
    }

    /// Drive whole conversations through the machine: endpoints A and B from UNKNOWN
    /// through `(A's event, B's event)` pairs.
    fn run(steps: &[(EndpointEvent, EndpointEvent)]) -> (TcpState, TcpState) {
        let (mut host_a, mut host_b) = (Unknown, Unknown);
        for &(event_a, event_b) in steps {
            host_a = transition(host_a, event_a);
            host_b = transition(host_b, event_b);
        }
        (host_a, host_b)
    }

    #[test]
    fn normal_open_and_close() {
        let (host_a, host_b) = run(&[(SendSyn, RecvSyn), (RecvSynAck, SendSynAck), (SendAck, ACK_SYN)]);
        assert_eq!((host_a, host_b), (Established, Established));
        let (host_a, host_b) = run(&[
            (SendSyn, RecvSyn),
            (RecvSynAck, SendSynAck),
            (SendAck, ACK_SYN),
            (SFIN_CROSS, FIN_PLAIN),
            (ACK_FIN, SendAck),
            (FIN_ACKING, SFIN_ACKING),
            (SendAck, ACK_FIN),
        ]);
        assert_eq!((host_a, host_b), (TimeWait, Closed));
    }

    #[test]
    fn simultaneous_open_and_close() {
        // A SYN, B SYN (crossing), A SYN,ACK, B SYN,ACK
        let mut host_a = transition(Unknown, SendSyn);
        let mut host_b = transition(Unknown, RecvSyn);
        host_b = transition(transition(host_b, SendSyn), RecvSyn); // B's own SYN, then A's (already arrived)
        host_a = transition(host_a, RecvSyn);
        assert_eq!((host_a, host_b), (SynReceived, SynReceived));
        host_a = transition(host_a, SendSynAck);
        host_b = transition(host_b, RecvSynAck);
        host_b = transition(host_b, SendSynAck);
        host_a = transition(host_a, RecvSynAck);
        assert_eq!((host_a, host_b), (Established, Established));
        // A FIN, B FIN not acking A's FIN, A ACK, B ACK
        host_a = transition(host_a, SFIN_CROSS);
        host_b = transition(host_b, FIN_PLAIN);
        host_b = transition(host_b, SFIN_CROSS);
        host_a = transition(host_a, FIN_PLAIN);
        assert_eq!((host_a, host_b), (Closing, Closing));
        host_b = transition(host_b, ACK_FIN);
        host_a = transition(host_a, SendAck);
        host_a = transition(host_a, ACK_FIN);
        assert_eq!((host_a, host_b), (TimeWait, TimeWait));
    }
}
