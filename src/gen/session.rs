//! Connection life cycle: open and close handshakes, half-close, server-first close, RST aborts,
//! refused connections and keep-alive probes.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::thread::sleep;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::net::{
    self, accept, closed_port, connected, dial, drain, is_reset, read_line, run_tcp, send, show, shutdown_write, Ctx, Env, ListenOpts, Part,
};
use super::{GenConfig, GenError, GenReport, Role, Voice, Who};

/// Time a side stays in CLOSE-WAIT before closing, so the capture shows the state.
const CLOSE_WAIT_PAUSE: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------------
// handshake

pub(crate) fn handshake(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "connect() sends SYN, the server's kernel answers SYN-ACK and the client ACKs: the three-way open. \
         Each SYN carries the largest segment its sender accepts (MSS option: 65495 on lo, 1460 on Ethernet), \
         its window scale and SACK permission. Linux then sends at most half the largest window the peer \
         has offered, so on lo the send MSS reads 32741 (65483 / 2) until the window grows.",
    );
    run_tcp(cfg, voice, ListenOpts::default(), hs_serve, hs_dial)
}

fn hs_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}: ESTABLISHED"));
    let mut part = Part { connections: 1, ..Part::default() };
    let line = read_line(&mut stream, "reading the client's greeting")?;
    part.tally.got(line.len());
    voice.say(format!("got {}, answering \"world\"", show(&line)));
    send(&mut stream, b"world\n", &mut part.tally, "answering")?;
    drain(&mut stream, "waiting for the client's FIN")?;
    voice.say("read end of stream: the client's FIN arrived; this side is in CLOSE-WAIT");
    sleep(CLOSE_WAIT_PAUSE);
    voice.why(
        "pausing 200 ms in CLOSE-WAIT lets the kernel's (delayed) ACK of that FIN leave on its own, so the capture \
         shows the textbook four segments FIN, ACK, FIN, ACK. Closing at once would let the server's FIN carry the \
         ACK: a three-segment close.",
    );
    drop(stream);
    voice.say("closed: FIN sent (LAST-ACK); the client's last ACK ends the connection (CLOSED)");
    Ok(part)
}

fn hs_dial(_env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    send(&mut stream, b"hello\n", &mut part.tally, "sending the greeting")?;
    voice.say("sent \"hello\"");
    let line = read_line(&mut stream, "reading the answer")?;
    if line != b"world\n" {
        return Err(GenError::Mismatch(format!("expected \"world\", got {}", show(&line))));
    }
    part.tally.got(line.len());
    voice.say(format!("got {}; closing first", show(&line)));
    part.tcp = net::tcp_counters(&stream);
    drop(stream);
    voice.say("FIN sent (FIN-WAIT-1), its ACK (FIN-WAIT-2), then the server's FIN: this side ends in TIME-WAIT");
    voice.why(
        "the side that closes first waits 2 MSL in TIME-WAIT (60 s on Linux) so a lost last ACK can be resent and \
         stray segments of this connection die out; `ss -tan state time-wait` lists it. The server, which closed \
         second, went through CLOSE-WAIT and LAST-ACK and is free at once.",
    );
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// half-close

pub(crate) fn half_close(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "shutdown(SHUT_WR) sends a FIN but keeps the receiving half open: TCP is full duplex and each direction \
         closes on its own. The client (FIN-WAIT-2) keeps reading while the server (CLOSE-WAIT) keeps sending.",
    );
    run_tcp(cfg, voice, ListenOpts::default(), hc_serve, hc_dial)
}

fn hc_lines(env: &Env) -> usize {
    env.cfg.count_or(5)
}

fn hc_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}"));
    let mut part = Part { connections: 1, ..Part::default() };
    let (request_len, _) = drain(&mut stream, "reading the request up to the client's FIN")?;
    part.tally.got(request_len as usize);
    let lines = hc_lines(env);
    voice.say(format!("read a {request_len}-byte request, then end of stream (the client's FIN); sending {lines} lines anyway"));
    for i in 1..=lines {
        let line = format!("line {i} of {lines}, sent after your FIN\n");
        send(&mut stream, line.as_bytes(), &mut part.tally, "sending after the FIN")?;
        sleep(Duration::from_millis(50));
    }
    drop(stream);
    voice.say("done: closed, FIN sent");
    Ok(part)
}

fn hc_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    send(&mut stream, b"GET all-lines\n", &mut part.tally, "sending the request")?;
    shutdown_write(&stream)?;
    voice.say("sent \"GET all-lines\" and shutdown(SHUT_WR): FIN sent, still reading");
    loop {
        let line = read_line(&mut stream, "reading lines after the half-close")?;
        if line.is_empty() {
            break;
        }
        part.tally.got(line.len());
    }
    let want = hc_lines(env);
    if part.tally.messages_received != want {
        return Err(GenError::Mismatch(format!("expected {want} lines, got {}", part.tally.messages_received)));
    }
    part.note(voice, format!("received {want} lines after its own FIN, then the server's FIN; closing (TIME-WAIT)"));
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// server-close

