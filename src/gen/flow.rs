//! Data flow: a receiver that closes its window, request/response echo, many concurrent clients,
//! and a bulk transfer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::sleep;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::net::{
    self, accept, connected, dial, drain, read_exact, read_line, run_tcp, send, show, shutdown_write, Ctx, Env, ListenOpts, Part,
};
use super::{GenConfig, GenError, GenReport, Rng, Tally, Voice};

// ---------------------------------------------------------------------------------------------
// zero-window

/// SO_RCVBUF asked for on the zero-window listener (the kernel doubles it).
const TINY_RCVBUF: usize = 2048;
/// How long the zero-window receiver does not read.
const STALL: Duration = Duration::from_millis(1500);

pub(crate) fn zero_window(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "the receiver's window is the free space in its receive buffer. A tiny SO_RCVBUF (set before listen(), \
         so the handshake already offers a small window and no window scaling) and a reader that sleeps: the \
         sender fills the window, the receiver advertises window 0, the sender probes it at growing intervals \
         (zero-window probes, 200 ms, 400 ms, ...), and a window update reopens it when the reader wakes. \
         Linux's probe carries no data and the sequence number just below the next byte, the same shape as a \
         keep-alive, so Wireshark labels it 'keep-alive'.",
    );
    run_tcp(cfg, voice, ListenOpts { rcvbuf: Some(TINY_RCVBUF), backlog: 8 }, zw_serve, zw_dial)
}

fn zw_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    let mut part = Part { connections: 1, ..Part::default() };
    let actual = SockRef::from(&stream).recv_buffer_size().unwrap_or(0);
    voice.say(format!(
        "accepted {peer}; SO_RCVBUF {TINY_RCVBUF} asked, {actual} granted (Linux doubles it for bookkeeping); \
         not reading for {:.1} s",
        STALL.as_secs_f64()
    ));
    sleep(STALL);
    voice.say("reading now, 1 KiB at a time with 2 ms pauses: each read frees space and the window reopens");
    let mut buf = [0u8; 1024];
    let mut reads = 0;
    loop {
        let just_read = stream.read(&mut buf).ctx("reading slowly")?;
        if just_read == 0 {
            break;
        }
        reads += 1;
        part.tally.bytes_received += just_read as u64;
        sleep(Duration::from_millis(2));
    }
    part.tally.messages_received = 1;
    part.reads = Some(reads);
    let received = part.tally.bytes_received;
    part.note(voice, format!("read {received} bytes in {reads} reads, then the client's FIN"));
    send(&mut stream, format!("got {received} bytes\n").as_bytes(), &mut part.tally, "answering")?;
    Ok(part)
}

fn zw_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.size_or(64 * 1024);
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    let data: Vec<u8> = (0..size).map(|i| (i % 256) as u8).collect();
    let started = Instant::now();
    let before = net::tcp_counters(&stream).unwrap_or_default();
    send(&mut stream, &data, &mut part.tally, "writing into the closed window")?;
    voice.say(format!(
        "wrote {size} bytes; write() returned after {:.2} s (the send buffer took what the window refused)",
        started.elapsed().as_secs_f64()
    ));
    shutdown_write(&stream)?;
    let reply = read_line(&mut stream, "waiting for the receiver to catch up")?;
    let after = net::tcp_counters(&stream).unwrap_or_default();
    part.tcp = Some(after);
    part.tally.got(reply.len());
    if reply != format!("got {size} bytes\n").as_bytes() {
        return Err(GenError::Mismatch(format!("expected \"got {size} bytes\", got {}", show(&reply))));
    }
    part.note(
        voice,
        format!(
            "all {size} bytes delivered after {:.2} s in {} data segments; {} segments sent in all \
             (window probes included)",
            started.elapsed().as_secs_f64(),
            after.data_segs_out.wrapping_sub(before.data_segs_out),
            after.segs_out.wrapping_sub(before.segs_out)
        ),
    );
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// echo

fn echo_sizes(cfg: &GenConfig) -> Vec<usize> {
    let mut rng = Rng::new(cfg.seed);
    (0..cfg.count_or(5)).map(|_| cfg.size.unwrap_or_else(|| rng.range(16, 200))).collect()
}

