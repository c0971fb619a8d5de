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
//! Approximation: Zeek reports a gap (`G`/`g`) when its reassembler sees data
//! acknowledged that it never got; here a gap is counted when Wireshark's analysis
//! flags `ack_lost_segment` (an ACK for data never seen), for the data's sender.

use std::fmt;

use super::TcpFlags;

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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ZState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

const HIST_SYN: u32 = 0x1;
const HIST_FIN: u32 = 0x2;
const HIST_RST: u32 = 0x4;
const HIST_FIN_RST: u32 = 0x8;
const HIST_DATA: u32 = 0x10;
const HIST_ACK: u32 = 0x20;
const HIST_MULTI: u32 = 0x40;
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;
const HIST_CAP: usize = 40;

/// One Zeek endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ZEndpoint {
    pub state: ZState,
    pub prev_state: ZState,
    start_seq: u32,
    last_seq: u32,
    ack_seq: u32,
    hist_last_syn: u32,
    hist_last_fin: u32,
    hist_last_rst: u32,
    fin_cnt: u32,
    rxmt: (u32, u32),
    win0: (u32, u32),
    gap: (u32, u32),
}

impl ZEndpoint {
    fn new() -> Self {
        ZEndpoint {
            state: ZState::Inactive,
            prev_state: ZState::Inactive,
            start_seq: 0,
            last_seq: 0,
            ack_seq: 0,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            fin_cnt: 0,
            rxmt: (0, 1),
            win0: (0, 1),
            gap: (0, 1),
        }
    }

    fn set_state(&mut self, s: ZState) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
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

/// Zeek's per-connection history/state tracker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Zeek {
    /// `[orig, resp]`
    pub ep: [ZEndpoint; 2],
    hist_seen: u32,
    hist: [u8; HIST_CAP],
    hist_len: u8,
}

/// Record `code` once per counter threshold 1, 10, 100, … (`ScaledHistoryEntry`).
fn scaled(counter: &mut (u32, u32)) -> bool {
    counter.0 += 1;
    if counter.0 == counter.1 {
        match counter.1.checked_mul(10) {
            Some(t) => counter.1 = t,
            None => counter.0 = 0,
        }
        true
    } else {
        false
    }
}

impl Zeek {
    pub fn new(flipped: bool) -> Self {
        let mut z = Zeek { ep: [ZEndpoint::new(); 2], hist_seen: 0, hist: [0; HIST_CAP], hist_len: 0 };
        if flipped {
            z.add(b'^');
        }
        z
    }

    fn add(&mut self, c: u8) {
        if (self.hist_len as usize) < HIST_CAP {
            self.hist[self.hist_len as usize] = c;
            self.hist_len += 1;
        }
    }

    fn add_for(&mut self, is_orig: bool, c: u8) {
        self.add(if is_orig { c } else { c.to_ascii_lowercase() });
    }

    /// `CheckHistory`: add the letter the first time; true if it was seen before.
    fn check(&mut self, is_orig: bool, mask: u32, c: u8) -> bool {
        let mask = if is_orig { mask } else { mask << 16 };
        if self.hist_seen & mask == 0 {
            self.hist_seen |= mask;
            self.add_for(is_orig, c);
            false
        } else {
            true
        }
    }

    /// The history string.
    pub fn history(&self) -> String {
        String::from_utf8_lossy(&self.hist[..self.hist_len as usize]).into_owned()
    }

    /// A content gap in the stream sent by the originator (`is_orig`) or responder.
    pub fn gap(&mut self, is_orig: bool) {
        let i = usize::from(!is_orig);
        if scaled(&mut self.ep[i].gap) {
            self.add_for(is_orig, b'G');
        }
    }

