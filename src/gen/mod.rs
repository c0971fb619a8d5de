//! Traffic generators: real sockets that produce, on purpose, every situation wireseam explains
//! (open and close handshakes, resets, keep-alives, zero windows, coalesced and split messages,
//! UDP boundaries, broadcast, ARP), so `wireseam gen NAME` can run while `wireseam capture` watches.
//!
//! [`run`] drives one [`Scenario`] and narrates on a writer what it does and why the capture will
//! look the way it does. With [`Role::Both`] the server runs in a thread of this process; with
//! `Server` or `Client` only that side runs, so two hosts or two network namespaces can be driven.
//! Every scenario is bounded: each blocking call has a timeout and each run ends by itself.
//! Linux only (TCP_CORK, TCP_INFO, SO_BINDTODEVICE, AF_PACKET).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod arp;
mod flow;
mod net;
mod seams;
mod session;
mod udp;

pub use net::TcpCounters;

/// The traffic situations a generator can produce. Names are what users type (`wireseam gen NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    Handshake,
    HalfClose,
    ServerClose,
    Reset,
    Refused,
    Keepalive,
    ZeroWindow,
    Sticky,
    Nodelay,
    Split,
    Framed,
    Jsonhdr,
    Echo,
    Many,
    Bulk,
    UdpEcho,
    UdpBroadcast,
    Arp,
}

const ALL: [Scenario; 18] = [
    Scenario::Handshake,
    Scenario::HalfClose,
    Scenario::ServerClose,
    Scenario::Reset,
    Scenario::Refused,
    Scenario::Keepalive,
    Scenario::ZeroWindow,
    Scenario::Sticky,
    Scenario::Nodelay,
    Scenario::Split,
    Scenario::Framed,
    Scenario::Jsonhdr,
    Scenario::Echo,
    Scenario::Many,
    Scenario::Bulk,
    Scenario::UdpEcho,
    Scenario::UdpBroadcast,
    Scenario::Arp,
];