/// Lower-case payload of message `i`.
fn echo_msg(index: usize, len: usize) -> Vec<u8> {
    let mut pattern = format!("echo {index}: ").into_bytes();
    pattern.extend(b'a'..=b'z');
    pattern.iter().copied().cycle().take(len).collect()
}

pub(crate) fn echo(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "request/response, as in the tutorials' echo server (conn.send(data.upper())): the client sends one \
         message and waits for the answer before the next. The server's kernel delays the ACK of a request \
         a little, so the answer usually carries it: each exchange is two data segments and one pure ACK.",
    );
    run_tcp(cfg, voice, ListenOpts::default(), echo_serve, echo_dial)
}

fn echo_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}; answering whatever arrives in upper case"));
    let mut part = Part { connections: 1, ..Part::default() };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let just_read = stream.read(&mut buf).ctx("reading a request")?;
        if just_read == 0 {
            break;
        }
        part.tally.got(just_read);
        let upper = buf[..just_read].to_ascii_uppercase();
        send(&mut stream, &upper, &mut part.tally, "answering")?;
    }
    part.reads = Some(part.tally.messages_received);
    part.note(
        voice,
        format!("answered {} reads ({} bytes), then the client's FIN", part.tally.messages_received, part.tally.bytes_received),
    );
    Ok(part)
}

fn echo_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let sizes = echo_sizes(env.cfg);
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    for (i, &len) in sizes.iter().enumerate() {
        let request = echo_msg(i, len);
        send(&mut stream, &request, &mut part.tally, "sending a request")?;
        let back = read_exact(&mut stream, len, "reading the answer")?;
        if back != request.to_ascii_uppercase() {
            return Err(GenError::Mismatch(format!("answer {i} was {}", show(&back))));
        }
        part.tally.got(len);
        if i < 3 {
            voice.say(format!("sent {}, got {}", show(&request), show(&back)));
        }
    }
    part.tcp = net::tcp_counters(&stream);
    part.note(voice, format!("{} requests answered correctly ({} bytes each way)", sizes.len(), part.tally.bytes_sent));
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// many

pub(crate) fn many(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "many clients at once, each with its own connection: the 4-tuples differ only in the client's \
         ephemeral port. The server gives each accepted socket its own thread (like Python's \
         socketserver.ThreadingTCPServer), so the handshakes, requests and closes interleave in the capture.",
    );
    let backlog = cfg.count_or(10).clamp(16, 1024) as i32;
    run_tcp(cfg, voice, ListenOpts { rcvbuf: None, backlog }, many_serve, many_dial)
}

fn many_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let clients = env.cfg.count_or(10);
    let parts = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(clients);
        for i in 0..clients {
            let wait = if i == 0 { env.wait } else { net::IO_TIMEOUT };
            let (stream, _) = match accept(listener, wait) {
                Ok(accepted) => accepted,
                Err(err) => {
                    handles.push(Err(err));
                    break;
                }
            };
            let handle = std::thread::Builder::new().stack_size(net::SMALL_STACK).spawn_scoped(scope, move || serve_one(stream));
            handles.push(handle.map_err(|err| GenError::io("starting a thread", err)));
        }
        handles
            .into_iter()
            .map(|handle| handle?.join().unwrap_or_else(|_| Err(GenError::Internal("a server thread panicked".into()))))
            .collect::<Vec<Result<Tally, GenError>>>()
    });
    let mut part = Part::default();
    for tally in parts {
        let tally = tally?;
        part.connections += 1;
        part.tally.bytes_sent += tally.bytes_sent;
        part.tally.bytes_received += tally.bytes_received;
        part.tally.messages_sent += tally.messages_sent;
        part.tally.messages_received += tally.messages_received;
    }
    part.note(voice, format!("served {} connections, one thread each", part.connections));
    Ok(part)
}

fn serve_one(mut stream: TcpStream) -> Result<Tally, GenError> {
    let mut tally = Tally::default();
    let line = read_line(&mut stream, "reading a request")?;
    tally.got(line.len());
    let mut answer = b"re: ".to_vec();
    answer.extend_from_slice(&line);
    send(&mut stream, &answer, &mut tally, "answering")?;
    drain(&mut stream, "waiting for the client's FIN")?;
    Ok(tally)
}

