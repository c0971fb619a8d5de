//! The lessons' concurrent servers: a thread per connection, a process per connection (fork), one
//! thread with a select() loop, and one thread with an epoll loop. Each serves the same clients
//! (several connect first, then each sends a few requests, paced, and closes first), answers every
//! read in upper case (the lessons' `conn.send(data.upper())`), and records when it took on,
//! answered and finished each connection, so the narration says how many connections were in
//! progress at once and in which order the answers went out, as measured by the server itself.
//!
//! The wire looks the same for every model: the kernel's TCP completes handshakes into the accept
//! queue, acknowledges and buffers data whatever the program does; the model only decides when
//! each answer is written.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::net::{self, accept, read_exact, run_tcp, send, set_timeouts, show, Ctx, Env, ListenOpts, Part, Serve};
use super::{GenConfig, GenError, GenReport, Tally, Voice};

/// Clients served at once unless `--count` says otherwise.
const DEFAULT_CLIENTS: usize = 4;
/// Requests each client sends on its connection.
const REQUESTS: usize = 3;
/// Pause between one client's requests: every other client sends one meanwhile.
const PACE: Duration = Duration::from_millis(60);
/// Offset between the clients' first requests, so the interleaving has a stable order.
const STAGGER: Duration = Duration::from_millis(8);
/// How long a select() or epoll_wait() call sleeps before the loop checks its deadline.
const TICK_MS: u16 = 100;

/// How the server takes on several connections at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Model {
    /// One thread per accepted connection.
    Threads,
    /// One child process per accepted connection (fork without exec).
    Fork,
    /// One thread, select(2) over the listener and every connection.
    Select,
    /// One thread, epoll(7): the listener level-triggered, connections edge-triggered.
    Epoll,
}

impl Model {
    /// How the narration names the model.
    fn label(self) -> &'static str {
        match self {
            Model::Threads => "a thread per connection",
            Model::Fork => "a process per connection (fork)",
            Model::Select => "one thread with a select() loop",
            Model::Epoll => "one thread with an epoll loop",
        }
    }

    fn serve(self) -> Serve {
        match self {
            Model::Threads => serve_threads,
            Model::Fork => serve_fork,
            Model::Select => serve_select,
            Model::Epoll => serve_epoll,
        }
    }

    fn why(self) -> &'static str {
        match self {
            Model::Threads => {
                "the server's main thread only accepts; each accepted socket gets a thread of its own (the lesson's \
                 Thread(target=do_service, args=(conn,)), socketserver.ThreadingTCPServer) that blocks in recv() on its \
                 connection while the other threads serve theirs. Threads share the process's memory: cheap to start, \
                 but one thread's crash takes them all."
            }
            Model::Fork => {
                "the server forks a child process per accepted connection (the lesson's multiprocessing version, \
                 socketserver.ForkingTCPServer): the child inherits the connected socket and serves it, the parent \
                 closes its copy and goes back to accept(). This program has other threads, and after fork() the child \
                 has only the forking one, so POSIX allows it async-signal-safe calls only: it makes read(), write(), \
                 close() and _exit() on raw descriptors, with no allocation and no lock (std::process would need a \
                 second program to exec). It first closes every other descriptor it inherited: a socket sends its FIN \
                 only when its last descriptor is closed, so a child holding copies of other connections would keep \
                 them open."
            }
            Model::Select => {
                "one thread watches the listening socket and every connection with select() (the lesson's \
                 select.select(rlist, [], [])): it sleeps until one of them is readable, accepts or answers that one, \
                 and goes round again. select() takes a bit set of descriptors below FD_SETSIZE (1024) and the kernel \
                 scans all of them on every call."
            }
            Model::Epoll => {
                "one thread registers the listening socket and each connection with epoll (connections with \
                 EPOLLIN | EPOLLET, as in the lesson); epoll_wait() returns only the ready ones, however many are \
                 registered. Edge-triggered means one event per arrival of data, so each ready socket (non-blocking) \
                 is read until EAGAIN."
            }
        }
    }
}

