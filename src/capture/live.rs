//! Live capture through libpcap: immediate mode or TPACKET_V3 blocks ([`Ring`]), a kernel
//! BPF filter, a large ring buffer, nanosecond timestamps, and a `-w` savefile that holds every record before its frame is shown.
//!
//! Two threads. The capture thread does nothing but drain libpcap into a bounded queue of
//! reusable batches ([`queue`]): frames are taken from the kernel's ring with pcap_dispatch and
//! copied into pcap records, and a batch is handed on when it is full, or when libpcap has
//! nothing more for the moment and the reading thread waits for one. The thread that reads this
//! [`Source`] (the pipeline's) takes a batch, writes all its records to the `-w` file in one
//! write(2), then yields its frames; so a record reaches the file before its frame's line is
//! shown, and the savefile costs one system call per batch instead of one per frame.
//!
//! Stopping: a signal handler thread or a timer calls [`Stopper::stop`]; the capture thread
//! (which waits for the interface with a 50 ms poll) then reads until libpcap holds nothing
//! more (with blocks: until no block has come for four block timeouts), hands its last batch
//! on and ends; the source yields what is queued, then ends.

mod queue;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pcap::{Active, Capture, Device, Precision};
use std::io::Write;

use super::{Next, PacketMeta, Source, SourceError};

pub use queue::WhenFull;

/// How to open a live capture.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Interface name, as `wireseam capture -D` lists it.
    pub iface: String,
    /// BPF filter expression (pcap-filter(7)), run in the kernel.
    pub filter: Option<String>,
    /// Bytes kept of each frame (tcpdump's `-s`).
    pub snaplen: i32,
    /// Put the interface into promiscuous mode.
    pub promisc: bool,
    /// Size of the kernel capture buffer (tcpdump's `-B`, in bytes here).
    pub buffer_bytes: i32,
    /// Savefile to write every captured frame to (tcpdump's `-w`; `-`: standard output).
    pub write: Option<PathBuf>,
    /// When the savefile is closed and the next one opened (tcpdump's `-C`, `-G`).
    pub rotate: Rotation,
}

/// Savefile rotation, as tcpdump's. `-C`: before a record is written, a file already larger
/// than `size` bytes is closed and the next opened: FILE, FILE1, FILE2, ... `-G`: a file is
/// closed `seconds` after it was opened; FILE is an strftime(3) pattern of the local time the
/// new file opens (without a % conversion, each file replaces the last, as with tcpdump).
/// Both: the pattern's name with the count after it, the count starting again at each -G turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// `-C`: bytes (tcpdump counts millions of bytes).
    pub size: Option<u64>,
    /// `-G`: seconds.
    pub seconds: Option<u64>,
}

/// Why a live capture cannot start; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN.
    #[error("no permission to capture on {iface}: run as root, or give the binary the capabilities with `sudo setcap cap_net_raw,cap_net_admin=eip {exe}` ({detail})")]
    Permission {
        /// The interface.
        iface: String,
        /// This program's path, for the setcap command.
        exe: String,
        /// libpcap's message.
        detail: String,
    },
    /// No interface has that name.
    #[error("no interface named `{iface}`; interfaces: {available} (list them with `wireseam capture -D`)")]
    NoSuchInterface {
        /// The name asked for.
        iface: String,
        /// The names that exist, comma-separated.
        available: String,
    },
    /// The filter expression does not compile.
    #[error("filter expression `{expr}`: {msg}")]
    Filter {
        /// The expression.
        expr: String,
        /// libpcap's message.
        msg: String,
    },
    /// The `-w` file cannot be created or written.
    #[error("-w {path}: {msg}")]
    Write {
        /// The file.
        path: String,
        /// What the system said.
        msg: String,
    },
    /// Anything else libpcap reports.
    #[error("capture on {iface}: {msg}")]
    Other {
        /// The interface.
        iface: String,
        /// libpcap's message.
        msg: String,
    },
}

