//! The lessons' own programs as generators: seed 002's `send('hello')`, `send('world')` client and
//! `recv(1024)` server, the remote command shell (no header, a `struct.pack('i')` length, or a
//! length-prefixed JSON header), and the UDP programs: a datagram cut short by a small
//! `recvfrom()`, and one that IP fragments. Each sends what the Python versions in
//! `tests/lessons/` send, byte for byte, and narrates what those programs would print.
//!
//! The UDP programs are in `udp.rs`. The remote-command server runs no shell: its outputs are synthetic and seeded, so every run
//! sends the same bytes and nothing runs on behalf of the peer.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::thread::sleep;
use std::time::Duration;

use super::net::{self, accept, connected, data_segs_out, dial, is_reset, read_exact, run_tcp, send, Ctx, Env, ListenOpts, Part};
use super::seams::json;
use super::{Endian, GenConfig, GenError, GenReport, Rng, Scenario, Voice};
use crate::numbers::thousands;

mod udp;

pub(crate) use udp::{udp_fragments, udp_truncate};

// ---------------------------------------------------------------------------------------------
// what the lessons' programs print

/// Python's `repr()` of a bytes object, as `print()` shows it: `b'he'`, `b"it's"`,
/// `b'\x06\x00\x00\x00'`. Single quotes unless the bytes hold `'` and no `"`; `\t \n \r \\` and
/// the quote escaped; other bytes outside 0x20..0x7e as `\xNN`.
pub fn py_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') { b'"' } else { b'\'' };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if byte == quote => {
                out.push('\\');
                out.push(byte as char);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// Python's `repr()` of a str without control characters: `'cls.avi'`, `"it's"`.
fn py_str_repr(text: &str) -> String {
    if text.contains('\'') && !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Python's `repr()` of a flat dict of strings and integers: `{'filename': 'cls.avi', 'len': 7}`.
fn py_dict_repr(fields: &[(String, json::Val)]) -> String {
    let items: Vec<String> = fields
        .iter()
        .map(|(key, value)| {
            let value = match value {
                json::Val::Str(text) => py_str_repr(text),
                json::Val::Num(num) => num.to_string(),
            };
            format!("{}: {value}", py_str_repr(key))
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// How the lesson's server labels its n-th recv() (from 1): `第一次`, `第二次`, ... `第二十次`.
fn ordinal(n: usize) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let number = match n {
        1..=9 => DIGITS[n].to_string(),
        10 => "十".to_string(),
        11..=19 => format!("十{}", DIGITS[n - 10]),
        20..=99 if n.is_multiple_of(10) => format!("{}十", DIGITS[n / 10]),
        20..=99 => format!("{}十{}", DIGITS[n / 10], DIGITS[n % 10]),
        _ => n.to_string(),
    };
    format!("第{number}次")
}

pub(super) fn grouped(n: usize) -> String {
    thousands(n as u64)
}

/// What recv() calls of `sizes` return, one after the other, to a reader that comes after all
/// of `stream` (and the sender's FIN) arrived: full chunks, the rest, then `b''` for each call left.
fn late_reads(stream: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut at = 0;
    sizes
        .iter()
        .map(|&size| {
            let end = (at + size).min(stream.len());
            let chunk = stream[at..end].to_vec();
            at = end;
            chunk
        })
        .collect()
}

/// Bytes that arrived and were never read, without consuming them.
fn unread(stream: &TcpStream) -> usize {
    let mut buf = vec![0u8; 256 * 1024];
    if stream.set_nonblocking(true).is_err() {
        return 0;
    }
    let queued = stream.peek(&mut buf).unwrap_or(0);
    let _ = stream.set_nonblocking(false);
    queued
}

// ---------------------------------------------------------------------------------------------
// options

/// What the remote-cmd server sends before each command's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CmdHeader {
    /// Nothing: the output as it is (the lesson's program before the fix).
    #[default]
    None,
    /// `struct.pack('i', total_size)`: a 4-byte length.
    Len,
    /// `struct.pack('i', len(header))`, then a JSON header `{"filename": ..., "len": N}`.
    Json,
}

impl CmdHeader {
    /// `none`, `len` or `json`, as `--header` takes it.
    pub fn name(self) -> &'static str {
        match self {
            CmdHeader::None => "none",
            CmdHeader::Len => "len",
            CmdHeader::Json => "json",
        }
    }
}

impl FromStr for CmdHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(CmdHeader::None),
            "len" => Ok(CmdHeader::Len),
            "json" => Ok(CmdHeader::Json),
            _ => Err(format!("unknown header '{text}'; one of: none, len, json")),
        }
    }
}

