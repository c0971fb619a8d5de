//! Message seams in a byte stream: small writes coalesced into one segment (Nagle, TCP_CORK) or
//! kept apart (TCP_NODELAY), one message split over several segments, and the two ways the
//! tutorials recover boundaries: a length prefix, and a length-prefixed JSON header.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::sleep;
use std::time::Duration;

use socket2::SockRef;

use super::net::{
    self, accept, connected, data_segs_out, dial, read_exact, read_exact_or_eof, read_frame, run_tcp, send, show, shutdown_write, Ctx, Env,
    ListenOpts, Part,
};
use super::{body, frame, Burst, GenConfig, GenError, GenReport, Rng, Tally, Voice, DEFAULT_SPLIT_MSS};

// ---------------------------------------------------------------------------------------------
// sticky and nodelay

/// Size of the first write of sticky/nodelay: big enough that the receiver leaves quick-ACK mode.
const BIG: usize = 16 * 1024;
/// How long the sticky server leaves the data unread (the tutorials' slow receiver).
const LAZY_READER: Duration = Duration::from_millis(400);

fn big_line() -> Vec<u8> {
    let mut b = b"big-00 ".to_vec();
    b.resize(BIG - 1, b'#');
    b.push(b'\n');
    b
}

fn msg(i: usize) -> Vec<u8> {
    format!("msg-{i:02}\n").into_bytes()
}

pub(crate) fn sticky(cfg: &GenConfig, v: &Voice, nodelay: bool) -> Result<GenReport, GenError> {
    if nodelay {
        v.why(
            "the same msg-NN writes as `sticky`, with TCP_NODELAY: Nagle's algorithm is off, so every write() \
             is sent at once as its own segment. Compare the two captures.",
        );
        run_tcp(cfg, v, ListenOpts::default(), sticky_serve, nodelay_dial)
    } else {
        v.why(
            "TCP is a byte stream: it keeps the order of bytes, not the boundaries of write() calls. Two \
             mechanisms glue small writes together on the sender (粘包, 'sticky packets'), and a slow \
             reader glues them again on the receiver.",
        );
        run_tcp(cfg, v, ListenOpts::default(), sticky_serve, sticky_dial)
    }
}

fn write_burst(s: &mut TcpStream, range: std::ops::RangeInclusive<usize>, p: &mut Part) -> Result<(), GenError> {
    for i in range {
        send(s, &msg(i), &mut p.tally, "writing a message")?;
    }
    Ok(())
}