/// Stops a running capture from another thread (signal handler thread, timer, demo driver).
#[derive(Clone, Default)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
}

impl Stopper {
    /// Ask the capture to stop: within one poll interval the capture thread reads what libpcap
    /// still holds, hands it on and ends. Safe to call from any thread, any number of times.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }
    /// True once [`stop`](Self::stop) has been called.
    pub fn stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Counts at the end of a capture: libpcap's, and the frames wireseam's own queue lost.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveStats {
    /// Packets the filter passed (`ps_recv`, pcap_stats(3PCAP)).
    pub received: u32,
    /// Packets dropped because the kernel buffer was full (`ps_drop`).
    pub dropped: u32,
    /// Packets dropped by the interface or its driver (`ps_ifdrop`).
    pub if_dropped: u32,
    /// Frames libpcap delivered that the queue to the annotating thread had no room for
    /// ([`WhenFull::Drop`]; always 0 with [`WhenFull::Block`]).
    pub queue_dropped: u64,
}

/// How libpcap hands the kernel's capture ring over (pcap_set_immediate_mode(3PCAP)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ring {
    /// Immediate mode: libpcap uses TPACKET_V2, one fixed-size ring slot per frame (sized for
    /// the snap length or the interface's MTU, whichever is smaller), each frame readable as
    /// soon as the kernel has put it there. On `lo` (MTU 65536) every slot is larger than
    /// 64 KiB, whatever the size of the frame in it. The default: every frame captured before
    /// a stop is read (see [`Ring::Blocks`]).
    #[default]
    Immediate,
    /// TPACKET_V3 (tcpdump's way, with a shorter timeout): frames packed one after another
    /// into blocks, each handed over when full or when its timeout ([`BLOCK_MS`]) expires, so a
    /// line can come up to about two timeouts late. Measured to lose far fewer frames than
    /// [`Ring::Immediate`] in loopback bursts (benches/README.md, "Live capture"), but on a
    /// TUN device in a network namespace (the lab's scripted peer) the last, partly filled
    /// block of a slow exchange was not handed over before the stop's drain ended, and its
    /// frames were lost: not the default (`WIRESEAM_LIVE_RING=blocks` selects it).
    Blocks,
}

/// The block timeout of [`Ring::Blocks`], in milliseconds.
pub const BLOCK_MS: i32 = 10;

/// The queue holds this many times the kernel buffer's size in records (256 MiB with the
/// default `-B 128`). Its memory is touched only as far as a burst fills it, and the batch given
/// back last is taken first, so a capture that keeps up uses a few batches. Measured on
/// loopback bursts (benches/README.md, "Live capture"): 256 MiB of queue never filled.
const QUEUE_PER_BUFFER: usize = 2;

/// Bytes of the queue made resident when the capture starts: the first two batches, which a
/// capture that keeps up fills and reuses. The rest fault their pages in when a burst first
/// reaches them, one fault per 2 MiB huge page (making all of the 256 MiB queue resident
/// would keep that much memory for the whole capture, for a burst that may never come).
const RESIDENT_BYTES: usize = 4 << 20;

/// How long the capture thread waits for the interface before it looks at the stop flag again.
const POLL_MS: i32 = 50;

/// Frames the capture thread takes from libpcap in one call, at most (between two looks at the
/// stop flag).
const DISPATCH_MAX: usize = 4096;

/// How long the capture thread waits for the interface while it holds a partly filled batch
/// that the annotating thread, busy with earlier ones, has not asked for yet: the longest a
/// frame waits, once that thread is idle, before it is handed on.
const HOLD_MS: i32 = 1;

/// What the capture thread ends with.
struct Ending {
    stats: LiveStats,
    error: Option<String>,
}

/// Where the capture is: opened (the handle waits for the first read, so that the thread starts
/// after privileges are dropped), running on its thread, or over.
enum Stage {
    Opened(Box<Capture<Active>>),
    Running { consumer: queue::Consumer, thread: std::thread::JoinHandle<Ending> },
    Over,
}

