//! Socket plumbing shared by the TCP scenarios: listening, accepting and connecting with timeouts,
//! reading helpers, TCP_INFO counters, and the harness that runs a server and a client per [`Role`].

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::{Burst, Endian, GenConfig, GenError, GenReport, Role, Tally, Voice, Who};

/// Timeout of every read, write and connect once a conversation is under way.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server in the same process waits for its client.
pub(crate) const BOTH_WAIT: Duration = Duration::from_secs(5);
/// How long `--role server` waits for a client started elsewhere.
pub(crate) const SERVER_WAIT: Duration = Duration::from_secs(30);

/// What a scenario function may consult besides its socket.
pub(crate) struct Env<'a> {
    /// The run's configuration.
    pub cfg: &'a GenConfig,
    /// How long to wait for the peer to show up (first accept or first datagram).
    pub wait: Duration,
}

impl Env<'_> {
    pub(crate) fn new(cfg: &GenConfig) -> Env<'_> {
        let wait = if cfg.role == Role::Server { SERVER_WAIT } else { BOTH_WAIT };
        Env { cfg, wait }
    }
}

/// What one side of a TCP scenario did.
#[derive(Debug, Default)]
pub(crate) struct Part {
    /// Application bytes and messages of this side.
    pub tally: Tally,
    /// Local address of this side's (first) socket.
    pub local: Option<SocketAddr>,
    /// Connections completed.
    pub connections: usize,
    /// Connection attempts refused.
    pub refused: usize,
    /// Connections that ended in RST as this side saw it.
    pub resets: usize,
    /// recv() calls, where the scenario counts them.
    pub reads: Option<usize>,
    /// Effective MSS of this side's socket.
    pub mss: Option<u32>,
    /// TCP_INFO counters at the end of the main phase.
    pub tcp: Option<TcpCounters>,
    /// Bursts of small writes and their segments.
    pub bursts: Vec<Burst>,
    /// Measured facts, one line each.
    pub notes: Vec<String>,
    /// What the lesson's program of this side would print, one line each.
    pub prints: Vec<String>,
}

impl Part {
    /// Record a line the lesson's program would print: shown verbatim now, kept in the report.
    pub(crate) fn print(&mut self, voice: &Voice, text: String) {
        voice.print(text.clone());
        self.prints.push(text);
    }

    /// Record a measured fact: narrated now, kept in the report.
    pub(crate) fn note(&mut self, voice: &Voice, text: String) {
        voice.say(text.clone());
        self.notes.push(text);
    }
}

/// Map an io::Error to a [`GenError`] with what was being done.
pub(crate) trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, GenError>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx(self, what: &str) -> Result<T, GenError> {
        self.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                GenError::Timeout { what: format!("while {what}"), secs: IO_TIMEOUT.as_secs_f64() }
            }
            _ => GenError::io(what, e),
        })
    }
}

/// The peer reset or aborted the connection.
pub(crate) fn is_reset(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted)
}

/// The [`GenError`] that says what to do about a failed bind() or listen().
fn bind_error(addr: SocketAddr, error: io::Error) -> GenError {
    match error.raw_os_error() {
        Some(libc::EADDRINUSE) => GenError::PortInUse { port: addr.port() },
        Some(libc::EADDRNOTAVAIL) => GenError::AddrNotAvailable { addr: addr.ip() },
        Some(libc::EACCES) => {
            GenError::Permission(format!("port {} is privileged (below 1024): run as root or pick another with --port", addr.port()))
        }
        _ => GenError::io(format!("binding {addr}"), error),
    }
}

/// Bind and listen with SO_REUSEADDR (a previous run's TIME-WAIT does not block the port).
/// `rcvbuf` is set before listen(): the window scale and first window offered come from it.
pub(crate) fn listen(addr: SocketAddr, rcvbuf: Option<usize>, backlog: i32) -> Result<TcpListener, GenError> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).ctx("creating a socket")?;
    sock.set_reuse_address(true).ctx("setting SO_REUSEADDR")?;
    if addr.is_ipv6() {
        sock.set_only_v6(true).ctx("setting IPV6_V6ONLY")?;
    }
    if let Some(size) = rcvbuf {
        sock.set_recv_buffer_size(size).ctx("setting SO_RCVBUF")?;
    }
    sock.bind(&SockAddr::from(addr)).map_err(|e| bind_error(addr, e))?;
    sock.listen(backlog).map_err(|e| bind_error(addr, e))?;
    Ok(sock.into())
}

