//! The scenarios the scripted peer plays. Each runs the kernel's side on a scoped thread (a
//! normal socket to 198.19.0.2) and the peer's side here, and narrates both.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{Flags, Peer, Tun, PEER_ADDR};
use crate::gen::net::{self, tcp_counters, Ctx};
use crate::gen::{body, GenConfig, GenError, GenReport, Scenario, Voice, Who};

/// The kernel side's result: notes, and bytes written and read.
#[derive(Default)]
struct Kernel {
    notes: Vec<String>,
    /// write() calls.
    writes: usize,
    sent: u64,
    received: u64,
    local: Option<SocketAddr>,
    resets: usize,
}

/// Run `kernel` on a thread and `peer` here; the peer's error wins unless it only timed out.
fn both(
    cfg: &GenConfig,
    tun: Tun,
    voice: &Voice,
    kernel: impl FnOnce(&Voice) -> Result<Kernel, GenError> + Send,
    peer: impl FnOnce(&mut Peer) -> Result<Vec<String>, GenError>,
) -> Result<GenReport, GenError> {
    let kernel_voice = voice.as_(Who::Kernel);
    let mut p = Peer::new(tun, cfg.port, voice.as_(Who::Peer));
    let (k, notes) = std::thread::scope(|scope| {
        let k = scope.spawn(move || kernel(&kernel_voice));
        let notes = peer(&mut p);
        let k = k.join().unwrap_or_else(|_| Err(GenError::Internal("the kernel-side thread panicked".into())));
        (k, notes)
    });
    let (k, mut notes) = match (k, notes) {
        (Ok(k), Ok(n)) => (k, n),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (Err(ke), Err(pe)) => return Err(if matches!(pe, GenError::Timeout { .. }) { ke } else { pe }),
    };
    let mut report = GenReport::new(cfg);
    report.server = Some(SocketAddr::new(PEER_ADDR.into(), cfg.port));
    report.client = k.local;
    report.bytes_sent = k.sent;
    report.messages = k.writes;
    report.client_tally.messages_sent = k.writes;
    report.client_tally.bytes_sent = k.sent;
    report.client_tally.bytes_received = k.received;
    report.resets = k.resets;
    report.connections = 1;
    let mut all = k.notes;
    all.append(&mut notes);
    report.notes = all;
    Ok(report)
}

fn target(cfg: &GenConfig) -> SocketAddr {
    SocketAddr::new(PEER_ADDR.into(), cfg.port)
}

/// connect() with the usual timeouts, then `read_wait` for reads.
fn kernel_dial(cfg: &GenConfig, voice: &Voice, read_wait: Duration) -> Result<(TcpStream, Kernel), GenError> {
    let stream = net::dial(target(cfg))?;
    stream.set_read_timeout(Some(read_wait)).ctx("setting SO_RCVTIMEO")?;
    let local = stream.local_addr().ok();
    voice.say(format!("connect() to {} returned: ESTABLISHED from {}", target(cfg), local.map_or_else(|| "?".into(), |a| a.to_string())));
    Ok((stream, Kernel { local, ..Kernel::default() }))
}

/// Read until end of stream, then close; counts what was read.
fn kernel_drain_close(mut stream: TcpStream, k: &mut Kernel, voice: &Voice) -> Result<(), GenError> {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => k.received += n as u64,
            Err(e) if net::is_reset(&e) => {
                k.resets += 1;
                voice.say("the connection was reset");
                return Ok(());
            }
            Err(e) => return Err(GenError::io("reading", e)),
        }
    }
    voice.say("read() returned 0: the peer's FIN; close() sends the kernel's FIN");
    drop(stream);
    Ok(())
}

pub(crate) fn dispatch(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    match cfg.scenario {
        Scenario::Rto => rto(cfg, tun, voice),
        Scenario::FastRetransmit => fast_retransmit(cfg, tun, voice),
        Scenario::SynRetry => syn_retry(cfg, tun, voice),
        Scenario::SimultaneousOpen => simultaneous_open(cfg, tun, voice),
        Scenario::SimultaneousClose => simultaneous_close(cfg, tun, voice),
        Scenario::OutOfOrder => out_of_order(cfg, tun, voice),
        Scenario::ZeroWindowProbe => zero_window_probe(cfg, tun, voice),
        Scenario::HalfOpen => half_open(cfg, tun, voice),
        other => Err(GenError::Internal(format!("{other} is not a scripted-peer scenario"))),
    }
}

// ---------------------------------------------------------------------------------------------