/// Reject the lesson options where they do not apply or are out of range.
pub(crate) fn validate(cfg: &GenConfig) -> Result<(), GenError> {
    let scenario = cfg.scenario;
    let bad = |text: String| Err(GenError::Config(text));
    if !cfg.recv.is_empty() {
        match scenario {
            Scenario::HelloWorld if cfg.recv.len() > 20 => return bad("--recv gives at most 20 calls".into()),
            Scenario::UdpTruncate if cfg.recv.len() != 1 => return bad("udp-truncate makes one recvfrom(): give one --recv size".into()),
            Scenario::HelloWorld | Scenario::UdpTruncate => {}
            _ => return bad(format!("{scenario} takes no --recv; hello-world and udp-truncate do")),
        }
        if let Some(size) = cfg.recv.iter().find(|&&size| size == 0 || size > 65_536) {
            return bad(format!("--recv {size} is out of range: 1 to 65536"));
        }
    }
    if let Some(after) = cfg.read_after {
        if scenario != Scenario::HelloWorld {
            return bad(format!("{scenario} takes no --read-after; hello-world does"));
        }
        if after > Duration::from_secs(10) {
            return bad("--read-after is at most 10000 ms".into());
        }
    }
    if cfg.header.is_some() && scenario != Scenario::RemoteCmd {
        return bad(format!("{scenario} takes no --header; remote-cmd does"));
    }
    if scenario == Scenario::RemoteCmd && cfg.header.unwrap_or_default() == CmdHeader::None && cfg.endian.is_some() {
        return bad("remote-cmd --header none writes no length prefix; --endian needs --header len or json".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// hello-world

/// The lesson server's two `recv(1024)` calls.
const HELLO_RECV: [usize; 2] = [1024, 1024];
/// How long the server waits after accept() by default: long enough for both writes to arrive.
const HELLO_READ_AFTER: Duration = Duration::from_millis(200);

pub(crate) fn hello_world(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "seed 002's first sticky-packet programs: the client calls send(b'hello'), send(b'world') and \
         close(); the server calls recv(1024) twice and prints what each returned. send() and recv() do \
         not meet: each copies bytes into or out of its own socket buffer, so what a recv() returns \
         depends on what has arrived when it is called, not on how the bytes were written.",
    );
    run_tcp(cfg, voice, ListenOpts::default(), hello_serve, hello_dial)
}

fn hello_dial(_env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let mut stream = net::connect(at, |sock| sock.set_tcp_nodelay(true))?;
    let mut part = connected(voice, &stream, at, "TCP_NODELAY");
    let before = data_segs_out(&stream);
    send(&mut stream, b"hello", &mut part.tally, "sending b'hello'")?;
    send(&mut stream, b"world", &mut part.tally, "sending b'world'")?;
    // writes queued behind a segment still in the device queue (autocorking) leave a moment later
    sleep(Duration::from_millis(10));
    let segments = data_segs_out(&stream).wrapping_sub(before);
    part.note(voice, format!("send(b'hello'), send(b'world'): two write() calls left in {segments} data segment(s)"));
    voice.why(
        "TCP_NODELAY turns Nagle's algorithm off, so each write leaves at once in its own segment. With \
         Nagle on, as in the lesson's client, 'world' may wait while 'hello' is unacknowledged and leave \
         with whatever is written next: the lesson's sticking on the sender.",
    );
    part.tcp = net::tcp_counters(&stream);
    drop(stream);
    voice.say("close(): FIN");
    Ok(part)
}

fn hello_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let cfg = env.cfg;
    let sizes = if cfg.recv.is_empty() { HELLO_RECV.to_vec() } else { cfg.recv.clone() };
    let after = cfg.read_after.unwrap_or(HELLO_READ_AFTER);
    let (mut stream, peer) = accept(listener, env.wait)?;
    let mut part = Part { connections: 1, ..Part::default() };
    let calls: Vec<String> = sizes.iter().map(|size| format!("recv({size})")).collect();
    let when = if after.is_zero() { "at once".to_string() } else { format!("{} ms after accept()", after.as_millis()) };
    voice.say(format!("accepted {peer}; {} {when}", calls.join(", ")));
    sleep(after);
    let mut results: Vec<Vec<u8>> = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let mut buf = vec![0u8; size];
        let got = match stream.read(&mut buf) {
            Ok(got) => got,
            Err(error) if is_reset(&error) => {
                part.resets += 1;
                voice.say(format!("recv({size}) failed: the connection was reset (ConnectionResetError in Python)"));
                break;
            }
            Err(error) => return Err(error).ctx("reading"),
        };
        if got > 0 {
            part.tally.got(got);
        }
        part.print(voice, format!("{} {}", ordinal(i + 1), py_bytes_repr(&buf[..got])));
        results.push(buf[..got].to_vec());
    }
    let segments = net::tcp_counters(&stream).map_or(0, |counters| counters.data_segs_in);
    let left = unread(&stream);
    explain_hello(voice, &results, &sizes, segments, after, left);
    let all: Vec<u8> = [results.concat(), vec![b'?'; left]].concat();
    if left == 0 && !results.is_empty() {
        let late: Vec<String> = late_reads(&all, &sizes).iter().map(|chunk| py_bytes_repr(chunk)).collect();
        let sizes_arg: Vec<String> = sizes.iter().map(usize::to_string).collect();
        voice.why(format!(
            "on a capture of this run, `wireseam stream FILE --recv {} --recv-at end` replays these calls for a \
             reader that comes after everything arrived ({}), and `--recv-at arrival` for one that is always \
             already waiting.",
            sizes_arg.join(","),
            late.join(", ")
        ));
    }
    drop(stream);
    Ok(part)
}