pub(crate) fn server_close(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "here the server closes first, as HTTP/1.0 servers do after a reply: the client reads end of stream \
         and sits in CLOSE-WAIT until its application calls close(); the server holds TIME-WAIT.",
    );
    run_tcp(cfg, voice, ListenOpts::default(), sc_serve, sc_dial)
}

fn sc_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}"));
    let mut part = Part { connections: 1, ..Part::default() };
    let line = read_line(&mut stream, "reading the request")?;
    part.tally.got(line.len());
    send(&mut stream, b"world, and goodbye\n", &mut part.tally, "answering")?;
    drop(stream);
    voice.say("answered and closed at once: FIN sent first (FIN-WAIT-1, FIN-WAIT-2, then TIME-WAIT on this side)");
    Ok(part)
}

fn sc_dial(_env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    send(&mut stream, b"hello\n", &mut part.tally, "sending the request")?;
    let line = read_line(&mut stream, "reading the answer")?;
    if line.is_empty() {
        return Err(GenError::Mismatch("the server closed without answering".into()));
    }
    part.tally.got(line.len());
    let rest = read_line(&mut stream, "waiting for the server's FIN")?;
    if !rest.is_empty() {
        return Err(GenError::Mismatch(format!("expected end of stream, got {}", show(&rest))));
    }
    part.tcp = net::tcp_counters(&stream);
    voice.say(format!(
        "got {}, then end of stream: the server's FIN; this side is in CLOSE-WAIT (TCP state {}) for 200 ms",
        show(&line),
        part.tcp.map_or(0, |counters| counters.state)
    ));
    sleep(CLOSE_WAIT_PAUSE);
    drop(stream);
    voice.say("closed: FIN sent (LAST-ACK), the server's ACK ends it");
    voice.why(
        "the pause between the server's FIN and the client's own FIN is CLOSE-WAIT time. A program that forgets \
         to close a socket after reading end of stream leaves it in CLOSE-WAIT for ever.",
    );
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// reset

pub(crate) fn reset(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "two connections end in RST instead of FIN: (1) the client sets SO_LINGER {on, 0} and closes, which \
         aborts the connection; (2) the server closes while data it never read is still in its receive buffer, \
         which the kernel also signals with RST (the data would be lost).",
    );
    run_tcp(cfg, voice, ListenOpts::default(), rst_serve, rst_dial)
}

const UNREAD: &[u8] = b"hello\nthis second line is never read by the server\n";

fn rst_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let mut part = Part::default();
    // (1) the client aborts
    let (mut stream, peer) = accept(listener, env.wait)?;
    part.connections += 1;
    voice.say(format!("connection 1 from {peer}"));
    let line = read_line(&mut stream, "reading the greeting")?;
    part.tally.got(line.len());
    send(&mut stream, b"world\n", &mut part.tally, "answering")?;
    match drain(&mut stream, "waiting for the client's end") {
        Err(GenError::Io { source, .. }) if is_reset(&source) => {
            part.resets += 1;
            voice.say("connection 1: recv() failed with ECONNRESET: the client aborted with RST");
        }
        Ok(_) => voice.say("connection 1: the client closed with FIN, not RST"),
        Err(err) => return Err(err),
    }
    // (2) this side closes with unread data
    let (mut stream, peer) = accept(listener, net::IO_TIMEOUT)?;
    part.connections += 1;
    voice.say(format!("connection 2 from {peer}"));
    let line = read_line(&mut stream, "reading the first line")?;
    part.tally.got(line.len());
    sleep(Duration::from_millis(50));
    voice.say(format!("connection 2: read only {}, closing with the rest still unread", show(&line)));
    drop(stream);
    Ok(part)
}

