//! Cause and effect on the line of the effect: what the text listing adds after a segment's
//! analysis flags when an earlier frame explains it. A retransmission names the copy it repeats
//! and how long after it came (and whether the wait doubled: RTO backoff, RFC 6298 5.5); a SYN
//! retransmission says which retry it is; a fast retransmission names the duplicate ACKs that
//! triggered it (RFC 5681 3.2); a window update names the zero window it ends; a keep-alive-shaped
//! segment sent while the peer's window is zero is the persist timer's zero-window probe
//! (RFC 9293 3.8.6.1), numbered, with its backoff.
//!
//! Memory is a fixed table of connection slots (a connection id picks its slot; a different
//! connection in the slot resets it), allocated once: nothing is allocated per frame, and a
//! capture with more connections active at once than slots only loses some of these notes.

use std::io::{self, Write};

use crate::pipeline::PacketView;
use crate::track::tcp::{Analysis, Dir};

const SLOTS: usize = 4096;
/// Recent first copies remembered per direction (for the first retransmission of one of them).
const RECENT: usize = 8;

#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    rseq: u32,
    frame: u64,
    t_ns: i64,
    /// The copy was a SYN without ACK.
    bare_syn: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct DirMemory {
    recent: [Sent; RECENT],
    next: usize,
    /// The sequence number being retransmitted, its retransmissions so far, the last copy.
    chain: Option<(u32, u32, i64, i64)>,
    /// This direction's duplicate ACKs of the current run: the first three frames, and how many.
    dups: [u64; 3],
    dup_n: u32,
    /// This direction advertised a zero window at (frame, time).
    zero: Option<(u64, i64)>,
    /// Zero-window probes this direction sent: count, time of the last, gap before it.
    probes: (u32, i64, i64),
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    conn: Option<u32>,
    dirs: [DirMemory; 2],
}

/// What explains a segment, found in earlier frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cause {
    /// Nothing to add.
    None,
    /// Retransmission number `n` of the same sequence number, `after` seconds after the previous
    /// copy (frame `of` when it is the first), `ratio` times the previous wait.
    Retransmission {
        /// 1 for the first retransmission.
        n: u32,
        /// The first copy's frame (for `n == 1`).
        of: u64,
        /// Seconds since the previous copy.
        after: f64,
        /// This wait over the previous one (from `n == 2`).
        ratio: Option<f64>,
        /// What is repeated.
        what: Repeated,
    },
    /// A fast retransmission after the peer's duplicate ACKs (first three frames, and how many).
    Fast {
        /// Frames of the first three duplicate ACKs (0: fewer were seen).
        dups: [u64; 3],
        /// How many duplicate ACKs in all.
        count: u32,
    },
    /// A window update ending the zero window this direction advertised at `frame`.
    WindowUpdate {
        /// The zero-window frame.
        frame: u64,
        /// Seconds the window stayed zero.
        after: f64,
    },
    /// The first SACK block lies below the acknowledgment number (or inside the second block):
    /// a D-SACK reporting bytes received twice (RFC 2883), relative to the peer's ISN.
    Dsack {
        /// First byte of the duplicate.
        left: u32,
        /// One past its last byte.
        right: u32,
    },
    /// Zero-window probe number `n` while the peer's window is zero since `frame`.
    Probe {
        /// 1 for the first.
        n: u32,
        /// The frame of the peer's zero window.
        frame: u64,
        /// Seconds since the previous probe (from `n == 2`).
        after: Option<f64>,
        /// This wait over the previous one (from `n == 3`).
        ratio: Option<f64>,
    },
}

/// What a retransmission repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeated {
    /// Data or a FIN.
    Data,
    /// A SYN: a connection attempt retried.
    Syn,
    /// A SYN,ACK: the server's answer retried.
    SynAck,
    /// A SYN,ACK on the sequence number of this side's own bare SYN: a simultaneous open
    /// (RFC 9293 3.5), not a loss.
    SynAgainWithAck,
}

/// The memory the causes come from; feed it every frame in order.
#[derive(Debug, Default)]
pub struct Causes {
    slots: Vec<Slot>,
}