/// A live capture on one interface, read frame by frame as a [`Source`].
pub struct LiveSource {
    stage: Stage,
    ring: Ring,
    save: Option<RecordWriter>,
    linktype: u32,
    stop: Stopper,
    iface: String,
    bounds: queue::Bounds,
    when_full: WhenFull,
    stop_after: Option<u64>,
    /// The batch being yielded, and the index of its next frame.
    batch: Option<queue::Batch>,
    next: usize,
    /// The queue was found empty and [`Next::Again`] said so; the next read waits.
    idle_told: bool,
    /// libpcap's counts and the queue's drops, filled in when the source ends.
    pub stats: LiveStats,
}

fn interface_names() -> String {
    match Device::list() {
        Ok(devs) => devs.into_iter().map(|dev| dev.name).collect::<Vec<_>>().join(", "),
        Err(err) => format!("(cannot list: {err})"),
    }
}

/// `wireseam capture -D`: name, flags and addresses of every interface libpcap can open.
pub fn list_interfaces() -> Result<Vec<String>, String> {
    let devs = Device::list().map_err(|err| err.to_string())?;
    Ok(devs
        .into_iter()
        .enumerate()
        .map(|(i, dev)| {
            let mut flags = Vec::new();
            if dev.flags.is_up() {
                flags.push("up");
            }
            if dev.flags.is_running() {
                flags.push("running");
            }
            if dev.flags.is_loopback() {
                flags.push("loopback");
            }
            let addrs: Vec<String> = dev.addresses.iter().map(|addr| addr.addr.to_string()).collect();
            let mut line = format!("{}. {}", i + 1, dev.name);
            if let Some(desc) = &dev.desc {
                line += &format!(" ({desc})");
            }
            if !flags.is_empty() {
                line += &format!(" [{}]", flags.join(", "));
            }
            if !addrs.is_empty() {
                line += &format!(" {}", addrs.join(" "));
            }
            line
        })
        .collect())
}

impl LiveSource {
    /// Open `cfg.iface` with the default [`Ring`] and nanosecond timestamps, install the
    /// filter in the kernel and create the `-w` file. The capture thread starts at the first
    /// read.
    pub fn open(cfg: &LiveConfig) -> Result<Self, LiveError> {
        Self::open_with(cfg, Ring::default())
    }

    /// [`LiveSource::open`] with the kernel ring handed over as `ring` says.
    pub fn open_with(cfg: &LiveConfig, ring: Ring) -> Result<Self, LiveError> {
        let iface = cfg.iface.clone();
        let other = |err: pcap::Error| LiveError::Other { iface: iface.clone(), msg: err.to_string() };
        let known = Device::list().map(|devices| devices.iter().any(|dev| dev.name == cfg.iface)).unwrap_or(true);
        if !known {
            return Err(LiveError::NoSuchInterface { iface, available: interface_names() });
        }
        let inactive = Capture::from_device(cfg.iface.as_str()).map_err(other)?;
        let inactive = match ring {
            Ring::Immediate => inactive.immediate_mode(true),
            Ring::Blocks => inactive.immediate_mode(false).timeout(BLOCK_MS),
        };
        let mut cap = inactive
            .promisc(cfg.promisc)
            .snaplen(cfg.snaplen)
            .buffer_size(cfg.buffer_bytes)
            .precision(Precision::Nano)
            .open()
            .map_err(|err| classify_open_error(&iface, err))?;
        if let Some(expr) = &cfg.filter {
            cap.filter(expr, true).map_err(|err| LiveError::Filter {
                expr: expr.clone(),
                msg: err.to_string().trim_start_matches("libpcap error: ").to_string(),
            })?;
        }
        let linktype = cap.get_datalink().0 as u32;
        let save = match &cfg.write {
            Some(path) => Some(
                RecordWriter::rotating(path, linktype, cfg.snaplen as u32, cfg.rotate)
                    .map_err(|err| LiveError::Write { path: path.display().to_string(), msg: err.to_string() })?,
            ),
            None => None,
        };
        Ok(LiveSource {
            stage: Stage::Opened(Box::new(cap)),
            ring,
            save,
            linktype,
            stop: Stopper::default(),
            iface,
            bounds: queue::Bounds::for_bytes(
                QUEUE_PER_BUFFER * cfg.buffer_bytes.max(0) as usize,
                cfg.snaplen.max(0) as usize,
                RESIDENT_BYTES,
            ),
            when_full: WhenFull::default(),
            stop_after: None,
            batch: None,
            next: 0,
            idle_told: false,
            stats: LiveStats::default(),
        })
    }

