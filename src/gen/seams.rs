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
use super::{body, frame, Burst, Endian, GenConfig, GenError, GenReport, Rng, Tally, Voice, DEFAULT_SPLIT_MSS};

// ---------------------------------------------------------------------------------------------
// sticky and nodelay

/// Size of the first write of sticky/nodelay: big enough that the receiver leaves quick-ACK mode.
const BIG: usize = 16 * 1024;
/// How long the sticky server leaves the data unread (the tutorials' slow receiver).
const LAZY_READER: Duration = Duration::from_millis(400);

fn big_line() -> Vec<u8> {
    let mut line = b"big-00 ".to_vec();
    line.resize(BIG - 1, b'#');
    line.push(b'\n');
    line
}

fn msg(index: usize) -> Vec<u8> {
    format!("msg-{index:02}\n").into_bytes()
}

pub(crate) fn sticky(cfg: &GenConfig, voice: &Voice, nodelay: bool) -> Result<GenReport, GenError> {
    if nodelay {
        voice.why(
            "the same msg-NN writes as `sticky`, with TCP_NODELAY: Nagle's algorithm is off, so every write() \
             is sent at once as its own segment. Compare the two captures.",
        );
        run_tcp(cfg, voice, ListenOpts::default(), sticky_serve, nodelay_dial)
    } else {
        voice.why(
            "TCP is a byte stream: it keeps the order of bytes, not the boundaries of write() calls. Two \
             mechanisms glue small writes together on the sender (粘包, 'sticky packets'), and a slow \
             reader glues them again on the receiver.",
        );
        run_tcp(cfg, voice, ListenOpts::default(), sticky_serve, sticky_dial)
    }
}

fn write_burst(stream: &mut TcpStream, range: std::ops::RangeInclusive<usize>, part: &mut Part) -> Result<(), GenError> {
    for i in range {
        send(stream, &msg(i), &mut part.tally, "writing a message")?;
    }
    Ok(())
}

fn sticky_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let count = env.cfg.count_or(20);
    let (nagle_count, cork_count) = (count - count / 2, count / 2);
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "Nagle on, the default");
    send(&mut stream, &big_line(), &mut part.tally, "writing the first, big line")?;
    let segs_before = data_segs_out(&stream);
    write_burst(&mut stream, 1..=nagle_count, &mut part)?;
    voice.say(format!("wrote big-00 ({BIG} bytes), then msg-01 .. msg-{nagle_count:02} with one write() each, back to back"));
    sleep(Duration::from_millis(150));
    let segs_after_nagle = data_segs_out(&stream);
    let segments = segs_after_nagle.wrapping_sub(segs_before);
    part.bursts.push(Burst { mode: "nagle", messages: nagle_count, segments });
    part.note(voice, format!("Nagle burst: {nagle_count} messages left in {segments} data segments (kernel count, TCP_INFO)"));
    if nagle_count >= 2 && (segments as usize) < nagle_count {
        voice.why(
            "Nagle's algorithm is on: while a small segment is unacknowledged, the kernel holds the next small \
             writes and sends them together when the ACK comes. msg-01 leaves at once; the receiver, having just \
             taken a 16 KiB segment, is out of quick-ACK mode and delays its ACK (up to 40 ms), so msg-02 and \
             the rest wait and leave in one segment: expect one segment carrying several msg-NN lines (wireseam \
             marks them 'sticky'). On a real network the round-trip time alone does this.",
        );
    } else if nagle_count >= 2 {
        voice.why(
            "this time Nagle merged nothing: every ACK came back before the next write, so no small segment was \
             ever outstanding when the next one was written. Nagle only holds data while an earlier small \
             segment is unacknowledged; the corked burst below does not depend on that.",
        );
    }
    if cork_count > 0 {
        SockRef::from(&stream).set_tcp_cork(true).ctx("setting TCP_CORK")?;
        write_burst(&mut stream, nagle_count + 1..=count, &mut part)?;
        SockRef::from(&stream).set_tcp_cork(false).ctx("clearing TCP_CORK")?;
        sleep(Duration::from_millis(100));
        let segments = data_segs_out(&stream).wrapping_sub(segs_after_nagle);
        voice.say(format!("TCP_CORK on, wrote msg-{:02} .. msg-{count:02}, TCP_CORK off", nagle_count + 1));
        part.bursts.push(Burst { mode: "cork", messages: cork_count, segments });
        part.note(voice, format!("TCP_CORK burst: {cork_count} messages left in {segments} data segment(s)"));
        voice.why(
            "TCP_CORK holds every partial segment until the cork is pulled (or 200 ms pass, or a full MSS is \
             queued), whatever the ACKs do, so the burst leaves in as few segments as the MSS allows. Programs \
             cork on purpose to send a header and a body together.",
        );
    }
    finish_sticky(&mut stream, &mut part, voice, count, true)?;
    Ok(part)
}

