//! `wireseam gen SCENARIO --lab`: a private network that looks like a real one. Two network
//! namespaces joined by a veth pair (`eth0` in each, MTU 1500, segmentation and checksum
//! offloads off, so every segment on the wire is at most one MSS and carries its real
//! checksum), the server in one, the client in the other, a capture on the client's `eth0`
//! that starts before the first packet (so the ARP exchange is in it), then the annotated
//! capture. The scripted-peer scenarios ([`Scenario::needs_peer`]) get one namespace with a
//! TUN device `tun0` instead: the kernel on 198.19.0.1, wireseam's peer answering for 198.19.0.2.
//!
//! Everything is removed when the run ends, fails, panics or is interrupted (see [`netns`]).

mod lifetimes;
pub mod netns;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::capture::live::{LiveConfig, LiveError, LiveSource};
use crate::capture::mem::MemSource;
use crate::gen::{self, peer, GenConfig, GenError, GenReport, Role, Scenario};
use crate::output::conns::ConnsSink;
use crate::output::style::{ColorMode, Palette};
use crate::output::text::{TextOptions, TextSink};
use crate::pipeline::{self, PacketView, ReadOptions, Sink};

pub use netns::{LabError, Netns};

/// The client's address in the veth lab.
pub const CLIENT_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 19, 0, 1);
/// The server's address in the veth lab.
pub const SERVER_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 19, 0, 2);
/// How long the capture goes on after the scenario, for its last packets.
const DRAIN: Duration = Duration::from_millis(300);

/// A lab run: the scenario and what shapes the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabConfig {
    /// The scenario and its options (address, port and role are the lab's).
    pub gen: GenConfig,
    /// Rate limit of the link in each direction (tc tbf syntax: `1mbit`, `500kbit`).
    pub rate: Option<String>,
    /// One-way delay added in each direction (needs the kernel's netem).
    pub delay: Option<Duration>,
    /// Write the capture to this pcap file instead of printing it.
    pub write: Option<PathBuf>,
    /// `--color`.
    pub color: ColorMode,
}

/// Why a lab run failed.
#[derive(Debug, thiserror::Error)]
pub enum LabRunError {
    /// Setting up the namespaces or devices.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// The scenario itself.
    #[error(transparent)]
    Gen(#[from] GenError),
    /// The capture.
    #[error(transparent)]
    Capture(#[from] LiveError),
    /// Writing the output.
    #[error("writing the output: {0}")]
    Io(#[from] io::Error),
}

/// Records frames of the live capture for the annotated listing.
struct Recorder(Arc<Mutex<MemSource>>);

impl Sink for Recorder {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        if let Ok(mut frames) = self.0.lock() {
            frames.push(view.meta, view.raw);
        }
        Ok(())
    }
}

/// A writer that sends whole paragraphs (a line and its indented continuation lines) to the
/// printing thread, so that two sides' narration interleaves only between paragraphs.
struct Lines {
    tx: mpsc::Sender<String>,
    partial: Vec<u8>,
    paragraph: String,
    /// Lines to leave out (the scenario's title, said once by the lab; "done in").
    skip_title: Option<String>,
}

impl Lines {
    fn new(tx: mpsc::Sender<String>, skip_title: Option<String>) -> Lines {
        Lines { tx, partial: Vec::new(), paragraph: String::new(), skip_title }
    }

    fn send_paragraph(&mut self) {
        if !self.paragraph.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.paragraph));
        }
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(at) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if line.starts_with("done in ") || self.skip_title.as_ref().is_some_and(|t| line.starts_with(t.as_str())) {
                continue;
            }
            if line.starts_with("        ") && !self.paragraph.is_empty() {
                self.paragraph.push('\n');
                self.paragraph.push_str(&line);
            } else {
                self.send_paragraph();
                self.paragraph = line;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send_paragraph();
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.send_paragraph();
    }
}

/// The veth pair and its two namespaces: `eth0` in each, the client on [`CLIENT_ADDR`], the
/// server on [`SERVER_ADDR`], MTU 1500, offloads off. Dropping it deletes both namespaces and
/// with them the pair.
pub struct Veth {
    /// The client's namespace.
    pub client: Netns,
    /// The server's namespace.
    pub server: Netns,
    /// What could not be set up as asked but does not stop the lab (offloads left on).
    pub notes: Vec<String>,
}

