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

pub(crate) fn handshake(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "connect() sends SYN, the server's kernel answers SYN-ACK and the client ACKs: the three-way open. \
         Each SYN carries the largest segment its sender accepts (MSS option: 65495 on lo, 1460 on Ethernet), \
         its window scale and SACK permission. Linux then sends at most half the largest window the peer \
         has offered, so on lo the send MSS reads 32741 (65483 / 2) until the window grows.",
    );
    run_tcp(cfg, v, ListenOpts::default(), hs_serve, hs_dial)
}

fn hs_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}: ESTABLISHED"));
    let mut p = Part { connections: 1, ..Part::default() };
    let line = read_line(&mut s, "reading the client's greeting")?;
    p.tally.got(line.len());
    v.say(format!("got {}, answering \"world\"", show(&line)));
    send(&mut s, b"world\n", &mut p.tally, "answering")?;
    drain(&mut s, "waiting for the client's FIN")?;
    v.say("read end of stream: the client's FIN arrived; this side is in CLOSE-WAIT");
    sleep(CLOSE_WAIT_PAUSE);
    v.why(
        "pausing 200 ms in CLOSE-WAIT lets the kernel's (delayed) ACK of that FIN leave on its own, so the capture \
         shows the textbook four segments FIN, ACK, FIN, ACK. Closing at once would let the server's FIN carry the \
         ACK: a three-segment close.",
    );
    drop(s);
    v.say("closed: FIN sent (LAST-ACK); the client's last ACK ends the connection (CLOSED)");
    Ok(p)
}

fn hs_dial(_env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    send(&mut s, b"hello\n", &mut p.tally, "sending the greeting")?;
    v.say("sent \"hello\"");
    let line = read_line(&mut s, "reading the answer")?;
    if line != b"world\n" {
        return Err(GenError::Mismatch(format!("expected \"world\", got {}", show(&line))));
    }
    p.tally.got(line.len());
    v.say(format!("got {}; closing first", show(&line)));
    p.tcp = net::tcp_counters(&s);
    drop(s);
    v.say("FIN sent (FIN-WAIT-1), its ACK (FIN-WAIT-2), then the server's FIN: this side ends in TIME-WAIT");
    v.why(
        "the side that closes first waits 2 MSL in TIME-WAIT (60 s on Linux) so a lost last ACK can be resent and \
         stray segments of this connection die out; `ss -tan state time-wait` lists it. The server, which closed \
         second, went through CLOSE-WAIT and LAST-ACK and is free at once.",
    );
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// half-close

pub(crate) fn half_close(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "shutdown(SHUT_WR) sends a FIN but keeps the receiving half open: TCP is full duplex and each direction \
         closes on its own. The client (FIN-WAIT-2) keeps reading while the server (CLOSE-WAIT) keeps sending.",
    );
    run_tcp(cfg, v, ListenOpts::default(), hc_serve, hc_dial)
}

fn hc_lines(env: &Env) -> usize {
    env.cfg.count_or(5)
}

fn hc_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}"));
    let mut p = Part { connections: 1, ..Part::default() };
    let (n, _) = drain(&mut s, "reading the request up to the client's FIN")?;
    p.tally.got(n as usize);
    let lines = hc_lines(env);
    v.say(format!("read a {n}-byte request, then end of stream (the client's FIN); sending {lines} lines anyway"));
    for i in 1..=lines {
        let line = format!("line {i} of {lines}, sent after your FIN\n");
        send(&mut s, line.as_bytes(), &mut p.tally, "sending after the FIN")?;
        sleep(Duration::from_millis(50));
    }
    drop(s);
    v.say("done: closed, FIN sent");
    Ok(p)
}

fn hc_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    send(&mut s, b"GET all-lines\n", &mut p.tally, "sending the request")?;
    shutdown_write(&s)?;
    v.say("sent \"GET all-lines\" and shutdown(SHUT_WR): FIN sent, still reading");
    loop {
        let line = read_line(&mut s, "reading lines after the half-close")?;
        if line.is_empty() {
            break;
        }
        p.tally.got(line.len());
    }
    let want = hc_lines(env);
    if p.tally.messages_received != want {
        return Err(GenError::Mismatch(format!("expected {want} lines, got {}", p.tally.messages_received)));
    }
    p.note(v, format!("received {want} lines after its own FIN, then the server's FIN; closing (TIME-WAIT)"));
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// server-close