/// Bind a socket to a free port without listening: connecting to it is refused.
pub(crate) fn closed_port(addr: SocketAddr) -> Result<Socket, GenError> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).ctx("creating a socket")?;
    sock.bind(&SockAddr::from(addr)).map_err(|e| bind_error(addr, e))?;
    Ok(sock)
}

/// SO_RCVTIMEO and SO_SNDTIMEO of [`IO_TIMEOUT`].
pub(crate) fn set_timeouts(stream: &TcpStream) -> Result<(), GenError> {
    stream.set_read_timeout(Some(IO_TIMEOUT)).ctx("setting SO_RCVTIMEO")?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).ctx("setting SO_SNDTIMEO")
}

/// accept() that gives up after `wait` (SO_RCVTIMEO applies to accept on Linux).
pub(crate) fn accept(listener: &TcpListener, wait: Duration) -> Result<(TcpStream, SocketAddr), GenError> {
    SockRef::from(listener).set_read_timeout(Some(wait)).ctx("setting the accept timeout")?;
    let at = listener.local_addr().ctx("reading the listening address")?;
    let (stream, peer) = match listener.accept() {
        Ok(x) => x,
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            return Err(GenError::Timeout { what: format!("waiting for a client on {at}"), secs: wait.as_secs_f64() });
        }
        Err(e) => return Err(GenError::io("accepting a connection", e)),
    };
    set_timeouts(&stream)?;
    Ok((stream, peer))
}

/// Connect with a timeout after `prep` has set options on the fresh socket.
pub(crate) fn connect(addr: SocketAddr, prep: impl FnOnce(&Socket) -> io::Result<()>) -> Result<TcpStream, GenError> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).ctx("creating a socket")?;
    prep(&sock).ctx("setting socket options")?;
    match sock.connect_timeout(&SockAddr::from(addr), IO_TIMEOUT) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr }),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            return Err(GenError::Timeout { what: format!("connecting to {addr}"), secs: IO_TIMEOUT.as_secs_f64() });
        }
        Err(e) => return Err(GenError::io(format!("connecting to {addr}"), e)),
    }
    let stream: TcpStream = sock.into();
    set_timeouts(&stream)?;
    Ok(stream)
}

/// Stack of the threads gen starts per client or connection: each holds a socket and small
/// buffers, and there may be hundreds.
pub(crate) const SMALL_STACK: usize = 128 * 1024;

/// `clients` clients of `at` at once, each on a thread of its own: every one dials, waits until
/// all have dialled (connected or not), then runs `talk` with its stream and its number
/// (`first`, `first + 1`, ...). Their results, in client order.
pub(crate) fn clients_at_once<T: Send>(
    clients: usize,
    first: usize,
    at: SocketAddr,
    talk: impl Fn(TcpStream, usize) -> Result<T, GenError> + Sync,
) -> Vec<Result<T, GenError>> {
    let barrier = std::sync::Barrier::new(clients);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (first..first + clients)
            .map(|client| {
                let (barrier, talk) = (&barrier, &talk);
                std::thread::Builder::new().stack_size(SMALL_STACK).spawn_scoped(scope, move || {
                    let stream = dial(at);
                    barrier.wait(); // every client reaches the barrier once, connected or not
                    talk(stream?, client)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle {
                Ok(handle) => handle.join().unwrap_or_else(|_| Err(GenError::Internal("a client thread panicked".into()))),
                Err(err) => Err(GenError::io("starting a thread", err)),
            })
            .collect()
    })
}

/// A plain connect with no options.
pub(crate) fn dial(addr: SocketAddr) -> Result<TcpStream, GenError> {
    connect(addr, |_| Ok(()))
}

/// Narrate a new connection and start the client's [`Part`] with its addresses and MSS.
pub(crate) fn connected(voice: &Voice, stream: &TcpStream, at: SocketAddr, how: &str) -> Part {
    let local = stream.local_addr().ok();
    let mss = mss(stream);
    let how = if how.is_empty() { String::new() } else { format!("{how}, ") };
    voice.say(format!(
        "connected {} -> {at}: ESTABLISHED ({how}send MSS {})",
        local.map_or_else(|| "?".into(), |a| a.to_string()),
        mss.map_or_else(|| "?".into(), |m| m.to_string())
    ));
    Part { local, mss, connections: 1, ..Part::default() }
}

/// Read one line (with its '\n') a byte at a time, so nothing after it is consumed.
/// Empty at end of stream.
pub(crate) fn read_line(stream: &mut TcpStream, what: &str) -> Result<Vec<u8>, GenError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 64 * 1024 {
        match stream.read(&mut byte).ctx(what)? {
            0 => break,
            _ => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
        }
    }
    Ok(line)
}