/// Run `model`'s server against [`DEFAULT_CLIENTS`] (or `--count`) clients.
pub(crate) fn run(cfg: &GenConfig, voice: &Voice, model: Model) -> Result<GenReport, GenError> {
    voice.why(model.why());
    let clients = cfg.count_or(DEFAULT_CLIENTS);
    voice.why(format!(
        "{} connect{} first (every handshake completes before any request), then each sends {REQUESTS} requests \
         {} ms apart and closes first. The capture looks the same whatever the server's model: the kernel's TCP \
         completes the handshakes into the accept queue, acknowledges and buffers data whatever the program is \
         doing; the model decides only when each answer is written, so only the timing and the interleaving of the \
         connections differ.",
        if clients == 1 { "one client".to_string() } else { format!("{clients} clients") },
        if clients == 1 { "s" } else { "" },
        PACE.as_millis()
    ));
    let backlog = (clients as i32).clamp(16, 128);
    run_tcp(cfg, voice, ListenOpts { rcvbuf: None, backlog }, model.serve(), dial_clients)
}

// ---------------------------------------------------------------------------------------------
// what the server measures

/// A moment in the life of one served connection (connections are numbered 1, 2, ... in the
/// order they were accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The server took the connection on (accepted it, or its process or thread started).
    Start,
    /// The server answered one read.
    Answer,
    /// The server saw the client's end of stream and closed the connection.
    End,
}

impl Event {
    /// The byte a forked child writes to the journal pipe for this event.
    const fn code(self) -> u8 {
        match self {
            Event::Start => b'+',
            Event::Answer => b'a',
            Event::End => b'-',
        }
    }

    fn from_code(code: u8) -> Option<Event> {
        match code {
            b'+' => Some(Event::Start),
            b'a' => Some(Event::Answer),
            b'-' => Some(Event::End),
            _ => None,
        }
    }
}

/// What a server's journal of events shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Connections taken on.
    pub connections: usize,
    /// Most connections between their Start and their End at one moment.
    pub max_in_progress: usize,
    /// The connection of each answer, in the order the answers were written.
    pub order: Vec<usize>,
    /// Whether another connection's answer came between two answers of one connection.
    pub interleaved: bool,
}

/// Summarize a journal of `(event, connection)` in the order the events happened.
pub(crate) fn summarize(journal: &[(Event, usize)]) -> Summary {
    let (mut now, mut max, mut connections) = (0usize, 0usize, 0usize);
    let mut order = Vec::new();
    for &(event, conn) in journal {
        match event {
            Event::Start => {
                connections += 1;
                now += 1;
                max = max.max(now);
            }
            Event::Answer => order.push(conn),
            Event::End => now = now.saturating_sub(1),
        }
    }
    // interleaved when the answers form more runs of one connection than there are connections
    let runs = order.windows(2).filter(|pair| pair[0] != pair[1]).count() + usize::from(!order.is_empty());
    let mut distinct = order.clone();
    distinct.sort_unstable();
    distinct.dedup();
    Summary { connections, max_in_progress: max, interleaved: runs > distinct.len(), order }
}

/// The measured facts of a run, as notes of the server's part.
fn report(part: &mut Part, voice: &Voice, model: Model, journal: &[(Event, usize)]) {
    let summary = summarize(journal);
    part.note(
        voice,
        format!(
            "{}: {} served, at most {} in progress at the same time (taken on and not yet finished, \
             measured by the server)",
            model.label(),
            counted(summary.connections, "connection"),
            summary.max_in_progress
        ),
    );
    const SHOWN: usize = 48;
    let mut order: Vec<String> = summary.order.iter().take(SHOWN).map(|conn| conn.to_string()).collect();
    if summary.order.len() > SHOWN {
        order.push(format!("... ({} in all)", summary.order.len()));
    }
    part.note(
        voice,
        format!(
            "answers written, by connection: {}: {}",
            order.join(" "),
            if summary.interleaved {
                "interleaved, the connections were served side by side"
            } else {
                "not interleaved, one connection after the other"
            }
        ),
    );
}

/// Answer `data` (one read's worth) in upper case.
fn answer(stream: &mut TcpStream, data: &[u8], tally: &mut Tally) -> Result<(), GenError> {
    tally.got(data.len());
    send(stream, &data.to_ascii_uppercase(), tally, "answering")
}

/// `1 client`, `4 clients`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn panicked(what: &str) -> GenError {
    GenError::Internal(format!("{what} panicked"))
}