fn rto(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    let silent_for = cfg.count_or(5);
    voice.why(format!(
        "the peer receives the data but never acknowledges it: the kernel's retransmission timer (RTO, at \
         least 200 ms on Linux, RFC 6298) fires, and each time it doubles (exponential backoff, RFC 6298 5.5). \
         After {silent_for} retransmissions the peer acknowledges and closes."
    ));
    let k = |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(30))?;
        let data = body(0, 1000);
        stream.write_all(&data).ctx("writing")?;
        k.sent = data.len() as u64;
        k.writes = 1;
        voice.say("write() of 1000 bytes returned at once: they sit in the send buffer until acknowledged");
        kernel_drain_close(stream, &mut k, voice)?;
        Ok(k)
    };
    both(cfg, tun, voice, k, |p| {
        p.accept(1460)?;
        let (data, first) = p.expect("the kernel's data", Duration::from_secs(5), |s| !s.payload.is_empty())?;
        p.say(format!("receives {} bytes (seq {}) and stays silent: no ACK", data.payload.len(), data.seq));
        let mut notes = Vec::new();
        let (mut last, mut gap) = (first, None::<f64>);
        for n in 1..=silent_for {
            let wait = Duration::from_secs_f64(gap.map_or(3.0, |g| g * 2.0 + 2.0));
            let (_, at) = p.expect("a retransmission", wait, |s| s.seq == data.seq && !s.payload.is_empty())?;
            let this = at.duration_since(last).as_secs_f64();
            let how = match gap {
                None => "the timer fired (or Linux's tail loss probe, RFC 8985, which comes as early)".to_string(),
                Some(g) if this / g < 1.5 => {
                    format!("{:.1}x the previous interval: the first copy was the tail loss probe, the RTO proper fires now", this / g)
                }
                Some(g) => format!("{:.1}x the previous interval: RTO backoff", this / g),
            };
            let note = format!(
                "retransmission #{n}, {this:.2} s after {}: {how}",
                if n == 1 { "the original".into() } else { format!("#{}", n - 1) }
            );
            p.say(note.clone());
            notes.push(note);
            last = at;
            gap = Some(this);
        }
        p.rcv_nxt = data.end();
        p.send(Flags::ACK, b"")?;
        p.say("acknowledges the data at last; the kernel's timer stops".into());
        p.close()?;
        Ok(notes)
    })
}

fn fast_retransmit(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    const MSS: u16 = 1000;
    let segments = cfg.count_or(10);
    let total = segments * MSS as usize;
    voice.why(
        "the peer drops the third data segment and answers every later one with a duplicate ACK carrying a \
         SACK block for what did arrive. On the third duplicate ACK the kernel retransmits the missing segment \
         at once, without waiting for the timer (fast retransmit, RFC 5681 3.2; SACK, RFC 2018 and 6675).",
    );
    let k = move |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(10))?;
        let data = body(0, total);
        stream.write_all(&data).ctx("writing")?;
        k.sent = data.len() as u64;
        k.writes = 1;
        voice.say(format!("write() of {total} bytes: {segments} segments of the peer's MSS {MSS}"));
        kernel_drain_close(stream, &mut k, voice)?;
        Ok(k)
    };
    both(cfg, tun, voice, k, |p| {
        p.accept(MSS)?;
        let start = p.rcv_nxt;
        let end = start.wrapping_add(total as u32);
        let mut above: Option<(u32, u32)> = None;
        let mut arrivals = 0usize;
        let mut dups = 0usize;
        let mut notes = Vec::new();
        let mut hole: Option<u32> = None;
        while p.rcv_nxt != end {
            let (seg, _) = p.expect("the kernel's data", Duration::from_secs(5), |s| !s.payload.is_empty())?;
            arrivals += 1;
            if arrivals == 3 && hole.is_none() {
                hole = Some(seg.seq);
                p.say(format!("drops segment 3 (seq {}, {} bytes) as a lossy link would", seg.seq, seg.payload.len()));
                continue;
            }
            if seg.seq == p.rcv_nxt {
                p.rcv_nxt = seg.end();
                if let Some((left, right)) = above {
                    if left == p.rcv_nxt || seg.end() >= left {
                        p.rcv_nxt = right;
                        above = None;
                        let note =
                            format!("the retransmission fills the hole after {dups} duplicate ACKs: everything up to {right} acknowledged");
                        p.say(note.clone());
                        notes.push(note);
                    }
                }
                p.send(Flags::ACK, b"")?;
            } else if seg.seq.wrapping_sub(p.rcv_nxt) < 1 << 30 {
                above = Some(match above {
                    Some((left, right)) => (left.min(seg.seq), right.max(seg.end())),
                    None => (seg.seq, seg.end()),
                });
                let mut ack = p.segment(Flags::ACK)?;
                ack.sack = above.into_iter().collect();
                p.send_raw(&ack)?;
                dups += 1;
                let (left, right) = above.unwrap_or_default();
                p.say(format!("duplicate ACK #{dups}: still {} expected, SACK {left}-{right}", p.rcv_nxt));
            } else {
                // an old copy: acknowledge again
                p.send(Flags::ACK, b"")?;
            }
        }
        notes.push(format!("{dups} duplicate ACKs were sent for the dropped segment"));
        p.close()?;
        Ok(notes)
    })
}