    /// A handle that stops this capture from another thread.
    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// The interface's link type (LINKTYPE_* number).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Stop capturing after `count` frames (`-c`): the capture thread takes no more from
    /// libpcap, so the `-w` file holds exactly those. Call before the first read.
    pub fn stop_after(&mut self, count: Option<u64>) {
        self.stop_after = count;
    }

    /// What the capture thread does when the queue is full (the default: wait). Call before
    /// the first read.
    pub fn when_full(&mut self, when_full: WhenFull) {
        self.when_full = when_full;
    }

    /// Start the capture thread on the opened handle, if it is not running yet (the first read
    /// does it otherwise). Started while the process may still raise priorities (root), the
    /// thread runs at nice [`CAPTURE_NICE`].
    pub fn start(&mut self) {
        let Stage::Opened(cap) = std::mem::replace(&mut self.stage, Stage::Over) else { return };
        let (producer, consumer) = match queue::queue(self.bounds, self.when_full) {
            Ok(ends) => ends,
            Err(err) => {
                let msg = format!(
                    "capture on {}: cannot map {} MiB for the capture queue ({err}); give a smaller -B",
                    self.iface,
                    (self.bounds.batches * self.bounds.batch_bytes) >> 20
                );
                // an ended queue, so that the source reports the error at its next read
                let (_, consumer) = queue::queue(queue::Bounds { batches: 0, batch_bytes: 0, resident: 0 }, self.when_full)
                    .expect("an empty queue maps nothing");
                self.stage = Stage::Running {
                    consumer,
                    thread: std::thread::spawn(move || Ending { stats: LiveStats::default(), error: Some(msg) }),
                };
                return;
            }
        };
        let stop = self.stop.clone();
        let limit = self.stop_after;
        let iface = self.iface.clone();
        let ring = self.ring;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("capture".into()).spawn(move || {
            raise_priority();
            let _ = ready_tx.send(());
            capture_thread(*cap, ring, producer, &stop, limit, &iface)
        });
        match spawned {
            Ok(thread) => {
                // the priority is raised before the caller goes on (and drops privileges)
                let _ = ready_rx.recv();
                self.stage = Stage::Running { consumer, thread };
            }
            Err(err) => {
                let msg = format!("capture on {}: cannot start the capture thread: {err}", self.iface);
                self.stage = Stage::Running {
                    consumer,
                    thread: std::thread::spawn(move || Ending { stats: LiveStats::default(), error: Some(msg) }),
                };
            }
        }
    }

    /// Wait for the capture thread and keep its counts; its error, if it had one.
    fn finish(&mut self) -> Option<String> {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Running { consumer, thread } => {
                // the thread sees the queue gone at its next hand-on and ends without draining
                self.stop.stop();
                drop(consumer);
                match thread.join() {
                    Ok(ending) => {
                        self.stats = ending.stats;
                        ending.error
                    }
                    Err(_) => Some(format!("capture on {}: the capture thread panicked", self.iface)),
                }
            }
            Stage::Opened(mut cap) => {
                self.stats = pcap_counts(&mut cap, 0);
                None
            }
            Stage::Over => None,
        }
    }
}