/// Read exactly `n` bytes; `None` when the stream ends cleanly before the first byte.
/// Also returns how many read() calls it took.
pub(crate) fn read_exact_or_eof(stream: &mut TcpStream, len: usize, what: &str) -> Result<Option<(Vec<u8>, usize)>, GenError> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    let mut reads = 0;
    while got < len {
        let just_read = stream.read(&mut buf[got..]).ctx(what)?;
        reads += 1;
        if just_read == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(GenError::Mismatch(format!("the stream ended after {got} of {len} bytes {what}")));
        }
        got += just_read;
    }
    Ok(Some((buf, reads)))
}

/// Read exactly `len` bytes; a stream that ends first is a [`GenError::Mismatch`].
pub(crate) fn read_exact(stream: &mut TcpStream, len: usize, what: &str) -> Result<Vec<u8>, GenError> {
    match read_exact_or_eof(stream, len, what)? {
        Some((bytes, _)) => Ok(bytes),
        None if len == 0 => Ok(Vec::new()),
        None => Err(GenError::Mismatch(format!("the stream ended before any of {len} bytes {what}"))),
    }
}

/// Read a 4-byte length in `order` and that many bytes; `None` at a clean end of stream.
pub(crate) fn read_frame(stream: &mut TcpStream, order: Endian, what: &str) -> Result<Option<Vec<u8>>, GenError> {
    let Some((hdr, _)) = read_exact_or_eof(stream, 4, what)? else { return Ok(None) };
    let len = order.unpack([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
    if len > 64 << 20 {
        return Err(GenError::Mismatch(format!("a length header says {len} bytes, more than 64 MiB")));
    }
    read_exact(stream, len, what).map(Some)
}

/// Read until the peer's FIN; returns (bytes, read calls).
pub(crate) fn drain(stream: &mut TcpStream, what: &str) -> Result<(u64, usize), GenError> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut reads) = (0u64, 0usize);
    loop {
        let just_read = stream.read(&mut buf).ctx(what)?;
        if just_read == 0 {
            return Ok((total, reads));
        }
        total += just_read as u64;
        reads += 1;
    }
}

/// shutdown(SHUT_WR): send FIN, keep reading.
pub(crate) fn shutdown_write(stream: &TcpStream) -> Result<(), GenError> {
    stream.shutdown(Shutdown::Write).ctx("shutting down the sending side")
}

/// Effective MSS of a connected socket.
pub(crate) fn mss(stream: &TcpStream) -> Option<u32> {
    SockRef::from(stream).tcp_mss().ok()
}

/// A few TCP_INFO counters of a socket (see tcp(7) and linux/tcp.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Kernel TCP state number (1 ESTABLISHED, 4 FIN_WAIT2, 6 TIME_WAIT, 8 CLOSE_WAIT, ...).
    pub state: u8,
    /// MSS this socket sends with (`tcpi_snd_mss`).
    pub snd_mss: u32,
    /// MSS estimated for the peer's segments (`tcpi_rcv_mss`).
    pub rcv_mss: u32,
    /// Segments sent, including pure ACKs, window probes and keep-alives.
    pub segs_out: u32,
    /// Segments received.
    pub segs_in: u32,
    /// Segments sent that carried data, in MSS units (a GSO bundle of 5 MSS counts 5).
    pub data_segs_out: u32,
    /// Segments received that carried data, in MSS units.
    pub data_segs_in: u32,
    /// Retransmitted segments, all time.
    pub total_retrans: u32,
    /// Congestion window, in segments.
    pub snd_cwnd: u32,
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Bytes sent but not yet written to the network (TCP_NOTSENT).
    pub notsent_bytes: u32,
}

