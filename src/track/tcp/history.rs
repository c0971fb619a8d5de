//! Zeek's `conn.log` view of a connection: the `history` string and `conn_state`.
//!
//! Zeek judges a connection with its own, coarser endpoint model (INACTIVE,
//! SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET), not with RFC 9293
//! states; `conn_state` is defined on that model (`scripts/base/protocols/conn/
//! main.zeek`, function `conn_state`). This module transcribes the parts of Zeek's
//! TCP analyzer (`TCPSessionAdapter.cc`: `update_history`, `update_window`,
//! `update_last_seq`, `UpdateStateMachine`; `TCP_Endpoint.cc`) that feed those two
//! fields. It is a classification for the summary only: the RFC 9293 state machine
//! of the tracker is [`crate::track::tcp::state::transition`].
//!
//! History letters (upper case: originator = our client; lower case: responder):
//! `S` SYN, `H` SYN+ACK, `A` pure ACK, `D` payload, `F` FIN, `R` RST (repeated only
//! when the sequence number changes), `Q` SYN+FIN/SYN+RST, `I` FIN+RST, `T`
//! retransmitted payload, `W` zero window, `G` content gap; `T`, `W`, `G` are written
//! at the 1st, 10th, 100th, … occurrence. `^` leads the string when the roles were
//! flipped (the first packet seen was a SYN,ACK, so its receiver is the client).
//!
//! Gaps (`G`/`g`): Zeek's reassembler reports one per hole it skips (data acknowledged
//! that it never got, or a payload cut by the snap length), however many ACKs pass it;
//! the tracker finds them with the same model (`gaps.rs`) and calls [`ZeekConn::gap`]
//! once per hole, for the data's sender.

use std::fmt;

use super::{Dir, TcpFlags};

/// Zeek's `conn_state`: how the connection went, in Zeek's codes
/// (`scripts/base/protocols/conn/main.zeek`). Originator = our client, responder = our server.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ZeekConnState {
    /// `S0`: connection attempt seen, no reply.
    S0,
    /// `S1`: connection established, not terminated.
    S1,
    /// `SF`: normal establishment and termination.
    Sf,
    /// `REJ`: connection attempt rejected.
    Rej,
    /// `S2`: connection established and close attempt by originator seen (but no reply from responder).
    S2,
    /// `S3`: connection established and close attempt by responder seen (but no reply from originator).
    S3,
    /// `RSTO`: connection established, originator aborted (sent a RST).
    Rsto,
    /// `RSTR`: responder sent a RST.
    Rstr,
    /// `RSTOS0`: originator sent a SYN followed by a RST, no SYN,ACK from the responder seen.
    Rstos0,
    /// `RSTRH`: responder sent a SYN,ACK followed by a RST, no SYN from the (purported) originator seen.
    Rstrh,
    /// `SH`: originator sent a SYN followed by a FIN, no SYN,ACK from the responder seen (half open).
    Sh,
    /// `SHR`: responder sent a SYN,ACK followed by a FIN, no SYN from the originator seen.
    Shr,
    /// `OTH`: no SYN seen, just midstream traffic (e.g. a partial connection that was not closed).
    Oth,
}

impl ZeekConnState {
    /// Zeek's code: `S0`, `S1`, `SF`, `REJ`, `S2`, `S3`, `RSTO`, `RSTR`, `RSTOS0`, `RSTRH`, `SH`, `SHR`, `OTH`.
    pub fn as_str(self) -> &'static str {
        match self {
            ZeekConnState::S0 => "S0",
            ZeekConnState::S1 => "S1",
            ZeekConnState::Sf => "SF",
            ZeekConnState::Rej => "REJ",
            ZeekConnState::S2 => "S2",
            ZeekConnState::S3 => "S3",
            ZeekConnState::Rsto => "RSTO",
            ZeekConnState::Rstr => "RSTR",
            ZeekConnState::Rstos0 => "RSTOS0",
            ZeekConnState::Rstrh => "RSTRH",
            ZeekConnState::Sh => "SH",
            ZeekConnState::Shr => "SHR",
            ZeekConnState::Oth => "OTH",
        }
    }
}