// ---------------------------------------------------------------------------------------------
// a thread per connection

fn serve_threads(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    let clients = env.cfg.count_or(DEFAULT_CLIENTS);
    let journal = Mutex::new(Vec::new());
    let record = |event: Event, conn: usize| {
        if let Ok(mut journal) = journal.lock() {
            journal.push((event, conn));
        }
    };
    let results: Vec<Result<Tally, GenError>> = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(clients);
        for conn in 1..=clients {
            let wait = if conn == 1 { env.wait } else { net::IO_TIMEOUT };
            let (stream, peer) = match accept(listener, wait) {
                Ok(accepted) => accepted,
                Err(err) => {
                    handles.push(Err(err));
                    break;
                }
            };
            record(Event::Start, conn);
            voice.say(format!("accepted connection {conn} from {peer}; thread {conn} serves it"));
            let record = &record;
            let handle = std::thread::Builder::new()
                .name(format!("conn-{conn}"))
                .stack_size(net::SMALL_STACK)
                .spawn_scoped(scope, move || serve_blocking(stream, conn, record, voice));
            handles.push(handle.map_err(|err| GenError::io("starting a thread", err)));
        }
        handles.into_iter().map(|handle| handle?.join().unwrap_or_else(|_| Err(panicked("a server thread")))).collect()
    });
    let mut part = Part::default();
    for tally in results {
        add(&mut part, tally?);
    }
    let journal = journal.into_inner().unwrap_or_default();
    report(&mut part, voice, Model::Threads, &journal);
    Ok(part)
}

/// Serve one connection with blocking reads until the client's end of stream.
fn serve_blocking(mut stream: TcpStream, conn: usize, record: &dyn Fn(Event, usize), voice: &Voice) -> Result<Tally, GenError> {
    let mut tally = Tally::default();
    let mut buf = [0u8; 4096];
    loop {
        let len = stream.read(&mut buf).ctx("reading a request")?;
        if len == 0 {
            break;
        }
        answer(&mut stream, &buf[..len], &mut tally)?;
        record(Event::Answer, conn);
        voice.say(format!("connection {conn}: answered {}", show(&buf[..len])));
    }
    record(Event::End, conn);
    voice.say(format!("connection {conn}: end of stream (the client's FIN); closed"));
    Ok(tally)
}

fn add(part: &mut Part, tally: Tally) {
    part.connections += 1;
    part.tally.add(&tally);
}

// ---------------------------------------------------------------------------------------------
// a process per connection

/// Exit status of a child whose read() failed (a timeout included).
const CHILD_READ_FAILED: i32 = 251;
/// Exit status of a child whose write() failed.
const CHILD_WRITE_FAILED: i32 = 252;