fn syn_retry(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    let retries = cfg.count_or(2);
    voice.why(format!(
        "nobody answers the SYN: the kernel resends it after 1 s, then doubles the wait each time (the initial \
         RTO of RFC 6298 2.1 is 1 s), {retries} times (net.ipv4.tcp_syn_retries, set to {retries} in this lab; \
         6 by default, about 127 s), then connect() fails with ETIMEDOUT."
    ));
    std::fs::write("/proc/sys/net/ipv4/tcp_syn_retries", retries.to_string())
        .map_err(|e| GenError::io("setting net.ipv4.tcp_syn_retries in the lab", e))?;
    // Linux 6.5 and later resend the first SYNs at a constant 1 s (tcp_syn_linear_timeouts, 4 by
    // default) before backing off; the lab turns that off to show the doubling of RFC 6298.
    if std::fs::write("/proc/sys/net/ipv4/tcp_syn_linear_timeouts", "0").is_ok() {
        voice.why(
            "this kernel would resend the first SYNs at a constant 1 s (net.ipv4.tcp_syn_linear_timeouts, Linux \
             6.5+, 4 by default); the lab sets it to 0 so the waits double from the first retry.",
        );
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let k = |voice: &Voice| {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).ctx("creating a socket")?;
        voice.say(format!("connect() to {} blocks ...", target(cfg)));
        let started = Instant::now();
        let result = sock.connect(&SockAddr::from(target(cfg)));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut k = Kernel::default();
        match result {
            Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => {
                let note = format!("connect() failed after {:.1} s: {e} (ETIMEDOUT)", started.elapsed().as_secs_f64());
                voice.say(note.clone());
                k.notes.push(note);
                Ok(k)
            }
            Err(e) => Err(GenError::io("connecting", e)),
            Ok(()) => Err(GenError::Mismatch("connect() succeeded though nobody answers".into())),
        }
    };
    both(cfg, tun, voice, k, |p| {
        let mut notes = Vec::new();
        let mut last: Option<(Instant, f64)> = None;
        let mut attempt = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let Some((seg, at)) = p.next(Duration::from_millis(200))? else { continue };
            if !seg.flags.syn || seg.flags.ack {
                continue;
            }
            attempt += 1;
            let note = match last {
                None => format!("SYN attempt #1 (seq {}): ignored", seg.seq),
                Some((prev, gap)) => {
                    let this = at.duration_since(prev).as_secs_f64();
                    let how = if gap > 0.0 { format!(" ({:.1}x the previous wait)", this / gap) } else { String::new() };
                    format!("SYN attempt #{attempt}, retry {} of {retries}, {this:.2} s after #{}{how}: ignored", attempt - 1, attempt - 1)
                }
            };
            p.say(note.clone());
            notes.push(note);
            last = Some((at, last.map_or(0.0, |(prev, _)| at.duration_since(prev).as_secs_f64())));
        }
        Ok(notes)
    })
}