const SEC: f64 = 1e9;

impl Causes {
    /// Remember what `view` shows and say what explains it.
    pub fn observe(&mut self, view: &PacketView<'_, '_>) -> Cause {
        let (Some(seg), Some(tcp)) = (view.tcp, view.frame.tcp()) else { return Cause::None };
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
        }
        let slot = &mut self.slots[seg.conn as usize % SLOTS];
        if slot.conn != Some(seg.conn) {
            *slot = Slot { conn: Some(seg.conn), ..Slot::default() };
        }
        let (mine, theirs) = if seg.dir == Dir::C2S { (0, 1) } else { (1, 0) };
        let t = view.rel_ns;
        let a = seg.analysis;
        let syn = tcp.flags & 0x02 != 0;
        let fin = tcp.flags & 0x01 != 0;
        let ack = tcp.flags & 0x10 != 0;
        let peer_zero = slot.dirs[theirs].zero;
        let me = &mut slot.dirs[mine];

        // duplicate ACKs this side sends; any other ACK ends the run
        if a.has(Analysis::DUPLICATE_ACK) {
            if (me.dup_n as usize) < me.dups.len() {
                me.dups[me.dup_n as usize] = view.n;
            }
            me.dup_n += 1;
        } else if ack && tcp.len == 0 && !a.has(Analysis::WINDOW_UPDATE) && !a.has(Analysis::ZERO_WINDOW_PROBE_ACK) {
            me.dup_n = 0;
            me.dups = [0; 3];
        }

        let mut cause = Cause::None;
        if a.has(Analysis::ZERO_WINDOW) {
            if me.zero.is_none() {
                me.zero = Some((view.n, t));
            }
        } else if tcp.win > 0 && !syn {
            if let Some((frame, since)) = me.zero.take() {
                if a.has(Analysis::WINDOW_UPDATE) {
                    cause = Cause::WindowUpdate { frame, after: (t - since) as f64 / SEC };
                }
            }
        }
        match peer_zero {
            Some((frame, _)) if a.has(Analysis::KEEP_ALIVE) || a.has(Analysis::ZERO_WINDOW_PROBE) => {
                let (n, last, gap) = me.probes;
                let after = (n > 0).then(|| (t - last) as f64 / SEC);
                let ratio = (n > 1 && gap > 0).then(|| (t - last) as f64 / gap as f64);
                me.probes = (n + 1, t, if n > 0 { t - last } else { 0 });
                return Cause::Probe { n: n + 1, frame, after, ratio };
            }
            None => me.probes = (0, 0, 0),
            _ => {}
        }

        if let (Some(&(left, right)), true) = (tcp.opts.sack().first(), ack) {
            let below = right.wrapping_sub(tcp.ack) as i32 <= 0;
            let inside =
                tcp.opts.sack().get(1).is_some_and(|&(l2, r2)| left.wrapping_sub(l2) as i32 >= 0 && r2.wrapping_sub(right) as i32 >= 0);
            if below || inside {
                let base = seg.ack_base.unwrap_or(0);
                return Cause::Dsack { left: left.wrapping_sub(base), right: right.wrapping_sub(base) };
            }
        }