/// Zeek's code, as [`ZeekConnState::as_str`] (width and alignment flags are honoured).
impl fmt::Display for ZeekConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// State of one endpoint in Zeek's model (`TCP_Endpoint::EndpointState`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ZeekEndpointState {
    /// Nothing sent yet.
    Inactive,
    /// Sent a SYN (originator).
    SynSent,
    /// Sent a SYN,ACK as the originator (Zeek's `SYN_ACK_SENT`).
    SynAckSent,
    /// Active without a handshake seen.
    Partial,
    /// Handshake seen, or active after a peer that is established.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

const HIST_SYN: u32 = 0x1;
const HIST_FIN: u32 = 0x2;
const HIST_RST: u32 = 0x4;
const HIST_FIN_RST: u32 = 0x8;
const HIST_DATA: u32 = 0x10;
const HIST_ACK: u32 = 0x20;
const HIST_MULTI: u32 = 0x40;
/// A sequence jump larger than this is not a retransmission or an ACK advance (Zeek's `TOO_LARGE_SEQ_DELTA`).
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;
/// History letters kept per connection; later ones are dropped.
const HISTORY_CAP: usize = 40;

/// Zeek's `ScaledHistoryEntry` counter: a letter is written at the 1st, 10th, 100th, … event.
#[derive(Clone, Copy, Debug)]
struct ScaledCounter {
    count: u32,
    /// The count at which the letter is written next.
    threshold: u32,
}

impl ScaledCounter {
    const NEW: ScaledCounter = ScaledCounter { count: 0, threshold: 1 };

    /// Count one event; true when it reaches the threshold (which then grows tenfold).
    fn hit(&mut self) -> bool {
        self.count += 1;
        if self.count != self.threshold {
            return false;
        }
        match self.threshold.checked_mul(10) {
            Some(next) => self.threshold = next,
            None => self.count = 0,
        }
        true
    }
}

/// One Zeek endpoint (`TCP_Endpoint`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ZeekEndpoint {
    /// Its state in Zeek's model.
    pub state: ZeekEndpointState,
    /// Its state before the last change.
    pub prev_state: ZeekEndpointState,
    start_seq: u32,
    last_seq: u32,
    ack_seq: u32,
    hist_last_syn: u32,
    hist_last_fin: u32,
    hist_last_rst: u32,
    fin_cnt: u32,
    retransmissions: ScaledCounter,
    zero_windows: ScaledCounter,
    gaps: ScaledCounter,
}

impl ZeekEndpoint {
    const NEW: ZeekEndpoint = ZeekEndpoint {
        state: ZeekEndpointState::Inactive,
        prev_state: ZeekEndpointState::Inactive,
        start_seq: 0,
        last_seq: 0,
        ack_seq: 0,
        hist_last_syn: 0,
        hist_last_fin: 0,
        hist_last_rst: 0,
        fin_cnt: 0,
        retransmissions: ScaledCounter::NEW,
        zero_windows: ScaledCounter::NEW,
        gaps: ScaledCounter::NEW,
    };

    fn set_state(&mut self, state: ZeekEndpointState) {
        if state != self.state {
            self.prev_state = self.state;
            self.state = state;
        }
    }

    fn init_seqs(&mut self, start: u32, last: u32) {
        self.start_seq = start;
        self.ack_seq = start;
        self.last_seq = last;
    }

    /// Payload bytes in sequence space (Zeek's `Size()`, without 64-bit wraps).
    fn size(&self) -> u64 {
        let last = u64::from(self.last_seq.wrapping_sub(self.start_seq));
        let ack = u64::from(self.ack_seq.wrapping_sub(self.start_seq));
        let mut size = last.max(ack);
        if size >= 1 << 31 {
            return 0; // below the start: untrustworthy
        }
        size = size.saturating_sub(1);
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size
    }
}

/// Zeek's view of one connection: its two endpoints and the history letters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ZeekConn {
    /// Indexed by [`Dir::idx`] of the sender: `[originator, responder]`.
    pub endpoints: [ZeekEndpoint; 2],
    /// `HIST_*` bits of the letters written once, originator's in the low 16 bits.
    letters_seen: u32,
    letters: [u8; HISTORY_CAP],
    letters_len: u8,
}