fn sticky_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let n = env.cfg.count_or(20);
    let (nagle_n, cork_n) = (n - n / 2, n / 2);
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "Nagle on, the default");
    send(&mut s, &big_line(), &mut p.tally, "writing the first, big line")?;
    let seg0 = data_segs_out(&s);
    write_burst(&mut s, 1..=nagle_n, &mut p)?;
    v.say(format!("wrote big-00 ({BIG} bytes), then msg-01 .. msg-{nagle_n:02} with one write() each, back to back"));
    sleep(Duration::from_millis(150));
    let seg1 = data_segs_out(&s);
    let k = seg1.wrapping_sub(seg0);
    p.bursts.push(Burst { mode: "nagle", messages: nagle_n, segments: k });
    p.note(v, format!("Nagle burst: {nagle_n} messages left in {k} data segments (kernel count, TCP_INFO)"));
    if nagle_n >= 2 && (k as usize) < nagle_n {
        v.why(
            "Nagle's algorithm is on: while a small segment is unacknowledged, the kernel holds the next small \
             writes and sends them together when the ACK comes. msg-01 leaves at once; the receiver, having just \
             taken a 16 KiB segment, is out of quick-ACK mode and delays its ACK (up to 40 ms), so msg-02 and \
             the rest wait and leave in one segment: expect one segment carrying several msg-NN lines (wireseam \
             marks them 'sticky'). On a real network the round-trip time alone does this.",
        );
    } else if nagle_n >= 2 {
        v.why(
            "this time Nagle merged nothing: every ACK came back before the next write, so no small segment was \
             ever outstanding when the next one was written. Nagle only holds data while an earlier small \
             segment is unacknowledged; the corked burst below does not depend on that.",
        );
    }
    if cork_n > 0 {
        SockRef::from(&s).set_tcp_cork(true).ctx("setting TCP_CORK")?;
        write_burst(&mut s, nagle_n + 1..=n, &mut p)?;
        SockRef::from(&s).set_tcp_cork(false).ctx("clearing TCP_CORK")?;
        sleep(Duration::from_millis(100));
        let k = data_segs_out(&s).wrapping_sub(seg1);
        v.say(format!("TCP_CORK on, wrote msg-{:02} .. msg-{n:02}, TCP_CORK off", nagle_n + 1));
        p.bursts.push(Burst { mode: "cork", messages: cork_n, segments: k });
        p.note(v, format!("TCP_CORK burst: {cork_n} messages left in {k} data segment(s)"));
        v.why(
            "TCP_CORK holds every partial segment until the cork is pulled (or 200 ms pass, or a full MSS is \
             queued), whatever the ACKs do, so the burst leaves in as few segments as the MSS allows. Programs \
             cork on purpose to send a header and a body together.",
        );
    }
    finish_sticky(&mut s, &mut p, v, n, true)?;
    Ok(p)
}

fn nodelay_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let n = env.cfg.count_or(20);
    let mut s = net::connect(at, |sock| sock.set_tcp_nodelay(true))?;
    let mut p = connected(v, &s, at, "TCP_NODELAY");
    let seg0 = data_segs_out(&s);
    write_burst(&mut s, 1..=n, &mut p)?;
    v.say(format!("wrote msg-01 .. msg-{n:02} with one write() each, back to back"));
    v.why(
        "no big first write here: in `sticky` it only served to make the receiver delay its ACKs. A fresh \
         connection's receiver ACKs at once (quick-ACK mode), so nothing but Nagle could hold a write back.",
    );
    sleep(Duration::from_millis(150));
    let k = data_segs_out(&s).wrapping_sub(seg0);
    p.bursts.push(Burst { mode: "nodelay", messages: n, segments: k });
    p.note(v, format!("TCP_NODELAY burst: {n} messages left in {k} data segments (kernel count, TCP_INFO)"));
    let autocork = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_autocorking").unwrap_or_default();
    let autocork = autocork.trim();
    if (k as usize) < n {
        v.why(format!(
            "fewer segments than writes: even without Nagle, writes queue and then leave together while the \
             congestion window is full (10 segments at the start of a connection) and the receiver delays its \
             ACKs, or, with autocorking (net.ipv4.tcp_autocorking = {autocork}), while an earlier segment still \
             waits in the device queue. TCP_NODELAY turns off Nagle, not every merge."
        ));
    } else {
        v.why(format!(
            "one segment per write: with Nagle off nothing waits for an ACK. Autocorking (net.ipv4.tcp_autocorking \
             = {autocork}) would merge writes made while a previous segment is still queued in the device, and a \
             full congestion window would queue them too; neither happened here. The receiver may still read \
             several messages at once: TCP_NODELAY does not give a stream message boundaries.",
        ));
    }
    finish_sticky(&mut s, &mut p, v, n, false)?;
    Ok(p)
}

