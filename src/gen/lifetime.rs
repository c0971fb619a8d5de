//! Long against short connections: the same requests over one connection, then over one
//! connection each (connect, request, answer, close), as the lessons compare them. The client
//! closes first every time, so each connection leaves a TIME-WAIT on the client's side; both sides
//! count, from their own kernel's socket table, what is left in TIME-WAIT.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::net::{self, accept, dial, drain, read_line, run_tcp, send, show, shutdown_write, Ctx, Env, ListenOpts, Part};
use super::{GenConfig, GenError, GenReport, Tally, Voice};

/// Requests (and short connections) unless `--count` says otherwise.
const DEFAULT_REQUESTS: usize = 5;
/// How long the server waits after the last close before it reads its socket table: the
/// client's last ACK is one round trip away.
const SETTLE: Duration = Duration::from_millis(100);

pub(crate) fn long_short(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    let n = cfg.count_or(DEFAULT_REQUESTS);
    voice.why(format!(
        "a long connection pays for the three-way open and the four-way close once, whatever the number of requests; \
         short connections (HTTP/1.0, a browser fetching page pieces) pay for them every time. So the capture shows \
         1 SYN, SYN-ACK, ACK and 1 FIN each way for the {n} requests of the long connection, then {n} of each for the \
         {n} short ones. And every connection leaves a TIME-WAIT of 2MSL (60 s on Linux) on the side that closed \
         first, here the client: {n} short connections hold {n} of its ephemeral ports for a minute. A server that \
         closes first collects them on its own port instead."
    ));
    run_tcp(cfg, voice, ListenOpts::default(), serve, dial_both)
}

fn serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let n = env.cfg.count_or(DEFAULT_REQUESTS);
    let port = listener.local_addr().ctx("reading the listening address")?.port();
    let mut part = Part::default();
    for conn in 0..=n {
        let wait = if conn == 0 { env.wait } else { net::IO_TIMEOUT };
        let (mut stream, peer) = accept(listener, wait)?;
        let requests = answer_all(&mut stream, &mut part.tally)?;
        part.connections += 1;
        drop(stream);
        let kind = if conn == 0 { "long connection" } else { "short connection" };
        voice.say(format!("{kind} from {peer}: answered {requests} request{}, read the client's FIN, closed", plural(requests)));
    }
    std::thread::sleep(SETTLE);
    let held = time_wait(&read_tables(), |entry| entry.local_port == port).len();
    part.note(
        voice,
        format!(
            "served {} connections one after the other; this side's kernel holds {held} connection{} in TIME-WAIT on port \
             {port}: the server closed second every time",
            n + 1,
            plural(held)
        ),
    );
    Ok(part)
}

/// Answer every line until the client's end of stream; returns the number of lines.
fn answer_all(stream: &mut TcpStream, tally: &mut Tally) -> Result<usize, GenError> {
    let mut requests = 0;
    loop {
        let line = read_line(stream, "reading a request")?;
        if line.is_empty() {
            return Ok(requests);
        }
        tally.got(line.len());
        let mut reply = b"re: ".to_vec();
        reply.extend_from_slice(&line);
        send(stream, &reply, tally, "answering")?;
        requests += 1;
    }
}

/// One request and its answer on `stream`.
fn request(stream: &mut TcpStream, index: usize, tally: &mut Tally) -> Result<(), GenError> {
    let line = format!("request {index}\n");
    send(stream, line.as_bytes(), tally, "sending a request")?;
    let back = read_line(stream, "reading the answer")?;
    if back != format!("re: {line}").as_bytes() {
        return Err(GenError::Mismatch(format!("request {index} was answered {}", show(&back))));
    }
    tally.got(back.len());
    Ok(())
}

/// Close first: FIN, then wait for the server's FIN, so the next connection starts only after
/// this one is over on the wire. Returns the segments this socket sent (TCP_INFO).
fn close_first(mut stream: TcpStream) -> Result<u32, GenError> {
    shutdown_write(&stream)?;
    drain(&mut stream, "waiting for the server's FIN")?;
    Ok(net::tcp_counters(&stream).map_or(0, |counters| counters.segs_out))
}