fn nodelay_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let count = env.cfg.count_or(20);
    let mut stream = net::connect(at, |sock| sock.set_tcp_nodelay(true))?;
    let mut part = connected(voice, &stream, at, "TCP_NODELAY");
    let segs_before = data_segs_out(&stream);
    write_burst(&mut stream, 1..=count, &mut part)?;
    voice.say(format!("wrote msg-01 .. msg-{count:02} with one write() each, back to back"));
    voice.why(
        "no big first write here: in `sticky` it only served to make the receiver delay its ACKs. A fresh \
         connection's receiver ACKs at once (quick-ACK mode), so nothing but Nagle could hold a write back.",
    );
    sleep(Duration::from_millis(150));
    let segments = data_segs_out(&stream).wrapping_sub(segs_before);
    part.bursts.push(Burst { mode: "nodelay", messages: count, segments });
    part.note(voice, format!("TCP_NODELAY burst: {count} messages left in {segments} data segments (kernel count, TCP_INFO)"));
    let autocork = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_autocorking").unwrap_or_default();
    let autocork = autocork.trim();
    if (segments as usize) < count {
        voice.why(format!(
            "fewer segments than writes: even without Nagle, writes queue and then leave together while the \
             congestion window is full (10 segments at the start of a connection) and the receiver delays its \
             ACKs, or, with autocorking (net.ipv4.tcp_autocorking = {autocork}), while an earlier segment still \
             waits in the device queue. TCP_NODELAY turns off Nagle, not every merge."
        ));
    } else {
        voice.why(format!(
            "one segment per write: with Nagle off nothing waits for an ACK. Autocorking (net.ipv4.tcp_autocorking \
             = {autocork}) would merge writes made while a previous segment is still queued in the device, and a \
             full congestion window would queue them too; neither happened here. The receiver may still read \
             several messages at once: TCP_NODELAY does not give a stream message boundaries.",
        ));
    }
    finish_sticky(&mut stream, &mut part, voice, count, false)?;
    Ok(part)
}

/// Half-close, then check the server's count of lines.
fn finish_sticky(stream: &mut TcpStream, part: &mut Part, voice: &Voice, messages: usize, big: bool) -> Result<(), GenError> {
    let messages = messages + usize::from(big);
    shutdown_write(stream)?;
    part.tcp = net::tcp_counters(stream);
    let reply = net::read_line(stream, "reading the server's count")?;
    part.tally.got(reply.len());
    let text = String::from_utf8_lossy(&reply);
    let lines: usize = text.split_whitespace().next().and_then(|word| word.parse().ok()).unwrap_or(0);
    if lines != messages {
        return Err(GenError::Mismatch(format!("the server counted {}, expected {messages} lines", text.trim())));
    }
    voice.say(format!("the server reports {}", text.trim()));
    let retrans = net::tcp_counters(stream).map_or(0, |counters| counters.total_retrans);
    if retrans > 0 {
        part.note(voice, format!("the kernel retransmitted {retrans} segment(s) (tail loss probe)"));
        voice.why(
            "the last segment stayed unacknowledged longer than the probe timeout (a few ms on lo) because the \
             receiver delayed its ACK, so the sender re-sent it to provoke an ACK: a tail loss probe (RFC 8985). \
             The receiver's D-SACK then reports the copy as a duplicate; nothing was lost.",
        );
    }
    Ok(())
}

