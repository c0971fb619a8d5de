//! Socket plumbing shared by the TCP scenarios: listening, accepting and connecting with timeouts,
//! reading helpers, TCP_INFO counters, and the harness that runs a server and a client per [`Role`].

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::{Burst, GenConfig, GenError, GenReport, Role, Tally, Voice, Who};

/// Timeout of every read, write and connect once a conversation is under way.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server in the same process waits for its client.
pub(crate) const BOTH_WAIT: Duration = Duration::from_secs(5);
/// How long `--role server` waits for a client started elsewhere.
pub(crate) const SERVER_WAIT: Duration = Duration::from_secs(30);

/// What a scenario function may consult besides its socket.
pub(crate) struct Env<'a> {
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
    pub tally: Tally,
    pub local: Option<SocketAddr>,
    pub connections: usize,
    pub refused: usize,
    pub resets: usize,
    pub reads: Option<usize>,
    pub mss: Option<u32>,
    pub tcp: Option<TcpCounters>,
    pub bursts: Vec<Burst>,
    pub notes: Vec<String>,
}

impl Part {
    /// Record a measured fact: narrated now, kept in the report.
    pub(crate) fn note(&mut self, v: &Voice, text: String) {
        v.say(text.clone());
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

pub(crate) fn is_reset(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted)
}

fn bind_error(addr: SocketAddr, e: io::Error) -> GenError {
    match e.raw_os_error() {
        Some(libc::EADDRINUSE) => GenError::PortInUse { port: addr.port() },
        Some(libc::EADDRNOTAVAIL) => GenError::AddrNotAvailable { addr: addr.ip() },
        Some(libc::EACCES) => {
            GenError::Permission(format!("port {} is privileged (below 1024): run as root or pick another with --port", addr.port()))
        }
        _ => GenError::io(format!("binding {addr}"), e),
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
    if let Some(n) = rcvbuf {
        sock.set_recv_buffer_size(n).ctx("setting SO_RCVBUF")?;
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

fn set_timeouts(s: &TcpStream) -> Result<(), GenError> {
    s.set_read_timeout(Some(IO_TIMEOUT)).ctx("setting SO_RCVTIMEO")?;
    s.set_write_timeout(Some(IO_TIMEOUT)).ctx("setting SO_SNDTIMEO")
}

/// accept() that gives up after `wait` (SO_RCVTIMEO applies to accept on Linux).
pub(crate) fn accept(l: &TcpListener, wait: Duration) -> Result<(TcpStream, SocketAddr), GenError> {
    SockRef::from(l).set_read_timeout(Some(wait)).ctx("setting the accept timeout")?;
    let at = l.local_addr().ctx("reading the listening address")?;
    let (s, peer) = match l.accept() {
        Ok(x) => x,
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            return Err(GenError::Timeout { what: format!("waiting for a client on {at}"), secs: wait.as_secs_f64() });
        }
        Err(e) => return Err(GenError::io("accepting a connection", e)),
    };
    set_timeouts(&s)?;
    Ok((s, peer))
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
    let s: TcpStream = sock.into();
    set_timeouts(&s)?;
    Ok(s)
}

/// A plain connect with no options.
pub(crate) fn dial(addr: SocketAddr) -> Result<TcpStream, GenError> {
    connect(addr, |_| Ok(()))
}

/// Narrate a new connection and start the client's [`Part`] with its addresses and MSS.
pub(crate) fn connected(v: &Voice, s: &TcpStream, at: SocketAddr, how: &str) -> Part {
    let local = s.local_addr().ok();
    let mss = mss(s);
    let how = if how.is_empty() { String::new() } else { format!("{how}, ") };
    v.say(format!(
        "connected {} -> {at}: ESTABLISHED ({how}send MSS {})",
        local.map_or_else(|| "?".into(), |a| a.to_string()),
        mss.map_or_else(|| "?".into(), |m| m.to_string())
    ));
    Part { local, mss, connections: 1, ..Part::default() }
}

/// Read one line (with its '\n') a byte at a time, so nothing after it is consumed.
/// Empty at end of stream.
pub(crate) fn read_line(s: &mut TcpStream, what: &str) -> Result<Vec<u8>, GenError> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 64 * 1024 {
        match s.read(&mut b).ctx(what)? {
            0 => break,
            _ => {
                line.push(b[0]);
                if b[0] == b'\n' {
                    break;
                }
            }
        }
    }
    Ok(line)
}

/// Read exactly `n` bytes; `None` when the stream ends cleanly before the first byte.
/// Also returns how many read() calls it took.
pub(crate) fn read_exact_or_eof(s: &mut TcpStream, n: usize, what: &str) -> Result<Option<(Vec<u8>, usize)>, GenError> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    let mut reads = 0;
    while got < n {
        let k = s.read(&mut buf[got..]).ctx(what)?;
        reads += 1;
        if k == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(GenError::Mismatch(format!("the stream ended after {got} of {n} bytes {what}")));
        }
        got += k;
    }
    Ok(Some((buf, reads)))
}