impl Scenario {
    /// Every scenario, in the order `wireseam gen --list` shows them.
    pub fn all() -> &'static [Scenario] {
        &ALL
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Handshake => "handshake",
            Scenario::HalfClose => "half-close",
            Scenario::ServerClose => "server-close",
            Scenario::Reset => "reset",
            Scenario::Refused => "refused",
            Scenario::Keepalive => "keepalive",
            Scenario::ZeroWindow => "zero-window",
            Scenario::Sticky => "sticky",
            Scenario::Nodelay => "nodelay",
            Scenario::Split => "split",
            Scenario::Framed => "framed",
            Scenario::Jsonhdr => "jsonhdr",
            Scenario::Echo => "echo",
            Scenario::Many => "many",
            Scenario::Bulk => "bulk",
            Scenario::UdpEcho => "udp-echo",
            Scenario::UdpBroadcast => "udp-broadcast",
            Scenario::Arp => "arp",
        }
    }

    /// One line: what the capture of this scenario shows.
    pub fn describe(&self) -> &'static str {
        match self {
            Scenario::Handshake => "three-way open, one line each way, four-way close; the client ends in TIME-WAIT",
            Scenario::HalfClose => "client sends a request and shuts down writing; the server keeps sending after the FIN",
            Scenario::ServerClose => "the server closes first; the client sits in CLOSE-WAIT before it closes too",
            Scenario::Reset => "connections aborted with RST: SO_LINGER {on, 0}, and close with unread data",
            Scenario::Refused => "connect to a closed port: the SYN is answered by RST (twice)",
            Scenario::Keepalive => "an idle connection with SO_KEEPALIVE every second: keep-alive probes and their ACKs",
            Scenario::ZeroWindow => "a receiver with a tiny buffer that does not read: window full, zero window, probes",
            Scenario::Sticky => "small writes coalesced by Nagle and TCP_CORK: several messages in one segment",
            Scenario::Nodelay => "the same small writes with TCP_NODELAY: one segment per write",
            Scenario::Split => "one length-prefixed message larger than the MSS, split over several segments",
            Scenario::Framed => "length-prefixed messages of random sizes, re-framed by the server and echoed",
            Scenario::Jsonhdr => "a 4-byte length, a JSON header carrying the body length, then the body",
            Scenario::Echo => "request/response echo: the server answers each message in upper case",
            Scenario::Many => "many concurrent clients, one short request/response connection each",
            Scenario::Bulk => "a large one-way transfer: window growth and MSS-sized segments",
            Scenario::UdpEcho => "UDP datagrams echoed back: each sendto() is one recvfrom(), boundaries kept",
            Scenario::UdpBroadcast => "UDP datagrams sent to an interface's broadcast address (SO_BROADCAST)",
            Scenario::Arp => "ARP request, gratuitous announcement and probe on an Ethernet interface (root)",
        }
    }

    /// Transport of the scenario: TCP scenarios use the server/client harness.
    pub fn is_tcp(self) -> bool {
        !matches!(self, Scenario::UdpEcho | Scenario::UdpBroadcast | Scenario::Arp)
    }

    /// Whether the scenario needs `--iface` (and traffic leaves loopback).
    pub fn needs_iface(self) -> bool {
        matches!(self, Scenario::UdpBroadcast | Scenario::Arp)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no scenario (the message lists the valid ones).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario '{0}'; one of: {list}", list = scenario_list())]
pub struct UnknownScenario(pub String);

fn scenario_list() -> String {
    ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim().to_ascii_lowercase().replace('_', "-");
        ALL.iter().copied().find(|sc| sc.name() == want).ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// Which side(s) of a scenario this process plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Server in a thread and client in this process, on `addr:port`.
    #[default]
    Both,
    /// Only serve on `addr:port` (until the scenario's client is done or a timeout).
    Server,
    /// Only connect to `addr:port`.
    Client,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Both => "both",
            Role::Server => "server",
            Role::Client => "client",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}'; one of: both, server, client")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "both" => Ok(Role::Both),
            "server" => Ok(Role::Server),
            "client" => Ok(Role::Client),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

/// Default port of `wireseam gen`.
pub const DEFAULT_PORT: u16 = 9000;
/// Default `TCP_MAXSEG` of the split scenario: small enough to split even on lo (MSS 65483).
pub const DEFAULT_SPLIT_MSS: u32 = 536;

/// Everything a generator run needs; the main program fills it from its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    pub scenario: Scenario,
    /// Server address (listen on it, or connect to it). Default 127.0.0.1; ::1 works too.
    pub addr: IpAddr,
    /// Server port; 0 picks a free one (only with `Role::Both` or `Role::Server`).
    pub port: u16,
    pub role: Role,
    /// Seed for random sizes (framed, jsonhdr, echo, udp-echo).
    pub seed: u64,
    /// Messages, clients, probes or attempts, where the scenario has such a number.
    pub count: Option<usize>,
    /// Message size (echo, udp-echo), largest message (framed, jsonhdr) or transfer size.
    pub size: Option<usize>,
    /// `TCP_MAXSEG` set on the client before connecting (split; default 536).
    pub mss: Option<u32>,
    /// Interface for arp and udp-broadcast.
    pub iface: Option<String>,
    /// No narration.
    pub quiet: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            scenario: Scenario::Handshake,
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            role: Role::Both,
            seed: 1,
            count: None,
            size: None,
            mss: None,
            iface: None,
            quiet: false,
        }
    }
}

impl GenConfig {
    pub fn new(scenario: Scenario) -> Self {
        GenConfig { scenario, ..GenConfig::default() }
    }