fn many_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let clients = env.cfg.count_or(10);
    voice.say(format!("starting {clients} clients; all connect, then all send at once"));
    let results = net::clients_at_once(clients, 0, at, client_one);
    let mut part = Part::default();
    for result in results {
        let (tally, local) = result?;
        part.connections += 1;
        part.local.get_or_insert(local);
        part.tally.add(&tally);
    }
    part.note(voice, format!("{} clients got their answers and closed", part.connections));
    Ok(part)
}

fn client_one(mut stream: TcpStream, index: usize) -> Result<(Tally, SocketAddr), GenError> {
    let local = stream.local_addr().ctx("reading the local address")?;
    let mut tally = Tally::default();
    let req = format!("req {index:02} from port {}\n", local.port());
    send(&mut stream, req.as_bytes(), &mut tally, "sending a request")?;
    let line = read_line(&mut stream, "reading the answer")?;
    if line != format!("re: {req}").as_bytes() {
        return Err(GenError::Mismatch(format!("client {index} got {}", show(&line))));
    }
    tally.got(line.len());
    Ok((tally, local))
}

// ---------------------------------------------------------------------------------------------
// bulk

pub(crate) fn bulk(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "a one-way transfer as fast as the connection allows: slow start grows the congestion window from 10 \
         segments, the receiver's advertised window grows as its buffer autotunes, and the sender fills \
         segments up to the MSS (65483 bytes on lo once the window allows, 1448 on Ethernet with timestamps).",
    );
    run_tcp(cfg, voice, ListenOpts::default(), bulk_serve, bulk_dial)
}

fn bulk_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}; reading to end of stream"));
    let mut part = Part { connections: 1, ..Part::default() };
    let (received, reads) = drain(&mut stream, "reading the transfer")?;
    part.tally.bytes_received = received;
    part.tally.messages_received = 1;
    part.reads = Some(reads);
    part.note(voice, format!("received {received} bytes in {reads} reads"));
    send(&mut stream, format!("got {received} bytes\n").as_bytes(), &mut part.tally, "answering")?;
    Ok(part)
}

fn bulk_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.size_or(8 << 20);
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    let chunk: Vec<u8> = b"0123456789abcdef".iter().copied().cycle().take(64 * 1024).collect();
    let started = Instant::now();
    let mut left = size;
    while left > 0 {
        let chunk_len = left.min(chunk.len());
        stream.write_all(&chunk[..chunk_len]).ctx("sending the transfer")?;
        left -= chunk_len;
    }
    part.tally.bytes_sent = size as u64;
    part.tally.messages_sent = 1;
    shutdown_write(&stream)?;
    let reply = read_line(&mut stream, "waiting for the receiver's count")?;
    let secs = started.elapsed().as_secs_f64();
    if reply != format!("got {size} bytes\n").as_bytes() {
        return Err(GenError::Mismatch(format!("expected \"got {size} bytes\", got {}", show(&reply))));
    }
    part.tally.got(reply.len());
    let counters = net::tcp_counters(&stream).unwrap_or_default();
    part.tcp = Some(counters);
    part.note(
        voice,
        format!(
            "{size} bytes in {secs:.3} s ({:.0} MB/s): {} data segments of up to {} bytes, cwnd {} segments, {} retransmitted",
            size as f64 / secs.max(1e-9) / 1e6,
            counters.data_segs_out,
            counters.snd_mss,
            counters.snd_cwnd,
            counters.total_retrans
        ),
    );
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_payloads() {
        assert_eq!(echo_msg(2, 12), b"echo 2: abcd");
        let cfg = GenConfig { count: Some(4), size: Some(9), ..GenConfig::new(super::super::Scenario::Echo) };
        assert_eq!(echo_sizes(&cfg), vec![9; 4]);
        let cfg = GenConfig { count: Some(30), ..GenConfig::new(super::super::Scenario::Echo) };
        assert!(echo_sizes(&cfg).iter().all(|&n| (16..=200).contains(&n)));
    }
}