/// Half-close, then check the server's count of lines.
fn finish_sticky(s: &mut TcpStream, p: &mut Part, v: &Voice, n: usize, big: bool) -> Result<(), GenError> {
    let n = n + usize::from(big);
    shutdown_write(s)?;
    p.tcp = net::tcp_counters(s);
    let reply = net::read_line(s, "reading the server's count")?;
    p.tally.got(reply.len());
    let text = String::from_utf8_lossy(&reply);
    let lines: usize = text.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or(0);
    if lines != n {
        return Err(GenError::Mismatch(format!("the server counted {}, expected {n} lines", text.trim())));
    }
    v.say(format!("the server reports {}", text.trim()));
    let retrans = net::tcp_counters(s).map_or(0, |c| c.total_retrans);
    if retrans > 0 {
        p.note(v, format!("the kernel retransmitted {retrans} segment(s) (tail loss probe)"));
        v.why(
            "the last segment stayed unacknowledged longer than the probe timeout (a few ms on lo) because the \
             receiver delayed its ACK, so the sender re-sent it to provoke an ACK: a tail loss probe (RFC 8985). \
             The receiver's D-SACK then reports the copy as a duplicate; nothing was lost.",
        );
    }
    Ok(())
}

fn sticky_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    let mut p = Part { connections: 1, ..Part::default() };
    v.say(format!("accepted {peer}; not reading for {} ms, like a busy receiver", LAZY_READER.as_millis()));
    sleep(LAZY_READER);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut reads, mut lines, mut first) = (0usize, 0usize, None);
    loop {
        let k = s.read(&mut buf).ctx("reading the messages")?;
        if k == 0 {
            break;
        }
        reads += 1;
        let nl = buf[..k].iter().filter(|&&b| b == b'\n').count();
        lines += nl;
        p.tally.bytes_received += k as u64;
        first.get_or_insert((k, nl));
    }
    p.tally.messages_received = lines;
    p.reads = Some(reads);
    let (k, nl) = first.unwrap_or((0, 0));
    p.note(v, format!("the first recv(65536) returned {k} bytes holding {nl} lines; {lines} lines in {reads} recv() calls"));
    v.why(
        "the receiver sees only a stream: one recv() returns whatever has arrived, several messages or part \
         of one (the tutorial's 'helloworld'). Only the application's own framing, a newline here, tells \
         where a message ends.",
    );
    send(&mut s, format!("{lines} lines in {reads} reads\n").as_bytes(), &mut p.tally, "answering")?;
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// split

pub(crate) fn split(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    let mss = cfg.mss.unwrap_or(DEFAULT_SPLIT_MSS);
    v.why(format!(
        "one message larger than the MSS: TCP_MAXSEG={mss} set on the client before connect() lowers the MSS \
         it announces in its SYN and uses itself, so the kernel cuts one write() into several segments. A \
         4-byte big-endian length header lets the receiver put the pieces back together."
    ));
    run_tcp(cfg, v, ListenOpts::default(), split_serve, split_dial)
}

fn split_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let want_mss = env.cfg.mss.unwrap_or(DEFAULT_SPLIT_MSS);
    let size = env.cfg.size_or(6000);
    let mut s = net::connect(at, |sock| sock.set_tcp_mss(want_mss))?;
    let mut p = connected(v, &s, at, &format!("TCP_MAXSEG {want_mss}"));
    let eff = p.mss.unwrap_or(want_mss);
    let seg0 = data_segs_out(&s);
    let msg = frame(&body(0, size));
    send(&mut s, &msg, &mut p.tally, "writing the message")?;
    v.say(format!("wrote one message in one write(): 4-byte length {size} + {size} bytes"));
    let reply = read_frame(&mut s, "reading the server's answer")?
        .ok_or_else(|| GenError::Mismatch("the server closed without answering".into()))?;
    p.tally.got(reply.len() + 4);
    let text = String::from_utf8_lossy(&reply).into_owned();
    if !text.starts_with(&format!("ok {size} bytes")) {
        return Err(GenError::Mismatch(format!("expected \"ok {size} bytes ...\", got {}", show(&reply))));
    }
    let k = data_segs_out(&s).wrapping_sub(seg0);
    p.tcp = net::tcp_counters(&s);
    p.bursts.push(Burst { mode: "split", messages: 1, segments: k });
    p.note(v, format!("the {}-byte write left as {k} segments of at most {eff} bytes (kernel count)", msg.len()));
    if eff < want_mss {
        v.why(format!(
            "the effective MSS is {eff}, not {want_mss}: the 12 bytes of the TCP timestamp option come off \
             every segment."
        ));
    }
    if at.ip().is_loopback() {
        v.why(format!(
            "on lo (and veth) the kernel passes GSO bundles of several MSS-sized segments to the capture, e.g. \
             {} = 5 x {eff} bytes, so tcpdump shows fewer, bigger packets than the count above; a real NIC \
             (or `ethtool -K IF gso off tso off`) shows one packet per MSS.",
            5 * eff
        ));
    }
    v.say(format!("the server answered \"{text}\""));
    Ok(p)
}