    /// Process one segment (`TCPSessionAdapter::Process`, minus payload delivery).
    pub fn packet(&mut self, is_orig: bool, flags: TcpFlags, seq: u32, ack: u32, len: u32, window: u16) {
        let (syn, fin, rst, ackf) =
            (flags.has(TcpFlags::SYN), flags.has(TcpFlags::FIN), flags.has(TcpFlags::RST), flags.has(TcpFlags::ACK));
        let (ei, pi) = if is_orig { (0, 1) } else { (1, 0) };
        let mut seg_len = len + u32::from(syn) + u32::from(fin);
        if rst {
            seg_len -= len;
        }
        let one_past = seq.wrapping_add(seg_len);

        // init_endpoint
        {
            let e = &mut self.ep[ei];
            match e.state {
                ZState::Inactive => {
                    if syn {
                        e.init_seqs(seq, one_past);
                    } else {
                        e.init_seqs(seq.wrapping_sub(1), seq);
                    }
                }
                ZState::SynSent | ZState::SynAckSent => {
                    if syn && seq != e.start_seq {
                        e.init_seqs(seq, one_past);
                    }
                }
                ZState::Established | ZState::Partial => {
                    if syn {
                        e.init_seqs(seq, one_past);
                    }
                }
                ZState::Reset => {
                    if syn && e.prev_state == ZState::Inactive {
                        e.init_seqs(seq, one_past);
                    }
                }
                ZState::Closed => {}
            }
        }
        let rel_seq = seq.wrapping_sub(self.ep[ei].start_seq);

        // update_history
        let bits = u32::from(syn) + u32::from(fin) + u32::from(rst);
        if bits > 1 {
            if fin && rst {
                self.check(is_orig, HIST_FIN_RST, b'I');
            } else {
                self.check(is_orig, HIST_MULTI, b'Q');
            }
        } else if bits == 1 {
            if syn {
                let code = if ackf { b'H' } else { b'S' };
                if self.check(is_orig, HIST_SYN, code) && rel_seq != self.ep[ei].hist_last_syn {
                    self.add_for(is_orig, code);
                }
                self.ep[ei].hist_last_syn = rel_seq;
            }
            if fin {
                let at = rel_seq.wrapping_add(len);
                if self.check(is_orig, HIST_FIN, b'F') && at != self.ep[ei].hist_last_fin {
                    self.add_for(is_orig, b'F');
                }
                self.ep[ei].hist_last_fin = at;
            }
            if rst {
                if self.check(is_orig, HIST_RST, b'R') && rel_seq != self.ep[ei].hist_last_rst {
                    self.add_for(is_orig, b'R');
                }
                self.ep[ei].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check(is_orig, HIST_DATA, b'D');
        } else if ackf {
            self.check(is_orig, HIST_ACK, b'A');
        }

        // update_window: zero windows (scaling does not change zero)
        if window == 0 && !rst && self.ep[pi].state != ZState::Closed && self.ep[ei].state != ZState::Reset && scaled(&mut self.ep[ei].win0)
        {
            self.add_for(is_orig, b'W');
        }
        if fin {
            self.ep[ei].fin_cnt += 1;
        }

        // ACK: initialise an inactive peer's numbering, or advance its ack_seq
        if ackf {
            let p = &mut self.ep[pi];
            if p.state == ZState::Inactive {
                p.init_seqs(ack.wrapping_sub(1), ack.wrapping_sub(1));
            } else if !rst {
                let d = ack.wrapping_sub(p.ack_seq) as i32;
                if !(ack == 0 && d > TOO_LARGE_SEQ_DELTA) && d > 0 {
                    p.ack_seq = ack;
                }
            }
        }

        // update_last_seq (and the 'T' letter)
        {
            let e = &mut self.ep[ei];
            let delta = one_past.wrapping_sub(e.last_seq) as i32;
            let rxmit = if (syn || rst) && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta) {
                false
            } else if fin && e.last_seq == e.start_seq.wrapping_add(1) {
                e.last_seq = one_past;
                false
            } else if e.state == ZState::Reset {
                false
            } else if delta > 0 {
                e.last_seq = one_past;
                false
            } else {
                len > 0
            };
            if rxmit && scaled(&mut e.rxmt) {
                self.add_for(is_orig, b'T');
            }
        }

        self.state_machine(is_orig, ei, pi, syn, fin, rst, ackf, len);
    }