/// libpcap's counts, with the queue's drops beside them.
fn pcap_counts(cap: &mut Capture<Active>, queue_dropped: u64) -> LiveStats {
    match cap.stats() {
        Ok(counts) => LiveStats { received: counts.received, dropped: counts.dropped, if_dropped: counts.if_dropped, queue_dropped },
        Err(_) => LiveStats { queue_dropped, ..LiveStats::default() },
    }
}

/// The capture thread's nice value when the process may raise it (CAP_SYS_NICE, as root): the
/// thread that empties the kernel buffer runs before the annotation and the traffic's own
/// programs, which can wait (its own work is a copy per frame).
pub const CAPTURE_NICE: i32 = -10;

/// Give the calling thread [`CAPTURE_NICE`] (Linux: the nice value is per thread); without the
/// right to, it stays as it is.
#[allow(unsafe_code)]
fn raise_priority() {
    // SAFETY: a plain system call on the calling thread (who = 0).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, CAPTURE_NICE);
    }
}

/// Wait until the capture's descriptor is readable or `ms` milliseconds have passed; true when
/// it is readable (or the wait was interrupted: the caller reads again).
#[allow(unsafe_code)]
fn wait_readable(fd: std::os::unix::io::RawFd, ms: i32) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, for a descriptor the capture handle keeps open.
    let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
    ready != 0
}

/// The capture thread: read libpcap without blocking, queue every frame, hand the batch on
/// whenever libpcap has nothing more, wait for the interface, stop on request once libpcap is
/// drained, after `limit` frames, or when the reading side is gone.
fn capture_thread(
    cap: Capture<Active>,
    ring: Ring,
    mut producer: queue::Producer,
    stop: &Stopper,
    limit: Option<u64>,
    iface: &str,
) -> Ending {
    use std::os::unix::io::AsRawFd;
    let mut cap = match cap.setnonblock() {
        Ok(cap) => cap,
        Err(err) => return Ending { stats: LiveStats::default(), error: Some(format!("capture on {iface}: {err}")) },
    };
    let fd = cap.as_raw_fd();
    let mut taken = 0u64;
    let mut error = None;
    loop {
        let room = limit.map_or(DISPATCH_MAX, |limit| limit.saturating_sub(taken).min(DISPATCH_MAX as u64) as usize);
        if room == 0 {
            break;
        }
        // looked at before the read: a stop ends the loop at the first read that finds nothing
        let stopping = stop.stopped();
        let mut gone = false;
        // pcap_dispatch(3PCAP) hands each frame over where it lies in the kernel's ring and
        // gives its slot back after the copy into the batch (pcap_next_ex copies every frame
        // once more, into a buffer of libpcap's, and costs a call per frame)
        let read = cap.dispatch(Some(room), |packet| {
            let header = packet.header;
            gone = gone || producer.push(header.ts.tv_sec, header.ts.tv_usec, header.len, packet.data).is_err();
        });
        match read {
            Ok(0) => {
                // a non-blocking read found nothing: libpcap holds no frame now
                let holding = if stopping { producer.flush().map(|()| false) } else { producer.offer() };
                let Ok(holding) = holding else { break };
                if !stopping {
                    wait_readable(fd, if holding { HOLD_MS } else { POLL_MS });
                } else if ring == Ring::Immediate || !wait_readable(fd, 4 * BLOCK_MS) {
                    // drained: with blocks, the kernel hands a partly filled block over within
                    // about two timeouts (it closes a block that was active at two successive
                    // timer expiries), so four without a block mean there is none
                    break;
                }
            }
            Ok(frames) => {
                taken += frames as u64;
                if gone {
                    break;
                }
            }
            Err(err) => {
                error = Some(format!("capture on {iface}: {err}"));
                break;
            }
        }
    }
    let _ = producer.flush();
    Ending { stats: pcap_counts(&mut cap, producer.dropped()), error }
}