fn split_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}"));
    let mut p = Part { connections: 1, ..Part::default() };
    let hdr = read_exact(&mut s, 4, "reading the length header")?;
    let n = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
    v.say(format!("length header: {n} bytes follow; reading until that many have arrived"));
    let (b, reads) = read_exact_or_eof(&mut s, n, "reading the body")?.unwrap_or_default();
    if b != body(0, n) {
        return Err(GenError::Mismatch("the body arrived damaged".into()));
    }
    p.tally.got(n + 4);
    p.reads = Some(reads);
    p.note(v, format!("the {n}-byte body took {reads} recv() call(s); the header said when it was complete"));
    let answer = format!("ok {n} bytes in {reads} reads");
    send(&mut s, &frame(answer.as_bytes()), &mut p.tally, "answering")?;
    net::drain(&mut s, "waiting for the client's FIN")?;
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// framed

fn framed_sizes(cfg: &GenConfig) -> Vec<usize> {
    let mut rng = Rng::new(cfg.seed);
    let max = cfg.size_or(3000);
    (0..cfg.count_or(20)).map(|_| rng.range(1, max)).collect()
}

pub(crate) fn framed(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "each message is a 4-byte big-endian length followed by the body (Python: struct.pack('>I', len(body)) \
         + body). TCP will group the bytes as it likes, several frames in one segment or one frame over several; \
         the receiver reads 4 bytes, then exactly that many, and is back on a boundary.",
    );
    run_tcp(cfg, v, ListenOpts::default(), framed_serve, framed_dial)
}

/// Write `msgs` from a second thread (one write each, back to back, then FIN) while `read_reply`
/// reads the answers here; the answers are not waited for before the next write.
fn pipelined(
    s: &mut TcpStream,
    msgs: &[Vec<u8>],
    mut read_reply: impl FnMut(&mut TcpStream, usize) -> Result<usize, GenError>,
) -> Result<Tally, GenError> {
    let mut w = s.try_clone().ctx("cloning the socket")?;
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<Tally, GenError> {
            let mut t = Tally::default();
            for m in msgs {
                send(&mut w, m, &mut t, "writing a message")?;
            }
            shutdown_write(&w)?;
            Ok(t)
        });
        let mut got = Tally::default();
        let read = (0..msgs.len()).try_for_each(|i| {
            let n = read_reply(s, i)?;
            got.got(n);
            Ok(())
        });
        let written = writer.join().unwrap_or_else(|_| Err(GenError::Internal("the writer thread panicked".into())));
        let mut t = written?;
        read?;
        let tail = net::drain(s, "waiting for the server's FIN")?;
        if tail.0 != 0 {
            return Err(GenError::Mismatch(format!("{} unexpected bytes after the last answer", tail.0)));
        }
        t.bytes_received = got.bytes_received;
        t.messages_received = got.messages_received;
        Ok(t)
    })
}