fn explain_hello(voice: &Voice, results: &[Vec<u8>], sizes: &[usize], segments: u32, after: Duration, left: usize) {
    let Some(first) = results.first() else { return };
    let wrote = b"helloworld";
    if first.len() > 5 && wrote.starts_with(first) && segments >= 2 {
        voice.why(format!(
            "the wire carried {segments} data segments, 'hello' and 'world' apart, yet the first recv() returned \
             {}: both had arrived in the receive buffer before the reader came ({}), and recv() returns \
             whatever the buffer holds, up to the size asked for. The receiver glued them (粘包): TCP delivers \
             a byte stream, not the sender's writes.",
            py_bytes_repr(first),
            if after.is_zero() {
                "it called recv() right after accept(), but the client had written both by then".to_string()
            } else {
                format!("{} ms after accept()", after.as_millis())
            }
        ));
    } else if first.as_slice() == b"hello" {
        voice.why(
            "the reader was already waiting: recv() returned as soon as 'hello' arrived, so each call got what \
             one segment brought. Whether writes come out glued depends on when the reader reads (give \
             --read-after 200 to read late).",
        );
    } else if first.len() > 5 && segments < 2 {
        voice.why(format!(
            "'hello' and 'world' travelled in {segments} segment: glued already on the sender, so no reader \
             could have told them apart."
        ));
    }
    if results.iter().zip(sizes).any(|(chunk, &size)| chunk.len() == size) && results.iter().skip(1).any(|chunk| !chunk.is_empty()) {
        voice.why(
            "a recv(N) smaller than what is buffered takes N bytes and leaves the rest for the next call, \
             which begins with those leftovers (the lesson's recv(2) then recv(10): b'he', b'lloworld').",
        );
    }
    if results.iter().skip(1).any(Vec::is_empty) {
        voice.why("b'' is the end of the stream: the client's FIN has arrived, and recv() then returns 0 bytes at once.");
    }
    if left > 0 {
        voice.why(format!(
            "{left} bytes were never read: close() with unread data makes the kernel send RST instead of FIN \
             (RFC 1122 §4.2.2.13), and the client sees its connection reset."
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// remote-cmd

/// The commands the remote-cmd client "types", in order (repeated for a larger `--count`): a short
/// output, one longer than the client's recv(1024) (`ls -l`, `--size` bytes), then short ones again.
const COMMANDS: [&str; 6] = ["whoami", "ls -l", "pwd", "echo hi", "uname", "hostname"];
/// Commands sent by default.
const DEFAULT_COMMANDS: usize = 4;
/// Default size of the `ls -l` output: more than one recv(1024) takes.
const LS_SIZE: usize = 2000;
/// A person's pause between reading a reply and typing the next command (the lesson's client
/// reads from the keyboard); the last reply arrives during it.
const TYPING: Duration = Duration::from_millis(150);
/// How long the server's command "runs" before its output is sent, so that a client's recv()
/// made right after send() finds only what had arrived before.
const RUN_TIME: Duration = Duration::from_millis(30);
/// The lesson's JSON header's file name (seed 004).
const JSON_FILENAME: &str = "cls.avi";

/// The first `count` commands the remote-cmd client sends.
pub fn remote_commands(count: usize) -> Vec<&'static str> {
    COMMANDS.iter().copied().cycle().take(count).collect()
}

/// A fake `ls -l` listing of exactly `size` bytes, the same for the same `seed`.
fn ls_listing(size: usize, seed: u64) -> Vec<u8> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const NAMES: [&str; 8] = ["notes", "server", "client", "report", "photo", "backup", "data", "lesson"];
    const EXTS: [&str; 8] = ["txt", "py", "md", "png", "tar.gz", "log", "json", "csv"];
    let mut rng = Rng::new(seed);
    let mut out = format!("total {}\n", size.div_ceil(1024) * 4).into_bytes();
    let mut index = 0;
    while out.len() < size {
        let line = format!(
            "-rw-r--r-- 1 lesson lesson {:>6} {} {:>2} {:02}:{:02} {}-{index:02}.{}\n",
            rng.range(12, 99_999),
            MONTHS[rng.range(0, 11)],
            rng.range(1, 28),
            rng.range(0, 23),
            rng.range(0, 59),
            NAMES[rng.range(0, NAMES.len() - 1)],
            EXTS[rng.range(0, EXTS.len() - 1)]
        );
        out.extend_from_slice(line.as_bytes());
        index += 1;
    }
    out.truncate(size);
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
    out
}

/// What wireseam's server answers to `command`: synthetic output, or what sh writes to stderr
/// for a command it does not know (the lesson's server sends stdout + stderr alike).
fn command_output(command: &str, size: usize, seed: u64) -> Vec<u8> {
    match command.trim() {
        "whoami" => b"lesson\n".to_vec(),
        "ls -l" => ls_listing(size, seed),
        "pwd" => b"/home/lesson\n".to_vec(),
        "echo hi" => b"hi\n".to_vec(),
        "uname" => b"Linux\n".to_vec(),
        "hostname" => b"wireseam\n".to_vec(),
        other => format!("/bin/sh: 1: {}: not found\n", other.split_whitespace().next().unwrap_or("")).into_bytes(),
    }
}

/// The JSON header as Python's `json.dumps({'filename': 'cls.avi', 'len': len})` writes it.
fn json_header(len: usize) -> String {
    json::encode(&[("filename", json::Val::Str(JSON_FILENAME.into())), ("len", json::Val::Num(len as u64))])
}

/// The server's send() calls for one output, as the lesson's programs make them: the output;
/// the 4-byte length, then the output; or the header's length, the header, then the output.
fn reply_writes(output: &[u8], header: CmdHeader, order: Endian) -> Vec<Vec<u8>> {
    match header {
        CmdHeader::None => vec![output.to_vec()],
        CmdHeader::Len => vec![order.pack(output.len() as u32).to_vec(), output.to_vec()],
        CmdHeader::Json => {
            let header = json_header(output.len());
            vec![order.pack(header.len() as u32).to_vec(), header.into_bytes(), output.to_vec()]
        }
    }
}

/// Which commands' outputs the bytes `start..start + len` of all replies belong to, e.g. "the
/// last 976 bytes of `ls -l`'s output + the whole output of `pwd`".
fn span(commands: &[&str], outputs: &[Vec<u8>], start: usize, len: usize) -> String {
    let end = start + len;
    let mut parts = Vec::new();
    let mut offset = 0;
    for (command, output) in commands.iter().zip(outputs) {
        let (lo, hi) = (offset, offset + output.len());
        offset = hi;
        let (from, to) = (start.max(lo), end.min(hi));
        if from >= to {
            continue;
        }
        let taken = to - from;
        parts.push(if taken == output.len() {
            format!("the whole output of `{command}`")
        } else if from == lo {
            format!("the first {} of the {} bytes of `{command}`'s output", grouped(taken), grouped(output.len()))
        } else if to == hi {
            format!("the last {} bytes of `{command}`'s output", grouped(taken))
        } else {
            format!("bytes {}-{} of `{command}`'s output", from - lo, to - lo - 1)
        });
    }
    parts.join(" + ")
}

pub(crate) fn remote_cmd(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    let order = cfg.endian();
    match cfg.header.unwrap_or_default() {
        CmdHeader::None => voice.why(
            "seed 002's remote command programs: the client sends a command and makes one recv(1024) for its \
             output; the server sends the output as it is, with nothing to say where it ends. An output longer \
             than 1,024 bytes is not read whole: its tail waits in the client's receive buffer, and the next \
             command's recv() returns that tail instead of its own output; the replies shift. The server runs \
             no shell: its outputs are synthetic (a fake `ls -l` of --size bytes from --seed).",
        ),
        CmdHeader::Len => voice.why(format!(
            "the lesson's fix: before each output the server sends struct.pack({}, total_size), a 4-byte \
             {order}-endian length; the client reads those 4 bytes, then calls recv(1024) until it has that \
             many. Each reply is read whole, however TCP cut or glued the bytes. The server runs no shell: its \
             outputs are synthetic (a fake `ls -l` of --size bytes from --seed).",
            order.struct_format()
        )),
        CmdHeader::Json => voice.why(format!(
            "seed 004's fix with a header: struct.pack({}, len(header_bytes)) ({order}-endian), then the header \
             json.dumps({{'filename': '{JSON_FILENAME}', 'len': N}}), then the N output bytes. The 4 bytes say how \
             long the header is, the header how long the output is. The server runs no shell: its outputs are \
             synthetic (a fake `ls -l` of --size bytes from --seed).",
            order.struct_format()
        )),
    }
    run_tcp(cfg, voice, ListenOpts::default(), cmd_serve, cmd_dial)
}

fn cmd_serve(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let cfg = env.cfg;
    let (header, order, size) = (cfg.header.unwrap_or_default(), cfg.endian(), cfg.size_or(LS_SIZE));
    let (mut stream, peer) = accept(listener, env.wait)?;
    let mut part = Part { connections: 1, ..Part::default() };
    voice.say(format!("accepted {peer}; per command: recv(1024), run it (synthetic output), send() the reply (header {})", header.name()));
    // a person types the commands: give them as long between commands as the first took to come
    stream.set_read_timeout(Some(env.wait.max(net::IO_TIMEOUT))).ctx("setting the read timeout")?;
    let mut buf = [0u8; 1024];
    'commands: loop {
        let got = match stream.read(&mut buf) {
            Ok(0) => {
                voice.say("recv() returned b'': the client closed");
                break;
            }
            Ok(got) => got,
            Err(error) if is_reset(&error) => {
                part.resets += 1;
                voice.say("recv() failed: the client reset the connection (it closed with a reply unread)");
                break;
            }
            Err(error) => return Err(error).ctx("reading a command"),
        };
        part.tally.got(got);
        let command = String::from_utf8_lossy(&buf[..got]).into_owned();
        let output = command_output(&command, size, cfg.seed);
        sleep(RUN_TIME);
        let writes = reply_writes(&output, header, order);
        for write in &writes {
            match stream.write_all(write) {
                Ok(()) => {}
                Err(error) if is_reset(&error) || error.kind() == io::ErrorKind::BrokenPipe => {
                    part.resets += 1;
                    voice.say("send() failed: the client reset the connection");
                    break 'commands;
                }
                Err(error) => return Err(error).ctx("sending a reply"),
            }
            part.tally.bytes_sent += write.len() as u64;
        }
        part.tally.messages_sent += 1;
        let sends: Vec<String> = writes.iter().map(|write| grouped(write.len())).collect();
        voice.say(format!("{command:?}: {} bytes of output; send() of {} bytes", grouped(output.len()), sends.join(" + ")));
    }
    Ok(part)
}

/// The client's state across commands: what wireseam's server would have sent so far.
struct Replies<'a> {
    commands: &'a [&'a str],
    outputs: Vec<Vec<u8>>,
    read: usize,
    /// Whether every byte read so far is what wireseam's server sends (not so with another server).
    known: bool,
}