        let retransmission = a.has(Analysis::RETRANSMISSION) || a.has(Analysis::FAST_RETRANSMISSION);
        if retransmission {
            // (retransmissions so far, first copy's frame, nanoseconds since the previous copy, ratio)
            let (n, of, gap, ratio, first_bare_syn) = match me.chain {
                Some((rseq, count, last, gap)) if rseq == seg.rseq => {
                    let this = t - last;
                    (count + 1, 0, this, (gap > 0).then(|| this as f64 / gap as f64), false)
                }
                _ => match me.recent.iter().find(|sent| sent.frame != 0 && sent.rseq == seg.rseq) {
                    Some(first) => (1, first.frame, t - first.t_ns, None, first.bare_syn),
                    None => (1, 0, 0, None, false),
                },
            };
            let what = match (syn, ack) {
                (false, _) => Repeated::Data,
                (true, false) => Repeated::Syn,
                (true, true) if first_bare_syn && n == 1 => Repeated::SynAgainWithAck,
                (true, true) => Repeated::SynAck,
            };
            let after = gap as f64 / SEC;
            // flagged, but no earlier copy was seen (it came out of order, or before the capture
            // or the memory began): for what follows, this is the first copy
            let first_seen = of == 0 && n == 1;
            if first_seen {
                me.chain = None;
                me.recent[me.next] = Sent { rseq: seg.rseq, frame: view.n, t_ns: t, bare_syn: syn && !ack };
                me.next = (me.next + 1) % RECENT;
            } else {
                me.chain = Some((seg.rseq, n, t, gap));
            }
            if a.has(Analysis::FAST_RETRANSMISSION) {
                let peer = &slot.dirs[theirs];
                if peer.dup_n > 0 {
                    return Cause::Fast { dups: peer.dups, count: peer.dup_n };
                }
            }
            if first_seen {
                return cause;
            }
            return Cause::Retransmission { n, of, after, ratio, what };
        }
        if tcp.len > 0 || syn || fin {
            me.recent[me.next] = Sent { rseq: seg.rseq, frame: view.n, t_ns: t, bare_syn: syn && !ack };
            me.next = (me.next + 1) % RECENT;
            if me.chain.is_some_and(|(rseq, ..)| rseq != seg.rseq) {
                me.chain = None;
            }
        }
        cause
    }
}

/// Whether `ratio` is a doubling (the exponential backoff of RFC 6298 5.5).
fn doubled(ratio: f64) -> bool {
    (1.6..2.5).contains(&ratio)
}