fn framed_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let sizes = framed_sizes(env.cfg);
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "Nagle on");
    let seg0 = data_segs_out(&s);
    let msgs: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| frame(&body(i, n))).collect();
    v.say(format!(
        "writing {} frames of 1 to {} bytes (seed {}), one write() each, back to back",
        msgs.len(),
        sizes.iter().max().unwrap_or(&0),
        env.cfg.seed
    ));
    p.tally = pipelined(&mut s, &msgs, |s, i| {
        let b = read_frame(s, "reading an echoed frame")?
            .ok_or_else(|| GenError::Mismatch(format!("the server closed before echoing frame {i}")))?;
        if b != body(i, sizes[i]) {
            return Err(GenError::Mismatch(format!("frame {i} came back different: {}", show(&b))));
        }
        Ok(b.len() + 4)
    })?;
    let k = data_segs_out(&s).wrapping_sub(seg0);
    p.tcp = net::tcp_counters(&s);
    p.bursts.push(Burst { mode: "framed", messages: msgs.len(), segments: k });
    p.note(
        v,
        format!("{} frames ({} bytes) echoed back intact; the client's writes left in {k} data segments", msgs.len(), p.tally.bytes_sent),
    );
    Ok(p)
}

fn framed_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}; reading frames by their headers and echoing each back"));
    let mut p = Part { connections: 1, ..Part::default() };
    while let Some(b) = read_frame(&mut s, "reading a frame")? {
        p.tally.got(b.len() + 4);
        send(&mut s, &frame(&b), &mut p.tally, "echoing a frame")?;
    }
    p.note(v, format!("re-framed and echoed {} messages, then read the client's FIN", p.tally.messages_received));
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// jsonhdr

pub(crate) fn jsonhdr(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
        "the tutorials' file-transfer framing: struct.pack('>I', len(header)), then a JSON header such as \
         {\"len\": N, \"name\": \"file-03.txt\", ...}, then N body bytes. The fixed 4 bytes say how long the \
         header is; the header says how long the body is and what it is.",
    );
    run_tcp(cfg, v, ListenOpts::default(), jh_serve, jh_dial)
}

const KINDS: [(&str, &str); 4] = [("text", "txt"), ("blob", "bin"), ("image", "png"), ("log", "log")];

/// 4-byte length + JSON header + body.
fn jh_message(header: &str, body: &[u8]) -> Vec<u8> {
    let mut m = (header.len() as u32).to_be_bytes().to_vec();
    m.extend_from_slice(header.as_bytes());
    m.extend_from_slice(body);
    m
}

type JsonMsg = (Vec<(String, json::Val)>, Vec<u8>, usize);

/// Read one header-framed message: (header fields, body, bytes on the wire); `None` at a clean
/// end of stream.
fn jh_read(s: &mut TcpStream, what: &str) -> Result<Option<JsonMsg>, GenError> {
    let Some((h, _)) = read_exact_or_eof(s, 4, what)? else { return Ok(None) };
    let hlen = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if hlen > 64 * 1024 {
        return Err(GenError::Mismatch(format!("a JSON header of {hlen} bytes is too long")));
    }
    let raw = read_exact(s, hlen, what)?;
    let text = String::from_utf8(raw).map_err(|_| GenError::Mismatch("a JSON header is not UTF-8".into()))?;
    let fields = json::parse(&text).map_err(|e| GenError::Mismatch(format!("bad JSON header {text:?}: {e}")))?;
    let len = json::num(&fields, "len").ok_or_else(|| GenError::Mismatch(format!("no \"len\" in {text}")))?;
    if len > 64 << 20 {
        return Err(GenError::Mismatch(format!("a header announces {len} bytes, more than 64 MiB")));
    }
    let b = read_exact(s, len as usize, what)?;
    Ok(Some((fields, b, 4 + hlen + len as usize)))
}