/// Sets up a veth lab. `rate` (tc tbf syntax) and `delay` (netem) shape the link in each
/// direction, as `gen --lab --rate/--delay`.
pub fn veth(rate: Option<&str>, delay: Option<Duration>) -> Result<Veth, LabError> {
    let client = Netns::create("client")?;
    let server = Netns::create("server")?;
    // after the root check of create (dropping the namespaces removes them): a lab whose veth
    // keeps its offloads would show segments no real NIC carries
    if !netns::on_path("ethtool") {
        return Err(LabError::NoEthtool);
    }
    // created inside the client's namespace, so no interface ever appears in the host's
    client.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", server.name()])?;
    let mut notes = Vec::new();
    for (ns, addr) in [(&client, CLIENT_ADDR), (&server, SERVER_ADDR)] {
        ns.ip(&["addr", "add", &format!("{addr}/24"), "broadcast", "+", "dev", "eth0"])?;
        ns.ip(&["link", "set", "eth0", "mtu", "1500", "up"])?;
        if let Err(e) = ns.exec(&["ethtool", "-K", "eth0", "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"]) {
            notes.push(format!("offloads stay on ({e}): segments may be larger than the MTU in the capture"));
        }
        if let Some(rate) = rate {
            ns.exec(&[
                "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms",
            ])
            .map_err(|e| LabError::Setup { what: format!("--rate {rate}"), detail: e.to_string() })?;
        }
        if let Some(delay) = delay {
            let ms = format!("{}ms", delay.as_millis());
            // netem below tbf (tbf's one class is 1:1) when both are asked for
            let parent: &[&str] = if rate.is_some() { &["parent", "1:1"] } else { &["root"] };
            let mut args = vec!["tc", "qdisc", "add", "dev", "eth0"];
            args.extend_from_slice(parent);
            args.extend_from_slice(&["netem", "delay", &ms]);
            ns.exec(&args).map_err(|e| match e {
                LabError::Setup { detail, .. } if detail.contains("qdisc kind is unknown") => {
                    LabError::MissingQdisc { flag: "--delay", value: delay.as_millis().to_string(), qdisc: "netem", module: "sch_netem" }
                }
                LabError::Setup { detail, .. } => LabError::Setup { what: format!("--delay {}", delay.as_millis()), detail },
                other => other,
            })?;
        }
    }
    Ok(Veth { client, server, notes })
}

/// MAC address of `dev` in namespace `ns`, for the header line.
fn mac(ns: &Netns, dev: &str) -> String {
    let out = std::process::Command::new("ip").args(["-n", ns.name(), "-br", "link", "show", dev]).output();
    out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(2).map(str::to_string)).unwrap_or_else(|| "?".into())
}

/// A running capture: how to stop it, its thread, and the frames recorded so far.
struct Running {
    stopper: crate::capture::live::Stopper,
    thread: std::thread::JoinHandle<()>,
    frames: Arc<Mutex<MemSource>>,
}

impl Running {
    /// Stop after [`DRAIN`] and hand back the frames.
    fn finish(self) -> MemSource {
        std::thread::sleep(DRAIN);
        self.stopper.stop();
        let _ = self.thread.join();
        self.frames.lock().map(|f| f.clone()).unwrap_or_else(|_| MemSource::new(0))
    }
}

/// Open the capture on `iface` inside `ns`, then record on that thread until stopped.
fn start_capture(ns: &Netns, iface: &str, write: Option<PathBuf>) -> Result<Running, LabRunError> {
    let (tx, rx) = mpsc::channel();
    let iface = iface.to_string();
    let handle = ns.spawn(move || {
        let live = LiveConfig {
            iface: iface.clone(),
            filter: None,
            snaplen: 262_144,
            promisc: false,
            buffer_bytes: 32 << 20,
            write,
            rotate: Default::default(),
        };
        let mut src = match LiveSource::open(&live) {
            Ok(src) => src,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mem = Arc::new(Mutex::new(MemSource::new(src.linktype())));
        let _ = tx.send(Ok((src.stopper(), Arc::clone(&mem))));
        let mut recorder = Recorder(mem);
        let mut read = ReadOptions::new(iface.into());
        read.progress = false;
        let _ = pipeline::run(&mut src, &read, &mut recorder);
    })?;
    match rx.recv() {
        Ok(Ok((stopper, frames))) => Ok(Running { stopper, thread: handle, frames }),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e.into())
        }
        Err(_) => Err(LabRunError::Gen(GenError::Internal("the capture thread ended before opening".into()))),
    }
}