/// The [`LiveError`] that says what to do about a failed open.
fn classify_open_error(iface: &str, err: pcap::Error) -> LiveError {
    let msg = err.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        let exe = std::env::current_exe().map(|path| path.display().to_string()).unwrap_or_else(|_| "wireseam".into());
        LiveError::Permission { iface: iface.to_string(), exe, detail: msg }
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        LiveError::NoSuchInterface { iface: iface.to_string(), available: interface_names() }
    } else {
        LiveError::Other { iface: iface.to_string(), msg }
    }
}

impl Drop for LiveSource {
    /// A source dropped before its end (an error after it started) stops its capture thread.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl Source for LiveSource {
    fn next_packet(&mut self) -> Next<'_> {
        // Batches are taken and written here; the frame is borrowed only at the end.
        loop {
            if self.batch.as_ref().is_some_and(|batch| self.next < batch.len()) {
                break;
            }
            let consumer = match &self.stage {
                Stage::Running { consumer, .. } => consumer,
                Stage::Opened(_) => {
                    self.start();
                    continue;
                }
                Stage::Over => return Next::End,
            };
            if let Some(done) = self.batch.take() {
                consumer.give_back(done);
            }
            let taken = match consumer.try_take() {
                queue::Taken::Empty if !self.idle_told => {
                    // said once, so that the reader can flush its output before the wait
                    self.idle_told = true;
                    return Next::Again;
                }
                queue::Taken::Empty => consumer.take(),
                taken => taken,
            };
            match taken {
                queue::Taken::Batch(batch) => {
                    self.idle_told = false;
                    if let Some(writer) = self.save.as_mut() {
                        // every record of the batch reaches the file before any of its frames is shown
                        if let Err(err) = writer.write_batch(&batch) {
                            consumer.give_back(batch);
                            return Next::Err(SourceError::Live(format!("-w: {err}")));
                        }
                    }
                    self.batch = Some(batch);
                    self.next = 0;
                }
                queue::Taken::Empty | queue::Taken::Ended => {
                    return match self.finish() {
                        Some(msg) => Next::Err(SourceError::Live(msg)),
                        None => Next::End,
                    };
                }
            }
        }
        let Some(batch) = self.batch.as_ref() else { return Next::End };
        let (slot, data) = batch.frame(self.next);
        self.next += 1;
        let meta = PacketMeta {
            ts_ns: slot.ts_ns,
            caplen: slot.caplen,
            len: slot.len,
            linktype: self.linktype,
            iface: 0,
            nanos: true,
            stamped: true,
            file: 0,
        };
        Next::Packet(meta, data)
    }

    fn linktype_hint(&self) -> u32 {
        self.linktype
    }

    fn end(&mut self) {
        let _ = self.finish();
    }
}

/// A nanosecond pcap written a batch of whole records per write(2), before the batch's frames
/// are shown. libpcap's `pcap_dump` goes through a stdio buffer that holds records back. Here
/// the records of a batch reach the kernel before any of its frames is annotated: a crash
/// loses nothing that was shown, and a SIGKILL can cut only the batch being written (the
/// kernel ends a write(2) early at a page boundary on a fatal signal), which readers report as
/// a cut-short last record after reading every record before it.
pub struct RecordWriter {
    file: Box<dyn Write + Send>,
    /// Rotation, and what it needs: the -w name, the header fields, bytes in the current file,
    /// its count within the -G turn, when the turn began (seconds since the epoch).
    rotate: Rotation,
    pattern: PathBuf,
    linktype: u32,
    snaplen: u32,
    size: u64,
    count: u64,
    turn: i64,
}