/// Read TCP_INFO. `None` when the kernel refuses (not a TCP socket).
#[allow(unsafe_code)]
pub(crate) fn tcp_counters(socket: &impl AsRawFd) -> Option<TcpCounters> {
    let fd = socket.as_raw_fd();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: tcp_info consists of integers only, so the all-zero value is valid; getsockopt
    // writes at most `len` bytes (its true size) into it, and `fd` is open for the borrow of `s`.
    let (rc, info) = unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let rc = libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, (&mut info as *mut libc::tcp_info).cast(), &mut len);
        (rc, info)
    };
    if rc != 0 {
        return None;
    }
    Some(TcpCounters {
        state: info.tcpi_state,
        snd_mss: info.tcpi_snd_mss,
        rcv_mss: info.tcpi_rcv_mss,
        segs_out: info.tcpi_segs_out,
        segs_in: info.tcpi_segs_in,
        data_segs_out: info.tcpi_data_segs_out,
        data_segs_in: info.tcpi_data_segs_in,
        total_retrans: info.tcpi_total_retrans,
        snd_cwnd: info.tcpi_snd_cwnd,
        rtt_us: info.tcpi_rtt,
        notsent_bytes: info.tcpi_notsent_bytes,
    })
}

/// Data segments sent so far (0 when TCP_INFO is unavailable).
pub(crate) fn data_segs_out(stream: &TcpStream) -> u32 {
    tcp_counters(stream).map_or(0, |counters| counters.data_segs_out)
}

/// A scenario's server side: serve on the listener, report what it did.
pub(crate) type Serve = fn(&Env, &TcpListener, &Voice) -> Result<Part, GenError>;
/// A scenario's client side: connect to the address, report what it did.
pub(crate) type Dial = fn(&Env, SocketAddr, &Voice) -> Result<Part, GenError>;

/// How the scenario's listener is made.
pub(crate) struct ListenOpts {
    /// SO_RCVBUF set before listen() (the kernel doubles it).
    pub rcvbuf: Option<usize>,
    /// listen() backlog.
    pub backlog: i32,
}

impl Default for ListenOpts {
    fn default() -> Self {
        ListenOpts { rcvbuf: None, backlog: 128 }
    }
}

/// Run a TCP scenario for `cfg.role`: the server in a scoped thread and the client here (Both),
/// or only one of them.
pub(crate) fn run_tcp(cfg: &GenConfig, voice: &Voice, opts: ListenOpts, serve: Serve, dial: Dial) -> Result<GenReport, GenError> {
    let env = Env::new(cfg);
    let server_voice = voice.as_(Who::Server);
    let client_voice = voice.as_(Who::Client);
    let target = SocketAddr::new(cfg.addr, cfg.port);
    let mut report = GenReport::new(cfg);
    match cfg.role {
        Role::Client => {
            let client = dial(&env, target, &client_voice)?;
            report.server = Some(target);
            merge(&mut report, Some(client), None);
        }
        Role::Server => {
            let listener = listen(target, opts.rcvbuf, opts.backlog)?;
            let at = listener.local_addr().ctx("reading the listening address")?;
            server_voice.say(format!(
                "listening on {at}; waiting up to {:.0} s for a client (wireseam gen {} --role client --addr {} --port {})",
                env.wait.as_secs_f64(),
                cfg.scenario,
                at.ip(),
                at.port()
            ));
            let server = serve(&env, &listener, &server_voice)?;
            report.server = Some(at);
            merge(&mut report, None, Some(server));
        }
        Role::Both => {
            let listener = listen(target, opts.rcvbuf, opts.backlog)?;
            let at = listener.local_addr().ctx("reading the listening address")?;
            server_voice.say(format!("listening on {at}"));
            let (client, server) = std::thread::scope(|scope| {
                let (env_ref, listener_ref) = (&env, &listener);
                let server_thread = scope.spawn(move || serve(env_ref, listener_ref, &server_voice));
                let client = dial(&env, at, &client_voice);
                let server = server_thread.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into())));
                (client, server)
            });
            let (client, server) = match (client, server) {
                (Ok(client), Ok(server)) => (client, server),
                // The server's complaint is the cause unless it merely timed out waiting.
                (Err(client_err), Err(server_err)) => {
                    return Err(if matches!(server_err, GenError::Timeout { .. }) { client_err } else { server_err })
                }
                (Err(err), Ok(_)) | (Ok(_), Err(err)) => return Err(err),
            };
            report.server = Some(at);
            merge(&mut report, Some(client), Some(server));
        }
    }
    Ok(report)
}