fn sticky_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    let mut part = Part { connections: 1, ..Part::default() };
    voice.say(format!("accepted {peer}; not reading for {} ms, like a busy receiver", LAZY_READER.as_millis()));
    sleep(LAZY_READER);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut reads, mut lines, mut first) = (0usize, 0usize, None);
    loop {
        let just_read = stream.read(&mut buf).ctx("reading the messages")?;
        if just_read == 0 {
            break;
        }
        reads += 1;
        let newlines = buf[..just_read].iter().filter(|&&byte| byte == b'\n').count();
        lines += newlines;
        part.tally.bytes_received += just_read as u64;
        first.get_or_insert((just_read, newlines));
    }
    part.tally.messages_received = lines;
    part.reads = Some(reads);
    let (first_len, first_lines) = first.unwrap_or((0, 0));
    part.note(
        voice,
        format!("the first recv(65536) returned {first_len} bytes holding {first_lines} lines; {lines} lines in {reads} recv() calls"),
    );
    voice.why(
        "the receiver sees only a stream: one recv() returns whatever has arrived, several messages or part \
         of one (the tutorial's 'helloworld'). Only the application's own framing, a newline here, tells \
         where a message ends.",
    );
    send(&mut stream, format!("{lines} lines in {reads} reads\n").as_bytes(), &mut part.tally, "answering")?;
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// split

pub(crate) fn split(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    let mss = cfg.mss.unwrap_or(DEFAULT_SPLIT_MSS);
    voice.why(format!(
        "one message larger than the MSS: TCP_MAXSEG={mss} set on the client before connect() lowers the MSS \
         it announces in its SYN and uses itself, so the kernel cuts one write() into several segments. A \
         4-byte {}-endian length header lets the receiver put the pieces back together.",
        cfg.endian()
    ));
    run_tcp(cfg, voice, ListenOpts::default(), split_serve, split_dial)
}

fn split_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let want_mss = env.cfg.mss.unwrap_or(DEFAULT_SPLIT_MSS);
    let size = env.cfg.size_or(6000);
    let mut stream = net::connect(at, |sock| sock.set_tcp_mss(want_mss))?;
    let mut part = connected(voice, &stream, at, &format!("TCP_MAXSEG {want_mss}"));
    let effective_mss = part.mss.unwrap_or(want_mss);
    let segs_before = data_segs_out(&stream);
    let order = env.cfg.endian();
    let msg = frame(&body(0, size), order);
    send(&mut stream, &msg, &mut part.tally, "writing the message")?;
    voice.say(format!("wrote one message in one write(): 4-byte {order}-endian length {size} + {size} bytes"));
    let reply = read_frame(&mut stream, order, "reading the server's answer")?
        .ok_or_else(|| GenError::Mismatch("the server closed without answering".into()))?;
    part.tally.got(reply.len() + 4);
    let text = String::from_utf8_lossy(&reply).into_owned();
    if !text.starts_with(&format!("ok {size} bytes")) {
        return Err(GenError::Mismatch(format!("expected \"ok {size} bytes ...\", got {}", show(&reply))));
    }
    let segments = data_segs_out(&stream).wrapping_sub(segs_before);
    part.tcp = net::tcp_counters(&stream);
    part.bursts.push(Burst { mode: "split", messages: 1, segments });
    part.note(voice, format!("the {}-byte write left as {segments} segments of at most {effective_mss} bytes (kernel count)", msg.len()));
    if effective_mss < want_mss {
        voice.why(format!(
            "the effective MSS is {effective_mss}, not {want_mss}: the 12 bytes of the TCP timestamp option come off \
             every segment."
        ));
    }
    if at.ip().is_loopback() && segments > 1 {
        // no number of packets here: this process does not see the capture, and how many
        // segments the kernel bundles varies with the congestion window and the pacing rate
        voice.why(format!(
            "on lo (and on a veth with offloads on) the kernel hands the capture GSO bundles, several MSS-sized \
             segments in one packet that lo never cuts up (MTU 65536), so tcpdump may show fewer, bigger packets than \
             the count above: each a whole number of {effective_mss}-byte segments, but the last. A real NIC (or \
             `ethtool -K IF gso off tso off`) shows one packet per segment, and so does `sudo wireseam gen split --lab`."
        ));
    }
    voice.say(format!("the server answered \"{text}\""));
    Ok(part)
}