/// Whether something in the calling thread's namespace is bound to `port` (TCP listening, or UDP).
fn bound(port: u16, tcp: bool) -> bool {
    let files: &[&str] = if tcp { &["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] } else { &["/proc/thread-self/net/udp"] };
    let want = format!(":{port:04X}");
    files.iter().any(|file| {
        std::fs::read_to_string(file).unwrap_or_default().lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&want) && (!tcp || fields[3] == "0A")
        })
    })
}

/// Run `cfg` in a lab, narrating on `out`, then print the annotated capture (or write it).
pub fn run(cfg: &LabConfig, out: &mut dyn Write) -> Result<GenReport, LabRunError> {
    cfg.gen.validate()?;
    let (tx, rx) = mpsc::channel::<String>();
    // Both sides narrate the scenario's `why`: print each such paragraph once.
    let printer = |rx: mpsc::Receiver<String>, out: &mut dyn Write| {
        let mut seen = std::collections::HashSet::new();
        for paragraph in rx {
            if !paragraph.starts_with("   why") || seen.insert(paragraph.clone()) {
                let _ = writeln!(out, "{paragraph}");
            }
        }
    };
    let started = Instant::now();
    let (report, frames, linktype_note) = if cfg.gen.scenario.needs_peer() {
        let p = Netns::create("peer")?;
        let header = if cfg.gen.quiet { &mut io::sink() as &mut dyn Write } else { &mut *out };
        writeln!(
            header,
            "lab: namespace {} with tun0 (MTU 1500): the kernel's TCP on {}, wireseam's scripted peer answering for {}",
            p.name(),
            peer::KERNEL_ADDR,
            peer::PEER_ADDR
        )?;
        let (tun_tx, tun_rx) = mpsc::channel();
        p.spawn(move || {
            let _ = tun_tx.send(peer::Tun::create("tun0"));
        })?
        .join()
        .map_err(|_| GenError::Internal("the TUN thread panicked".into()))?;
        let tun = tun_rx
            .recv()
            .map_err(|_| GenError::Internal("no TUN device".into()))?
            .map_err(|e| LabError::Setup { what: "creating tun0".into(), detail: e.to_string() })?;
        p.ip(&["addr", "add", &format!("{}/{}", peer::KERNEL_ADDR, peer::PREFIX_LEN), "dev", "tun0"])?;
        p.ip(&["link", "set", "tun0", "mtu", "1500", "up"])?;
        let capture = start_capture(&p, "tun0", cfg.write.clone())?;
        let gen_cfg = GenConfig { addr: peer::PEER_ADDR.into(), role: Role::Both, ..cfg.gen.clone() };
        let lines = Lines::new(tx, None);
        let worker = p.spawn(move || {
            let mut lines = lines;
            gen::run_with_peer(&gen_cfg, tun, &mut lines)
        })?;
        printer(rx, out);
        let result = worker.join().unwrap_or_else(|_| Err(GenError::Internal("the scenario thread panicked".into())));
        let frames = capture.finish();
        drop(p);
        (result?, frames, "raw IP on tun0")
    } else {
        let lab = veth(cfg.rate.as_deref(), cfg.delay)?;
        let header = if cfg.gen.quiet { &mut io::sink() as &mut dyn Write } else { &mut *out };
        writeln!(
            header,
            "lab: namespaces {} ({CLIENT_ADDR}, eth0 {}) and {} ({SERVER_ADDR}, eth0 {}), a veth pair, MTU 1500, offloads off{}{}",
            lab.client.name(),
            mac(&lab.client, "eth0"),
            lab.server.name(),
            mac(&lab.server, "eth0"),
            cfg.rate.as_ref().map_or(String::new(), |r| format!(", rate {r}")),
            cfg.delay.map_or(String::new(), |d| format!(", delay {} ms", d.as_millis())),
        )?;
        for note in &lab.notes {
            writeln!(header, "lab: {note}")?;
        }
        // said here once: both sides would say it, in the order their threads start
        if !cfg.gen.quiet {
            writeln!(out, "{}: {}", cfg.gen.scenario, cfg.gen.scenario.describe())?;
        }
        let capture = start_capture(&lab.client, "eth0", cfg.write.clone())?;
        drop(tx);
        let result = run_pair(&cfg.gen, &lab, |rx| printer(rx, out));
        let frames = capture.finish();
        drop(lab);
        (result?, frames, "Ethernet on the client's eth0")
    };
    let mut report = report;
    report.elapsed = started.elapsed();
    let mut frames = frames;
    if cfg.gen.scenario.counts_connections() && !cfg.gen.quiet {
        // what the capture itself shows of the connections' lives, from the tracker's records
        frames.rewind();
        let mut conns = ConnsSink::default();
        let opts = ReadOptions { progress: false, ..ReadOptions::new("lab".into()) };
        let _ = pipeline::run(&mut frames, &opts, &mut conns);
        writeln!(out, "lab: {}", lifetimes::describe(&lifetimes::lifetimes(conns.rows.iter().map(|row| &row.summary))))?;
    }
    if let Some(path) = &cfg.write {
        let out = if cfg.gen.quiet { &mut io::sink() as &mut dyn Write } else { out };
        writeln!(out, "wrote {} frames ({linktype_note}) to {}", frames.len(), path.display())?;
    } else {
        writeln!(out, "\ncapture ({} frames, {linktype_note}):", frames.len())?;
        frames.rewind();
        let palette = Palette::for_stdout(cfg.color);
        let text = TextOptions::new(0, palette);
        let opts = ReadOptions { progress: false, ..ReadOptions::new("lab".into()) };
        let _ = pipeline::run(&mut frames, &opts, &mut TextSink::new(&mut *out, text));
    }
    Ok(report)
}