    /// Reject option combinations that cannot work, before any socket is opened.
    pub fn validate(&self) -> Result<(), GenError> {
        let sc = self.scenario;
        if self.role == Role::Client && self.port == 0 && sc != Scenario::Arp {
            return Err(GenError::Config("a client needs the server's port: give --port".into()));
        }
        if let Some(mss) = self.mss {
            if !(88..=65495).contains(&mss) {
                return Err(GenError::Config(format!("--mss {mss} is out of range; Linux accepts 88 to 65495")));
            }
        }
        if let Some((lo, hi)) = limits::count(sc) {
            if let Some(c) = self.count {
                if c < lo || c > hi {
                    return Err(GenError::Config(format!("--count {c} is out of range for {sc}: {lo} to {hi}")));
                }
            }
        }
        if let Some((lo, hi)) = limits::size(sc) {
            if let Some(s) = self.size {
                if s < lo || s > hi {
                    return Err(GenError::Config(format!("--size {s} is out of range for {sc}: {lo} to {hi}")));
                }
            }
        }
        if let (Some(c), Some(s)) = (self.count, self.size) {
            if matches!(sc, Scenario::Framed | Scenario::Jsonhdr | Scenario::Echo | Scenario::UdpEcho)
                && c.saturating_mul(s) > limits::TOTAL
            {
                return Err(GenError::Config(format!(
                    "--count {c} x --size {s} is more than {} MiB; {sc} stays small to finish in seconds",
                    limits::TOTAL >> 20
                )));
            }
        }
        if sc.needs_iface() && self.iface.is_none() {
            return Err(GenError::Config(format!(
                "{sc} sends on a network interface: give --iface (an Ethernet or veth interface, not lo)"
            )));
        }
        if matches!(sc, Scenario::UdpBroadcast | Scenario::Arp) && self.addr.is_ipv6() {
            return Err(GenError::Unsupported(format!("{sc} is IPv4 only (IPv6 has neither broadcast nor ARP)")));
        }
        Ok(())
    }

    pub(crate) fn count_or(&self, default: usize) -> usize {
        self.count.unwrap_or(default)
    }

    pub(crate) fn size_or(&self, default: usize) -> usize {
        self.size.unwrap_or(default)
    }
}

/// Bounds that keep every scenario within its time budget.
mod limits {
    use super::Scenario;

    pub fn count(sc: Scenario) -> Option<(usize, usize)> {
        Some(match sc {
            Scenario::HalfClose => (1, 100),
            Scenario::Refused => (1, 20),
            Scenario::Keepalive => (1, 8),
            Scenario::Sticky | Scenario::Nodelay => (2, 1000),
            Scenario::Framed | Scenario::Jsonhdr | Scenario::Echo => (1, 10_000),
            Scenario::Many => (1, 500),
            Scenario::UdpEcho => (1, 1000),
            Scenario::UdpBroadcast => (1, 50),
            _ => return None,
        })
    }

    /// Largest count x size of the scenarios that send `count` messages of up to `size` bytes.
    pub const TOTAL: usize = 64 << 20;

    pub fn size(sc: Scenario) -> Option<(usize, usize)> {
        Some(match sc {
            // the zero-window receiver reads about 0.5 MB/s once it wakes up
            Scenario::ZeroWindow => (1, 1 << 20),
            Scenario::Split => (1, 1 << 20),
            Scenario::Framed | Scenario::Jsonhdr | Scenario::Echo => (1, 1 << 20),
            Scenario::Bulk => (1, 1 << 30),
            Scenario::UdpEcho => (1, 65_507),
            _ => return None,
        })
    }
}

/// Application-level counts of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub messages_sent: usize,
    pub messages_received: usize,
}

impl Tally {
    /// Count one message of `bytes` received.
    pub(crate) fn got(&mut self, bytes: usize) {
        self.bytes_received += bytes as u64;
        self.messages_received += 1;
    }
}

/// What a run did, measured by the sockets themselves.
#[derive(Clone, Debug)]
pub struct GenReport {
    pub scenario: Scenario,
    pub role: Role,
    /// Local address of the (first) client socket.
    pub client: Option<SocketAddr>,
    /// Address the server listened on (or that the client contacted).
    pub server: Option<SocketAddr>,
    /// Application bytes written by the client side (by the server with `Role::Server`).
    pub bytes_sent: u64,
    /// Application messages (lines, frames, datagrams, ARP frames) sent by that same side.
    pub messages: usize,
    /// Replies received and checked by the client side (echoes, answers, ARP replies).
    pub replies: usize,
    pub client_tally: Tally,
    pub server_tally: Tally,
    /// TCP connections completed (accepted, or connected).
    pub connections: usize,
    /// Connection attempts answered by RST (refused).
    pub refused: usize,
    /// Connections that a socket saw end in RST (ECONNRESET).
    pub resets: usize,
    /// recv() calls the server needed for the data it read, where the scenario counts them.
    pub server_reads: Option<usize>,
    /// Effective MSS of the client socket (TCP_MAXSEG after connect).
    pub mss: Option<u32>,
    /// Client's TCP_INFO counters at the end of its main phase.
    pub tcp: Option<TcpCounters>,
    /// Data segments (kernel count, in MSS units) that carried each burst of small messages.
    pub bursts: Vec<Burst>,
    pub elapsed: Duration,
    /// Measured facts, one line each (also narrated).
    pub notes: Vec<String>,
}