fn split_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}"));
    let mut part = Part { connections: 1, ..Part::default() };
    let order = env.cfg.endian();
    let hdr = read_exact(&mut stream, 4, "reading the length header")?;
    let len = order.unpack([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
    voice.say(format!("length header: {len} bytes follow; reading until that many have arrived"));
    let (received, reads) = read_exact_or_eof(&mut stream, len, "reading the body")?.unwrap_or_default();
    if received != body(0, len) {
        return Err(GenError::Mismatch("the body arrived damaged".into()));
    }
    part.tally.got(len + 4);
    part.reads = Some(reads);
    part.note(voice, format!("the {len}-byte body took {reads} recv() call(s); the header said when it was complete"));
    let answer = format!("ok {len} bytes in {reads} reads");
    send(&mut stream, &frame(answer.as_bytes(), order), &mut part.tally, "answering")?;
    net::drain(&mut stream, "waiting for the client's FIN")?;
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// framed

fn framed_sizes(cfg: &GenConfig) -> Vec<usize> {
    let mut rng = Rng::new(cfg.seed);
    let max = cfg.size_or(3000);
    (0..cfg.count_or(20)).map(|_| rng.range(1, max)).collect()
}

pub(crate) fn framed(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    let order = cfg.endian();
    voice.why(format!(
        "each message is a 4-byte {order}-endian length followed by the body (Python: struct.pack({}, len(body)) \
         + body). TCP will group the bytes as it likes, several frames in one segment or one frame over several; \
         the receiver reads 4 bytes, then exactly that many, and is back on a boundary.",
        order.struct_format()
    ));
    run_tcp(cfg, voice, ListenOpts::default(), framed_serve, framed_dial)
}

/// Write `msgs` from a second thread (one write each, back to back, then FIN) while `read_reply`
/// reads the answers here; the answers are not waited for before the next write.
fn pipelined(
    stream: &mut TcpStream,
    msgs: &[Vec<u8>],
    mut read_reply: impl FnMut(&mut TcpStream, usize) -> Result<usize, GenError>,
) -> Result<Tally, GenError> {
    let mut write_half = stream.try_clone().ctx("cloning the socket")?;
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<Tally, GenError> {
            let mut tally = Tally::default();
            for message in msgs {
                send(&mut write_half, message, &mut tally, "writing a message")?;
            }
            shutdown_write(&write_half)?;
            Ok(tally)
        });
        let mut got = Tally::default();
        let read = (0..msgs.len()).try_for_each(|i| {
            let reply_len = read_reply(stream, i)?;
            got.got(reply_len);
            Ok(())
        });
        let written = writer.join().unwrap_or_else(|_| Err(GenError::Internal("the writer thread panicked".into())));
        let mut tally = written?;
        read?;
        let tail = net::drain(stream, "waiting for the server's FIN")?;
        if tail.0 != 0 {
            return Err(GenError::Mismatch(format!("{} unexpected bytes after the last answer", tail.0)));
        }
        tally.bytes_received = got.bytes_received;
        tally.messages_received = got.messages_received;
        Ok(tally)
    })
}