    #[allow(clippy::too_many_arguments)]
    fn state_machine(&mut self, is_orig: bool, ei: usize, pi: usize, syn: bool, fin: bool, rst: bool, ackf: bool, len: u32) {
        let peer_state = self.ep[pi].state;
        let peer_prev = self.ep[pi].prev_state;
        match self.ep[ei].state {
            ZState::Inactive => {
                if syn {
                    if is_orig {
                        self.ep[ei].set_state(if ackf { ZState::SynAckSent } else { ZState::SynSent });
                    } else {
                        if peer_state == ZState::SynSent {
                            self.ep[pi].set_state(ZState::Established);
                        }
                        self.ep[ei].set_state(ZState::Established);
                    }
                }
                if fin {
                    self.ep[ei].set_state(ZState::Closed);
                }
                if rst {
                    self.ep[ei].set_state(ZState::Reset);
                }
                if self.ep[ei].state == ZState::Inactive {
                    if !is_orig && len == 0 && self.ep[0].state == ZState::SynSent {
                        // an ACK of the SYN before the SYN,ACK: not a partial connection
                    } else if ackf && self.ep[pi].state == ZState::Established {
                        self.ep[ei].set_state(ZState::Established);
                    } else {
                        self.ep[ei].set_state(ZState::Partial);
                    }
                }
            }
            ZState::SynSent | ZState::SynAckSent => {
                if fin {
                    self.ep[ei].set_state(ZState::Closed);
                }
                if rst {
                    self.ep[ei].set_state(ZState::Reset);
                }
            }
            ZState::Established | ZState::Partial => {
                if syn && self.ep[ei].state == ZState::Partial && peer_state == ZState::Inactive && !ackf {
                    self.ep[ei].set_state(ZState::SynSent);
                }
                if fin && !rst {
                    self.ep[ei].set_state(ZState::Closed);
                    if peer_state == ZState::Reset && peer_prev == ZState::Closed {
                        self.ep[pi].set_state(ZState::Closed);
                    }
                }
                if rst {
                    self.ep[ei].set_state(ZState::Reset);
                }
            }
            ZState::Closed => {
                if rst && peer_state != ZState::Closed {
                    self.ep[ei].set_state(ZState::Reset);
                }
            }
            ZState::Reset => {}
        }
    }