fn simultaneous_open(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "both ends send a SYN before seeing the other's: each answers the SYN it receives with SYN,ACK, and \
         both pass SYN-SENT -> SYN-RECEIVED -> ESTABLISHED (RFC 9293 3.5, figure 8): four segments, no \
         listener anywhere.",
    );
    let k = |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(5))?;
        let line = net::read_line(&mut stream, "reading the peer's line")?;
        k.received += line.len() as u64;
        voice.say(format!("read {}", net::show(&line)));
        stream.write_all(b"hello from the kernel\n").ctx("writing")?;
        k.sent = 22;
        k.writes = 1;
        kernel_drain_close(stream, &mut k, voice)?;
        Ok(k)
    };
    both(cfg, tun, voice, k, |p| {
        let (syn, _) = p.expect("the kernel's SYN", Duration::from_secs(5), |s| s.flags.syn && !s.flags.ack)?;
        // The peer's own SYN, as if sent before the kernel's arrived: it acknowledges nothing.
        let mut own = p.segment(Flags::SYN)?;
        own.ack = 0;
        own.mss = Some(1460);
        own.sack_permitted = true;
        p.send_raw(&own)?;
        p.say(format!("sends its own SYN (seq {}) to the kernel's port, acknowledging nothing: the SYNs cross", own.seq));
        let ours = own.end();
        let (syn_ack, _) =
            p.expect("the kernel's SYN,ACK", Duration::from_secs(5), move |s| s.flags.syn && s.flags.ack && s.ack == ours)?;
        p.say(format!("the kernel answered our SYN with SYN,ACK (seq {} again, ack {}): it is in SYN-RECEIVED", syn_ack.seq, syn_ack.ack));
        p.rcv_nxt = syn.seq.wrapping_add(1);
        let mut answer = p.segment(Flags::SYN_ACK)?;
        answer.mss = Some(1460);
        answer.sack_permitted = true;
        p.send_raw(&answer)?;
        p.snd_nxt = answer.end();
        p.say("answers the kernel's SYN with SYN,ACK: both sides ESTABLISHED".into());
        p.send(Flags::PSH_ACK, b"hello from the peer\n")?;
        let (data, _) = p.expect("the kernel's line", Duration::from_secs(5), |s| !s.payload.is_empty())?;
        p.rcv_nxt = data.end();
        p.send(Flags::ACK, b"")?;
        p.close()?;
        Ok(vec!["simultaneous open: SYN, SYN, SYN-ACK, SYN-ACK".into()])
    })
}

fn simultaneous_close(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "both ends send FIN before seeing the other's: each FIN acknowledges only the data, not the other FIN. \
         Each side goes FIN-WAIT-1 -> CLOSING (a FIN came, ours is unacknowledged) -> TIME-WAIT when its FIN is \
         acknowledged (RFC 9293 3.6, figure 13). Both ends wait 2MSL in TIME-WAIT.",
    );
    let k = |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(5))?;
        let line = net::read_line(&mut stream, "reading the peer's line")?;
        k.received += line.len() as u64;
        stream.shutdown(std::net::Shutdown::Write).ctx("shutting down")?;
        voice.say("shutdown(SHUT_WR) sends the kernel's FIN: FIN-WAIT-1");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let state = tcp_counters(&stream).map_or(0, |c| c.state);
            if seen.last() != Some(&state) {
                seen.push(state);
            }
            // 7: CLOSE once the TIME-WAIT bucket has taken over the connection
            if state == 7 || state == 6 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let names: Vec<&str> = seen.iter().map(|&s| kernel_state(s)).collect();
        let note = format!("the kernel socket's states (TCP_INFO): {}", names.join(" -> "));
        voice.say(note.clone());
        k.notes.push(note);
        Ok(k)
    };
    both(cfg, tun, voice, k, |p| {
        p.accept(1460)?;
        p.send(Flags::PSH_ACK, b"bye\n")?;
        let data_end = p.snd_nxt;
        let (fin, _) = p.expect("the kernel's FIN", Duration::from_secs(5), |s| s.flags.fin)?;
        // The peer's FIN acknowledges the kernel's data but not its FIN: it was sent before that arrived.
        p.rcv_nxt = fin.seq;
        p.send(Flags::FIN_ACK, b"")?;
        p.say(format!("sends its FIN acknowledging {} (not the kernel's FIN): the FINs cross", fin.seq));
        let (ack, _) =
            p.expect("the kernel's ACK of our FIN", Duration::from_secs(5), move |s| s.flags.ack && s.ack == data_end.wrapping_add(1))?;
        p.say(format!("the kernel acknowledges our FIN (ack {}) while its own is unacknowledged: it is CLOSING", ack.ack));
        std::thread::sleep(Duration::from_millis(200));
        p.rcv_nxt = fin.end();
        p.send(Flags::ACK, b"")?;
        p.say("acknowledges the kernel's FIN: both sides in TIME-WAIT".into());
        Ok(vec!["simultaneous close: FIN, FIN, ACK, ACK".into()])
    })
}

/// Kernel TCP state names (include/net/tcp_states.h).
fn kernel_state(state: u8) -> &'static str {
    match state {
        1 => "ESTABLISHED",
        2 => "SYN-SENT",
        3 => "SYN-RECEIVED",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "CLOSED (TIME-WAIT kept by the kernel)",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "?",
    }
}