impl GenReport {
    /// One line for the end of a run, e.g. `sticky: 21 messages (16524 bytes) sent, 1 reply; nagle 10
    /// messages in 2 segments, cork 10 in 1; 0.41 s`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {} message{} ({} bytes) sent, {} repl{}",
            self.scenario,
            self.messages,
            if self.messages == 1 { "" } else { "s" },
            self.bytes_sent,
            self.replies,
            if self.replies == 1 { "y" } else { "ies" }
        );
        if self.connections > 1 {
            s += &format!(", {} connections", self.connections);
        }
        if self.refused > 0 {
            s += &format!(", {} refused", self.refused);
        }
        if self.resets > 0 {
            s += &format!(", {} reset", self.resets);
        }
        let bursts: Vec<String> =
            self.bursts.iter().map(|b| format!("{} {} messages in {} segments", b.mode, b.messages, b.segments)).collect();
        if !bursts.is_empty() {
            s += &format!("; {}", bursts.join(", "));
        }
        s + &format!("; {:.2} s", self.elapsed.as_secs_f64())
    }
}

/// A burst of small writes and the data segments that carried it (from TCP_INFO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Burst {
    /// How the burst was sent: "nagle", "cork" or "nodelay".
    pub mode: &'static str,
    pub messages: usize,
    pub segments: u32,
}