fn jh_dial(env: &Env, at: SocketAddr, v: &Voice) -> Result<Part, GenError> {
    let mut rng = Rng::new(env.cfg.seed);
    let max = env.cfg.size_or(4000);
    let files: Vec<(String, usize)> = (0..env.cfg.count_or(8))
        .map(|i| {
            let (_, ext) = KINDS[rng.range(0, KINDS.len() - 1)];
            (format!("file-{i:02}.{ext}"), rng.range(0, max))
        })
        .collect();
    let msgs: Vec<Vec<u8>> = files
        .iter()
        .enumerate()
        .map(|(i, (name, n))| {
            let kind = KINDS.iter().find(|k| name.ends_with(k.1)).map_or("blob", |k| k.0);
            let header = json::encode(&[
                ("len", json::Val::Num(*n as u64)),
                ("name", json::Val::Str(name.clone())),
                ("seq", json::Val::Num(i as u64)),
                ("type", json::Val::Str(kind.into())),
            ]);
            jh_message(&header, &body(i, *n))
        })
        .collect();
    let mut s = dial(at)?;
    let mut p = connected(v, &s, at, "Nagle on");
    if let Some(m) = msgs.first() {
        let hlen = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize;
        v.say(format!(
            "sending {} files; the first: 4-byte length {hlen}, header {}, then {} body bytes",
            msgs.len(),
            String::from_utf8_lossy(&m[4..4 + hlen]),
            files[0].1
        ));
    }
    p.tally = pipelined(&mut s, &msgs, |s, i| {
        let (fields, b, wire) =
            jh_read(s, "reading an answer")?.ok_or_else(|| GenError::Mismatch(format!("the server closed before answering file {i}")))?;
        let want = format!("received {}: {} bytes", files[i].0, files[i].1);
        if json::num(&fields, "seq") != Some(i as u64) || b != want.as_bytes() {
            return Err(GenError::Mismatch(format!("answer {i} was {}", show(&b))));
        }
        Ok(wire)
    })?;
    p.tcp = net::tcp_counters(&s);
    p.note(v, format!("{} files sent, {} answers checked (header + body each)", msgs.len(), p.tally.messages_received));
    Ok(p)
}

fn jh_serve(env: &Env, l: &TcpListener, v: &Voice) -> Result<Part, GenError> {
    let (mut s, peer) = accept(l, env.wait)?;
    v.say(format!("accepted {peer}; reading 4 bytes, the JSON header they announce, then \"len\" body bytes"));
    let mut p = Part { connections: 1, ..Part::default() };
    while let Some((fields, b, wire)) = jh_read(&mut s, "reading a file")? {
        p.tally.got(wire);
        let name = json::str(&fields, "name").unwrap_or("?").to_string();
        let seq = json::num(&fields, "seq").unwrap_or(0);
        if p.tally.messages_received == 1 {
            v.say(format!("first file: {name}, {} bytes, as its header announced", b.len()));
        }
        let answer = format!("received {name}: {} bytes", b.len());
        let header = json::encode(&[
            ("len", json::Val::Num(answer.len() as u64)),
            ("seq", json::Val::Num(seq)),
            ("status", json::Val::Str("ok".into())),
        ]);
        send(&mut s, &jh_message(&header, answer.as_bytes()), &mut p.tally, "answering")?;
    }
    p.note(v, format!("{} files received and answered, then the client's FIN", p.tally.messages_received));
    Ok(p)
}

/// Just enough JSON for flat objects of strings and non-negative integers.
mod json {
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Val {
        Str(String),
        Num(u64),
    }

