//! The scripted TCP peer: one side of the connection is the kernel's real TCP (a normal socket,
//! on a thread of this process), the other is played here on a TUN device, segment by segment,
//! exactly as the scenario says: it answers, stays silent, drops, sends duplicate ACKs with SACK,
//! reorders, advertises a zero window or forgets the connection. The kernel's reaction
//! (retransmission timer and its backoff, fast retransmit, SYN retries, zero-window probes,
//! simultaneous open and close, ECONNRESET) is therefore real and repeatable.
//!
//! The TUN device and the socket live in a private network namespace that the caller (the lab,
//! `crate::lab`) created and entered; the kernel side has 198.19.0.1 on the device, the peer
//! answers for 198.19.0.2. Every wait is bounded.

mod packet;
mod scripts;
mod tun;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

pub use packet::{Flags, Segment};
pub use tun::Tun;

use super::{GenError, Voice};

/// Address of the kernel's side on the TUN device.
pub const KERNEL_ADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
/// Address the scripted peer answers for.
pub const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
/// Prefix length of the TUN device's address.
pub const PREFIX_LEN: u8 = 24;

pub(crate) use scripts::dispatch;

/// The peer's initial sequence number (fixed: runs are repeatable).
const PEER_ISS: u32 = 1_000_000;
/// The window the peer offers unless the scenario says otherwise (no window scaling).
const PEER_WINDOW: u16 = 64_240;

/// The peer's end of one connection.
pub(crate) struct Peer {
    tun: Tun,
    /// The peer's address and port.
    me: SocketAddrV4,
    /// The kernel's address and port, once its first segment arrived.
    them: Option<SocketAddrV4>,
    /// Next sequence number the peer sends.
    snd_nxt: u32,
    /// Next sequence number the peer expects (what it acknowledges).
    rcv_nxt: u32,
    /// Window the peer advertises.
    window: u16,
    voice: Voice,
    start: Instant,
    buf: Vec<u8>,
}

impl Peer {
    pub(crate) fn new(tun: Tun, port: u16, voice: Voice) -> Peer {
        Peer {
            tun,
            me: SocketAddrV4::new(PEER_ADDR, port),
            them: None,
            snd_nxt: PEER_ISS,
            rcv_nxt: 0,
            window: PEER_WINDOW,
            voice,
            start: Instant::now(),
            buf: vec![0u8; 65_536],
        }
    }

    /// Seconds since the peer started, for narration.
    pub(crate) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn say(&self, text: String) {
        self.voice.say(format!("{:6.3} s  {text}", self.now()));
    }

    /// The next TCP segment sent to the peer's address within `wait`; other packets are ignored.
    pub(crate) fn next(&mut self, wait: Duration) -> Result<Option<(Segment, Instant)>, GenError> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let Some(n) = self.tun.recv(left, &mut self.buf).map_err(|e| GenError::io("reading the TUN device", e))? else {
                return Ok(None);
            };
            let at = Instant::now();
            if let Some(seg) = Segment::parse(&self.buf[..n]) {
                if seg.dst == self.me {
                    if self.them.is_none() {
                        self.them = Some(seg.src);
                    }
                    return Ok(Some((seg, at)));
                }
            }
        }
    }

    /// The next segment that satisfies `want`, within `wait`; a timeout names `what`.
    pub(crate) fn expect(&mut self, what: &str, wait: Duration, want: impl Fn(&Segment) -> bool) -> Result<(Segment, Instant), GenError> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left)? {
                Some((seg, at)) if want(&seg) => return Ok((seg, at)),
                Some(_) => continue,
                None => return Err(GenError::Timeout { what: format!("while the peer waited for {what}"), secs: wait.as_secs_f64() }),
            }
        }
    }

    /// A segment from the peer with its current numbers and window.
    pub(crate) fn segment(&self, flags: Flags) -> Result<Segment, GenError> {
        let them = self.them.ok_or_else(|| GenError::Internal("the peer has no connection to answer".into()))?;
        Ok(Segment::new(self.me, them, self.snd_nxt, self.rcv_nxt, flags, self.window))
    }

    /// Send `seg` as it is (for segments whose numbers the script sets itself).
    pub(crate) fn send_raw(&mut self, seg: &Segment) -> Result<(), GenError> {
        self.tun.send(&seg.build()).map_err(|e| GenError::io("writing to the TUN device", e))
    }

    /// Send `flags` with `payload` at `snd_nxt`, acknowledging `rcv_nxt`; advances `snd_nxt`.
    pub(crate) fn send(&mut self, flags: Flags, payload: &[u8]) -> Result<Segment, GenError> {
        let mut seg = self.segment(flags)?;
        seg.payload = payload.to_vec();
        self.send_raw(&seg)?;
        self.snd_nxt = seg.end();
        Ok(seg)
    }

    /// Answer the kernel's SYN with SYN,ACK (MSS `mss`, SACK permitted, no window scale, no
    /// timestamps) and wait for the handshake's ACK.
    pub(crate) fn accept(&mut self, mss: u16) -> Result<Segment, GenError> {
        let (syn, _) = self.expect("the kernel's SYN", Duration::from_secs(5), |s| s.flags.syn && !s.flags.ack)?;
        self.rcv_nxt = syn.seq.wrapping_add(1);
        let mut syn_ack = self.segment(Flags::SYN_ACK)?;
        syn_ack.mss = Some(mss);
        syn_ack.sack_permitted = true;
        self.send_raw(&syn_ack)?;
        self.snd_nxt = syn_ack.end();
        let ours = self.snd_nxt;
        self.expect("the handshake's ACK", Duration::from_secs(5), move |s| s.flags.ack && s.ack == ours)?;
        self.say(format!("answered the SYN with SYN,ACK (MSS {mss}, SACK permitted); the kernel's ACK completes the handshake"));
        Ok(syn)
    }

    /// Close from the peer's side: FIN, then acknowledge what the kernel still sends and its FIN.
    pub(crate) fn close(&mut self) -> Result<(), GenError> {
        self.send(Flags::FIN_ACK, b"")?;
        self.say("sends FIN: the peer closes first (it will be in TIME-WAIT; the kernel passes through CLOSE-WAIT)".into());
        loop {
            let (seg, _) = self.expect("the kernel's FIN", Duration::from_secs(5), |_| true)?;
            if !seg.payload.is_empty() && seg.seq == self.rcv_nxt {
                self.rcv_nxt = seg.end();
                self.send(Flags::ACK, b"")?;
            }
            if seg.flags.fin {
                self.rcv_nxt = seg.end();
                self.send(Flags::ACK, b"")?;
                self.say("acknowledges the kernel's FIN: closed".into());
                return Ok(());
            }
            if seg.flags.rst {
                return Ok(());
            }
        }
    }
}