/// ` ← ...`: the cause in words (nothing for [`Cause::None`]).
pub fn write(w: &mut dyn Write, cause: &Cause) -> io::Result<()> {
    match *cause {
        Cause::None => Ok(()),
        Cause::Retransmission { of, after, what: Repeated::SynAgainWithAck, .. } => {
            write!(w, "  ← the SYN of frame {of} again, now with an ACK ({after:.3} s later): a simultaneous open, not a loss")
        }
        Cause::Retransmission { n, of, after, ratio, what: repeated } => {
            let syn = repeated != Repeated::Data;
            let what = match repeated {
                Repeated::Syn => "SYN retry",
                Repeated::SynAck => "SYN-ACK retry",
                _ => "retransmission",
            };
            if n == 1 {
                write!(w, "  ← {what} #1, {after:.3} s after frame {of}")?;
            } else {
                write!(w, "  ← {what} #{n}, {after:.3} s after #{}", n - 1)?;
            }
            match ratio {
                Some(r) if doubled(r) => write!(w, " ({r:.1}x): {}", if syn { "the wait doubles" } else { "RTO backoff" }),
                Some(r) => write!(w, " ({r:.1}x)"),
                None => Ok(()),
            }
        }
        Cause::Fast { dups, count } => {
            write!(w, "  ← after {count} duplicate ACK{} (frames ", if count == 1 { "" } else { "s" })?;
            let mut first = true;
            for frame in dups.iter().filter(|&&f| f != 0) {
                if !std::mem::take(&mut first) {
                    w.write_all(b", ")?;
                }
                write!(w, "{frame}")?;
            }
            if count > 3 {
                w.write_all(b", ...")?;
            }
            w.write_all(b")")
        }
        Cause::Dsack { left, right } => {
            write!(w, "  ← D-SACK {left}:{right}: received twice, one copy kept (RFC 2883)")
        }
        Cause::WindowUpdate { frame, after } => write!(w, "  ← ends the zero window of frame {frame} ({after:.3} s)"),
        Cause::Probe { n, frame, after, ratio } => {
            write!(w, "  ← zero window probe #{n} (the peer's window is 0 since frame {frame})")?;
            if let Some(after) = after {
                write!(w, ", {after:.3} s after #{}", n - 1)?;
            }
            match ratio {
                Some(r) if doubled(r) => write!(w, " ({r:.1}x): persist timer backoff"),
                Some(r) => write!(w, " ({r:.1}x)"),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::FileSource;
    use crate::pipeline::{self, ReadOptions, Sink};

    /// Every cause `observe` finds in a bundled capture, by frame.
    struct Collect(Causes, Vec<(u64, Cause)>);

    impl Sink for Collect {
        fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
            let cause = self.0.observe(view);
            if cause != Cause::None {
                self.1.push((view.n, cause));
            }
            Ok(())
        }
    }

    fn causes(name: &str, bytes: &[u8]) -> Vec<(u64, Cause)> {
        let mut src = FileSource::from_bytes(name, bytes.to_vec()).unwrap();
        let mut sink = Collect(Causes::default(), Vec::new());
        pipeline::run(&mut src, &ReadOptions { seams: None, progress: false, ..ReadOptions::new(name.into()) }, &mut sink).unwrap();
        sink.1
    }

    fn text(cause: &Cause) -> String {
        let mut out = Vec::new();
        write(&mut out, cause).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rto_backoff_is_counted_and_doubles() {
        let found = causes("peer-rto.pcap", include_bytes!("../../fixtures/peer-rto.pcap"));
        let retrans: Vec<&Cause> = found.iter().map(|(_, c)| c).filter(|c| matches!(c, Cause::Retransmission { .. })).collect();
        assert_eq!(retrans.len(), 5, "{found:?}");
        assert!(matches!(retrans[0], Cause::Retransmission { n: 1, of: 4, ratio: None, what: Repeated::Data, .. }));
        for (i, c) in retrans.iter().enumerate().skip(2) {
            let Cause::Retransmission { n, ratio: Some(r), .. } = c else { panic!("{c:?}") };
            assert_eq!(*n as usize, i + 1);
            assert!(doubled(*r), "{r}");
        }
        assert!(text(retrans[2]).starts_with("  ← retransmission #3, 0.4"), "{}", text(retrans[2]));
        assert!(text(retrans[2]).ends_with(": RTO backoff"));
    }

    #[test]
    fn fast_retransmission_names_the_dup_acks() {
        let found = causes("peer-fast-retransmit.pcap", include_bytes!("../../fixtures/peer-fast-retransmit.pcap"));
        let fast: Vec<&Cause> = found.iter().map(|(_, c)| c).filter(|c| matches!(c, Cause::Fast { .. })).collect();
        assert_eq!(fast, [&Cause::Fast { dups: [16, 17, 18], count: 3 }]);
        assert_eq!(text(fast[0]), "  ← after 3 duplicate ACKs (frames 16, 17, 18)");
    }

    #[test]
    fn syn_retries_probes_and_window_update() {
        let syn = causes("peer-syn-retry.pcap", include_bytes!("../../fixtures/peer-syn-retry.pcap"));
        assert!(matches!(syn[0].1, Cause::Retransmission { n: 1, of: 1, what: Repeated::Syn, .. }), "{syn:?}");
        assert!(text(&syn[1].1).contains("SYN retry #2") && text(&syn[1].1).contains("the wait doubles"), "{syn:?}");
        let zw = causes("peer-zero-window-probe.pcap", include_bytes!("../../fixtures/peer-zero-window-probe.pcap"));
        let probes = zw.iter().filter(|(_, c)| matches!(c, Cause::Probe { .. })).count();
        assert_eq!(probes, 4, "{zw:?}");
        assert!(zw.iter().any(|(_, c)| matches!(c, Cause::WindowUpdate { frame: 7, .. })), "{zw:?}");
        let open = causes("peer-simultaneous-open.pcap", include_bytes!("../../fixtures/peer-simultaneous-open.pcap"));
        let again = open.iter().filter(|(_, c)| matches!(c, Cause::Retransmission { what: Repeated::SynAgainWithAck, .. }));
        assert_eq!(again.count(), 2, "{open:?}");
        // the kernel's ACK reports the peer's second SYN as a duplicate, as tshark does ("D-SACK Sequence")
        assert!(open.contains(&(5, Cause::Dsack { left: 0, right: 1 })), "{open:?}");
        let ooo = causes("peer-out-of-order.pcap", include_bytes!("../../fixtures/peer-out-of-order.pcap"));
        assert!(ooo.contains(&(11, Cause::Dsack { left: 501, right: 1001 })), "{ooo:?}");
    }
}