pub(crate) fn read_exact(s: &mut TcpStream, n: usize, what: &str) -> Result<Vec<u8>, GenError> {
    match read_exact_or_eof(s, n, what)? {
        Some((b, _)) => Ok(b),
        None if n == 0 => Ok(Vec::new()),
        None => Err(GenError::Mismatch(format!("the stream ended before any of {n} bytes {what}"))),
    }
}

/// Read a 4-byte big-endian length and that many bytes; `None` at a clean end of stream.
pub(crate) fn read_frame(s: &mut TcpStream, what: &str) -> Result<Option<Vec<u8>>, GenError> {
    let Some((hdr, _)) = read_exact_or_eof(s, 4, what)? else { return Ok(None) };
    let n = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
    if n > 64 << 20 {
        return Err(GenError::Mismatch(format!("a length header says {n} bytes, more than 64 MiB")));
    }
    read_exact(s, n, what).map(Some)
}

/// Read until the peer's FIN; returns (bytes, read calls).
pub(crate) fn drain(s: &mut TcpStream, what: &str) -> Result<(u64, usize), GenError> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut reads) = (0u64, 0usize);
    loop {
        let k = s.read(&mut buf).ctx(what)?;
        if k == 0 {
            return Ok((total, reads));
        }
        total += k as u64;
        reads += 1;
    }
}

pub(crate) fn shutdown_write(s: &TcpStream) -> Result<(), GenError> {
    s.shutdown(Shutdown::Write).ctx("shutting down the sending side")
}

/// Effective MSS of a connected socket.
pub(crate) fn mss(s: &TcpStream) -> Option<u32> {
    SockRef::from(s).tcp_mss().ok()
}