impl ZeekConn {
    /// A connection with nothing seen; `flipped`: the first packet was a SYN,ACK, so its
    /// receiver is the originator (history starts with `^`).
    pub fn new(flipped: bool) -> Self {
        let mut conn = ZeekConn { endpoints: [ZeekEndpoint::NEW; 2], letters_seen: 0, letters: [0; HISTORY_CAP], letters_len: 0 };
        if flipped {
            conn.add(b'^');
        }
        conn
    }

    fn add(&mut self, letter: u8) {
        if (self.letters_len as usize) < HISTORY_CAP {
            self.letters[self.letters_len as usize] = letter;
            self.letters_len += 1;
        }
    }

    /// Add `letter`, upper case for the originator and lower case for the responder.
    fn add_for(&mut self, from: Dir, letter: u8) {
        self.add(if from == Dir::C2S { letter } else { letter.to_ascii_lowercase() })
    }

    /// `CheckHistory`: add the letter the first time; true if it was seen before.
    fn check(&mut self, from: Dir, mask: u32, letter: u8) -> bool {
        let mask = if from == Dir::C2S { mask } else { mask << 16 };
        if self.letters_seen & mask == 0 {
            self.letters_seen |= mask;
            self.add_for(from, letter);
            false
        } else {
            true
        }
    }

    /// The history string.
    pub fn history(&self) -> String {
        String::from_utf8_lossy(&self.letters[..self.letters_len as usize]).into_owned()
    }

    /// A content gap in the stream sent in direction `from`.
    pub fn gap(&mut self, from: Dir) {
        if self.endpoints[from.idx()].gaps.hit() {
            self.add_for(from, b'G');
        }
    }

    /// Process one segment sent in direction `from` (`TCPSessionAdapter::Process`, minus
    /// payload delivery).
    pub fn packet(&mut self, from: Dir, flags: TcpFlags, seq: u32, ack: u32, len: u32, window: u16) {
        let (syn, fin, rst, ack_flag) =
            (flags.has(TcpFlags::SYN), flags.has(TcpFlags::FIN), flags.has(TcpFlags::RST), flags.has(TcpFlags::ACK));
        let (own, peer) = (from.idx(), from.rev().idx());
        let mut seg_len = len + u32::from(syn) + u32::from(fin);
        if rst {
            seg_len -= len;
        }
        let one_past = seq.wrapping_add(seg_len);

        // init_endpoint
        {
            let endpoint = &mut self.endpoints[own];
            match endpoint.state {
                ZeekEndpointState::Inactive => {
                    if syn {
                        endpoint.init_seqs(seq, one_past);
                    } else {
                        endpoint.init_seqs(seq.wrapping_sub(1), seq);
                    }
                }
                ZeekEndpointState::SynSent | ZeekEndpointState::SynAckSent => {
                    if syn && seq != endpoint.start_seq {
                        endpoint.init_seqs(seq, one_past);
                    }
                }
                ZeekEndpointState::Established | ZeekEndpointState::Partial => {
                    if syn {
                        endpoint.init_seqs(seq, one_past);
                    }
                }
                ZeekEndpointState::Reset => {
                    if syn && endpoint.prev_state == ZeekEndpointState::Inactive {
                        endpoint.init_seqs(seq, one_past);
                    }
                }
                ZeekEndpointState::Closed => {}
            }
        }
        let rel_seq = seq.wrapping_sub(self.endpoints[own].start_seq);

        // update_history
        let control_bits = u32::from(syn) + u32::from(fin) + u32::from(rst);
        if control_bits > 1 {
            if fin && rst {
                self.check(from, HIST_FIN_RST, b'I');
            } else {
                self.check(from, HIST_MULTI, b'Q');
            }
        } else if control_bits == 1 {
            if syn {
                let letter = if ack_flag { b'H' } else { b'S' };
                if self.check(from, HIST_SYN, letter) && rel_seq != self.endpoints[own].hist_last_syn {
                    self.add_for(from, letter);
                }
                self.endpoints[own].hist_last_syn = rel_seq;
            }
            if fin {
                let at = rel_seq.wrapping_add(len);
                if self.check(from, HIST_FIN, b'F') && at != self.endpoints[own].hist_last_fin {
                    self.add_for(from, b'F');
                }
                self.endpoints[own].hist_last_fin = at;
            }
            if rst {
                if self.check(from, HIST_RST, b'R') && rel_seq != self.endpoints[own].hist_last_rst {
                    self.add_for(from, b'R');
                }
                self.endpoints[own].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check(from, HIST_DATA, b'D');
        } else if ack_flag {
            self.check(from, HIST_ACK, b'A');
        }

        // update_window: zero windows (scaling does not change zero)
        if window == 0
            && !rst
            && self.endpoints[peer].state != ZeekEndpointState::Closed
            && self.endpoints[own].state != ZeekEndpointState::Reset
            && self.endpoints[own].zero_windows.hit()
        {
            self.add_for(from, b'W');
        }
        if fin {
            self.endpoints[own].fin_cnt += 1;
        }

        // ACK: initialise an inactive peer's numbering, or advance its ack_seq
        if ack_flag {
            let peer_endpoint = &mut self.endpoints[peer];
            if peer_endpoint.state == ZeekEndpointState::Inactive {
                peer_endpoint.init_seqs(ack.wrapping_sub(1), ack.wrapping_sub(1));
            } else if !rst {
                let advance = ack.wrapping_sub(peer_endpoint.ack_seq) as i32;
                if !(ack == 0 && advance > TOO_LARGE_SEQ_DELTA) && advance > 0 {
                    peer_endpoint.ack_seq = ack;
                }
            }
        }

        // update_last_seq (and the 'T' letter)
        {
            let endpoint = &mut self.endpoints[own];
            let delta = one_past.wrapping_sub(endpoint.last_seq) as i32;
            let retransmitted = if (syn || rst) && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta) {
                false
            } else if fin && endpoint.last_seq == endpoint.start_seq.wrapping_add(1) {
                endpoint.last_seq = one_past;
                false
            } else if endpoint.state == ZeekEndpointState::Reset {
                false
            } else if delta > 0 {
                endpoint.last_seq = one_past;
                false
            } else {
                len > 0
            };
            if retransmitted && endpoint.retransmissions.hit() {
                self.add_for(from, b'T');
            }
        }

        self.state_machine(from, flags, len);
    }