fn framed_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let sizes = framed_sizes(env.cfg);
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "Nagle on");
    let segs_before = data_segs_out(&stream);
    let order = env.cfg.endian();
    let msgs: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &len)| frame(&body(i, len), order)).collect();
    voice.say(format!(
        "writing {} frames of 1 to {} bytes (seed {}), one write() each, back to back",
        msgs.len(),
        sizes.iter().max().unwrap_or(&0),
        env.cfg.seed
    ));
    part.tally = pipelined(&mut stream, &msgs, |stream, i| {
        let echoed = read_frame(stream, order, "reading an echoed frame")?
            .ok_or_else(|| GenError::Mismatch(format!("the server closed before echoing frame {i}")))?;
        if echoed != body(i, sizes[i]) {
            return Err(GenError::Mismatch(format!("frame {i} came back different: {}", show(&echoed))));
        }
        Ok(echoed.len() + 4)
    })?;
    let segments = data_segs_out(&stream).wrapping_sub(segs_before);
    part.tcp = net::tcp_counters(&stream);
    part.bursts.push(Burst { mode: "framed", messages: msgs.len(), segments });
    part.note(
        voice,
        format!(
            "{} frames ({} bytes) echoed back intact; the client's writes left in {segments} data segments",
            msgs.len(),
            part.tally.bytes_sent
        ),
    );
    Ok(part)
}

fn framed_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}; reading frames by their headers and echoing each back"));
    let mut part = Part { connections: 1, ..Part::default() };
    let order = env.cfg.endian();
    while let Some(received) = read_frame(&mut stream, order, "reading a frame")? {
        part.tally.got(received.len() + 4);
        send(&mut stream, &frame(&received, order), &mut part.tally, "echoing a frame")?;
    }
    part.note(voice, format!("re-framed and echoed {} messages, then read the client's FIN", part.tally.messages_received));
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// jsonhdr

pub(crate) fn jsonhdr(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(format!(
        "the tutorials' file-transfer framing: struct.pack({}, len(header)), then a JSON header such as \
         {{\"len\": N, \"name\": \"file-03.txt\", ...}}, then N body bytes. The fixed 4 bytes say how long the \
         header is; the header says how long the body is and what it is.",
        cfg.endian().struct_format()
    ));
    run_tcp(cfg, voice, ListenOpts::default(), jh_serve, jh_dial)
}

const KINDS: [(&str, &str); 4] = [("text", "txt"), ("blob", "bin"), ("image", "png"), ("log", "log")];

/// 4-byte length of the header in `order` + JSON header + body.
pub(crate) fn jh_message(header: &str, body: &[u8], order: Endian) -> Vec<u8> {
    let mut message = order.pack(header.len() as u32).to_vec();
    message.extend_from_slice(header.as_bytes());
    message.extend_from_slice(body);
    message
}

type JsonMsg = (Vec<(String, json::Val)>, Vec<u8>, usize);