/// Fill the report from the parts of the sides that ran here: bytes, messages and replies are
/// the client's when it ran, resets add up, and the client's notes come first.
pub(crate) fn merge(report: &mut GenReport, client: Option<Part>, server: Option<Part>) {
    let only_server = client.is_none();
    if let Some(server) = server {
        report.server_tally = server.tally;
        report.server_reads = server.reads;
        report.connections = server.connections;
        report.resets += server.resets;
        report.notes.extend(server.notes);
        report.server_prints = server.prints;
        if only_server {
            report.bytes_sent = server.tally.bytes_sent;
            report.messages = server.tally.messages_sent;
            report.replies = server.tally.messages_received;
        }
    }
    if let Some(client) = client {
        report.client = client.local;
        report.client_tally = client.tally;
        report.bytes_sent = client.tally.bytes_sent;
        report.messages = client.tally.messages_sent;
        report.replies = client.tally.messages_received;
        report.connections = report.connections.max(client.connections);
        report.refused = client.refused;
        report.resets += client.resets;
        report.mss = client.mss;
        report.tcp = client.tcp;
        report.bursts = client.bursts;
        report.client_prints = client.prints;
        let server_notes = std::mem::take(&mut report.notes);
        report.notes = client.notes;
        report.notes.extend(server_notes);
    }
}

/// Write all of `buf`, counting it.
pub(crate) fn send(stream: &mut TcpStream, buf: &[u8], tally: &mut Tally, what: &str) -> Result<(), GenError> {
    use std::io::Write;
    stream.write_all(buf).ctx(what)?;
    tally.bytes_sent += buf.len() as u64;
    tally.messages_sent += 1;
    Ok(())
}

/// Shortened, printable view of a payload for narration.
pub(crate) fn show(bytes: &[u8]) -> String {
    let text: String = bytes.iter().take(40).map(|&byte| if (0x20..0x7f).contains(&byte) { byte as char } else { '.' }).collect();
    let text = text.trim_end_matches('.').to_string();
    if bytes.len() > 40 {
        format!("\"{text}...\" ({} bytes)", bytes.len())
    } else {
        format!("\"{}\"", text.replace('"', "'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_payloads() {
        assert_eq!(show(b"hello\n"), "\"hello\"");
        assert_eq!(show(&[b'x'; 50]), format!("\"{}...\" (50 bytes)", "x".repeat(40)));
    }

    #[test]
    fn port_in_use_is_reported() {
        let first = listen("127.0.0.1:0".parse().unwrap(), None, 1).unwrap();
        let at = first.local_addr().unwrap();
        let e = listen(at, None, 1).unwrap_err();
        assert_eq!(e.to_string(), format!("port {} is in use; pick another with --port", at.port()));
    }

    #[test]
    fn accept_times_out() {
        let l = listen("127.0.0.1:0".parse().unwrap(), None, 1).unwrap();
        let t = std::time::Instant::now();
        let e = accept(&l, Duration::from_millis(150)).unwrap_err();
        assert!(matches!(e, GenError::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn refused_connect_is_clear() {
        let closed = closed_port("127.0.0.1:0".parse().unwrap()).unwrap();
        let at = closed.local_addr().unwrap().as_socket().unwrap();
        let e = dial(at).unwrap_err();
        assert!(e.to_string().contains("connection refused"), "{e}");
    }

    #[test]
    fn tcp_info_counts_segments() {
        let l = listen("127.0.0.1:0".parse().unwrap(), None, 1).unwrap();
        let mut c = dial(l.local_addr().unwrap()).unwrap();
        let (_s, _) = accept(&l, IO_TIMEOUT).unwrap();
        let before = tcp_counters(&c).unwrap();
        assert_eq!(before.state, 1, "ESTABLISHED");
        send(&mut c, b"x", &mut Tally::default(), "writing").unwrap();
        let after = tcp_counters(&c).unwrap();
        assert_eq!(after.data_segs_out, before.data_segs_out + 1);
        assert!(tcp_counters(&l).is_some());
    }
}