#[allow(unsafe_code)]
fn serve_fork(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    let clients = env.cfg.count_or(DEFAULT_CLIENTS);
    // Each child writes its events to this pipe, JOURNAL_ENTRY bytes each; writes of up to
    // PIPE_BUF bytes are atomic, so the pipe holds them in the order they happened.
    let (journal_read, journal_write) = nix::unistd::pipe().map_err(|e| GenError::io("creating the journal pipe", e.into()))?;
    let mut children = Vec::new();
    let mut failure = None;
    for conn in 1..=clients {
        let wait = if conn == 1 { env.wait } else { net::IO_TIMEOUT };
        let (stream, peer) = match accept(listener, wait) {
            Ok(accepted) => accepted,
            Err(err) => {
                failure = Some(err);
                break;
            }
        };
        // SAFETY: the child runs only `child_serve`, which makes async-signal-safe system calls
        // (close, read, write, _exit) on descriptors it owns and never returns: no allocation,
        // no lock another thread of this process may have held at the fork, no destructor.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => child_serve(stream.as_raw_fd(), journal_write.as_raw_fd(), conn as u8),
            Ok(ForkResult::Parent { child }) => {
                children.push((child, conn));
                voice.say(format!("accepted connection {conn} from {peer}; forked child process {child} to serve it"));
            }
            Err(e) => {
                failure = Some(GenError::io("fork()", e.into()));
                break;
            }
        }
        // the parent's copy of the socket: the child's close() alone must end the connection
        drop(stream);
    }
    drop(journal_write);
    let mut part = Part::default();
    for (pid, conn) in children {
        let status = loop {
            match waitpid(pid, None) {
                Err(nix::errno::Errno::EINTR) => continue,
                status => break status,
            }
        };
        match status {
            Ok(WaitStatus::Exited(_, CHILD_READ_FAILED)) => {
                failure.get_or_insert(GenError::Mismatch(format!("child {pid} (connection {conn}): read() failed or timed out")));
            }
            Ok(WaitStatus::Exited(_, CHILD_WRITE_FAILED)) => {
                failure.get_or_insert(GenError::Mismatch(format!("child {pid} (connection {conn}): write() failed")));
            }
            Ok(WaitStatus::Exited(_, answers)) => {
                part.connections += 1;
                voice.say(format!("child process {pid} (connection {conn}) exited with status {answers}: it answered {answers} reads"));
            }
            Ok(other) => {
                failure.get_or_insert(GenError::Internal(format!("child {pid} (connection {conn}) ended so: {other:?}")));
            }
            Err(e) => {
                failure.get_or_insert(GenError::io(format!("waiting for child {pid}"), e.into()));
            }
        }
    }
    if let Some(err) = failure {
        return Err(err);
    }
    let entries = read_journal(journal_read)?;
    for &(event, _, len) in &entries {
        if event == Event::Answer {
            // each answer is the read it answers, in upper case
            part.tally.got(len);
            part.tally.bytes_sent += len as u64;
            part.tally.messages_sent += 1;
        }
    }
    let journal: Vec<(Event, usize)> = entries.iter().map(|&(event, conn, _)| (event, conn)).collect();
    report(&mut part, voice, Model::Fork, &journal);
    Ok(part)
}

/// Bytes of one journal entry: the event's code, the connection's number, and the length of
/// the read answered (little-endian u16; 0 for Start and End).
const JOURNAL_ENTRY: usize = 4;

/// One journal entry as a child writes it.
const fn journal_entry(event: Event, conn: u8, len: u16) -> [u8; JOURNAL_ENTRY] {
    let len = len.to_le_bytes();
    [event.code(), conn, len[0], len[1]]
}

/// Everything the children wrote to the journal pipe (every writer has exited): (event,
/// connection, bytes answered).
fn read_journal(pipe: OwnedFd) -> Result<Vec<(Event, usize, usize)>, GenError> {
    let mut bytes = Vec::new();
    std::fs::File::from(pipe).read_to_end(&mut bytes).ctx("reading the children's journal")?;
    parse_journal(&bytes).ok_or_else(|| GenError::Internal("the children's journal is damaged".into()))
}

fn parse_journal(bytes: &[u8]) -> Option<Vec<(Event, usize, usize)>> {
    bytes
        .chunks(JOURNAL_ENTRY)
        .map(|record| match record {
            [code, conn, lo, hi] => Event::from_code(*code).map(|event| (event, *conn as usize, u16::from_le_bytes([*lo, *hi]) as usize)),
            _ => None,
        })
        .collect()
}

/// The child's whole life: serve the connection on `conn` in upper case until end of stream,
/// journal each step on `journal`, exit with the number of reads answered.
#[allow(unsafe_code)]
fn child_serve(conn: RawFd, journal: RawFd, number: u8) -> ! {
    close_all_but(conn, journal);
    let record = |event: Event, len: usize| {
        let entry = journal_entry(event, number, len as u16);
        // SAFETY: write(2) of a stack buffer of JOURNAL_ENTRY bytes to an open pipe descriptor.
        unsafe { libc::write(journal, entry.as_ptr().cast(), entry.len()) };
    };
    record(Event::Start, 0);
    let mut buf = [0u8; 4096];
    let mut answers: i32 = 0;
    let status = loop {
        // SAFETY: read(2) into a stack buffer of buf.len() bytes.
        let got = unsafe { libc::read(conn, buf.as_mut_ptr().cast(), buf.len()) };
        if got == 0 {
            break answers;
        }
        if got < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break CHILD_READ_FAILED;
        }
        let len = got as usize;
        buf[..len].make_ascii_uppercase();
        let mut sent = 0;
        while sent < len {
            // SAFETY: write(2) of the initialized bytes sent..len of the stack buffer.
            let wrote = unsafe { libc::write(conn, buf[sent..len].as_ptr().cast(), len - sent) };
            if wrote <= 0 {
                break;
            }
            sent += wrote as usize;
        }
        if sent < len {
            break CHILD_WRITE_FAILED;
        }
        answers = (answers + 1).min(CHILD_READ_FAILED - 1);
        record(Event::Answer, len);
    };
    record(Event::End, 0);
    // SAFETY: close(2) and _exit(2) are async-signal-safe; _exit runs no atexit handler and
    // flushes no stdio buffer that belongs to the parent.
    unsafe {
        libc::close(conn);
        libc::_exit(status)
    }
}

