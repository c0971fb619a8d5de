//! Live capture through libpcap: immediate mode, a kernel BPF filter, a large ring buffer,
//! nanosecond timestamps, `-w` savefile flushed per packet, stop on request with nothing lost.
//!
//! Stopping: a signal handler thread or a timer calls [`Stopper::stop`], which calls
//! `pcap_breakloop`; the blocked read returns, the handle switches to non-blocking mode and
//! everything libpcap still holds is drained before the source reports its end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pcap::{Active, BreakLoop, Capture, Device, Precision};
use std::io::Write;

use super::{Next, PacketMeta, Source, SourceError};

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
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    break_loop: Arc<BreakLoop>,
}

impl Stopper {
    /// Ask the capture to stop: the blocked read returns, and the source drains what libpcap
    /// still holds before it ends. Safe to call from any thread, any number of times.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.break_loop.breakloop();
    }
    /// True once [`stop`](Self::stop) has been called.
    pub fn stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Counts from libpcap at the end of a capture.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveStats {
    /// Packets the filter passed (`ps_recv`, pcap_stats(3PCAP)).
    pub received: u32,
    /// Packets dropped because the kernel buffer was full (`ps_drop`).
    pub dropped: u32,
    /// Packets dropped by the interface or its driver (`ps_ifdrop`).
    pub if_dropped: u32,
}

/// A live capture on one interface, read frame by frame as a [`Source`].
pub struct LiveSource {
    cap: Option<Capture<Active>>,
    save: Option<RecordWriter>,
    linktype: u32,
    nanos: bool,
    draining: bool,
    drained: bool,
    break_seen: bool,
    finished: bool,
    stop: Stopper,
    iface: String,
    /// libpcap's counts, filled in when the source ends.
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
    /// Open `cfg.iface` in immediate mode with nanosecond timestamps, install the filter in the
    /// kernel and create the `-w` file.
    pub fn open(cfg: &LiveConfig) -> Result<Self, LiveError> {
        let iface = cfg.iface.clone();
        let other = |err: pcap::Error| LiveError::Other { iface: iface.clone(), msg: err.to_string() };
        let known = Device::list().map(|devices| devices.iter().any(|dev| dev.name == cfg.iface)).unwrap_or(true);
        if !known {
            return Err(LiveError::NoSuchInterface { iface, available: interface_names() });
        }
        let inactive = Capture::from_device(cfg.iface.as_str()).map_err(other)?;
        let mut cap = inactive
            .immediate_mode(true)
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
        let break_loop = Arc::new(cap.breakloop_handle());
        Ok(LiveSource {
            cap: Some(cap),
            save,
            linktype,
            nanos: true,
            draining: false,
            drained: false,
            break_seen: false,
            finished: false,
            stop: Stopper { flag: Arc::new(AtomicBool::new(false)), break_loop },
            iface,
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

    fn finish_stats(&mut self) {
        if let Some(cap) = self.cap.as_mut() {
            if let Ok(counts) = cap.stats() {
                self.stats = LiveStats { received: counts.received, dropped: counts.dropped, if_dropped: counts.if_dropped };
            }
        }
    }

    /// Switch to non-blocking reads to drain what libpcap still holds.
    fn start_draining(&mut self) -> Result<(), pcap::Error> {
        self.draining = true;
        if let Some(cap) = self.cap.take() {
            self.cap = Some(cap.setnonblock()?);
        }
        Ok(())
    }
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

impl Source for LiveSource {
    fn next_packet(&mut self) -> Next<'_> {
        // Work that needs the whole handle happens here, before a packet borrow is taken
        // (a packet returned from the read below borrows the handle).
        if self.finished {
            return Next::End;
        }
        if self.drained {
            self.finish_stats();
            self.finished = true;
            return Next::End;
        }
        if (self.stop.stopped() || self.break_seen) && !self.draining {
            if let Err(err) = self.start_draining() {
                return Next::Err(SourceError::Live(err.to_string()));
            }
        }
        let LiveSource { cap, save, linktype, nanos, draining, iface, drained, break_seen, .. } = self;
        let Some(cap) = cap.as_mut() else { return Next::End };
        match cap.next_packet() {
            Ok(packet) => {
                let header = packet.header;
                if let Some(writer) = save.as_mut() {
                    // The record reaches the file before the frame is shown, in one write(2).
                    if let Err(err) = writer.record(header.ts.tv_sec, header.ts.tv_usec, header.len, packet.data) {
                        return Next::Err(SourceError::Live(format!("-w: {err}")));
                    }
                }
                let ts_ns = header.ts.tv_sec * 1_000_000_000 + header.ts.tv_usec;
                let meta = PacketMeta {
                    ts_ns,
                    caplen: header.caplen,
                    len: header.len,
                    linktype: *linktype,
                    iface: 0,
                    nanos: *nanos,
                    stamped: true,
                    file: 0,
                };
                Next::Packet(meta, packet.data)
            }
            Err(pcap::Error::TimeoutExpired) => {
                if *draining {
                    *drained = true;
                }
                Next::Again
            }
            Err(pcap::Error::NoMorePackets) => {
                // pcap_breakloop returned the read: drain on the next call, then end
                *break_seen = true;
                Next::Again
            }
            Err(err) => Next::Err(SourceError::Live(format!("capture on {iface}: {err}"))),
        }
    }

    fn linktype_hint(&self) -> u32 {
        self.linktype
    }

    fn end(&mut self) {
        if !self.finished {
            self.finish_stats();
            self.finished = true;
        }
    }
}

/// A nanosecond pcap written one whole record per write(2), before the frame is shown.
/// libpcap's `pcap_dump` goes through a stdio buffer that holds records back and splits large
/// ones across writes. Here a record reaches the kernel at once: a crash loses nothing that
/// was shown, and a SIGKILL can cut at most the record being written (the kernel ends a
/// write(2) early at a page boundary on a fatal signal), which readers report as a cut-short
/// last record after reading every record before it.
pub struct RecordWriter {
    file: Box<dyn Write + Send>,
    buf: Vec<u8>,
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

    /// Close the current file and open the next before a record of time `sec`, when -C or -G
    /// says so.
    fn rotate_before(&mut self, sec: i64) -> std::io::Result<()> {
        let turn_over = self.rotate.seconds.is_some_and(|g| sec >= self.turn + g as i64);
        let full = self.rotate.size.is_some_and(|c| self.size > c);
        if !turn_over && !full {
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
        Ok(RecordWriter {
            file,
            buf: Vec::with_capacity(65_536 + 16),
            rotate: Rotation::default(),
            pattern: path.to_path_buf(),
            linktype,
            snaplen,
            size: 24,
            count: 0,
            turn: 0,
        })
    }

    /// Append one record: timestamp, captured and original length, captured bytes.
    pub fn record(&mut self, sec: i64, nsec: i64, wire_len: u32, data: &[u8]) -> std::io::Result<()> {
        if self.rotate != Rotation::default() {
            self.rotate_before(sec)?;
        }
        self.buf.clear();
        self.buf.extend_from_slice(&(sec as u32).to_le_bytes());
        self.buf.extend_from_slice(&(nsec as u32).to_le_bytes());
        self.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&wire_len.to_le_bytes());
        self.buf.extend_from_slice(data);
        self.size += self.buf.len() as u64;
        self.file.write_all(&self.buf)?;
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