    /// Zeek's `conn_state` for the connection as seen so far.
    pub fn conn_state(&self) -> ZeekConnState {
        let (o, r) = (&self.ep[0], &self.ep[1]);
        let o_inactive = matches!(o.state, ZState::Inactive | ZState::Partial);
        let r_inactive = matches!(r.state, ZState::Inactive | ZState::Partial);
        if r.state == ZState::Reset {
            if matches!(o.state, ZState::SynSent | ZState::SynAckSent) || (o.state == ZState::Reset && o.size() == 0 && r.size() == 0) {
                ZeekConnState::Rej
            } else if o_inactive {
                ZeekConnState::Rstrh
            } else {
                ZeekConnState::Rstr
            }
        } else if o.state == ZState::Reset {
            if r_inactive {
                if rstos0_pattern(&self.hist[..self.hist_len as usize]) {
                    ZeekConnState::Rstos0
                } else {
                    ZeekConnState::Oth
                }
            } else {
                ZeekConnState::Rsto
            }
        } else if r.state == ZState::Closed && o.state == ZState::Closed {
            ZeekConnState::Sf
        } else if o.state == ZState::Closed {
            if r_inactive {
                ZeekConnState::Sh
            } else {
                ZeekConnState::S2
            }
        } else if r.state == ZState::Closed {
            if o_inactive {
                ZeekConnState::Shr
            } else {
                ZeekConnState::S3
            }
        } else if o.state == ZState::SynSent && r.state == ZState::Inactive {
            ZeekConnState::S0
        } else if o.state == ZState::Established && r.state == ZState::Established {
            ZeekConnState::S1
        } else {
            ZeekConnState::Oth
        }
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` matched against the whole history.
fn rstos0_pattern(h: &[u8]) -> bool {
    let h = h.strip_prefix(b"^").unwrap_or(h);
    let Some(rest) = h.strip_prefix(b"S") else {
        return false;
    };
    for &c in rest {
        if c == b'R' {
            return true;
        }
        if b"HAFGIQ".contains(&c) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const F: u8 = TcpFlags::FIN;
    const R: u8 = TcpFlags::RST;
    const P: u8 = TcpFlags::PSH;

    struct C {
        z: Zeek,
    }
    impl C {
        fn new() -> Self {
            C { z: Zeek::new(false) }
        }
        fn o(&mut self, f: u8, seq: u32, ack: u32, len: u32) -> &mut Self {
            self.z.packet(true, TcpFlags(f), seq, ack, len, 100);
            self
        }
        fn r(&mut self, f: u8, seq: u32, ack: u32, len: u32) -> &mut Self {
            self.z.packet(false, TcpFlags(f), seq, ack, len, 100);
            self
        }
        fn res(&self) -> (String, &'static str) {
            (self.z.history(), self.z.conn_state().as_str())
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
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A, 101, 901, 0);
        c.o(A | P, 101, 901, 10).r(A, 901, 111, 0).r(A | P, 901, 111, 20).o(A, 111, 921, 0);
        c.o(F | A, 111, 921, 0).r(F | A, 921, 112, 0).o(A, 112, 922, 0);
        assert_eq!(c.res(), ("ShADadFf".to_string(), "SF"));
    }

    #[test]
    fn s0_rej_rsto_rstr() {
        let mut c = C::new();
        c.o(S, 100, 0, 0).o(S, 100, 0, 0);
        assert_eq!(c.res(), ("S".to_string(), "S0"));
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(R | A, 0, 101, 0);
        assert_eq!(c.res(), ("Sr".to_string(), "REJ"));
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A, 101, 901, 0).o(R | A, 101, 901, 0);
        assert_eq!(c.res(), ("ShAR".to_string(), "RSTO"));
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A | P, 101, 901, 5).r(R | A, 901, 106, 0);
        assert_eq!(c.res(), ("ShDr".to_string(), "RSTR"));
        let mut c = C::new();
        c.o(S, 100, 0, 0).o(R, 101, 0, 0);
        assert_eq!(c.res(), ("SR".to_string(), "RSTOS0"));
    }

    #[test]
    fn half_open_and_partial() {
        let mut c = C::new();
        c.o(S, 100, 0, 0).o(F, 101, 0, 0);
        assert_eq!(c.res(), ("SF".to_string(), "SH"));
        let mut z = Zeek::new(true);
        z.packet(false, TcpFlags(S | A), 900, 101, 0, 100);
        z.packet(false, TcpFlags(R), 901, 0, 0, 100);
        assert_eq!((z.history(), z.conn_state().as_str()), ("^hr".to_string(), "RSTRH"));
        let mut c = C::new();
        c.o(A | P, 101, 901, 10).r(A, 901, 111, 0);
        assert_eq!(c.res(), ("Da".to_string(), "OTH"));
        c.o(F | A, 111, 901, 0).r(F | A, 901, 112, 0);
        assert_eq!(c.res().1, "SF");
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A, 101, 901, 0).o(F | A, 101, 901, 0);
        assert_eq!(c.res(), ("ShAF".to_string(), "S2"));
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A, 101, 901, 0).r(F | A, 901, 101, 0);
        assert_eq!(c.res(), ("ShAf".to_string(), "S3"));
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A, 101, 901, 0);
        assert_eq!(c.res().1, "S1");
    }

    #[test]
    fn retransmissions_and_zero_windows_are_logarithmic() {
        let mut c = C::new();
        c.o(S, 100, 0, 0).r(S | A, 900, 101, 0).o(A, 101, 901, 0).o(A | P, 101, 901, 10);
        for _ in 0..10 {
            c.o(A | P, 101, 901, 10);
        }
        for _ in 0..10 {
            c.z.packet(false, TcpFlags(A), 901, 111, 0, 0);
        }
        let (h, _) = c.res();
        assert_eq!(h, "ShADTTaww");
        // a repeated SYN with the same sequence number is not repeated in the history
        let mut c = C::new();
        c.o(S, 100, 0, 0).o(S, 100, 0, 0).o(S, 200, 0, 0);
        assert_eq!(c.res().0, "S");
    }

    #[test]
    fn gaps_and_multiflag() {
        let mut c = C::new();
        c.o(S | F, 100, 0, 0).r(F | R, 1, 1, 0);
        c.z.gap(true);
        c.z.gap(false);
        assert_eq!(c.res().0, "QiGg");
        assert!(rstos0_pattern(b"^SxR"));
        assert!(rstos0_pattern(b"ShR"));
        assert!(!rstos0_pattern(b"SAR"));
        assert!(!rstos0_pattern(b"R"));
    }
}
