//! Data flow: a receiver that closes its window, request/response echo, many concurrent clients,
//! and a bulk transfer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Barrier;
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

pub(crate) fn zero_window(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "the receiver's window is the free space in its receive buffer. A tiny SO_RCVBUF (set before listen(), \
         so the handshake already offers a small window and no window scaling) and a reader that sleeps: the \
         sender fills the window, the receiver advertises window 0, the sender probes it at growing intervals \
         (zero-window probes, 200 ms, 400 ms, ...), and a window update reopens it when the reader wakes. \
         Linux's probe carries no data and the sequence number just below the next byte, the same shape as a \
         keep-alive, so Wireshark labels it 'keep-alive'.",
    );
    run_tcp(cfg, v, ListenOpts { rcvbuf: Some(TINY_RCVBUF), backlog: 8 }, zw_serve, zw_dial)
}

fn zw_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    let mut p = Part { connections: 1, ..Part::default() };
    let actual = SockRef::from(&s).recv_buffer_size().unwrap_or(0);
    v.say(format!(
        "accepted {peer}; SO_RCVBUF {TINY_RCVBUF} asked, {actual} granted (Linux doubles it for bookkeeping); \
         not reading for {:.1} s",
        STALL.as_secs_f64()
    ));
    sleep(STALL);
    v.say("reading now, 1 KiB at a time with 2 ms pauses: each read frees space and the window reopens");
    let mut buf = [0u8; 1024];
    let mut reads = 0;
    loop {
        let k = s.read(&mut buf).ctx("reading slowly")?;
        if k == 0 {
            break;
        }
        reads += 1;
        p.tally.bytes_received += k as u64;
        sleep(Duration::from_millis(2));
    }
    p.tally.messages_received = 1;
    p.reads = Some(reads);
    let n = p.tally.bytes_received;
    p.note(v, format!("read {n} bytes in {reads} reads, then the client's FIN"));
    send(&mut s, format!("got {n} bytes\n").as_bytes(), &mut p.tally, "answering")?;
    Ok(p)
}

fn zw_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.size_or(64 * 1024);
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    let data: Vec<u8> = (0..size).map(|i| (i % 256) as u8).collect();
    let t = Instant::now();
    let before = net::tcp_counters(&s).unwrap_or_default();
    send(&mut s, &data, &mut p.tally, "writing into the closed window")?;
    v.say(format!(
        "wrote {size} bytes; write() returned after {:.2} s (the send buffer took what the window refused)",
        t.elapsed().as_secs_f64()
    ));
    shutdown_write(&s)?;
    let reply = read_line(&mut s, "waiting for the receiver to catch up")?;
    let after = net::tcp_counters(&s).unwrap_or_default();
    p.tcp = Some(after);
    p.tally.got(reply.len());
    if reply != format!("got {size} bytes\n").as_bytes() {
        return Err(GenError::Mismatch(format!("expected \"got {size} bytes\", got {}", show(&reply))));
    }
    p.note(
        v,
        format!(
            "all {size} bytes delivered after {:.2} s in {} data segments; {} segments sent in all \
             (window probes included)",
            t.elapsed().as_secs_f64(),
            after.data_segs_out.wrapping_sub(before.data_segs_out),
            after.segs_out.wrapping_sub(before.segs_out)
        ),
    );
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// echo

fn echo_sizes(cfg: &GenConfig) -> Vec<usize> {
    let mut rng = Rng::new(cfg.seed);
    (0..cfg.count_or(5)).map(|_| cfg.size.unwrap_or_else(|| rng.range(16, 200))).collect()
}

/// Lower-case payload of message `i`.
fn echo_msg(i: usize, n: usize) -> Vec<u8> {
    let mut pat = format!("echo {i}: ").into_bytes();
    pat.extend(b'a'..=b'z');
    pat.iter().copied().cycle().take(n).collect()
}