/// Close every descriptor from 3 up except `a` and `b` (close_range(2), or one by one where
/// the kernel lacks it). Async-signal-safe.
#[allow(unsafe_code)]
fn close_all_but(a: RawFd, b: RawFd) {
    let (low, high) = (a.min(b) as u32, a.max(b) as u32);
    let close_range = |first: u32, last: u32| {
        if first > last {
            return;
        }
        // SAFETY: close_range(2) takes plain integers and closes descriptors of this process only.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        if rc != 0 {
            for fd in first..=last.min(65_535) {
                // SAFETY: close(2) of a descriptor number; EBADF for the unused ones.
                unsafe { libc::close(fd as RawFd) };
            }
        }
    };
    close_range(3, low.saturating_sub(1));
    close_range(low + 1, high.saturating_sub(1));
    close_range(high + 1, u32::MAX);
}

// ---------------------------------------------------------------------------------------------
// one thread, select()

fn serve_select(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    use nix::sys::select::{select, FdSet, FD_SETSIZE};
    use nix::sys::time::{TimeVal, TimeValLike};

    let clients = env.cfg.count_or(DEFAULT_CLIENTS);
    let mut part = Part::default();
    let mut journal = Vec::new();
    let mut open: Vec<(usize, TcpStream)> = Vec::new();
    let mut accepted = 0;
    let mut deadline = Instant::now() + env.wait;
    let mut buf = [0u8; 4096];
    while accepted < clients || !open.is_empty() {
        if Instant::now() > deadline {
            return Err(GenError::Timeout {
                what: "in the select() loop waiting for a client".into(),
                secs: net::IO_TIMEOUT.as_secs_f64(),
            });
        }
        let too_high =
            std::iter::once(listener.as_raw_fd()).chain(open.iter().map(|(_, s)| s.as_raw_fd())).find(|&fd| fd >= FD_SETSIZE as RawFd);
        if let Some(fd) = too_high {
            return Err(GenError::Unsupported(format!("descriptor {fd} is beyond select()'s FD_SETSIZE ({FD_SETSIZE}); use gen epoll")));
        }
        let (listener_ready, ready) = {
            let mut readable = FdSet::new();
            if accepted < clients {
                readable.insert(listener.as_fd());
            }
            for (_, stream) in &open {
                readable.insert(stream.as_fd());
            }
            let mut timeout = TimeVal::milliseconds(i64::from(TICK_MS));
            match select(None, &mut readable, None, None, &mut timeout) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(GenError::io("select()", e.into())),
            }
            let ready: Vec<bool> = open.iter().map(|(_, stream)| readable.contains(stream.as_fd())).collect();
            (accepted < clients && readable.contains(listener.as_fd()), ready)
        };
        deadline = Instant::now() + net::IO_TIMEOUT;
        // answer the connections first (the list as it was when select() returned), then accept
        let mut index = 0;
        for is_ready in ready {
            if !is_ready {
                index += 1;
                continue;
            }
            let (conn, stream) = &mut open[index];
            let conn = *conn;
            let len = stream.read(&mut buf).ctx("reading a request")?;
            if len == 0 {
                journal.push((Event::End, conn));
                voice.say(format!("connection {conn}: readable, read() returned 0 (the client's FIN); closed"));
                open.remove(index);
                part.connections += 1;
                continue;
            }
            answer(stream, &buf[..len], &mut part.tally)?;
            journal.push((Event::Answer, conn));
            voice.say(format!("connection {conn}: readable, answered {}", show(&buf[..len])));
            index += 1;
        }
        if listener_ready {
            let (stream, peer) = listener.accept().ctx("accepting a connection")?;
            set_timeouts(&stream)?;
            accepted += 1;
            journal.push((Event::Start, accepted));
            voice.say(format!("listener readable: accepted connection {accepted} from {peer}; open connections: {}", open.len() + 1));
            open.push((accepted, stream));
        }
    }
    report(&mut part, voice, Model::Select, &journal);
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// one thread, epoll