    pub fn encode(fields: &[(&str, Val)]) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            quote(&mut out, k);
            out.push_str(": ");
            match v {
                Val::Str(s) => quote(&mut out, s),
                Val::Num(n) => out.push_str(&n.to_string()),
            }
        }
        out.push('}');
        out
    }

    fn quote(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }

    pub fn num(fields: &[(String, Val)], key: &str) -> Option<u64> {
        fields.iter().find_map(|(k, v)| match v {
            Val::Num(n) if k == key => Some(*n),
            _ => None,
        })
    }

    pub fn str<'a>(fields: &'a [(String, Val)], key: &str) -> Option<&'a str> {
        fields.iter().find_map(|(k, v)| match v {
            Val::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn parse(src: &str) -> Result<Vec<(String, Val)>, String> {
        let mut p = Parser { b: src.as_bytes(), i: 0 };
        let mut out = Vec::new();
        p.ws();
        p.expect(b'{')?;
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            loop {
                p.ws();
                let k = p.string()?;
                p.ws();
                p.expect(b':')?;
                p.ws();
                let v = match p.peek() {
                    Some(b'"') => Val::Str(p.string()?),
                    Some(c) if c.is_ascii_digit() => Val::Num(p.number()?),
                    _ => return Err(format!("unsupported value at byte {}", p.i)),
                };
                out.push((k, v));
                p.ws();
                match p.bump() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(format!("expected ',' or '}}' at byte {}", p.i)),
                }
            }
        }
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing bytes at {}", p.i));
        }
        Ok(out)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }

        fn bump(&mut self) -> Option<u8> {
            let c = self.peek();
            self.i += 1;
            c
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn expect(&mut self, c: u8) -> Result<(), String> {
            if self.bump() == Some(c) {
                Ok(())
            } else {
                Err(format!("expected '{}' at byte {}", c as char, self.i - 1))
            }
        }

        fn number(&mut self) -> Result<u64, String> {
            let start = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            std::str::from_utf8(&self.b[start..self.i])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad number at byte {start}"))
        }

        fn string(&mut self) -> Result<String, String> {
            self.expect(b'"')?;
            let mut out = Vec::new();
            loop {
                match self.bump() {
                    None => return Err("unterminated string".into()),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let c = match self.bump() {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'b') => '\u{8}',
                            Some(b'f') => '\u{c}',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'u') => {
                                let hex = self.b.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                                self.i += 4;
                                let code =
                                    std::str::from_utf8(hex).ok().and_then(|h| u32::from_str_radix(h, 16).ok()).ok_or("bad \\u escape")?;
                                char::from_u32(code).unwrap_or('\u{fffd}')
                            }
                            _ => return Err(format!("bad escape at byte {}", self.i - 1)),
                        };
                        let mut tmp = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                    }
                    Some(c) => out.push(c),
                }
            }
            String::from_utf8(out).map_err(|_| "string is not UTF-8".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::json::{self, Val};
    use super::*;

    #[test]
    fn json_round_trip() {
        let h = json::encode(&[("len", Val::Num(12)), ("name", Val::Str("a \"b\"\n".into()))]);
        assert_eq!(h, r#"{"len": 12, "name": "a \"b\"\n"}"#);
        let f = json::parse(&h).unwrap();
        assert_eq!(json::num(&f, "len"), Some(12));
        assert_eq!(json::str(&f, "name"), Some("a \"b\"\n"));
        assert_eq!(json::parse(" { } ").unwrap(), vec![]);
        assert_eq!(json::str(&json::parse(r#"{"x":"\u00e9"}"#).unwrap(), "x"), Some("é"));
    }

    #[test]
    fn json_rejects_garbage() {
        for bad in ["", "{", r#"{"a" 1}"#, r#"{"a":1,}"#, r#"{"a":-1}"#, r#"{"a":1} x"#, r#"{"a":"x}"#] {
            assert!(json::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_shapes() {
        assert_eq!(big_line().len(), BIG);
        assert!(big_line().starts_with(b"big-00 #"));
        assert_eq!(msg(7), b"msg-07\n");
        assert_eq!(jh_message("{}", b"xy"), b"\x00\x00\x00\x02{}xy");
        let cfg = GenConfig { count: Some(5), size: Some(10), ..GenConfig::new(super::super::Scenario::Framed) };
        let sizes = framed_sizes(&cfg);
        assert_eq!(sizes.len(), 5);
        assert!(sizes.iter().all(|&n| (1..=10).contains(&n)));
    }
}