    /// `UpdateStateMachine`: the endpoint states after a segment sent in direction `from`.
    fn state_machine(&mut self, from: Dir, flags: TcpFlags, len: u32) {
        let (syn, fin, rst, ack_flag) =
            (flags.has(TcpFlags::SYN), flags.has(TcpFlags::FIN), flags.has(TcpFlags::RST), flags.has(TcpFlags::ACK));
        let is_orig = from == Dir::C2S;
        let (own, peer) = (from.idx(), from.rev().idx());
        let peer_state = self.endpoints[peer].state;
        let peer_prev = self.endpoints[peer].prev_state;
        match self.endpoints[own].state {
            ZeekEndpointState::Inactive => {
                if syn {
                    if is_orig {
                        self.endpoints[own].set_state(if ack_flag { ZeekEndpointState::SynAckSent } else { ZeekEndpointState::SynSent });
                    } else {
                        if peer_state == ZeekEndpointState::SynSent {
                            self.endpoints[peer].set_state(ZeekEndpointState::Established);
                        }
                        self.endpoints[own].set_state(ZeekEndpointState::Established);
                    }
                }
                if fin {
                    self.endpoints[own].set_state(ZeekEndpointState::Closed);
                }
                if rst {
                    self.endpoints[own].set_state(ZeekEndpointState::Reset);
                }
                if self.endpoints[own].state == ZeekEndpointState::Inactive {
                    if !is_orig && len == 0 && self.endpoints[Dir::C2S.idx()].state == ZeekEndpointState::SynSent {
                        // an ACK of the SYN before the SYN,ACK: not a partial connection
                    } else if ack_flag && self.endpoints[peer].state == ZeekEndpointState::Established {
                        self.endpoints[own].set_state(ZeekEndpointState::Established);
                    } else {
                        self.endpoints[own].set_state(ZeekEndpointState::Partial);
                    }
                }
            }
            ZeekEndpointState::SynSent | ZeekEndpointState::SynAckSent => {
                if fin {
                    self.endpoints[own].set_state(ZeekEndpointState::Closed);
                }
                if rst {
                    self.endpoints[own].set_state(ZeekEndpointState::Reset);
                }
            }
            ZeekEndpointState::Established | ZeekEndpointState::Partial => {
                if syn && self.endpoints[own].state == ZeekEndpointState::Partial && peer_state == ZeekEndpointState::Inactive && !ack_flag
                {
                    self.endpoints[own].set_state(ZeekEndpointState::SynSent);
                }
                if fin && !rst {
                    self.endpoints[own].set_state(ZeekEndpointState::Closed);
                    if peer_state == ZeekEndpointState::Reset && peer_prev == ZeekEndpointState::Closed {
                        self.endpoints[peer].set_state(ZeekEndpointState::Closed);
                    }
                }
                if rst {
                    self.endpoints[own].set_state(ZeekEndpointState::Reset);
                }
            }
            ZeekEndpointState::Closed => {
                if rst && peer_state != ZeekEndpointState::Closed {
                    self.endpoints[own].set_state(ZeekEndpointState::Reset);
                }
            }
            ZeekEndpointState::Reset => {}
        }
    }