pub(crate) fn server_close(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "here the server closes first, as HTTP/1.0 servers do after a reply: the client reads end of stream \
         and sits in CLOSE-WAIT until its application calls close(); the server holds TIME-WAIT.",
    );
    run_tcp(cfg, v, ListenOpts::default(), sc_serve, sc_dial)
}

fn sc_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}"));
    let mut p = Part { connections: 1, ..Part::default() };
    let line = read_line(&mut s, "reading the request")?;
    p.tally.got(line.len());
    send(&mut s, b"world, and goodbye\n", &mut p.tally, "answering")?;
    drop(s);
    v.say("answered and closed at once: FIN sent first (FIN-WAIT-1, FIN-WAIT-2, then TIME-WAIT on this side)");
    Ok(p)
}

fn sc_dial(_env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    send(&mut s, b"hello\n", &mut p.tally, "sending the request")?;
    let line = read_line(&mut s, "reading the answer")?;
    if line.is_empty() {
        return Err(GenError::Mismatch("the server closed without answering".into()));
    }
    p.tally.got(line.len());
    let rest = read_line(&mut s, "waiting for the server's FIN")?;
    if !rest.is_empty() {
        return Err(GenError::Mismatch(format!("expected end of stream, got {}", show(&rest))));
    }
    p.tcp = net::tcp_counters(&s);
    v.say(format!(
        "got {}, then end of stream: the server's FIN; this side is in CLOSE-WAIT (TCP state {}) for 200 ms",
        show(&line),
        p.tcp.map_or(0, |c| c.state)
    ));
    sleep(CLOSE_WAIT_PAUSE);
    drop(s);
    v.say("closed: FIN sent (LAST-ACK), the server's ACK ends it");
    v.why(
        "the pause between the server's FIN and the client's own FIN is CLOSE-WAIT time. A program that forgets \
         to close a socket after reading end of stream leaves it in CLOSE-WAIT for ever.",
    );
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// reset

pub(crate) fn reset(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "two connections end in RST instead of FIN: (1) the client sets SO_LINGER {on, 0} and closes, which \
         aborts the connection; (2) the server closes while data it never read is still in its receive buffer, \
         which the kernel also signals with RST (the data would be lost).",
    );
    run_tcp(cfg, v, ListenOpts::default(), rst_serve, rst_dial)
}

const UNREAD: &[u8] = b"hello\nthis second line is never read by the server\n";

fn rst_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let mut p = Part::default();
    // (1) the client aborts
    let (mut s, peer) = accept(l, env.wait)?;
    p.connections += 1;
    v.say(format!("connection 1 from {peer}"));
    let line = read_line(&mut s, "reading the greeting")?;
    p.tally.got(line.len());
    send(&mut s, b"world\n", &mut p.tally, "answering")?;
    match drain(&mut s, "waiting for the client's end") {
        Err(GenError::Io { source, .. }) if is_reset(&source) => {
            p.resets += 1;
            v.say("connection 1: recv() failed with ECONNRESET: the client aborted with RST");
        }
        Ok(_) => v.say("connection 1: the client closed with FIN, not RST"),
        Err(e) => return Err(e),
    }
    // (2) this side closes with unread data
    let (mut s, peer) = accept(l, net::IO_TIMEOUT)?;
    p.connections += 1;
    v.say(format!("connection 2 from {peer}"));
    let line = read_line(&mut s, "reading the first line")?;
    p.tally.got(line.len());
    sleep(Duration::from_millis(50));
    v.say(format!("connection 2: read only {}, closing with the rest still unread", show(&line)));
    drop(s);
    Ok(p)
}