fn serve_epoll(env: &Env, listener: &TcpListener, voice: &Voice) -> Result<Part, GenError> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

    /// The event data of the listening socket (connections carry their number).
    const LISTENER: u64 = u64::MAX;
    let clients = env.cfg.count_or(DEFAULT_CLIENTS);
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| GenError::io("epoll_create1()", e.into()))?;
    epoll.add(listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER)).map_err(|e| GenError::io("registering the listener", e.into()))?;
    let mut part = Part::default();
    let mut journal = Vec::new();
    let mut open: Vec<(usize, TcpStream)> = Vec::new();
    let mut accepted = 0;
    let mut deadline = Instant::now() + env.wait;
    let mut events = [EpollEvent::empty(); 16];
    let mut buf = [0u8; 4096];
    while accepted < clients || !open.is_empty() {
        if Instant::now() > deadline {
            return Err(GenError::Timeout { what: "in the epoll loop waiting for a client".into(), secs: net::IO_TIMEOUT.as_secs_f64() });
        }
        let got = match epoll.wait(&mut events, TICK_MS) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(got) => got,
            Err(e) => return Err(GenError::io("epoll_wait()", e.into())),
        };
        deadline = Instant::now() + net::IO_TIMEOUT;
        for event in &events[..got] {
            if event.data() == LISTENER {
                let (stream, peer) = listener.accept().ctx("accepting a connection")?;
                set_timeouts(&stream)?;
                stream.set_nonblocking(true).ctx("making the connection non-blocking")?;
                accepted += 1;
                epoll
                    .add(&stream, EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, accepted as u64))
                    .map_err(|e| GenError::io("registering a connection", e.into()))?;
                journal.push((Event::Start, accepted));
                voice.say(format!("epoll: listener ready, accepted connection {accepted} from {peer}; registered it (EPOLLIN | EPOLLET)"));
                open.push((accepted, stream));
                if accepted == clients {
                    epoll.delete(listener).map_err(|e| GenError::io("unregistering the listener", e.into()))?;
                }
                continue;
            }
            let conn = event.data() as usize;
            let Some(index) = open.iter().position(|(number, _)| *number == conn) else { continue };
            // edge-triggered: read until EAGAIN, or the next arrival would be the next event
            let mut answered = 0;
            let finished = loop {
                match open[index].1.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(len) => {
                        answer(&mut open[index].1, &buf[..len], &mut part.tally)?;
                        journal.push((Event::Answer, conn));
                        voice.say(format!("connection {conn}: ready, answered {}", show(&buf[..len])));
                        answered += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(GenError::io("reading a request", e)),
                }
            };
            if finished {
                let (_, stream) = open.remove(index);
                epoll.delete(&stream).map_err(|e| GenError::io("unregistering a connection", e.into()))?;
                journal.push((Event::End, conn));
                part.connections += 1;
                voice.say(format!(
                    "connection {conn}: ready, {}read() returned 0 (the client's FIN); unregistered and closed",
                    if answered > 0 { "answered, then " } else { "" }
                ));
            }
        }
    }
    report(&mut part, voice, Model::Epoll, &journal);
    Ok(part)
}

// ---------------------------------------------------------------------------------------------
// the clients (the same for every model)

fn dial_clients(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let clients = env.cfg.count_or(DEFAULT_CLIENTS);
    voice.say(format!(
        "starting {}: all connect, then each sends {REQUESTS} requests {} ms apart and closes",
        counted(clients, "client"),
        PACE.as_millis()
    ));
    let results = net::clients_at_once(clients, 1, at, one_client);
    let mut part = Part::default();
    let mut ports = Vec::new();
    for result in results {
        let (tally, local) = result?;
        part.local.get_or_insert(local);
        ports.push(local.port());
        add(&mut part, tally);
    }
    part.note(
        voice,
        format!(
            "{} (port{} {}) connected before any sent; each got its {REQUESTS} answers and closed first",
            counted(part.connections, "client"),
            if part.connections == 1 { "" } else { "s" },
            ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        ),
    );
    Ok(part)
}