/// The local time `secs` through strftime(3) `pattern` (tcpdump's `-G` file names): libc's
/// own strftime, so every conversion means what it means to tcpdump.
#[allow(unsafe_code)]
fn strftime(pattern: &std::path::Path, secs: i64) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_pattern) = std::ffi::CString::new(pattern.as_os_str().as_bytes()) else { return pattern.to_path_buf() };
    // SAFETY: libc::tm is plain integers (and a pointer localtime_r sets): all zeros is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = secs as libc::time_t;
    let mut buf = vec![0u8; pattern.as_os_str().len() * 4 + 256];
    // SAFETY: localtime_r fills `tm` from `t`; strftime writes at most buf.len() bytes into
    // buf and returns how many (0: did not fit, the pattern is kept).
    let n = unsafe {
        if libc::localtime_r(&t, &mut tm).is_null() {
            return pattern.to_path_buf();
        }
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c_pattern.as_ptr(), &tm)
    };
    if n == 0 {
        return pattern.to_path_buf();
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(&buf[..n]))
}

impl RecordWriter {
    /// Create the first file of `pattern` (see [`Rotation`]), with its header.
    pub fn rotating(pattern: &std::path::Path, linktype: u32, snaplen: u32, rotate: Rotation) -> std::io::Result<Self> {
        let turn = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let mut w = RecordWriter::create(&Self::name(pattern, rotate, turn, 0), linktype, snaplen)?;
        w.rotate = rotate;
        w.pattern = pattern.to_path_buf();
        w.turn = turn;
        Ok(w)
    }

    /// File `count` of the -G turn that began at `turn`.
    fn name(pattern: &std::path::Path, rotate: Rotation, turn: i64, count: u64) -> PathBuf {
        let base = if rotate.seconds.is_some() { strftime(pattern, turn) } else { pattern.to_path_buf() };
        if count == 0 {
            return base;
        }
        let mut name = base.into_os_string();
        name.push(count.to_string());
        name.into()
    }

    /// Whether -C or -G closes the current file before a record of time `sec`: the -G turn is
    /// over, or the file is already larger than -C.
    fn rotation_due(&self, sec: i64) -> bool {
        self.rotate.seconds.is_some_and(|g| sec >= self.turn + g as i64) || self.rotate.size.is_some_and(|c| self.size > c)
    }

    /// Close the current file and open the next before a record of time `sec`, when -C or -G
    /// says so.
    fn rotate_before(&mut self, sec: i64) -> std::io::Result<()> {
        let turn_over = self.rotate.seconds.is_some_and(|g| sec >= self.turn + g as i64);
        if !self.rotation_due(sec) {
            return Ok(());
        }
        if turn_over {
            // the next turn begins at the boundary the record passed (tcpdump: the time now)
            let g = self.rotate.seconds.unwrap_or(1).max(1) as i64;
            self.turn += (sec - self.turn) / g * g;
            self.count = 0;
        } else {
            self.count += 1;
        }
        self.file.flush()?;
        let next = RecordWriter::create(&Self::name(&self.pattern, self.rotate, self.turn, self.count), self.linktype, self.snaplen)?;
        self.file = next.file;
        self.size = 24;
        Ok(())
    }

    /// Create `path` (`-`: standard output) and write the file header (nanosecond pcap,
    /// version 2.4).
    pub fn create(path: &std::path::Path, linktype: u32, snaplen: u32) -> std::io::Result<Self> {
        let mut file: Box<dyn Write + Send> =
            if path.as_os_str() == "-" { Box::new(std::io::stdout()) } else { Box::new(std::fs::File::create(path)?) };
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond timestamps
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&snaplen.to_le_bytes());
        header.extend_from_slice(&linktype.to_le_bytes());
        file.write_all(&header)?;
        Ok(RecordWriter { file, rotate: Rotation::default(), pattern: path.to_path_buf(), linktype, snaplen, size: 24, count: 0, turn: 0 })
    }

    /// Append every record of `batch`: in one write(2) when the file does not rotate, else
    /// in one write per run of records that go to the same file.
    fn write_batch(&mut self, batch: &queue::Batch) -> std::io::Result<()> {
        if self.rotate == Rotation::default() {
            self.size += batch.records().len() as u64;
            self.file.write_all(batch.records())?;
            return self.file.flush();
        }
        let mut from = 0;
        for i in 0..batch.len() {
            let (slot, data) = batch.frame(i);
            let sec = slot.ts_ns.div_euclid(1_000_000_000);
            if self.rotation_due(sec) {
                self.file.write_all(batch.records_of(from, i))?;
                self.rotate_before(sec)?;
                from = i;
            }
            self.size += (queue::RECORD_HEADER + data.len()) as u64;
        }
        self.file.write_all(batch.records_of(from, batch.len()))?;
        self.file.flush()
    }
}