fn cmd_dial(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let cfg = env.cfg;
    let (header, order, size) = (cfg.header.unwrap_or_default(), cfg.endian(), cfg.size_or(LS_SIZE));
    let commands = remote_commands(cfg.count_or(DEFAULT_COMMANDS));
    let outputs: Vec<Vec<u8>> = commands.iter().map(|command| command_output(command, size, cfg.seed)).collect();
    let mut replies = Replies { commands: &commands, outputs, read: 0, known: true };
    let mut stream = dial(at)?;
    let mut part = connected(voice, &stream, at, "");
    let mut shifted = 0;
    for (i, command) in commands.iter().enumerate() {
        send(&mut stream, command.as_bytes(), &mut part.tally, "sending a command")?;
        voice.say(format!(">>>{command}"));
        let whole = match header {
            CmdHeader::None => one_recv(&mut stream, &mut part, voice, &mut replies, i)?,
            CmdHeader::Len => {
                let head = read_exact(&mut stream, 4, "reading the length")?;
                let total = order.unpack([head[0], head[1], head[2], head[3]]) as usize;
                let (data, calls) = recv_until(&mut stream, total)?;
                part.tally.got(4 + data.len());
                part.print(voice, py_bytes_repr(&data));
                let whole = data == replies.outputs[i];
                voice.say(format!(
                    "recv(4) → length {}, then {calls} recv(1024) call(s) until that many arrived{}",
                    grouped(total),
                    if whole { format!(": the whole output of `{command}`") } else { String::new() }
                ));
                whole
            }
            CmdHeader::Json => {
                let head = read_exact(&mut stream, 4, "reading the header length")?;
                let head_len = order.unpack([head[0], head[1], head[2], head[3]]) as usize;
                if head_len > 64 * 1024 {
                    return Err(GenError::Mismatch(format!("a JSON header of {head_len} bytes is too long")));
                }
                let raw = read_exact(&mut stream, head_len, "reading the JSON header")?;
                let text = String::from_utf8_lossy(&raw).into_owned();
                let fields = json::parse(&text).map_err(|error| GenError::Mismatch(format!("bad JSON header {text:?}: {error}")))?;
                part.print(voice, py_dict_repr(&fields));
                let total = json::num(&fields, "len").ok_or_else(|| GenError::Mismatch(format!("no \"len\" in {text}")))? as usize;
                let (data, calls) = recv_until(&mut stream, total)?;
                part.tally.got(4 + head_len + data.len());
                part.print(voice, py_bytes_repr(&data));
                let whole = data == replies.outputs[i];
                voice.say(format!(
                    "recv(4) → header length {head_len}, recv({head_len}) → the header, then {calls} recv(1024) call(s) for its \
                     \"len\" {}{}",
                    grouped(total),
                    if whole { format!(": the whole output of `{command}`") } else { String::new() }
                ));
                whole
            }
        };
        shifted += usize::from(!whole);
        sleep(TYPING);
    }
    let left = unread(&stream);
    if header == CmdHeader::None && replies.known {
        if shifted > 0 {
            part.note(voice, format!("{shifted} of {} replies were not their command's output: they shifted", commands.len()));
        } else {
            part.note(voice, format!("each of the {} replies was its command's whole output (none passed 1,024 bytes)", commands.len()));
        }
    }
    if left > 0 {
        part.note(voice, format!("{} bytes of replies were never read", grouped(left)));
        voice.why(
            "close() with unread data in the receive buffer makes the kernel send RST instead of FIN \
             (RFC 1122 §4.2.2.13): the server's next recv() fails with ConnectionResetError.",
        );
    }
    part.tcp = net::tcp_counters(&stream);
    drop(stream);
    Ok(part)
}

