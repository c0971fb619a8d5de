//! Lessons about the socket calls around a connection rather than its segments: the listen()
//! backlog, and TIME-WAIT against bind() with and without SO_REUSEADDR.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::net::{self, accept, connected, listen, read_line, run_tcp, Ctx, Env, ListenOpts, Part};
use super::{GenConfig, GenError, GenReport, Role, Voice, Who};

/// How long each client beyond the queue keeps trying: SYNs at 0, 1 and 3 s.
const LATE_WAIT: Duration = Duration::from_millis(3_500);

pub(crate) fn backlog(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "listen(1) and no accept(): Linux queues backlog + 1 = 2 completed connections; while the accept queue \
         is full it drops every new SYN without an answer, so those clients retransmit their SYN after 1 s, \
         then 2 s later, ... until connect() gives up. The lesson's listen(5) is that queue's length: how many \
         connections may wait for accept(), not how many clients the server can have.",
    );
    run_tcp(cfg, voice, ListenOpts { rcvbuf: None, backlog: 1 }, serve_backlog, dial_backlog)
}

fn serve_backlog(env: &Env, _listener: &std::net::TcpListener, voice: &Voice) -> Result<Part, GenError> {
    voice.say("listen(1), and never calls accept()");
    let clients = env.cfg.count_or(4);
    std::thread::sleep(LATE_WAIT + Duration::from_millis(if clients > 2 { 700 } else { 300 }));
    voice.say("closes the listener: the queued connections, never accepted, are reset");
    Ok(Part::default())
}

fn dial_backlog(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let clients = env.cfg.count_or(4);
    let mut part = Part::default();
    let mut open = Vec::new();
    std::thread::sleep(Duration::from_millis(100));
    for i in 1..=2.min(clients) {
        let stream = net::dial(at)?;
        part.local.get_or_insert(stream.local_addr().ctx("reading the local address")?);
        part.note(voice, format!("client {i}: connect() returned at once: the kernel completed the handshake and queued the connection"));
        part.connections += 1;
        open.push(stream);
    }
    let late: Vec<Result<String, GenError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (3..=clients)
            .map(|i| {
                scope.spawn(move || {
                    let sock = Socket::new(Domain::for_address(at), Type::STREAM, Some(Protocol::TCP)).ctx("creating a socket")?;
                    let started = Instant::now();
                    match sock.connect_timeout(&SockAddr::from(at), LATE_WAIT) {
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => Ok(format!(
                            "client {i}: connect() gave up after {:.1} s: the queue was full, every SYN was dropped (and retried)",
                            started.elapsed().as_secs_f64()
                        )),
                        Err(e) => Err(GenError::io(format!("client {i} connecting"), e)),
                        Ok(()) => {
                            Ok(format!("client {i}: connected after {:.1} s (a retried SYN found room)", started.elapsed().as_secs_f64()))
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(GenError::Internal("a client thread panicked".into())))).collect()
    });
    for line in late {
        part.note(voice, line?);
    }
    drop(open);
    voice.say("the two queued clients close their connections");
    Ok(part)
}

// ---------------------------------------------------------------------------------------------

pub(crate) fn reuseaddr(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "the side that closes first keeps the connection in TIME-WAIT for 2MSL (60 s on Linux) so that late \
         segments of it die out (RFC 9293 3.6.1). Here the server closes first, so its port is held: a new \
         socket bound to it fails with EADDRINUSE, 'Address already in use'. With SO_REUSEADDR set (on the old \
         socket and the new one) bind() ignores connections in TIME-WAIT. It does not let two sockets listen on \
         one port at once (that is SO_REUSEPORT).",
    );
    if cfg.port == 0 {
        return Err(GenError::Config("reuseaddr binds the same port twice: give a --port other than 0".into()));
    }
    let target = SocketAddr::new(cfg.addr, cfg.port);
    let mut report = GenReport::new(cfg);
    report.server = Some(target);
    let (server_voice, client_voice) = (voice.as_(Who::Server), voice.as_(Who::Client));
    match cfg.role {
        Role::Server => {
            let server = serve_reuse(target, &server_voice, net::SERVER_WAIT)?;
            net::merge(&mut report, None, Some(server));
        }
        Role::Client => {
            let client = dial_reuse(target, &client_voice)?;
            net::merge(&mut report, Some(client), None);
        }
        Role::Both => {
            let (client, server) = std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::channel();
                let server = scope.spawn(move || serve_reuse_signal(target, &server_voice, tx));
                let client = match rx.recv_timeout(net::BOTH_WAIT) {
                    Ok(()) => dial_reuse(target, &client_voice),
                    Err(_) => {
                        Err(GenError::Timeout { what: "waiting for the server to listen".into(), secs: net::BOTH_WAIT.as_secs_f64() })
                    }
                };
                (client, server.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into()))))
            });
            net::merge(&mut report, Some(client?), Some(server?));
        }
    }
    Ok(report)
}