/// Drop root after the handle (and the -w file) are open: supplementary groups, gid, uid, then
/// no_new_privs. A process that changes uid from 0 loses its capabilities (no keep-caps).
pub fn drop_privileges(user: &str) -> Result<Option<(u32, u32)>, String> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, User};
    if !getuid().is_root() || user == "root" {
        return Ok(None);
    }
    let account = User::from_name(user)
        .map_err(|err| format!("--user {user}: {err}"))?
        .ok_or_else(|| format!("--user {user}: no such user (give an existing unprivileged user, or `--user root` to keep root)"))?;
    setgroups(&[account.gid]).map_err(|err| format!("setgroups: {err}"))?;
    setgid(account.gid).map_err(|err| format!("setgid: {err}"))?;
    setuid(account.uid).map_err(|err| format!("setuid: {err}"))?;
    nix::sys::prctl::set_no_new_privs().map_err(|err| format!("no_new_privs: {err}"))?;
    Ok(Some((account.uid.as_raw(), account.gid.as_raw())))
}

/// The default unprivileged user to become: `nobody` when it exists.
pub fn default_user() -> Option<String> {
    nix::unistd::User::from_name("nobody").ok().flatten().map(|account| account.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of `frames` frames of `len` bytes each (byte i of frame n is n), one second apart.
    fn batch_of(frames: u8, len: usize) -> queue::Batch {
        let (mut producer, consumer) = queue::queue(queue::Bounds { batches: 1, batch_bytes: 4096, resident: 1 }, WhenFull::Block).unwrap();
        for n in 0..frames {
            producer.push(i64::from(n), 5, len as u32, &vec![n; len]).unwrap();
        }
        producer.flush().unwrap();
        match consumer.try_take() {
            queue::Taken::Batch(batch) => batch,
            _ => panic!("the batch was handed on"),
        }
    }

    #[test]
    fn a_batch_goes_to_the_file_as_its_records_and_rotates_by_size() {
        let dir = std::env::temp_dir().join(format!("wireseam-batch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("plain.pcap");
        let mut writer = RecordWriter::rotating(&plain, 1, 262_144, Rotation::default()).unwrap();
        let batch = batch_of(3, 60);
        writer.write_batch(&batch).unwrap();
        let bytes = std::fs::read(&plain).unwrap();
        assert_eq!(bytes.len(), 24 + 3 * (16 + 60));
        assert_eq!(&bytes[24..], batch.records());
        // -C 100: a file past 100 bytes is closed before the next record
        let ring = dir.join("ring.pcap");
        let mut writer = RecordWriter::rotating(&ring, 1, 262_144, Rotation { size: Some(100), seconds: None }).unwrap();
        writer.write_batch(&batch).unwrap();
        let first = std::fs::read(&ring).unwrap();
        let second = std::fs::read(dir.join("ring.pcap1")).unwrap();
        assert_eq!(first.len(), 24 + 2 * 76, "24 + 76 = 100 is not past 100: the second record still goes in");
        assert_eq!(&first[24..], batch.records_of(0, 2));
        assert_eq!(&second[24..], batch.records_of(2, 3));
        assert_eq!(&second[..24], &first[..24], "each file has the header");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