    /// Zeek's `conn_state` for the connection as seen so far.
    pub fn conn_state(&self) -> ZeekConnState {
        use ZeekEndpointState::{Closed, Established, Inactive, Partial, Reset, SynAckSent, SynSent};
        let [orig, resp] = &self.endpoints;
        let orig_inactive = matches!(orig.state, Inactive | Partial);
        let resp_inactive = matches!(resp.state, Inactive | Partial);
        if resp.state == Reset {
            if matches!(orig.state, SynSent | SynAckSent) || (orig.state == Reset && orig.size() == 0 && resp.size() == 0) {
                ZeekConnState::Rej
            } else if orig_inactive {
                ZeekConnState::Rstrh
            } else {
                ZeekConnState::Rstr
            }
        } else if orig.state == Reset {
            if resp_inactive {
                if rstos0_pattern(&self.letters[..self.letters_len as usize]) {
                    ZeekConnState::Rstos0
                } else {
                    ZeekConnState::Oth
                }
            } else {
                ZeekConnState::Rsto
            }
        } else if resp.state == Closed && orig.state == Closed {
            ZeekConnState::Sf
        } else if orig.state == Closed {
            if resp_inactive {
                ZeekConnState::Sh
            } else {
                ZeekConnState::S2
            }
        } else if resp.state == Closed {
            if orig_inactive {
                ZeekConnState::Shr
            } else {
                ZeekConnState::S3
            }
        } else if orig.state == SynSent && resp.state == Inactive {
            ZeekConnState::S0
        } else if orig.state == Established && resp.state == Established {
            ZeekConnState::S1
        } else {
            ZeekConnState::Oth
        }
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` matched against the whole history.
fn rstos0_pattern(history: &[u8]) -> bool {
    let history = history.strip_prefix(b"^").unwrap_or(history);
    let Some(rest) = history.strip_prefix(b"S") else {
        return false;
    };
    for &letter in rest {
        if letter == b'R' {
            return true;
        }
        if b"HAFGIQ".contains(&letter) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: u8 = TcpFlags::SYN;
    const ACK: u8 = TcpFlags::ACK;
    const FIN: u8 = TcpFlags::FIN;
    const RST: u8 = TcpFlags::RST;
    const PSH: u8 = TcpFlags::PSH;

    /// Segments from the originator (`orig`) and the responder (`resp`), window 100.
    struct Script {
        zeek: ZeekConn,
    }
    impl Script {
        fn new() -> Self {
            Script { zeek: ZeekConn::new(false) }
        }
        fn orig(&mut self, flags: u8, seq: u32, ack: u32, len: u32) -> &mut Self {
            self.zeek.packet(Dir::C2S, TcpFlags(flags), seq, ack, len, 100);
            self
        }
        fn resp(&mut self, flags: u8, seq: u32, ack: u32, len: u32) -> &mut Self {
            self.zeek.packet(Dir::S2C, TcpFlags(flags), seq, ack, len, 100);
            self
        }
        /// History and `conn_state`.
        fn result(&self) -> (String, &'static str) {
            (self.zeek.history(), self.zeek.conn_state().as_str())
        }
    }

    #[test]
    fn conn_state_codes() {
        use ZeekConnState::*;
        let codes: Vec<&str> =
            [S0, S1, Sf, Rej, S2, S3, Rsto, Rstr, Rstos0, Rstrh, Sh, Shr, Oth].iter().map(|state| state.as_str()).collect();
        assert_eq!(codes.join(" "), "S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH");
        assert_eq!(format!("{Rstos0}|{Sf:<4}|{Rej:>4}"), "RSTOS0|SF  | REJ");
    }

    #[test]
    fn sf_normal() {
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK, 101, 901, 0);
        script.orig(ACK | PSH, 101, 901, 10).resp(ACK, 901, 111, 0).resp(ACK | PSH, 901, 111, 20).orig(ACK, 111, 921, 0);
        script.orig(FIN | ACK, 111, 921, 0).resp(FIN | ACK, 921, 112, 0).orig(ACK, 112, 922, 0);
        assert_eq!(script.result(), ("ShADadFf".to_string(), "SF"));
    }

    #[test]
    fn s0_rej_rsto_rstr() {
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).orig(SYN, 100, 0, 0);
        assert_eq!(script.result(), ("S".to_string(), "S0"));
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(RST | ACK, 0, 101, 0);
        assert_eq!(script.result(), ("Sr".to_string(), "REJ"));
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK, 101, 901, 0).orig(RST | ACK, 101, 901, 0);
        assert_eq!(script.result(), ("ShAR".to_string(), "RSTO"));
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK | PSH, 101, 901, 5).resp(RST | ACK, 901, 106, 0);
        assert_eq!(script.result(), ("ShDr".to_string(), "RSTR"));
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).orig(RST, 101, 0, 0);
        assert_eq!(script.result(), ("SR".to_string(), "RSTOS0"));
    }

    #[test]
    fn half_open_and_partial() {
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).orig(FIN, 101, 0, 0);
        assert_eq!(script.result(), ("SF".to_string(), "SH"));
        let mut zeek = ZeekConn::new(true);
        zeek.packet(Dir::S2C, TcpFlags(SYN | ACK), 900, 101, 0, 100);
        zeek.packet(Dir::S2C, TcpFlags(RST), 901, 0, 0, 100);
        assert_eq!((zeek.history(), zeek.conn_state().as_str()), ("^hr".to_string(), "RSTRH"));
        let mut script = Script::new();
        script.orig(ACK | PSH, 101, 901, 10).resp(ACK, 901, 111, 0);
        assert_eq!(script.result(), ("Da".to_string(), "OTH"));
        script.orig(FIN | ACK, 111, 901, 0).resp(FIN | ACK, 901, 112, 0);
        assert_eq!(script.result().1, "SF");
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK, 101, 901, 0).orig(FIN | ACK, 101, 901, 0);
        assert_eq!(script.result(), ("ShAF".to_string(), "S2"));
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK, 101, 901, 0).resp(FIN | ACK, 901, 101, 0);
        assert_eq!(script.result(), ("ShAf".to_string(), "S3"));
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK, 101, 901, 0);
        assert_eq!(script.result().1, "S1");
    }

    #[test]
    fn retransmissions_and_zero_windows_are_logarithmic() {
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).resp(SYN | ACK, 900, 101, 0).orig(ACK, 101, 901, 0).orig(ACK | PSH, 101, 901, 10);
        for _ in 0..10 {
            script.orig(ACK | PSH, 101, 901, 10);
        }
        for _ in 0..10 {
            script.zeek.packet(Dir::S2C, TcpFlags(ACK), 901, 111, 0, 0);
        }
        let (history, _) = script.result();
        assert_eq!(history, "ShADTTaww");
        // a repeated SYN with the same sequence number is not repeated in the history
        let mut script = Script::new();
        script.orig(SYN, 100, 0, 0).orig(SYN, 100, 0, 0).orig(SYN, 200, 0, 0);
        assert_eq!(script.result().0, "S");
    }

    #[test]
    fn gaps_and_multiflag() {
        let mut script = Script::new();
        script.orig(SYN | FIN, 100, 0, 0).resp(FIN | RST, 1, 1, 0);
        script.zeek.gap(Dir::C2S);
        script.zeek.gap(Dir::S2C);
        assert_eq!(script.result().0, "QiGg");
        assert!(rstos0_pattern(b"^SxR"));
        assert!(rstos0_pattern(b"ShR"));
        assert!(!rstos0_pattern(b"SAR"));
        assert!(!rstos0_pattern(b"R"));
    }
}