pub(crate) fn echo(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "request/response, as in the tutorials' echo server (conn.send(data.upper())): the client sends one \
         message and waits for the answer before the next. The server's kernel delays the ACK of a request \
         a little, so the answer usually carries it: each exchange is two data segments and one pure ACK.",
    );
    run_tcp(cfg, v, ListenOpts::default(), echo_serve, echo_dial)
}

fn echo_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}; answering whatever arrives in upper case"));
    let mut p = Part { connections: 1, ..Part::default() };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let k = s.read(&mut buf).ctx("reading a request")?;
        if k == 0 {
            break;
        }
        p.tally.got(k);
        let up = buf[..k].to_ascii_uppercase();
        send(&mut s, &up, &mut p.tally, "answering")?;
    }
    p.reads = Some(p.tally.messages_received);
    p.note(v, format!("answered {} reads ({} bytes), then the client's FIN", p.tally.messages_received, p.tally.bytes_received));
    Ok(p)
}

fn echo_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let sizes = echo_sizes(env.cfg);
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    for (i, &n) in sizes.iter().enumerate() {
        let m = echo_msg(i, n);
        send(&mut s, &m, &mut p.tally, "sending a request")?;
        let back = read_exact(&mut s, n, "reading the answer")?;
        if back != m.to_ascii_uppercase() {
            return Err(GenError::Mismatch(format!("answer {i} was {}", show(&back))));
        }
        p.tally.got(n);
        if i < 3 {
            v.say(format!("sent {}, got {}", show(&m), show(&back)));
        }
    }
    p.tcp = net::tcp_counters(&s);
    p.note(v, format!("{} requests answered correctly ({} bytes each way)", sizes.len(), p.tally.bytes_sent));
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// many

const SMALL_STACK: usize = 128 * 1024;

pub(crate) fn many(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "many clients at once, each with its own connection: the 4-tuples differ only in the client's \
         ephemeral port. The server gives each accepted socket its own thread (like Python's \
         socketserver.ThreadingTCPServer), so the handshakes, requests and closes interleave in the capture.",
    );
    let backlog = cfg.count_or(10).clamp(16, 1024) as i32;
    run_tcp(cfg, v, ListenOpts { rcvbuf: None, backlog }, many_serve, many_dial)
}

fn many_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let n = env.cfg.count_or(10);
    let parts = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let wait = if i == 0 { env.wait } else { net::IO_TIMEOUT };
            let (s, _) = match accept(l, wait) {
                Ok(x) => x,
                Err(e) => {
                    handles.push(Err(e));
                    break;
                }
            };
            let h = std::thread::Builder::new().stack_size(SMALL_STACK).spawn_scoped(scope, move || serve_one(s));
            handles.push(h.map_err(|e| GenError::io("starting a thread", e)));
        }
        handles
            .into_iter()
            .map(|h| h?.join().unwrap_or_else(|_| Err(GenError::Internal("a server thread panicked".into()))))
            .collect::<Vec<Result<Tally, GenError>>>()
    });
    let mut p = Part::default();
    for t in parts {
        let t = t?;
        p.connections += 1;
        p.tally.bytes_sent += t.bytes_sent;
        p.tally.bytes_received += t.bytes_received;
        p.tally.messages_sent += t.messages_sent;
        p.tally.messages_received += t.messages_received;
    }
    p.note(v, format!("served {} connections, one thread each", p.connections));
    Ok(p)
}

fn serve_one(mut s: TcpStream) -> Result<Tally, GenError> {
    let mut t = Tally::default();
    let line = read_line(&mut s, "reading a request")?;
    t.got(line.len());
    let mut answer = b"re: ".to_vec();
    answer.extend_from_slice(&line);
    send(&mut s, &answer, &mut t, "answering")?;
    drain(&mut s, "waiting for the client's FIN")?;
    Ok(t)
}