fn serve_reuse_signal(target: SocketAddr, voice: &Voice, ready: std::sync::mpsc::Sender<()>) -> Result<Part, GenError> {
    serve_reuse_with(target, voice, net::BOTH_WAIT, Some(ready))
}

fn serve_reuse(target: SocketAddr, voice: &Voice, wait: Duration) -> Result<Part, GenError> {
    serve_reuse_with(target, voice, wait, None)
}

fn serve_reuse_with(
    target: SocketAddr,
    voice: &Voice,
    wait: Duration,
    ready: Option<std::sync::mpsc::Sender<()>>,
) -> Result<Part, GenError> {
    let mut part = Part::default();
    let listener = listen(target, None, 5)?;
    voice.say(format!("listening on {target} with SO_REUSEADDR"));
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    let (mut stream, peer) = accept(&listener, wait)?;
    drop(listener);
    voice.say(format!("accepted {peer}; closes the listener, sends a line and closes first"));
    net::send(&mut stream, b"bye\n", &mut part.tally, "writing")?;
    drop(stream);
    // the client's FIN arrives within a round trip; then this side is in TIME-WAIT
    std::thread::sleep(Duration::from_millis(300));
    part.connections = 1;
    let plain = bind_only(target, false);
    match plain {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
            part.note(
                voice,
                format!("bind({target}) without SO_REUSEADDR: [Errno {}] {e}", libc::EADDRINUSE).replace(" (os error 98)", ""),
            );
        }
        Err(e) => return Err(GenError::io("binding again", e)),
        Ok(_) => return Err(GenError::Mismatch("bind() without SO_REUSEADDR succeeded: no TIME-WAIT on the port".into())),
    }
    let reused = bind_only(target, true).map_err(|e| GenError::io("binding with SO_REUSEADDR", e))?;
    reused.listen(5).map_err(|e| GenError::io("listening with SO_REUSEADDR", e))?;
    part.note(voice, format!("bind({target}) with SO_REUSEADDR: works, and listen() too, though the old connection is still in TIME-WAIT"));
    match bind_only(target, true) {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => part.note(
            voice,
            "a second listener on the port, even with SO_REUSEADDR: EADDRINUSE (SO_REUSEADDR forgives TIME-WAIT, not a live listener)"
                .into(),
        ),
        Err(e) => return Err(GenError::io("binding a second listener", e)),
        Ok(_) => return Err(GenError::Mismatch("a second listener bound to the same port".into())),
    }
    Ok(part)
}

fn bind_only(target: SocketAddr, reuse: bool) -> std::io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(target), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(reuse)?;
    sock.bind(&SockAddr::from(target))?;
    Ok(sock)
}

fn dial_reuse(target: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let mut stream: TcpStream = net::dial(target)?;
    let mut part = connected(voice, &stream, target, "");
    let line = read_line(&mut stream, "reading the server's line")?;
    part.tally.got(line.len());
    let (_, _) = net::drain(&mut stream, "waiting for the server's FIN")?;
    voice.say("read() returned 0: the server closed first; the client closes too (the server is now in TIME-WAIT)");
    Ok(part)
}