impl GenReport {
    pub(crate) fn new(cfg: &GenConfig) -> Self {
        GenReport {
            scenario: cfg.scenario,
            role: cfg.role,
            client: None,
            server: None,
            bytes_sent: 0,
            messages: 0,
            replies: 0,
            client_tally: Tally::default(),
            server_tally: Tally::default(),
            connections: 0,
            refused: 0,
            resets: 0,
            server_reads: None,
            mss: None,
            tcp: None,
            bursts: Vec::new(),
            elapsed: Duration::ZERO,
            notes: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("port {port} is in use; pick another with --port")]
    PortInUse { port: u16 },
    #[error("{addr} is not an address of this machine (or its interface is down); use a local address such as 127.0.0.1 or ::1")]
    AddrNotAvailable { addr: IpAddr },
    #[error("nothing listens on {addr} (connection refused); start the server side first (--role server)")]
    Refused { addr: SocketAddr },
    #[error("timed out after {secs:.1} s {what}")]
    Timeout { what: String, secs: f64 },
    #[error("{0}")]
    Permission(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Config(String),
    #[error("the peer did not answer as expected: {0}")]
    Mismatch(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl GenError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        GenError::Io { what: what.into(), source }
    }
}

/// Run one scenario, narrating on `log` (nothing when `cfg.quiet`), and report what happened.
pub fn run(cfg: &GenConfig, log: &mut dyn io::Write) -> Result<GenReport, GenError> {
    cfg.validate()?;
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<Line>();
    let voice = Voice { tx, who: Who::Gen };
    let result = std::thread::scope(|s| {
        let worker = s.spawn(move || {
            voice.say(format!("{}: {}", cfg.scenario, cfg.scenario.describe()));
            dispatch(cfg, &voice)
        });
        // Narration from every thread is printed here, as it comes, until all voices are gone.
        for line in rx {
            if !cfg.quiet {
                let _ = line.write_to(log);
            }
        }
        worker.join().unwrap_or_else(|_| Err(GenError::Internal("the generator thread panicked".into())))
    });
    let _ = log.flush();
    let mut report = result?;
    report.elapsed = start.elapsed();
    if !cfg.quiet {
        let _ = writeln!(log, "done in {:.2} s", report.elapsed.as_secs_f64());
    }
    Ok(report)
}

fn dispatch(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    match cfg.scenario {
        Scenario::Handshake => session::handshake(cfg, v),
        Scenario::HalfClose => session::half_close(cfg, v),
        Scenario::ServerClose => session::server_close(cfg, v),
        Scenario::Reset => session::reset(cfg, v),
        Scenario::Refused => session::refused(cfg, v),
        Scenario::Keepalive => session::keepalive(cfg, v),
        Scenario::ZeroWindow => flow::zero_window(cfg, v),
        Scenario::Echo => flow::echo(cfg, v),
        Scenario::Many => flow::many(cfg, v),
        Scenario::Bulk => flow::bulk(cfg, v),
        Scenario::Sticky => seams::sticky(cfg, v, false),
        Scenario::Nodelay => seams::sticky(cfg, v, true),
        Scenario::Split => seams::split(cfg, v),
        Scenario::Framed => seams::framed(cfg, v),
        Scenario::Jsonhdr => seams::jsonhdr(cfg, v),
        Scenario::UdpEcho => udp::echo(cfg, v),
        Scenario::UdpBroadcast => udp::broadcast(cfg, v),
        Scenario::Arp => arp::run(cfg, v),
    }
}

// ---------------------------------------------------------------------------------------------
// narration

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    Gen,
    Server,
    Client,
}

pub(crate) struct Line {
    who: Who,
    why: bool,
    text: String,
}

const WRAP: usize = 100;

impl Line {
    fn write_to(&self, w: &mut dyn io::Write) -> io::Result<()> {
        let tag = match (self.why, self.who) {
            (true, _) => "   why",
            (false, Who::Gen) => "",
            (false, Who::Server) => "server",
            (false, Who::Client) => "client",
        };
        if tag.is_empty() {
            return writeln!(w, "{}", self.text);
        }
        let indent = " ".repeat(tag.len() + 2);
        for (i, l) in wrap(&self.text, WRAP - indent.len()).iter().enumerate() {
            if i == 0 {
                writeln!(w, "{tag}  {l}")?;
            } else {
                writeln!(w, "{indent}{l}")?;
            }
        }
        Ok(())
    }
}

/// Greedy word wrap; words longer than `width` stay whole.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// A thread's handle on the narration; lines reach the log in the order they are said.
#[derive(Clone)]
pub(crate) struct Voice {
    tx: mpsc::Sender<Line>,
    who: Who,
}

impl Voice {
    pub(crate) fn as_(&self, who: Who) -> Voice {
        Voice { tx: self.tx.clone(), who }
    }

    /// What is being done.
    pub(crate) fn say(&self, text: impl Into<String>) {
        let _ = self.tx.send(Line { who: self.who, why: false, text: text.into() });
    }