fn one_client(mut stream: TcpStream, client: usize) -> Result<(Tally, SocketAddr), GenError> {
    let local = stream.local_addr().ctx("reading the local address")?;
    let mut tally = Tally::default();
    std::thread::sleep(STAGGER * (client as u32 - 1));
    for request in 1..=REQUESTS {
        if request > 1 {
            std::thread::sleep(PACE);
        }
        let line = format!("client {client} request {request}\n");
        send(&mut stream, line.as_bytes(), &mut tally, "sending a request")?;
        let back = read_exact(&mut stream, line.len(), "reading the answer")?;
        if back != line.to_ascii_uppercase().as_bytes() {
            return Err(GenError::Mismatch(format!("client {client} got {}", show(&back))));
        }
        tally.got(back.len());
    }
    drop(stream);
    Ok((tally, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    use Event::{Answer, End, Start};

    #[test]
    fn a_serial_journal_is_not_interleaved() {
        let journal = [(Start, 1), (Answer, 1), (Answer, 1), (End, 1), (Start, 2), (Answer, 2), (End, 2)];
        let s = summarize(&journal);
        assert_eq!(s, Summary { connections: 2, max_in_progress: 1, order: vec![1, 1, 2], interleaved: false });
    }

    #[test]
    fn a_concurrent_journal_is_measured() {
        let journal = [
            (Start, 1),
            (Start, 2),
            (Answer, 1),
            (Start, 3),
            (Answer, 2),
            (Answer, 3),
            (Answer, 1),
            (End, 1),
            (Answer, 2),
            (End, 2),
            (End, 3),
        ];
        let s = summarize(&journal);
        assert_eq!(s.connections, 3);
        assert_eq!(s.max_in_progress, 3);
        assert_eq!(s.order, vec![1, 2, 3, 1, 2]);
        assert!(s.interleaved);
        // open at once but answered one after the other: concurrent, yet not interleaved
        let s = summarize(&[(Start, 1), (Start, 2), (Answer, 1), (Answer, 1), (Answer, 2), (End, 1), (End, 2)]);
        assert_eq!((s.max_in_progress, s.interleaved), (2, false));
        assert_eq!(summarize(&[]), Summary { connections: 0, max_in_progress: 0, order: vec![], interleaved: false });
    }

    #[test]
    fn journal_codes_round_trip() {
        for event in [Start, Answer, End] {
            assert_eq!(Event::from_code(event.code()), Some(event));
        }
        assert_eq!(Event::from_code(b'x'), None);
        let mut bytes = journal_entry(Start, 2, 0).to_vec();
        bytes.extend(journal_entry(Answer, 2, 4000));
        bytes.extend(journal_entry(End, 2, 0));
        assert_eq!(parse_journal(&bytes), Some(vec![(Start, 2, 0), (Answer, 2, 4000), (End, 2, 0)]));
        assert_eq!(parse_journal(&bytes[..5]), None, "a torn entry");
        assert_eq!(parse_journal(b"x\x01\x00\x00"), None);
    }

    #[test]
    fn every_model_serves_clients_at_once_on_loopback() {
        use super::super::Scenario;
        // fork too: its children close the descriptors of the other tests running meanwhile
        for scenario in [Scenario::Threads, Scenario::Fork, Scenario::Select, Scenario::Epoll] {
            let cfg = GenConfig { port: 0, count: Some(3), ..GenConfig::new(scenario) };
            let mut log = Vec::new();
            let r = super::super::run(&cfg, &mut log).unwrap_or_else(|e| panic!("{scenario}: {e}"));
            // the narration wraps lines: compare with single spaces
            let log = String::from_utf8(log).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(r.connections, 3, "{log}");
            assert_eq!(r.server_tally.messages_sent, 3 * REQUESTS, "{log}");
            assert_eq!(r.client_tally.bytes_sent, r.server_tally.bytes_received, "{log}");
            assert!(log.contains("3 connections served, at most 3 in progress at the same time"), "{log}");
            assert!(log.contains(": interleaved, the connections were served side by side"), "{log}");
        }
    }
}