/// The header-less client's one recv(1024) for command `i`; returns whether it got exactly that
/// command's output.
fn one_recv(stream: &mut TcpStream, part: &mut Part, voice: &Voice, replies: &mut Replies, i: usize) -> Result<bool, GenError> {
    let mut buf = [0u8; 1024];
    let got = stream.read(&mut buf).ctx("reading a reply")?;
    if got == 0 {
        return Err(GenError::Mismatch("the server closed the connection".into()));
    }
    part.tally.got(got);
    part.print(voice, py_bytes_repr(&buf[..got]));
    let all = replies.outputs.concat();
    let start = replies.read;
    replies.read += got;
    let mine_at: usize = replies.outputs[..i].iter().map(Vec::len).sum();
    if !replies.known || all.get(start..start + got) != Some(&buf[..got]) {
        replies.known = false;
        voice.say(format!("recv(1024) → {} bytes", grouped(got)));
        return Ok(false);
    }
    let what = span(replies.commands, &replies.outputs, start, got);
    let whole = start == mine_at && got == replies.outputs[i].len();
    if whole {
        voice.say(format!("recv(1024) → {} bytes: {what}", grouped(got)));
    } else if start == mine_at {
        voice.say(format!("recv(1024) → {} bytes: {what}; the rest stays in the receive buffer", grouped(got)));
    } else {
        voice.say(format!(
            "recv(1024) → {} bytes: {what}, not the output of `{}`: the replies have shifted",
            grouped(got),
            replies.commands[i]
        ));
    }
    Ok(whole)
}