/// Read one header-framed message: (header fields, body, bytes on the wire); `None` at a clean
/// end of stream.
fn jh_read(stream: &mut TcpStream, order: Endian, what: &str) -> Result<Option<JsonMsg>, GenError> {
    let Some((hdr, _)) = read_exact_or_eof(stream, 4, what)? else { return Ok(None) };
    let header_len = order.unpack([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
    if header_len > 64 * 1024 {
        return Err(GenError::Mismatch(format!("a JSON header of {header_len} bytes is too long")));
    }
    let raw = read_exact(stream, header_len, what)?;
    let text = String::from_utf8(raw).map_err(|_| GenError::Mismatch("a JSON header is not UTF-8".into()))?;
    let fields = json::parse(&text).map_err(|error| GenError::Mismatch(format!("bad JSON header {text:?}: {error}")))?;
    let len = json::num(&fields, "len").ok_or_else(|| GenError::Mismatch(format!("no \"len\" in {text}")))?;
    if len > 64 << 20 {
        return Err(GenError::Mismatch(format!("a header announces {len} bytes, more than 64 MiB")));
    }
    let body_bytes = read_exact(stream, len as usize, what)?;
    Ok(Some((fields, body_bytes, 4 + header_len + len as usize)))
}

fn jh_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let order = env.cfg.endian();
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
        .map(|(i, (name, len))| {
            let kind = KINDS.iter().find(|kind| name.ends_with(kind.1)).map_or("blob", |kind| kind.0);
            let header = json::encode(&[
                ("len", json::Val::Num(*len as u64)),
                ("name", json::Val::Str(name.clone())),
                ("seq", json::Val::Num(i as u64)),
                ("type", json::Val::Str(kind.into())),
            ]);
            jh_message(&header, &body(i, *len), order)
        })
        .collect();
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "Nagle on");
    if let Some(first) = msgs.first() {
        let header_len = order.unpack([first[0], first[1], first[2], first[3]]) as usize;
        voice.say(format!(
            "sending {} files; the first: 4-byte length {header_len}, header {}, then {} body bytes",
            msgs.len(),
            String::from_utf8_lossy(&first[4..4 + header_len]),
            files[0].1
        ));
    }
    part.tally = pipelined(&mut stream, &msgs, |stream, i| {
        let (fields, answer, wire) = jh_read(stream, order, "reading an answer")?
            .ok_or_else(|| GenError::Mismatch(format!("the server closed before answering file {i}")))?;
        let want = format!("received {}: {} bytes", files[i].0, files[i].1);
        if json::num(&fields, "seq") != Some(i as u64) || answer != want.as_bytes() {
            return Err(GenError::Mismatch(format!("answer {i} was {}", show(&answer))));
        }
        Ok(wire)
    })?;
    part.tcp = net::tcp_counters(&stream);
    part.note(voice, format!("{} files sent, {} answers checked (header + body each)", msgs.len(), part.tally.messages_received));
    Ok(part)
}

fn jh_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let (mut stream, peer) = accept(listener, env.wait)?;
    voice.say(format!("accepted {peer}; reading 4 bytes, the JSON header they announce, then \"len\" body bytes"));
    let mut part = Part { connections: 1, ..Part::default() };
    let order = env.cfg.endian();
    while let Some((fields, received, wire)) = jh_read(&mut stream, order, "reading a file")? {
        part.tally.got(wire);
        let name = json::str(&fields, "name").unwrap_or("?").to_string();
        let seq = json::num(&fields, "seq").unwrap_or(0);
        if part.tally.messages_received == 1 {
            voice.say(format!("first file: {name}, {} bytes, as its header announced", received.len()));
        }
        let answer = format!("received {name}: {} bytes", received.len());
        let header = json::encode(&[
            ("len", json::Val::Num(answer.len() as u64)),
            ("seq", json::Val::Num(seq)),
            ("status", json::Val::Str("ok".into())),
        ]);
        send(&mut stream, &jh_message(&header, answer.as_bytes(), order), &mut part.tally, "answering")?;
    }
    part.note(voice, format!("{} files received and answered, then the client's FIN", part.tally.messages_received));
    Ok(part)
}