fn rst_dial(_env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    send(&mut s, b"hello\n", &mut p.tally, "sending the greeting")?;
    let line = read_line(&mut s, "reading the answer")?;
    p.tally.got(line.len());
    SockRef::from(&s).set_linger(Some(Duration::ZERO)).ctx("setting SO_LINGER {on, 0}")?;
    drop(s);
    v.say("connection 1: SO_LINGER {on, 0} then close(): RST sent, no FIN, no TIME-WAIT");
    v.why("an abortive close skips the four-way close; the peer's next recv() fails with ECONNRESET.");
    sleep(Duration::from_millis(100));

    let mut s = dial(at)?;
    p.connections += 1;
    s.write_all(UNREAD).ctx("sending two lines")?;
    p.tally.bytes_sent += UNREAD.len() as u64;
    p.tally.messages_sent += 2;
    v.say("connection 2: sent two lines in one write; the server reads only the first and closes");
    match drain(&mut s, "waiting for the server's end") {
        Err(GenError::Io { source, .. }) if is_reset(&source) => {
            p.resets += 1;
            v.say("connection 2: recv() failed with ECONNRESET: the server's close sent RST");
            v.why(
                "closing a socket whose receive buffer still holds data tells the peer that data was lost: \
                 Linux sends RST instead of FIN (RFC 2525). A server should read to end of stream first.",
            );
        }
        Ok(_) => v.say("connection 2: the server closed with FIN (its unread data must have been read)"),
        Err(e) => return Err(e),
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// refused

pub(crate) fn refused(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    let mut report = GenReport::new(cfg);
    let cv = v.as_(Who::Client);
    if cfg.role == Role::Server {
        v.as_(Who::Server).say("refused has no server: a port where nothing listens is the point; nothing to do");
        v.why("the kernel itself answers a SYN to a closed port with RST; no program takes part.");
        return Ok(report);
    }
    // Keep a bound, non-listening socket on the port so nobody else can take it meanwhile.
    let (_holder, target) = if cfg.port == 0 {
        let h = closed_port(SocketAddr::new(cfg.addr, 0))?;
        let at = h
            .local_addr()
            .ctx("reading the bound address")?
            .as_socket()
            .ok_or_else(|| GenError::Internal("a TCP socket without an IP address".into()))?;
        cv.say(format!("port {} is bound but not listening: connections to it are refused", at.port()));
        (Some(h), at)
    } else {
        (None, SocketAddr::new(cfg.addr, cfg.port))
    };
    report.server = Some(target);
    v.why(
        "nothing listens on the port, so the kernel answers each SYN with RST+ACK (acknowledging the SYN's \
         sequence number + 1) and connect() fails with ECONNREFUSED at once. A firewall that drops instead \
         would give SYN retransmissions and a timeout.",
    );
    let attempts = cfg.count_or(2);
    for i in 1..=attempts {
        match dial(target) {
            Err(GenError::Refused { .. }) => {
                report.refused += 1;
                cv.say(format!("attempt {i}: connect({target}) refused: SYN answered by RST"));
            }
            Ok(_) => {
                return Err(GenError::Config(format!(
                    "something listens on {target}: refused needs a closed port; pick another with --port"
                )))
            }
            Err(e) => return Err(e),
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

pub(crate) fn keepalive(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "SO_KEEPALIVE with TCP_KEEPIDLE=1 and TCP_KEEPINTVL=1: after 1 s without traffic the kernel sends a \
         probe every second, a segment with no data and a sequence number one below the next byte (seq = \
         snd.nxt - 1); the peer answers each with a plain ACK. Defaults are 2 hours and 75 s.",
    );
    run_tcp(cfg, v, ListenOpts::default(), ka_serve, ka_dial)
}

fn ka_idle(env: &Env) -> Duration {
    Duration::from_millis(env.cfg.count_or(3) as u64 * 1000 + 500)
}

fn ka_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}"));
    s.set_read_timeout(Some(ka_idle(env) + net::IO_TIMEOUT)).ctx("setting the read timeout")?;
    let mut p = Part { connections: 1, ..Part::default() };
    let line = read_line(&mut s, "reading the greeting")?;
    p.tally.got(line.len());
    send(&mut s, b"world\n", &mut p.tally, "answering")?;
    v.say("answered; now idle (the kernel answers the probes, not this program)");
    drain(&mut s, "waiting out the idle connection")?;
    v.say("the client closed; closing");
    Ok(p)
}

fn ka_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let ka = TcpKeepalive::new().with_time(Duration::from_secs(1)).with_interval(Duration::from_secs(1)).with_retries(5);
    let mut s = net::connect(at, |sock| {
        sock.set_keepalive(true)?;
        sock.set_tcp_keepalive(&ka)
    })?;
    let mut p = connected(v, &s, at, "");
    send(&mut s, b"hello\n", &mut p.tally, "sending the greeting")?;
    let line = read_line(&mut s, "reading the answer")?;
    p.tally.got(line.len());
    let idle = ka_idle(env);
    v.say(format!("idle for {:.1} s with keep-alive every 1 s", idle.as_secs_f64()));
    let before = net::tcp_counters(&s).unwrap_or_default();
    sleep(idle);
    let after = net::tcp_counters(&s).unwrap_or_default();
    p.tcp = Some(after);
    p.note(
        v,
        format!(
            "while idle the kernel sent {} segments without data and got {} back: keep-alive probes and ACKs",
            after.segs_out.wrapping_sub(before.segs_out),
            after.segs_in.wrapping_sub(before.segs_in)
        ),
    );
    drop(s);
    v.say("closing");
    Ok(p)
}