fn dial_both(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let n = env.cfg.count_or(DEFAULT_REQUESTS);
    let mut part = Part::default();
    // the long connection
    let started = Instant::now();
    let mut stream = dial(at)?;
    let long_port = stream.local_addr().ctx("reading the local address")?.port();
    part.local = Some(stream.local_addr().ctx("reading the local address")?);
    part.mss = net::mss(&stream);
    for index in 1..=n {
        request(&mut stream, index, &mut part.tally)?;
    }
    let long_segments = close_first(stream)?;
    part.connections += 1;
    part.note(
        voice,
        format!(
            "long connection from port {long_port}: {n} request{} answered, then closed: 1 connect() (1 handshake), \
             1 close; {long_segments} segments sent by the client in all; {:.1} ms",
            plural(n),
            started.elapsed().as_secs_f64() * 1e3
        ),
    );
    // the short connections
    let started = Instant::now();
    let mut short_ports = Vec::with_capacity(n);
    let mut short_segments = 0;
    for index in 1..=n {
        let mut stream = dial(at)?;
        short_ports.push(stream.local_addr().ctx("reading the local address")?.port());
        request(&mut stream, index, &mut part.tally)?;
        short_segments += close_first(stream)?;
        part.connections += 1;
    }
    part.note(
        voice,
        format!(
            "short connection{} from port{} {}: {n} request{} answered, {n} connect() call{} ({n} handshake{}), {n} close{}; \
             {short_segments} segments sent by the client in all; {:.1} ms",
            plural(n),
            plural(n),
            ports_text(&short_ports),
            plural(n),
            plural(n),
            plural(n),
            plural(n),
            started.elapsed().as_secs_f64() * 1e3
        ),
    );
    let server_port = at.port();
    let waiting = time_wait(&read_tables(), |entry| entry.remote_port == server_port);
    let long_held = waiting.iter().filter(|&&port| port == long_port).count();
    let short_held = short_ports.iter().filter(|port| waiting.contains(port)).count();
    part.note(
        voice,
        format!(
            "the client closed first each time: its kernel now holds {short_held} of the {n} short connection{} in \
             TIME-WAIT, and {long_held} for the long one (`ss -tan state time-wait` lists them for 60 s)",
            plural(n)
        ),
    );
    Ok(part)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `40001, 40002, ...`, shortened past ten ports.
fn ports_text(ports: &[u16]) -> String {
    let mut shown: Vec<String> = ports.iter().take(10).map(u16::to_string).collect();
    if ports.len() > 10 {
        shown.push(format!("... ({} in all)", ports.len()));
    }
    shown.join(", ")
}

// ---------------------------------------------------------------------------------------------
// the kernel's socket table

/// One line of `/proc/net/tcp` or `/proc/net/tcp6`, as far as this module reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableEntry {
    /// Local port.
    pub local_port: u16,
    /// Remote port.
    pub remote_port: u16,
    /// Kernel TCP state number (`st`; 6 is TIME_WAIT).
    pub state: u8,
}

/// The TCP state number of TIME-WAIT in `/proc/net/tcp` (include/net/tcp_states.h).
const TCP_TIME_WAIT: u8 = 6;

/// Parse the text of `/proc/net/tcp` (or tcp6): `sl local_address rem_address st ...`, the
/// addresses as `HEXADDR:HEXPORT`. Lines that do not parse are skipped.
pub(crate) fn parse_table(text: &str) -> Vec<TableEntry> {
    let port = |field: &str| field.rsplit_once(':').and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some(TableEntry {
                local_port: port(fields.get(1)?)?,
                remote_port: port(fields.get(2)?)?,
                state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
            })
        })
        .collect()
}

/// The IPv4 and IPv6 TCP tables of the calling thread's network namespace (empty where
/// unreadable).
fn read_tables() -> Vec<TableEntry> {
    ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"]
        .iter()
        .flat_map(|file| parse_table(&std::fs::read_to_string(file).unwrap_or_default()))
        .collect()
}

/// Local ports of the entries in TIME-WAIT that `keep` selects.
fn time_wait(entries: &[TableEntry], keep: impl Fn(&TableEntry) -> bool) -> Vec<u16> {
    entries.iter().filter(|entry| entry.state == TCP_TIME_WAIT && keep(entry)).map(|entry| entry.local_port).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:2328 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:9C41 0100007F:2328 01 00000000:00000000 00:00000000 00000000     0        0 456 1 0000000000000000 20 4 30 10 -1
   garbage line
";

    #[test]
    fn socket_table_lines() {
        let entries = parse_table(TABLE);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], TableEntry { local_port: 9000, remote_port: 0, state: 0x0a });
        assert_eq!(entries[1], TableEntry { local_port: 40000, remote_port: 9000, state: TCP_TIME_WAIT });
        assert_eq!(time_wait(&entries, |e| e.remote_port == 9000), vec![40000]);
        assert!(time_wait(&entries, |e| e.local_port == 9000).is_empty());
        let v6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:2328 06 0";
        assert_eq!(parse_table(v6), vec![TableEntry { local_port: 40000, remote_port: 9000, state: 6 }]);
    }

    #[test]
    fn ports_are_shortened() {
        assert_eq!(ports_text(&[1, 2]), "1, 2");
        let many: Vec<u16> = (1..=12).collect();
        assert_eq!(ports_text(&many), "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (12 in all)");
    }

    #[test]
    fn long_then_short_on_loopback() {
        let cfg = GenConfig { port: 0, count: Some(3), ..GenConfig::new(super::super::Scenario::LongShort) };
        let mut log = Vec::new();
        let r = super::super::run(&cfg, &mut log).unwrap();
        // the narration wraps lines: compare with single spaces
        let log = String::from_utf8(log).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(r.connections, 4, "{log}");
        assert_eq!(r.client_tally.messages_sent, 6, "{log}");
        assert_eq!(r.server_tally.messages_received, 6, "{log}");
        assert!(log.contains("3 connect() calls (3 handshakes), 3 closes"), "{log}");
        assert!(log.contains("holds 3 of the 3 short connections in TIME-WAIT, and 1 for the long one"), "{log}");
        assert!(log.contains("holds 0 connections in TIME-WAIT on port"), "{log}");
    }
}