fn rst_dial(_env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    send(&mut stream, b"hello\n", &mut part.tally, "sending the greeting")?;
    let line = read_line(&mut stream, "reading the answer")?;
    part.tally.got(line.len());
    SockRef::from(&stream).set_linger(Some(Duration::ZERO)).ctx("setting SO_LINGER {on, 0}")?;
    drop(stream);
    voice.say("connection 1: SO_LINGER {on, 0} then close(): RST sent, no FIN, no TIME-WAIT");
    voice.why("an abortive close skips the four-way close; the peer's next recv() fails with ECONNRESET.");
    sleep(Duration::from_millis(100));

    let mut stream = dial(at)?;
    part.connections += 1;
    stream.write_all(UNREAD).ctx("sending two lines")?;
    part.tally.bytes_sent += UNREAD.len() as u64;
    part.tally.messages_sent += 2;
    voice.say("connection 2: sent two lines in one write; the server reads only the first and closes");
    match drain(&mut stream, "waiting for the server's end") {
        Err(GenError::Io { source, .. }) if is_reset(&source) => {
            part.resets += 1;
            voice.say("connection 2: recv() failed with ECONNRESET: the server's close sent RST");
            voice.why(
                "closing a socket whose receive buffer still holds data tells the peer that data was lost: \
                 Linux sends RST instead of FIN (RFC 2525). A server should read to end of stream first.",
            );
        }
        Ok(_) => voice.say("connection 2: the server closed with FIN (its unread data must have been read)"),
        Err(err) => return Err(err),
    }
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// refused

pub(crate) fn refused(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    let mut report = GenReport::new(cfg);
    let client_voice = voice.as_(Who::Client);
    if cfg.role == Role::Server {
        voice.as_(Who::Server).say("refused has no server: a port where nothing listens is the point; nothing to do");
        voice.why("the kernel itself answers a SYN to a closed port with RST; no program takes part.");
        return Ok(report);
    }
    // Keep a bound, non-listening socket on the port so nobody else can take it meanwhile.
    let (_holder, target) = if cfg.port == 0 {
        let holder = closed_port(SocketAddr::new(cfg.addr, 0))?;
        let at = holder
            .local_addr()
            .ctx("reading the bound address")?
            .as_socket()
            .ok_or_else(|| GenError::Internal("a TCP socket without an IP address".into()))?;
        client_voice.say(format!("port {} is bound but not listening: connections to it are refused", at.port()));
        (Some(holder), at)
    } else {
        (None, SocketAddr::new(cfg.addr, cfg.port))
    };
    report.server = Some(target);
    voice.why(
        "nothing listens on the port, so the kernel answers each SYN with RST+ACK (acknowledging the SYN's \
         sequence number + 1) and connect() fails with ECONNREFUSED at once. A firewall that drops instead \
         would give SYN retransmissions and a timeout.",
    );
    let attempts = cfg.count_or(2);
    for i in 1..=attempts {
        match dial(target) {
            Err(GenError::Refused { .. }) => {
                report.refused += 1;
                client_voice.say(format!("attempt {i}: connect({target}) refused: SYN answered by RST"));
            }
            Ok(_) => {
                return Err(GenError::Config(format!(
                    "something listens on {target}: refused needs a closed port; pick another with --port"
                )))
            }
            Err(err) => return Err(err),
        }
        if i < attempts {
            sleep(Duration::from_millis(100));
        }
    }
    report.messages = attempts;
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// keepalive

pub(crate) fn keepalive(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "SO_KEEPALIVE with TCP_KEEPIDLE=1 and TCP_KEEPINTVL=1: after 1 s without traffic the kernel sends a \
         probe every second, a segment with no data and a sequence number one below the next byte (seq = \
         snd.nxt - 1); the peer answers each with a plain ACK. Defaults are 2 hours and 75 s.",
    );
    run_tcp(cfg, voice, ListenOpts::default(), ka_serve, ka_dial)
}

fn ka_idle(env: &Env) -> Duration {
    Duration::from_millis(env.cfg.count_or(3) as u64 * 1000 + 500)
}

fn ka_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}"));
    stream.set_read_timeout(Some(ka_idle(env) + net::IO_TIMEOUT)).ctx("setting the read timeout")?;
    let mut part = Part { connections: 1, ..Part::default() };
    let line = read_line(&mut stream, "reading the greeting")?;
    part.tally.got(line.len());
    send(&mut stream, b"world\n", &mut part.tally, "answering")?;
    voice.say("answered; now idle (the kernel answers the probes, not this program)");
    drain(&mut stream, "waiting out the idle connection")?;
    voice.say("the client closed; closing");
    Ok(part)
}

fn ka_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let keepalive = TcpKeepalive::new().with_time(Duration::from_secs(1)).with_interval(Duration::from_secs(1)).with_retries(5);
    let mut stream = net::connect(at, |sock| {
        sock.set_keepalive(true)?;
        sock.set_tcp_keepalive(&keepalive)
    })?;
    let mut part = connected(voice, &stream, at, "");
    send(&mut stream, b"hello\n", &mut part.tally, "sending the greeting")?;
    let line = read_line(&mut stream, "reading the answer")?;
    part.tally.got(line.len());
    let idle = ka_idle(env);
    voice.say(format!("idle for {:.1} s with keep-alive every 1 s", idle.as_secs_f64()));
    let before = net::tcp_counters(&stream).unwrap_or_default();
    sleep(idle);
    let after = net::tcp_counters(&stream).unwrap_or_default();
    part.tcp = Some(after);
    part.note(
        voice,
        format!(
            "while idle the kernel sent {} segments without data and got {} back: keep-alive probes and ACKs",
            after.segs_out.wrapping_sub(before.segs_out),
            after.segs_in.wrapping_sub(before.segs_in)
        ),
    );
    drop(stream);
    voice.say("closing");
    Ok(part)
}