/// A few TCP_INFO counters of a socket (see tcp(7) and linux/tcp.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Kernel TCP state number (1 ESTABLISHED, 4 FIN_WAIT2, 6 TIME_WAIT, 8 CLOSE_WAIT, ...).
    pub state: u8,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments sent, including pure ACKs, window probes and keep-alives.
    pub segs_out: u32,
    /// Segments received.
    pub segs_in: u32,
    /// Segments sent that carried data, in MSS units (a GSO bundle of 5 MSS counts 5).
    pub data_segs_out: u32,
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
pub(crate) fn tcp_counters(s: &impl AsRawFd) -> Option<TcpCounters> {
    let fd = s.as_raw_fd();
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
pub(crate) fn data_segs_out(s: &TcpStream) -> u32 {
    tcp_counters(s).map_or(0, |c| c.data_segs_out)
}

pub(crate) type Serve = fn(&Env, &TcpListener, &Voice) -> Result<Part, GenError>;
pub(crate) type Dial = fn(&Env, SocketAddr, &Voice) -> Result<Part, GenError>;

/// How the scenario's listener is made.
pub(crate) struct ListenOpts {
    pub rcvbuf: Option<usize>,
    pub backlog: i32,
}

impl Default for ListenOpts {
    fn default() -> Self {
        ListenOpts { rcvbuf: None, backlog: 128 }
    }
}

/// Run a TCP scenario for `cfg.role`: the server in a scoped thread and the client here (Both),
/// or only one of them.
pub(crate) fn run_tcp(cfg: &GenConfig, v: &Voice, opts: ListenOpts, serve: Serve, dial: Dial) -> Result<GenReport, GenError> {
    let env = Env::new(cfg);
    let sv = v.as_(Who::Server);
    let cv = v.as_(Who::Client);
    let target = SocketAddr::new(cfg.addr, cfg.port);
    let mut report = GenReport::new(cfg);
    match cfg.role {
        Role::Client => {
            let c = dial(&env, target, &cv)?;
            report.server = Some(target);
            merge(&mut report, Some(c), None);
        }
        Role::Server => {
            let l = listen(target, opts.rcvbuf, opts.backlog)?;
            let at = l.local_addr().ctx("reading the listening address")?;
            sv.say(format!(
                "listening on {at}; waiting up to {:.0} s for a client (wireseam gen {} --role client --addr {} --port {})",
                env.wait.as_secs_f64(),
                cfg.scenario,
                at.ip(),
                at.port()
            ));
            let s = serve(&env, &l, &sv)?;
            report.server = Some(at);
            merge(&mut report, None, Some(s));
        }
        Role::Both => {
            let l = listen(target, opts.rcvbuf, opts.backlog)?;
            let at = l.local_addr().ctx("reading the listening address")?;
            sv.say(format!("listening on {at}"));
            let (c, s) = std::thread::scope(|scope| {
                let (env_ref, l_ref) = (&env, &l);
                let h = scope.spawn(move || serve(env_ref, l_ref, &sv));
                let c = dial(&env, at, &cv);
                let s = h.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into())));
                (c, s)
            });
            let (c, s) = match (c, s) {
                (Ok(c), Ok(s)) => (c, s),
                // The server's complaint is the cause unless it merely timed out waiting.
                (Err(ce), Err(se)) => return Err(if matches!(se, GenError::Timeout { .. }) { ce } else { se }),
                (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
            };
            report.server = Some(at);
            merge(&mut report, Some(c), Some(s));
        }
    }
    Ok(report)
}

fn merge(r: &mut GenReport, client: Option<Part>, server: Option<Part>) {
    let only_server = client.is_none();
    if let Some(s) = server {
        r.server_tally = s.tally;
        r.server_reads = s.reads;
        r.connections = s.connections;
        r.resets += s.resets;
        r.notes.extend(s.notes);
        if only_server {
            r.bytes_sent = s.tally.bytes_sent;
            r.messages = s.tally.messages_sent;
            r.replies = s.tally.messages_received;
        }
    }
    if let Some(c) = client {
        r.client = c.local;
        r.client_tally = c.tally;
        r.bytes_sent = c.tally.bytes_sent;
        r.messages = c.tally.messages_sent;
        r.replies = c.tally.messages_received;
        r.connections = r.connections.max(c.connections);
        r.refused = c.refused;
        r.resets += c.resets;
        r.mss = c.mss;
        r.tcp = c.tcp;
        r.bursts = c.bursts;
        let server_notes = std::mem::take(&mut r.notes);
        r.notes = c.notes;
        r.notes.extend(server_notes);
    }
}

/// Write all of `buf`, counting it.
pub(crate) fn send(s: &mut TcpStream, buf: &[u8], tally: &mut Tally, what: &str) -> Result<(), GenError> {
    use std::io::Write;
    s.write_all(buf).ctx(what)?;
    tally.bytes_sent += buf.len() as u64;
    tally.messages_sent += 1;
    Ok(())
}

/// Shortened, printable view of a payload for narration.
pub(crate) fn show(b: &[u8]) -> String {
    let s: String = b.iter().take(40).map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '.' }).collect();
    let s = s.trim_end_matches('.').to_string();
    if b.len() > 40 {
        format!("\"{s}...\" ({} bytes)", b.len())
    } else {
        format!("\"{}\"", s.replace('"', "'"))
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