fn many_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let n = env.cfg.count_or(10);
    let barrier = Barrier::new(n);
    v.say(format!("starting {n} clients; all connect, then all send at once"));
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let b = &barrier;
                std::thread::Builder::new().stack_size(SMALL_STACK).spawn_scoped(scope, move || {
                    let s = dial(at);
                    b.wait(); // every thread reaches the barrier once, connected or not
                    client_one(s?, i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|_| Err(GenError::Internal("a client thread panicked".into()))),
                Err(e) => Err(GenError::io("starting a thread", e)),
            })
            .collect::<Vec<_>>()
    });
    let mut p = Part::default();
    for r in results {
        let (t, local) = r?;
        p.connections += 1;
        p.local.get_or_insert(local);
        p.tally.bytes_sent += t.bytes_sent;
        p.tally.bytes_received += t.bytes_received;
        p.tally.messages_sent += t.messages_sent;
        p.tally.messages_received += t.messages_received;
    }
    p.note(v, format!("{} clients got their answers and closed", p.connections));
    Ok(p)
}

fn client_one(mut s: TcpStream, i: usize) -> Result<(Tally, SocketAddr), GenError> {
    let local = s.local_addr().ctx("reading the local address")?;
    let mut t = Tally::default();
    let req = format!("req {i:02} from port {}\n", local.port());
    send(&mut s, req.as_bytes(), &mut t, "sending a request")?;
    let line = read_line(&mut s, "reading the answer")?;
    if line != format!("re: {req}").as_bytes() {
        return Err(GenError::Mismatch(format!("client {i} got {}", show(&line))));
    }
    t.got(line.len());
    Ok((t, local))
}

// ---------------------------------------------------------------------------------------------
// bulk

pub(crate) fn bulk(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "a one-way transfer as fast as the connection allows: slow start grows the congestion window from 10 \
         segments, the receiver's advertised window grows as its buffer autotunes, and the sender fills \
         segments up to the MSS (65483 bytes on lo once the window allows, 1448 on Ethernet with timestamps).",
    );
    run_tcp(cfg, v, ListenOpts::default(), bulk_serve, bulk_dial)
}

fn bulk_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}; reading to end of stream"));
    let mut p = Part { connections: 1, ..Part::default() };
    let (n, reads) = drain(&mut s, "reading the transfer")?;
    p.tally.bytes_received = n;
    p.tally.messages_received = 1;
    p.reads = Some(reads);
    p.note(v, format!("received {n} bytes in {reads} reads"));
    send(&mut s, format!("got {n} bytes\n").as_bytes(), &mut p.tally, "answering")?;
    Ok(p)
}

fn bulk_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.size_or(8 << 20);
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "");
    let chunk: Vec<u8> = b"0123456789abcdef".iter().copied().cycle().take(64 * 1024).collect();
    let t = Instant::now();
    let mut left = size;
    while left > 0 {
        let k = left.min(chunk.len());
        s.write_all(&chunk[..k]).ctx("sending the transfer")?;
        left -= k;
    }
    p.tally.bytes_sent = size as u64;
    p.tally.messages_sent = 1;
    shutdown_write(&s)?;
    let reply = read_line(&mut s, "waiting for the receiver's count")?;
    let secs = t.elapsed().as_secs_f64();
    if reply != format!("got {size} bytes\n").as_bytes() {
        return Err(GenError::Mismatch(format!("expected \"got {size} bytes\", got {}", show(&reply))));
    }
    p.tally.got(reply.len());
    let c = net::tcp_counters(&s).unwrap_or_default();
    p.tcp = Some(c);
    p.note(
        v,
        format!(
            "{size} bytes in {secs:.3} s ({:.0} MB/s): {} data segments of up to {} bytes, cwnd {} segments, {} retransmitted",
            size as f64 / secs.max(1e-9) / 1e6,
            c.data_segs_out,
            c.snd_mss,
            c.snd_cwnd,
            c.total_retrans
        ),
    );
    Ok(p)
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