    /// Why the capture looks the way it does.
    pub(crate) fn why(&self, text: impl Into<String>) {
        let _ = self.tx.send(Line { who: self.who, why: true, text: text.into() });
    }
}

// ---------------------------------------------------------------------------------------------
// deterministic sizes and payloads

/// SplitMix64: small, seedable, good enough for message sizes.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5753_4745_4e00_0000)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        debug_assert!(lo <= hi);
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// Printable, position-dependent payload of message `i` (so reassembly can be checked by eye).
pub(crate) fn body(i: usize, n: usize) -> Vec<u8> {
    let mut pat = format!("m{i:02}:").into_bytes();
    pat.extend(b'A'..=b'Z');
    pat.iter().copied().cycle().take(n).collect()
}

/// 4-byte big-endian length + body: the tutorial's `struct.pack('>I', len(body)) + body`.
pub(crate) fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &sc in Scenario::all() {
            assert_eq!(sc.to_string().parse::<Scenario>().unwrap(), sc);
            assert!(!sc.describe().is_empty() && sc.describe().len() < 100, "{sc}: {}", sc.describe());
        }
        assert_eq!(Scenario::all().len(), 18);
        assert_eq!("ZERO_WINDOW".parse::<Scenario>().unwrap(), Scenario::ZeroWindow);
        assert_eq!(" udp-echo ".parse::<Scenario>().unwrap(), Scenario::UdpEcho);
    }

    #[test]
    fn unknown_scenario_lists_names() {
        let e = "stikcy".parse::<Scenario>().unwrap_err().to_string();
        assert!(e.starts_with("unknown scenario 'stikcy'; one of: handshake, half-close"), "{e}");
        assert!(e.ends_with("udp-broadcast, arp"), "{e}");
    }

    #[test]
    fn roles_parse() {
        assert_eq!("server".parse::<Role>().unwrap(), Role::Server);
        assert_eq!("Client".parse::<Role>().unwrap(), Role::Client);
        assert_eq!(Role::default(), Role::Both);
        assert_eq!(Role::Both.to_string(), "both");
        assert!("peer".parse::<Role>().unwrap_err().to_string().contains("both, server, client"));
    }

    #[test]
    fn defaults() {
        let c = GenConfig::default();
        assert_eq!(c.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(c.port, 9000);
        assert_eq!(c.role, Role::Both);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validation() {
        let bad = |c: GenConfig| c.validate().unwrap_err().to_string();
        let client0 = GenConfig { role: Role::Client, port: 0, ..GenConfig::new(Scenario::Echo) };
        assert!(bad(client0).contains("give --port"));
        let mss = GenConfig { mss: Some(20), ..GenConfig::new(Scenario::Split) };
        assert!(bad(mss).contains("88 to 65495"));
        let many = GenConfig { count: Some(0), ..GenConfig::new(Scenario::Many) };
        assert!(bad(many).contains("--count 0 is out of range for many"));
        assert!(bad(GenConfig::new(Scenario::Arp)).contains("give --iface"));
        let v6 = GenConfig { addr: "::1".parse().unwrap(), iface: Some("x".into()), ..GenConfig::new(Scenario::Arp) };
        assert!(bad(v6).contains("IPv4 only"));
        let big = GenConfig { count: Some(1000), size: Some(1 << 20), ..GenConfig::new(Scenario::Echo) };
        assert!(bad(big).contains("more than 64 MiB"));
        let ok = GenConfig { count: Some(3), size: Some(10), ..GenConfig::new(Scenario::Framed) };
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(GenError::PortInUse { port: 9000 }.to_string(), "port 9000 is in use; pick another with --port");
        let t = GenError::Timeout { what: "waiting for a client".into(), secs: 5.0 };
        assert_eq!(t.to_string(), "timed out after 5.0 s waiting for a client");
    }

    #[test]
    fn summary_line() {
        let mut r = GenReport::new(&GenConfig::new(Scenario::Sticky));
        r.messages = 21;
        r.bytes_sent = 16524;
        r.replies = 1;
        r.connections = 1;
        r.bursts.push(Burst { mode: "nagle", messages: 10, segments: 2 });
        r.elapsed = Duration::from_millis(407);
        assert_eq!(r.summary(), "sticky: 21 messages (16524 bytes) sent, 1 reply; nagle 10 messages in 2 segments; 0.41 s");
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let a: Vec<usize> = (0..50).scan(Rng::new(7), |r, _| Some(r.range(1, 3000))).collect();
        let b: Vec<usize> = (0..50).scan(Rng::new(7), |r, _| Some(r.range(1, 3000))).collect();
        let c: Vec<usize> = (0..50).scan(Rng::new(8), |r, _| Some(r.range(1, 3000))).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&n| (1..=3000).contains(&n)));
    }

    #[test]
    fn payload_helpers() {
        assert_eq!(body(3, 10), b"m03:ABCDEF");
        assert_eq!(body(0, 0), b"");
        assert_eq!(frame(b"hello"), b"\x00\x00\x00\x05hello");
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("", 10), vec![""]);
        let mut out = Vec::new();
        Line { who: Who::Client, why: false, text: "connected".into() }.write_to(&mut out).unwrap();
        Line { who: Who::Server, why: true, text: "because".into() }.write_to(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "client  connected\n   why  because\n");
    }
}