/// Just enough JSON for flat objects of strings and non-negative integers.
pub(crate) mod json {
    /// A field value.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Val {
        /// A string.
        Str(String),
        /// A non-negative integer.
        Num(u64),
    }

    /// One object with the fields in the given order, `{"k": v, ...}`.
    pub fn encode(fields: &[(&str, Val)]) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            quote(&mut out, key);
            out.push_str(": ");
            match value {
                Val::Str(text) => quote(&mut out, text),
                Val::Num(num) => out.push_str(&num.to_string()),
            }
        }
        out.push('}');
        out
    }

    fn quote(out: &mut String, text: &str) {
        out.push('"');
        for c in text.chars() {
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

    /// The integer value of `key`, if present and an integer.
    pub fn num(fields: &[(String, Val)], key: &str) -> Option<u64> {
        fields.iter().find_map(|(k, v)| match v {
            Val::Num(n) if k == key => Some(*n),
            _ => None,
        })
    }

    /// The string value of `key`, if present and a string.
    pub fn str<'a>(fields: &'a [(String, Val)], key: &str) -> Option<&'a str> {
        fields.iter().find_map(|(k, v)| match v {
            Val::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }

    /// Parse one flat object; anything else (nesting, negative or fractional numbers, trailing
    /// bytes) is an error naming the byte offset.
    pub fn parse(src: &str) -> Result<Vec<(String, Val)>, String> {
        let mut parser = Parser { bytes: src.as_bytes(), pos: 0 };
        let mut out = Vec::new();
        parser.ws();
        parser.expect(b'{')?;
        parser.ws();
        if parser.peek() == Some(b'}') {
            parser.pos += 1;
        } else {
            loop {
                parser.ws();
                let key = parser.string()?;
                parser.ws();
                parser.expect(b':')?;
                parser.ws();
                let value = match parser.peek() {
                    Some(b'"') => Val::Str(parser.string()?),
                    Some(byte) if byte.is_ascii_digit() => Val::Num(parser.number()?),
                    _ => return Err(format!("unsupported value at byte {}", parser.pos)),
                };
                out.push((key, value));
                parser.ws();
                match parser.bump() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(format!("expected ',' or '}}' at byte {}", parser.pos)),
                }
            }
        }
        parser.ws();
        if parser.pos != parser.bytes.len() {
            return Err(format!("trailing bytes at {}", parser.pos));
        }
        Ok(out)
    }

    struct Parser<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.pos).copied()
        }

        fn bump(&mut self) -> Option<u8> {
            let byte = self.peek();
            self.pos += 1;
            byte
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
        }

        fn expect(&mut self, byte: u8) -> Result<(), String> {
            if self.bump() == Some(byte) {
                Ok(())
            } else {
                Err(format!("expected '{}' at byte {}", byte as char, self.pos - 1))
            }
        }

        fn number(&mut self) -> Result<u64, String> {
            let start = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            std::str::from_utf8(&self.bytes[start..self.pos])
                .ok()
                .and_then(|digits| digits.parse().ok())
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
                        let unescaped = match self.bump() {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'b') => '\u{8}',
                            Some(b'f') => '\u{c}',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'u') => {
                                let hex = self.bytes.get(self.pos..self.pos + 4).ok_or("short \\u escape")?;
                                self.pos += 4;
                                let code = std::str::from_utf8(hex)
                                    .ok()
                                    .and_then(|digits| u32::from_str_radix(digits, 16).ok())
                                    .ok_or("bad \\u escape")?;
                                char::from_u32(code).unwrap_or('\u{fffd}')
                            }
                            _ => return Err(format!("bad escape at byte {}", self.pos - 1)),
                        };
                        let mut tmp = [0u8; 4];
                        out.extend_from_slice(unescaped.encode_utf8(&mut tmp).as_bytes());
                    }
                    Some(byte) => out.push(byte),
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
        assert_eq!(jh_message("{}", b"xy", Endian::Big), b"\x00\x00\x00\x02{}xy");
        assert_eq!(jh_message("{}", b"xy", Endian::Little), b"\x02\x00\x00\x00{}xy");
        let cfg = GenConfig { count: Some(5), size: Some(10), ..GenConfig::new(super::super::Scenario::Framed) };
        let sizes = framed_sizes(&cfg);
        assert_eq!(sizes.len(), 5);
        assert!(sizes.iter().all(|&n| (1..=10).contains(&n)));
    }
}
