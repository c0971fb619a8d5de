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

#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub iface: String,
    pub filter: Option<String>,
    pub snaplen: i32,
    pub promisc: bool,
    pub buffer_bytes: i32,
    pub write: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no permission to capture on {iface}: run as root, or give the binary the capabilities with `sudo setcap cap_net_raw,cap_net_admin=eip {exe}` ({detail})")]
    Permission { iface: String, exe: String, detail: String },
    #[error("no interface named `{iface}`; interfaces: {available} (list them with `wireseam capture -D`)")]
    NoSuchInterface { iface: String, available: String },
    #[error("filter expression `{expr}`: {msg}")]
    Filter { expr: String, msg: String },
    #[error("-w {path}: {msg}")]
    Write { path: String, msg: String },
    #[error("capture on {iface}: {msg}")]
    Other { iface: String, msg: String },
}

/// Stops a running capture from another thread (signal handler thread, timer, demo driver).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    brk: Arc<BreakLoop>,
}

impl Stopper {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.brk.breakloop();
    }
    pub fn stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Counts from libpcap at the end of a capture.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveStats {
    pub received: u32,
    pub dropped: u32,
    pub if_dropped: u32,
}

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
    pub stats: LiveStats,
}

fn interface_names() -> String {
    match Device::list() {
        Ok(devs) => devs.into_iter().map(|d| d.name).collect::<Vec<_>>().join(", "),
        Err(e) => format!("(cannot list: {e})"),
    }
}

/// `wireseam capture -D`: name, flags and addresses of every interface libpcap can open.
pub fn list_interfaces() -> Result<Vec<String>, String> {
    let devs = Device::list().map_err(|e| e.to_string())?;
    Ok(devs
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("up");
            }
            if d.flags.is_running() {
                flags.push("running");
            }
            if d.flags.is_loopback() {
                flags.push("loopback");
            }
            let addrs: Vec<String> = d.addresses.iter().map(|a| a.addr.to_string()).collect();
            let mut line = format!("{}. {}", i + 1, d.name);
            if let Some(desc) = &d.desc {
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
    pub fn open(cfg: &LiveConfig) -> Result<Self, LiveError> {
        let iface = cfg.iface.clone();
        let other = |e: pcap::Error| LiveError::Other { iface: iface.clone(), msg: e.to_string() };
        let known = Device::list().map(|l| l.iter().any(|d| d.name == cfg.iface)).unwrap_or(true);
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
            .map_err(|e| classify_open_error(&iface, e))?;
        if let Some(expr) = &cfg.filter {
            cap.filter(expr, true).map_err(|e| LiveError::Filter {
                expr: expr.clone(),
                msg: e.to_string().trim_start_matches("libpcap error: ").to_string(),
            })?;
        }
        let linktype = cap.get_datalink().0 as u32;
        let save = match &cfg.write {
            Some(path) => Some(
                RecordWriter::create(path, linktype, cfg.snaplen as u32)
                    .map_err(|e| LiveError::Write { path: path.display().to_string(), msg: e.to_string() })?,
            ),
            None => None,
        };
        let brk = Arc::new(cap.breakloop_handle());
        Ok(LiveSource {
            cap: Some(cap),
            save,
            linktype,
            nanos: true,
            draining: false,
            drained: false,
            break_seen: false,
            finished: false,
            stop: Stopper { flag: Arc::new(AtomicBool::new(false)), brk },
            iface,
            stats: LiveStats::default(),
        })
    }

    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    fn finish_stats(&mut self) {
        if let Some(cap) = self.cap.as_mut() {
            if let Ok(s) = cap.stats() {
                self.stats = LiveStats { received: s.received, dropped: s.dropped, if_dropped: s.if_dropped };
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

fn classify_open_error(iface: &str, e: pcap::Error) -> LiveError {
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "wireseam".into());
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
            if let Err(e) = self.start_draining() {
                return Next::Err(SourceError::Live(e.to_string()));
            }
        }
        let LiveSource { cap, save, linktype, nanos, draining, iface, drained, break_seen, .. } = self;
        let Some(cap) = cap.as_mut() else { return Next::End };
        match cap.next_packet() {
            Ok(p) => {
                let h = p.header;
                if let Some(s) = save.as_mut() {
                    // The record reaches the file before the frame is shown, in one write(2).
                    if let Err(e) = s.record(h.ts.tv_sec, h.ts.tv_usec, h.len, p.data) {
                        return Next::Err(SourceError::Live(format!("-w: {e}")));
                    }
                }
                let ts_ns = h.ts.tv_sec * 1_000_000_000 + h.ts.tv_usec;
                let meta = PacketMeta { ts_ns, caplen: h.caplen, len: h.len, linktype: *linktype, iface: 0, nanos: *nanos };
                Next::Packet(meta, p.data)
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
            Err(e) => Next::Err(SourceError::Live(format!("capture on {iface}: {e}"))),
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
    file: std::fs::File,
    buf: Vec<u8>,
}

impl RecordWriter {
    pub fn create(path: &std::path::Path, linktype: u32, snaplen: u32) -> std::io::Result<Self> {
        let mut file = std::fs::File::create(path)?;
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond timestamps
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        file.write_all(&h)?;
        Ok(RecordWriter { file, buf: Vec::with_capacity(65_536 + 16) })
    }

    pub fn record(&mut self, sec: i64, nsec: i64, wire_len: u32, data: &[u8]) -> std::io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(&(sec as u32).to_le_bytes());
        self.buf.extend_from_slice(&(nsec as u32).to_le_bytes());
        self.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&wire_len.to_le_bytes());
        self.buf.extend_from_slice(data);
        self.file.write_all(&self.buf)
    }
}

/// Drop root after the handle (and the -w file) are open: supplementary groups, gid, uid, then
/// no_new_privs. A process that changes uid from 0 loses its capabilities (no keep-caps).
pub fn drop_privileges(user: &str) -> Result<Option<(u32, u32)>, String> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, User};
    if !getuid().is_root() || user == "root" {
        return Ok(None);
    }
    let u = User::from_name(user)
        .map_err(|e| format!("--user {user}: {e}"))?
        .ok_or_else(|| format!("--user {user}: no such user (give an existing unprivileged user, or `--user root` to keep root)"))?;
    setgroups(&[u.gid]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(u.gid).map_err(|e| format!("setgid: {e}"))?;
    setuid(u.uid).map_err(|e| format!("setuid: {e}"))?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    Ok(Some((u.uid.as_raw(), u.gid.as_raw())))
}

/// The default unprivileged user to become: `nobody` when it exists.
pub fn default_user() -> Option<String> {
    nix::unistd::User::from_name("nobody").ok().flatten().map(|u| u.name)
}