fn out_of_order(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    const PART: usize = 500;
    voice.why(
        "the peer sends three 500-byte segments in the order 1, 3, 2. The kernel keeps segment 3 in its \
         out-of-order queue and answers with a duplicate ACK carrying SACK; read() returns only what is in \
         order (500 bytes). When 2 arrives, 2 and 3 are released together (1000 bytes in one read). Then \
         segment 2 comes once more: the kernel drops the copy and says so with a D-SACK block (RFC 2883).",
    );
    let k = |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(5))?;
        let mut buf = [0u8; 4096];
        while k.received < 3 * PART as u64 {
            let n = stream.read(&mut buf).ctx("reading")?;
            if n == 0 {
                break;
            }
            k.received += n as u64;
            let note = format!("read() returned {n} bytes ({} in all)", k.received);
            voice.say(note.clone());
            k.notes.push(note);
        }
        kernel_drain_close(stream, &mut k, voice)?;
        Ok(k)
    };
    both(cfg, tun, voice, k, |p| {
        p.accept(1460)?;
        let base = p.snd_nxt;
        let data = body(0, 3 * PART);
        for index in [0usize, 2, 1] {
            let mut seg = p.segment(Flags::PSH_ACK)?;
            seg.seq = base.wrapping_add((index * PART) as u32);
            seg.payload = data[index * PART..(index + 1) * PART].to_vec();
            p.send_raw(&seg)?;
            p.say(format!("sends segment {} (seq {})", index + 1, seg.seq));
            let expect = if index == 0 {
                base.wrapping_add(PART as u32)
            } else {
                base.wrapping_add(if index == 2 { PART } else { 3 * PART } as u32)
            };
            let (ack, _) = p.expect("the kernel's ACK", Duration::from_secs(5), move |s| s.flags.ack && s.ack == expect)?;
            let sack = ack.sack.iter().map(|(l, r)| format!(" SACK {l}-{r}")).collect::<String>();
            p.say(format!("the kernel acknowledges {}{sack}", ack.ack));
            std::thread::sleep(Duration::from_millis(100));
        }
        p.snd_nxt = base.wrapping_add((3 * PART) as u32);
        // a duplicating network: segment 2 once more
        let mut again = p.segment(Flags::PSH_ACK)?;
        again.seq = base.wrapping_add(PART as u32);
        again.payload = data[PART..2 * PART].to_vec();
        p.send_raw(&again)?;
        p.say(format!("sends segment 2 (seq {}) again, as a duplicating network would", again.seq));
        let end = p.snd_nxt;
        let (ack, _) = p.expect("the kernel's ACK of the duplicate", Duration::from_secs(5), move |s| s.flags.ack && s.ack == end)?;
        let dsack = ack.sack.iter().find(|(left, _)| left.wrapping_sub(ack.ack) > 1 << 31);
        let note = match dsack {
            Some((l, r)) => {
                format!("the kernel keeps one copy and reports the duplicate: D-SACK {l}-{r}, below its ACK {} (RFC 2883)", ack.ack)
            }
            None => format!("the kernel keeps one copy and acknowledges {} again", ack.ack),
        };
        p.say(note.clone());
        p.close()?;
        Ok(vec!["out of order: segments sent 1, 3, 2".into(), note])
    })
}