/// Capture in a veth lab while each of `runs` goes (server and client in their namespaces, one
/// after the other, narration dropped): the frames, and how each run ended. For `wireseam demo`.
pub fn record_runs(runs: &[GenConfig]) -> Result<(MemSource, Vec<Result<GenReport, GenError>>), LabRunError> {
    let lab = veth(None, None)?;
    let capture = start_capture(&lab.client, "eth0", None)?;
    let results = runs.iter().map(|run| run_pair(run, &lab, |rx| for _ in rx {})).collect();
    let frames = capture.finish();
    drop(lab);
    Ok((frames, results))
}

/// The server in one namespace, the client in the other (or only one side for arp).
fn run_pair(gen_cfg: &GenConfig, lab: &Veth, print: impl FnOnce(mpsc::Receiver<String>)) -> Result<GenReport, GenError> {
    let (ptx, prx) = mpsc::channel();
    let scenario = gen_cfg.scenario;
    let iface = if scenario.needs_iface() || matches!(scenario, Scenario::UdpTruncate | Scenario::UdpFragments) {
        Some("eth0".to_string())
    } else {
        None
    };
    let base = GenConfig { addr: SERVER_ADDR.into(), iface, ..gen_cfg.clone() };
    let title = format!("{scenario}: ");
    let spawn = |ns: &Netns, gen_cfg: GenConfig| {
        let lines = Lines::new(ptx.clone(), Some(title.clone()));
        ns.spawn(move || {
            let mut lines = lines;
            gen::run(&gen_cfg, &mut lines)
        })
    };
    let lab_err = |e: LabError| GenError::Internal(e.to_string());
    let (server, client) = if scenario == Scenario::Arp {
        (None, spawn(&lab.client, GenConfig { iface: Some("eth0".into()), ..base }).map_err(lab_err)?)
    } else {
        let server = spawn(&lab.server, GenConfig { role: Role::Server, ..base.clone() }).map_err(lab_err)?;
        // the client starts once the server has bound (seen from inside its namespace), so no
        // connection attempt is refused for being early
        let port = base.port;
        let tcp = scenario.is_tcp();
        let wait = lab
            .server
            .spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(5);
                while !bound(port, tcp) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
            .map_err(lab_err)?;
        if scenario != Scenario::Refused {
            let _ = wait.join();
        }
        (Some(server), spawn(&lab.client, GenConfig { role: Role::Client, ..base }).map_err(lab_err)?)
    };
    drop(ptx);
    print(prx);
    let client = client.join().unwrap_or_else(|_| Err(GenError::Internal("the client thread panicked".into())));
    let server = server.map(|s| s.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into()))));
    let mut report = client?;
    if let Some(server) = server {
        let server = server?;
        report.server_tally = server.server_tally;
        report.server_reads = server.server_reads;
        report.notes.extend(server.notes);
        report.server_prints = server.server_prints;
        report.resets += server.resets;
    }
    Ok(report)
}