/// The lesson's `while len(total_data) < total_size: total_data += recv(1024)`; also the number
/// of calls.
fn recv_until(stream: &mut TcpStream, total: usize) -> Result<(Vec<u8>, usize), GenError> {
    if total > 64 << 20 {
        return Err(GenError::Mismatch(format!("a header announces {total} bytes, more than 64 MiB")));
    }
    let mut data = Vec::with_capacity(total);
    let mut calls = 0;
    let mut buf = [0u8; 1024];
    while data.len() < total {
        let got = stream.read(&mut buf).ctx("reading a reply")?;
        calls += 1;
        if got == 0 {
            return Err(GenError::Mismatch(format!("the stream ended after {} of {total} bytes", data.len())));
        }
        data.extend_from_slice(&buf[..got]);
    }
    Ok((data, calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_repr_as_python_writes_it() {
        assert_eq!(py_bytes_repr(b"helloworld"), "b'helloworld'");
        assert_eq!(py_bytes_repr(b""), "b''");
        assert_eq!(py_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(py_bytes_repr(b"'\""), "b'\\'\"'");
        assert_eq!(py_bytes_repr(b"\x06\x00\x00\x00"), "b'\\x06\\x00\\x00\\x00'");
        assert_eq!(py_bytes_repr(b"a\tb\nc\rd\\\x7f\xff"), "b'a\\tb\\nc\\rd\\\\\\x7f\\xff'");
    }

    #[test]
    fn dict_repr_as_python_writes_it() {
        let fields = json::parse(&json_header(2000)).unwrap();
        assert_eq!(py_dict_repr(&fields), "{'filename': 'cls.avi', 'len': 2000}");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 10, 11, 20, 23].iter().map(|&n| ordinal(n)).collect();
        assert_eq!(got, ["第一次", "第二次", "第十次", "第十一次", "第二十次", "第二十三次"]);
    }

    #[test]
    fn late_reader() {
        assert_eq!(late_reads(b"helloworld", &[1024, 1024]), vec![b"helloworld".to_vec(), vec![]]);
        assert_eq!(late_reads(b"helloworld", &[2, 10]), vec![b"he".to_vec(), b"lloworld".to_vec()]);
    }

    #[test]
    fn listing_is_sized_and_seeded() {
        for size in [1, 10, 1025, 2000, 10_000] {
            let listing = ls_listing(size, 1);
            assert_eq!(listing.len(), size);
            assert_eq!(listing.last(), Some(&b'\n'));
        }
        assert!(ls_listing(2000, 1).starts_with(b"total 8\n-rw-r--r-- 1 lesson lesson "));
        assert_eq!(ls_listing(2000, 7), ls_listing(2000, 7));
        assert_ne!(ls_listing(2000, 7), ls_listing(2000, 8));
        assert_eq!(command_output("pwd", 2000, 1), b"/home/lesson\n");
        assert_eq!(command_output("rm -rf /", 2000, 1), b"/bin/sh: 1: rm: not found\n");
        assert_eq!(remote_commands(7), ["whoami", "ls -l", "pwd", "echo hi", "uname", "hostname", "whoami"]);
    }

    #[test]
    fn replies_in_both_orders() {
        let out = b"hi\n";
        assert_eq!(reply_writes(out, CmdHeader::None, Endian::Little), vec![out.to_vec()]);
        assert_eq!(reply_writes(out, CmdHeader::Len, Endian::Little), vec![vec![3, 0, 0, 0], out.to_vec()]);
        assert_eq!(reply_writes(out, CmdHeader::Len, Endian::Big), vec![vec![0, 0, 0, 3], out.to_vec()]);
        let header = r#"{"filename": "cls.avi", "len": 3}"#;
        let json = reply_writes(out, CmdHeader::Json, Endian::Little);
        assert_eq!(json, vec![vec![header.len() as u8, 0, 0, 0], header.as_bytes().to_vec(), out.to_vec()]);
        assert_eq!(reply_writes(out, CmdHeader::Json, Endian::Big)[0], vec![0, 0, 0, header.len() as u8]);
        assert_eq!("JSON".parse::<CmdHeader>().unwrap(), CmdHeader::Json);
        assert!("xml".parse::<CmdHeader>().unwrap_err().contains("none, len, json"));
    }

    #[test]
    fn spans_name_the_commands() {
        let commands = ["whoami", "ls -l", "pwd"];
        let outputs = vec![b"lesson\n".to_vec(), vec![b'x'; 2000], b"/home/lesson\n".to_vec()];
        assert_eq!(span(&commands, &outputs, 0, 7), "the whole output of `whoami`");
        assert_eq!(span(&commands, &outputs, 7, 1024), "the first 1,024 of the 2,000 bytes of `ls -l`'s output");
        assert_eq!(span(&commands, &outputs, 1031, 989), "the last 976 bytes of `ls -l`'s output + the whole output of `pwd`");
        assert_eq!(span(&commands, &outputs, 8, 10), "bytes 1-10 of `ls -l`'s output");
    }

    #[test]
    fn options_apply_where_they_mean_something() {
        let bad = |cfg: GenConfig| validate(&cfg).unwrap_err().to_string();
        let recv = GenConfig { recv: vec![10], ..GenConfig::new(Scenario::Echo) };
        assert!(bad(recv).contains("echo takes no --recv"));
        let two = GenConfig { recv: vec![10, 20], ..GenConfig::new(Scenario::UdpTruncate) };
        assert!(bad(two).contains("give one --recv size"));
        let zero = GenConfig { recv: vec![0], ..GenConfig::new(Scenario::HelloWorld) };
        assert!(bad(zero).contains("1 to 65536"));
        let after = GenConfig { read_after: Some(Duration::ZERO), ..GenConfig::new(Scenario::Sticky) };
        assert!(bad(after).contains("sticky takes no --read-after"));
        let header = GenConfig { header: Some(CmdHeader::Len), ..GenConfig::new(Scenario::Framed) };
        assert!(bad(header).contains("framed takes no --header"));
        let endian = GenConfig { endian: Some(Endian::Big), ..GenConfig::new(Scenario::RemoteCmd) };
        assert!(bad(endian).contains("--endian needs --header len or json"));
        let ok = GenConfig { endian: Some(Endian::Big), header: Some(CmdHeader::Json), ..GenConfig::new(Scenario::RemoteCmd) };
        assert!(validate(&ok).is_ok());
    }
}