fn zero_window_probe(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    const WINDOW: u16 = 2000;
    let probes = cfg.count_or(4);
    let total = 6000usize;
    voice.why(format!(
        "the peer offers a 2000-byte window and, once it is full, advertises 0 and stays there: the kernel \
         sends zero-window probes (RFC 9293 3.8.6.1), each after twice the previous wait (the persist timer \
         backs off like the RTO). After {probes} probes the peer opens the window again."
    ));
    let k = |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(30))?;
        stream.set_write_timeout(Some(Duration::from_secs(30))).ctx("setting SO_SNDTIMEO")?;
        let data = body(0, total);
        stream.write_all(&data).ctx("writing")?;
        k.sent = data.len() as u64;
        k.writes = 1;
        voice.say(format!("write() of {total} bytes"));
        kernel_drain_close(stream, &mut k, voice)?;
        Ok(k)
    };
    both(cfg, tun, voice, k, |p| {
        p.window = WINDOW;
        p.accept(1000)?;
        let start = p.rcv_nxt;
        let end = start.wrapping_add(total as u32);
        let mut notes = Vec::new();
        // fill the window
        while p.rcv_nxt.wrapping_sub(start) < u32::from(WINDOW) {
            let (seg, _) = p.expect("the kernel's data", Duration::from_secs(5), |s| !s.payload.is_empty())?;
            if seg.seq == p.rcv_nxt {
                p.rcv_nxt = seg.end();
            }
            p.window = WINDOW - p.rcv_nxt.wrapping_sub(start).min(u32::from(WINDOW)) as u16;
            p.send(Flags::ACK, b"")?;
        }
        p.say("the window is full: the peer's application does not read; it advertises 0".into());
        let mut last: Option<(Instant, f64)> = None;
        for n in 1..=probes {
            let (probe, at) = p.expect("a zero-window probe", Duration::from_secs(10), |s| s.flags.ack && !s.flags.fin)?;
            let note = match last {
                None => format!("zero-window probe #1 (seq {}, {} bytes): answered with window 0", probe.seq, probe.payload.len()),
                Some((prev, gap)) => {
                    let this = at.duration_since(prev).as_secs_f64();
                    let how = if gap > 0.0 { format!(", {:.1}x the previous wait", this / gap) } else { String::new() };
                    format!("zero-window probe #{n}, {this:.2} s after #{}{how}: answered with window 0", n - 1)
                }
            };
            p.say(note.clone());
            notes.push(note);
            last = Some((at, last.map_or(0.0, |(prev, _)| at.duration_since(prev).as_secs_f64())));
            p.send(Flags::ACK, b"")?;
        }
        p.window = PEER_WINDOW_OPEN;
        p.send(Flags::ACK, b"")?;
        p.say(format!("its application reads: window update to {PEER_WINDOW_OPEN}; the rest of the data flows"));
        while p.rcv_nxt != end {
            let (seg, _) = p.expect("the rest of the data", Duration::from_secs(5), |s| !s.payload.is_empty())?;
            if seg.seq == p.rcv_nxt {
                p.rcv_nxt = seg.end();
            }
            p.send(Flags::ACK, b"")?;
        }
        p.close()?;
        Ok(notes)
    })
}

const PEER_WINDOW_OPEN: u16 = 8000;

fn half_open(cfg: &GenConfig, tun: Tun, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "the peer 'reboots' and forgets the connection. The kernel's next segment reaches a host with no such \
         connection, which answers with RST (seq = the segment's ACK number, RFC 9293 3.10.7.1); the kernel's \
         next read() fails with ECONNRESET. Without traffic, a half-open connection is noticed only by keep-alives.",
    );
    let k = |voice: &Voice| {
        let (mut stream, mut k) = kernel_dial(cfg, voice, Duration::from_secs(5))?;
        stream.write_all(b"hello\n").ctx("writing")?;
        let line = net::read_line(&mut stream, "reading the reply")?;
        k.received += line.len() as u64;
        voice.say(format!("read {}", net::show(&line)));
        std::thread::sleep(Duration::from_millis(500));
        stream.write_all(b"are you there?\n").ctx("writing")?;
        k.sent = 6 + 15;
        k.writes = 2;
        voice.say("write() of 15 bytes returned: the kernel cannot know the peer is gone");
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Err(e) if net::is_reset(&e) => {
                let note = format!("read() failed: {e} (ECONNRESET)");
                voice.say(note.clone());
                k.notes.push(note);
                k.resets = 1;
                Ok(k)
            }
            Err(e) => Err(GenError::io("reading", e)),
            Ok(n) => Err(GenError::Mismatch(format!("read() returned {n} bytes instead of ECONNRESET"))),
        }
    };
    both(cfg, tun, voice, k, |p| {
        p.accept(1460)?;
        let (data, _) = p.expect("the kernel's line", Duration::from_secs(5), |s| !s.payload.is_empty())?;
        p.rcv_nxt = data.end();
        p.send(Flags::PSH_ACK, b"hi\n")?;
        p.say("answers \"hi\"; then reboots: it forgets the connection".into());
        let (next, _) = p.expect("the kernel's next segment", Duration::from_secs(5), |s| !s.payload.is_empty())?;
        let mut rst = p.segment(Flags::RST)?;
        rst.seq = next.ack;
        rst.ack = 0;
        rst.window = 0;
        p.send_raw(&rst)?;
        let note = format!("no connection for a segment to port {}: answers RST (seq {})", next.dst.port(), next.ack);
        p.say(note.clone());
        Ok(vec![note])
    })
}
