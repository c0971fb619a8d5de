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
mod endian;
mod flow;
mod lessons;
mod lifetime;
mod net;
pub mod peer;
mod seams;
mod servers;
mod session;
mod sockets;
mod udp;

pub use endian::Endian;
pub use lessons::{py_bytes_repr, remote_commands, CmdHeader};
pub use net::TcpCounters;

/// The traffic situations a generator can produce. Names are what users type (`wireseam gen NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Three-way open, one line each way, four-way close.
    Handshake,
    /// The client shuts down writing and the server keeps sending.
    HalfClose,
    /// The server closes first; the client passes through CLOSE-WAIT.
    ServerClose,
    /// Connections aborted with RST.
    Reset,
    /// A connect to a closed port, answered by RST.
    Refused,
    /// An idle connection with SO_KEEPALIVE probes.
    Keepalive,
    /// A receiver that does not read: zero window and window probes.
    ZeroWindow,
    /// Small writes coalesced by Nagle and TCP_CORK.
    Sticky,
    /// The same small writes with TCP_NODELAY.
    Nodelay,
    /// One length-prefixed message larger than the MSS.
    Split,
    /// Length-prefixed messages of random sizes, echoed.
    Framed,
    /// A length, a JSON header giving the body length, then the body.
    Jsonhdr,
    /// The lesson's `send('hello')`, `send('world')` and a server's `recv(1024)` calls.
    HelloWorld,
    /// The lesson's remote command shell, without a header or fixed with a length or JSON header.
    RemoteCmd,
    /// Request/response echo.
    Echo,
    /// Many concurrent short connections.
    Many,
    /// The same requests over one long connection, then over one short connection each.
    LongShort,
    /// A concurrent server with a thread per connection.
    Threads,
    /// A concurrent server with a process per connection (fork).
    Fork,
    /// A concurrent server in one thread with a select() loop.
    Select,
    /// A concurrent server in one thread with an epoll loop.
    Epoll,
    /// A large one-way transfer.
    Bulk,
    /// UDP datagrams echoed back.
    UdpEcho,
    /// A 2,000-byte datagram read by `recvfrom(1024)`: the rest is lost.
    UdpTruncate,
    /// A datagram larger than the MTU: IP fragments, one message.
    UdpFragments,
    /// UDP datagrams to an interface's broadcast address.
    UdpBroadcast,
    /// ARP request, announcement and probe.
    Arp,
    /// A listener with listen(1) that never accepts: later SYNs are dropped and retried.
    Backlog,
    /// A server that closes first leaves TIME-WAIT: bind() fails with EADDRINUSE, SO_REUSEADDR works.
    Reuseaddr,
    /// Scripted peer: it stops acknowledging; retransmissions with exponential backoff.
    Rto,
    /// Scripted peer: one segment dropped, duplicate ACKs with SACK, fast retransmit.
    FastRetransmit,
    /// Scripted peer: SYNs that nobody answers, retried until connect() times out.
    SynRetry,
    /// Scripted peer: both sides send SYN at once.
    SimultaneousOpen,
    /// Scripted peer: both sides send FIN at once.
    SimultaneousClose,
    /// Scripted peer: segments delivered in another order.
    OutOfOrder,
    /// Scripted peer: a zero window that stays: probes with backoff.
    ZeroWindowProbe,
    /// Scripted peer: the peer forgets the connection and answers data with RST.
    HalfOpen,
}

const ALL: [Scenario; 37] = [
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
    Scenario::HelloWorld,
    Scenario::RemoteCmd,
    Scenario::Echo,
    Scenario::Many,
    Scenario::LongShort,
    Scenario::Threads,
    Scenario::Fork,
    Scenario::Select,
    Scenario::Epoll,
    Scenario::Bulk,
    Scenario::UdpEcho,
    Scenario::UdpTruncate,
    Scenario::UdpFragments,
    Scenario::UdpBroadcast,
    Scenario::Arp,
    Scenario::Backlog,
    Scenario::Reuseaddr,
    Scenario::Rto,
    Scenario::FastRetransmit,
    Scenario::SynRetry,
    Scenario::SimultaneousOpen,
    Scenario::SimultaneousClose,
    Scenario::OutOfOrder,
    Scenario::ZeroWindowProbe,
    Scenario::HalfOpen,
];

impl Scenario {
    /// Every scenario, in the order `wireseam gen --list` shows them.
    pub fn all() -> &'static [Scenario] {
        &ALL
    }

    /// The name users type and output shows (`half-close`, `udp-echo`, ...).
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
            Scenario::HelloWorld => "hello-world",
            Scenario::RemoteCmd => "remote-cmd",
            Scenario::Echo => "echo",
            Scenario::Many => "many",
            Scenario::LongShort => "long-short",
            Scenario::Threads => "threads",
            Scenario::Fork => "fork",
            Scenario::Select => "select",
            Scenario::Epoll => "epoll",
            Scenario::Bulk => "bulk",
            Scenario::UdpEcho => "udp-echo",
            Scenario::UdpTruncate => "udp-truncate",
            Scenario::UdpFragments => "udp-fragments",
            Scenario::UdpBroadcast => "udp-broadcast",
            Scenario::Arp => "arp",
            Scenario::Backlog => "backlog",
            Scenario::Reuseaddr => "reuseaddr",
            Scenario::Rto => "rto",
            Scenario::FastRetransmit => "fast-retransmit",
            Scenario::SynRetry => "syn-retry",
            Scenario::SimultaneousOpen => "simultaneous-open",
            Scenario::SimultaneousClose => "simultaneous-close",
            Scenario::OutOfOrder => "out-of-order",
            Scenario::ZeroWindowProbe => "zero-window-probe",
            Scenario::HalfOpen => "half-open",
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
            Scenario::HelloWorld => "the lesson's send('hello'), send('world'); a late recv(1024) gets b'helloworld'",
            Scenario::RemoteCmd => "the lesson's remote shell: recv(1024) replies shift; --header len|json fixes it",
            Scenario::Echo => "request/response echo: the server answers each message in upper case",
            Scenario::Many => "many concurrent clients, one short request/response connection each",
            Scenario::LongShort => "N requests over one long connection, then N short ones: N handshakes, N TIME-WAITs",
            Scenario::Threads => "a server with a thread per connection serves several clients at once",
            Scenario::Fork => "a server with a process per connection (fork) serves several clients at once",
            Scenario::Select => "one thread, a select() loop, serves several clients at once",
            Scenario::Epoll => "one thread, an epoll loop (edge-triggered), serves several clients at once",
            Scenario::Bulk => "a large one-way transfer: window growth and MSS-sized segments",
            Scenario::UdpEcho => "UDP datagrams echoed back: each sendto() is one recvfrom(), boundaries kept",
            Scenario::UdpTruncate => "a 2,000-byte datagram read by recvfrom(1024): 1,024 bytes, the rest lost",
            Scenario::UdpFragments => "a datagram larger than the MTU: IP fragments it, one recvfrom() gets it whole",
            Scenario::UdpBroadcast => "UDP datagrams sent to an interface's broadcast address (SO_BROADCAST)",
            Scenario::Arp => "ARP request, gratuitous announcement and probe on an Ethernet interface (root)",
            Scenario::Backlog => "listen(1) and no accept(): the queue fills, later SYNs are dropped and retried",
            Scenario::Reuseaddr => "the server closes first: TIME-WAIT; bind() fails (EADDRINUSE), SO_REUSEADDR works",
            Scenario::Rto => "scripted peer stops acknowledging: retransmissions, each interval doubled (root)",
            Scenario::FastRetransmit => "scripted peer drops a segment: three duplicate ACKs, fast retransmit (root)",
            Scenario::SynRetry => "SYNs nobody answers: retried after 1 s, 2 s, ... then connect() times out (root)",
            Scenario::SimultaneousOpen => "both sides send SYN at once: SYN-SENT -> SYN-RECEIVED on both (root)",
            Scenario::SimultaneousClose => "both sides send FIN at once: FIN-WAIT-1 -> CLOSING -> TIME-WAIT (root)",
            Scenario::OutOfOrder => "scripted peer sends segments 1, 3, 2: reassembly holds and releases (root)",
            Scenario::ZeroWindowProbe => "scripted peer keeps a zero window: zero-window probes with backoff (root)",
            Scenario::HalfOpen => "scripted peer reboots and forgets the connection: data answered by RST (root)",
        }
    }

    /// Transport of the scenario: TCP scenarios use the server/client harness.
    pub fn is_tcp(self) -> bool {
        !matches!(self, Scenario::UdpEcho | Scenario::UdpTruncate | Scenario::UdpFragments | Scenario::UdpBroadcast | Scenario::Arp)
    }

    /// Whether the scenario writes 4-byte length prefixes (and so takes `--endian`).
    pub fn writes_lengths(self) -> bool {
        matches!(self, Scenario::Split | Scenario::Framed | Scenario::Jsonhdr | Scenario::RemoteCmd)
    }

    /// Whether the other end is wireseam's scripted TCP peer on a TUN device (a private
    /// namespace, root): see [`peer`].
    pub fn needs_peer(self) -> bool {
        matches!(
            self,
            Scenario::Rto
                | Scenario::FastRetransmit
                | Scenario::SynRetry
                | Scenario::SimultaneousOpen
                | Scenario::SimultaneousClose
                | Scenario::OutOfOrder
                | Scenario::ZeroWindowProbe
                | Scenario::HalfOpen
        )
    }

    /// Whether the scenario's lesson is its connections' lives (how many, in turn or at the same
    /// time, who closed first), so a lab run also says what its capture shows of them.
    pub fn counts_connections(self) -> bool {
        matches!(self, Scenario::LongShort | Scenario::Threads | Scenario::Fork | Scenario::Select | Scenario::Epoll)
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

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let want = text.trim().to_ascii_lowercase().replace('_', "-");
        ALL.iter().copied().find(|scenario| scenario.name() == want).ok_or_else(|| UnknownScenario(text.to_string()))
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

/// A name that is no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}'; one of: both, server, client")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "both" => Ok(Role::Both),
            "server" => Ok(Role::Server),
            "client" => Ok(Role::Client),
            _ => Err(UnknownRole(text.to_string())),
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
    /// What to produce.
    pub scenario: Scenario,
    /// Server address (listen on it, or connect to it). Default 127.0.0.1; ::1 works too.
    pub addr: IpAddr,
    /// Server port; 0 picks a free one (only with `Role::Both` or `Role::Server`).
    pub port: u16,
    /// Which side(s) this process plays.
    pub role: Role,
    /// Seed for random sizes (framed, jsonhdr, echo, udp-echo).
    pub seed: u64,
    /// Messages, clients, probes or attempts, where the scenario has such a number.
    pub count: Option<usize>,
    /// Message size (echo, udp-echo), largest message (framed, jsonhdr) or transfer size.
    pub size: Option<usize>,
    /// `TCP_MAXSEG` set on the client before connecting (split; default 536).
    pub mss: Option<u32>,
    /// Interface for arp and udp-broadcast; udp-truncate and udp-fragments bind their client to it.
    pub iface: Option<String>,
    /// Byte order of the length prefixes (framed, jsonhdr, split: big; remote-cmd: little);
    /// `None` for the scenario's own.
    pub endian: Option<Endian>,
    /// Sizes of the server's recv() calls (hello-world, default 1024,1024) or of its one
    /// recvfrom() (udp-truncate, default 1024); empty for the scenario's own.
    pub recv: Vec<usize>,
    /// How long after accept() the hello-world server makes its first recv() (default 200 ms).
    pub read_after: Option<Duration>,
    /// What the remote-cmd server sends before each output (default none).
    pub header: Option<CmdHeader>,
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
            endian: None,
            recv: Vec::new(),
            read_after: None,
            header: None,
            quiet: false,
        }
    }
}

impl GenConfig {
    /// The defaults (127.0.0.1:9000, both roles, seed 1) for `scenario`.
    pub fn new(scenario: Scenario) -> Self {
        GenConfig { scenario, ..GenConfig::default() }
    }

    /// Reject option combinations that cannot work, before any socket is opened.
    pub fn validate(&self) -> Result<(), GenError> {
        let scenario = self.scenario;
        if self.role == Role::Client && self.port == 0 && scenario != Scenario::Arp {
            return Err(GenError::Config("a client needs the server's port: give --port".into()));
        }
        if let Some(mss) = self.mss {
            if !(88..=65495).contains(&mss) {
                return Err(GenError::Config(format!("--mss {mss} is out of range; Linux accepts 88 to 65495")));
            }
        }
        if let Some((min, max)) = limits::count(scenario) {
            if let Some(count) = self.count {
                if count < min || count > max {
                    return Err(GenError::Config(format!("--count {count} is out of range for {scenario}: {min} to {max}")));
                }
            }
        }
        if let Some((min, max)) = limits::size(scenario) {
            if let Some(size) = self.size {
                if size < min || size > max {
                    return Err(GenError::Config(format!("--size {size} is out of range for {scenario}: {min} to {max}")));
                }
            }
        }
        if let (Some(count), Some(size)) = (self.count, self.size) {
            if matches!(scenario, Scenario::Framed | Scenario::Jsonhdr | Scenario::Echo | Scenario::UdpEcho)
                && count.saturating_mul(size) > limits::TOTAL
            {
                return Err(GenError::Config(format!(
                    "--count {count} x --size {size} is more than {} MiB; {scenario} stays small to finish in seconds",
                    limits::TOTAL >> 20
                )));
            }
        }
        lessons::validate(self)?;
        if scenario.needs_peer() && self.role != Role::Both {
            return Err(GenError::Config(format!(
                "{scenario} plays both ends itself (the kernel and the scripted peer): leave out --role"
            )));
        }
        if self.endian.is_some() && !scenario.writes_lengths() {
            return Err(GenError::Config(format!(
                "{scenario} writes no length prefix; --endian applies to {}",
                ALL.iter().filter(|s| s.writes_lengths()).map(|s| s.name()).collect::<Vec<_>>().join(", ")
            )));
        }
        if scenario.needs_iface() && self.iface.is_none() {
            return Err(GenError::Config(format!(
                "{scenario} sends on a network interface: give --iface (an Ethernet or veth interface, not lo)"
            )));
        }
        if matches!(scenario, Scenario::UdpBroadcast | Scenario::Arp) && self.addr.is_ipv6() {
            return Err(GenError::Unsupported(format!("{scenario} is IPv4 only (IPv6 has neither broadcast nor ARP)")));
        }
        Ok(())
    }

    pub(crate) fn count_or(&self, default: usize) -> usize {
        self.count.unwrap_or(default)
    }

    pub(crate) fn size_or(&self, default: usize) -> usize {
        self.size.unwrap_or(default)
    }

    /// The byte order of length prefixes: `--endian`, else the scenario's own (little for the
    /// lesson's `struct.pack('i')`, big for the rest).
    pub(crate) fn endian(&self) -> Endian {
        self.endian.unwrap_or(if self.scenario == Scenario::RemoteCmd { Endian::Little } else { Endian::Big })
    }
}

/// Bounds that keep every scenario within its time budget.
mod limits {
    use super::Scenario;

    /// Smallest and largest `--count` of a scenario that takes one.
    pub fn count(scenario: Scenario) -> Option<(usize, usize)> {
        Some(match scenario {
            Scenario::HalfClose => (1, 100),
            Scenario::Refused => (1, 20),
            Scenario::Keepalive => (1, 8),
            Scenario::Sticky | Scenario::Nodelay => (2, 1000),
            Scenario::Framed | Scenario::Jsonhdr | Scenario::Echo => (1, 10_000),
            Scenario::Many => (1, 500),
            Scenario::LongShort => (1, 50),
            Scenario::Threads | Scenario::Fork | Scenario::Select | Scenario::Epoll => (1, 32),
            Scenario::UdpEcho => (1, 1000),
            Scenario::UdpBroadcast => (1, 50),
            Scenario::RemoteCmd => (1, 20),
            Scenario::Backlog => (3, 8),
            Scenario::Rto => (1, 6),
            Scenario::FastRetransmit => (4, 40),
            Scenario::SynRetry => (1, 4),
            Scenario::ZeroWindowProbe => (1, 6),
            _ => return None,
        })
    }

    /// Largest count x size of the scenarios that send `count` messages of up to `size` bytes.
    pub const TOTAL: usize = 64 << 20;

    /// Smallest and largest `--size` of a scenario that takes one.
    pub fn size(scenario: Scenario) -> Option<(usize, usize)> {
        Some(match scenario {
            // the zero-window receiver reads about 0.5 MB/s once it wakes up
            Scenario::ZeroWindow => (1, 1 << 20),
            Scenario::Split => (1, 1 << 20),
            Scenario::Framed | Scenario::Jsonhdr | Scenario::Echo => (1, 1 << 20),
            Scenario::Bulk => (1, 1 << 30),
            Scenario::UdpEcho => (1, 65_507),
            Scenario::RemoteCmd => (1, 1 << 20),
            // the largest UDP payload in IPv4: 65,535 - 20 (IP header) - 8 (UDP header)
            Scenario::UdpTruncate | Scenario::UdpFragments => (1, 65_507),
            _ => return None,
        })
    }
}

/// Application-level counts of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Application bytes written.
    pub bytes_sent: u64,
    /// Application bytes read.
    pub bytes_received: u64,
    /// Messages (lines, frames, datagrams) written.
    pub messages_sent: usize,
    /// Messages read.
    pub messages_received: usize,
}

impl Tally {
    /// Add another tally's counts (one connection's, to a side's total).
    pub(crate) fn add(&mut self, other: &Tally) {
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.messages_sent += other.messages_sent;
        self.messages_received += other.messages_received;
    }

    /// Count one message of `bytes` received.
    pub(crate) fn got(&mut self, bytes: usize) {
        self.bytes_received += bytes as u64;
        self.messages_received += 1;
    }
}

/// What a run did, measured by the sockets themselves.
#[derive(Clone, Debug)]
pub struct GenReport {
    /// The scenario that ran.
    pub scenario: Scenario,
    /// The side(s) this process played.
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
    /// What the client side read and wrote (zero when it did not run here).
    pub client_tally: Tally,
    /// What the server side read and wrote (zero when it did not run here).
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
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
    /// Measured facts, one line each (also narrated).
    pub notes: Vec<String>,
    /// What the lesson's server program would print for what this run's server received, one
    /// line each (`第一次 b'helloworld'`); empty when the server did not run here.
    pub server_prints: Vec<String>,
    /// What the lesson's client program would print (`b'hi'`, a reply's repr); empty when the
    /// client did not run here.
    pub client_prints: Vec<String>,
}

impl GenReport {
    /// One line for the end of a run, e.g. `sticky: 21 messages (16524 bytes) sent, 1 reply; nagle 10
    /// messages in 2 segments, cork 10 in 1; 0.41 s`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}: {} message{} ({} bytes) sent, {} repl{}",
            self.scenario,
            self.messages,
            if self.messages == 1 { "" } else { "s" },
            self.bytes_sent,
            self.replies,
            if self.replies == 1 { "y" } else { "ies" }
        );
        if self.connections > 1 {
            line += &format!(", {} connections", self.connections);
        }
        if self.refused > 0 {
            line += &format!(", {} refused", self.refused);
        }
        if self.resets > 0 {
            line += &format!(", {} reset", self.resets);
        }
        let bursts: Vec<String> =
            self.bursts.iter().map(|b| format!("{} {} messages in {} segments", b.mode, b.messages, b.segments)).collect();
        if !bursts.is_empty() {
            line += &format!("; {}", bursts.join(", "));
        }
        line + &format!("; {:.2} s", self.elapsed.as_secs_f64())
    }
}

/// A burst of small writes and the data segments that carried it (from TCP_INFO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Burst {
    /// How the burst was sent: "nagle", "cork", "nodelay", "split" or "framed".
    pub mode: &'static str,
    /// Messages written in the burst.
    pub messages: usize,
    /// Data segments the kernel sent for them (TCP_INFO `tcpi_data_segs_out` difference).
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
            server_prints: Vec::new(),
            client_prints: Vec::new(),
        }
    }
}

/// Why a generator run failed; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The server port is taken (EADDRINUSE).
    #[error("port {port} is in use; pick another with --port")]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// The address is not local (EADDRNOTAVAIL).
    #[error("{addr} is not an address of this machine (or its interface is down); use a local address such as 127.0.0.1 or ::1")]
    AddrNotAvailable {
        /// The address asked for.
        addr: IpAddr,
    },
    /// A client found no server (ECONNREFUSED where the scenario does not expect it).
    #[error("nothing listens on {addr} (connection refused); start the server side first (--role server)")]
    Refused {
        /// The server address contacted.
        addr: SocketAddr,
    },
    /// A bounded wait ran out.
    #[error("timed out after {secs:.1} s {what}")]
    Timeout {
        /// What was being waited for, as a phrase ("waiting for a client").
        what: String,
        /// How long the wait was.
        secs: f64,
    },
    /// The scenario needs a privilege this process lacks (raw frames, a port below 1024, broadcast).
    #[error("{0}")]
    Permission(String),
    /// The scenario cannot run here (loopback where Ethernet is needed, IPv6 where only IPv4 exists).
    #[error("{0}")]
    Unsupported(String),
    /// An option or combination of options is out of range.
    #[error("{0}")]
    Config(String),
    /// The peer's data was not what the scenario sent or expected.
    #[error("the peer did not answer as expected: {0}")]
    Mismatch(String),
    /// A socket call failed.
    #[error("{what}: {source}")]
    Io {
        /// The call, as a phrase ("connecting to 127.0.0.1:9000").
        what: String,
        /// The error it returned.
        #[source]
        source: io::Error,
    },
    /// A generator thread panicked or broke an invariant.
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
    if cfg.scenario.needs_peer() {
        return Err(GenError::Unsupported(format!(
            "{} needs the scripted peer: run `wireseam gen {}` as root (it sets up a private namespace itself)",
            cfg.scenario, cfg.scenario
        )));
    }
    drive(cfg, log, |voice| dispatch(cfg, voice))
}

/// Run a scripted-peer scenario ([`Scenario::needs_peer`]) against the kernel, the peer on
/// `tun` (in the calling thread's network namespace, with [`peer::KERNEL_ADDR`] on it).
pub fn run_with_peer(cfg: &GenConfig, tun: peer::Tun, log: &mut dyn io::Write) -> Result<GenReport, GenError> {
    if !cfg.scenario.needs_peer() {
        return Err(GenError::Internal(format!("{} is not a scripted-peer scenario", cfg.scenario)));
    }
    drive(cfg, log, move |voice| peer::dispatch(cfg, tun, voice))
}

fn drive(
    cfg: &GenConfig,
    log: &mut dyn io::Write,
    work: impl FnOnce(&Voice) -> Result<GenReport, GenError> + Send,
) -> Result<GenReport, GenError> {
    cfg.validate()?;
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<Line>();
    let voice = Voice { tx, who: Who::Gen };
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            voice.say(format!("{}: {}", cfg.scenario, cfg.scenario.describe()));
            work(&voice)
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

fn dispatch(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    match cfg.scenario {
        Scenario::Handshake => session::handshake(cfg, voice),
        Scenario::HalfClose => session::half_close(cfg, voice),
        Scenario::ServerClose => session::server_close(cfg, voice),
        Scenario::Reset => session::reset(cfg, voice),
        Scenario::Refused => session::refused(cfg, voice),
        Scenario::Keepalive => session::keepalive(cfg, voice),
        Scenario::ZeroWindow => flow::zero_window(cfg, voice),
        Scenario::Echo => flow::echo(cfg, voice),
        Scenario::Many => flow::many(cfg, voice),
        Scenario::LongShort => lifetime::long_short(cfg, voice),
        Scenario::Threads => servers::run(cfg, voice, servers::Model::Threads),
        Scenario::Fork => servers::run(cfg, voice, servers::Model::Fork),
        Scenario::Select => servers::run(cfg, voice, servers::Model::Select),
        Scenario::Epoll => servers::run(cfg, voice, servers::Model::Epoll),
        Scenario::Bulk => flow::bulk(cfg, voice),
        Scenario::Sticky => seams::sticky(cfg, voice, false),
        Scenario::Nodelay => seams::sticky(cfg, voice, true),
        Scenario::Split => seams::split(cfg, voice),
        Scenario::Framed => seams::framed(cfg, voice),
        Scenario::Jsonhdr => seams::jsonhdr(cfg, voice),
        Scenario::HelloWorld => lessons::hello_world(cfg, voice),
        Scenario::RemoteCmd => lessons::remote_cmd(cfg, voice),
        Scenario::UdpTruncate => lessons::udp_truncate(cfg, voice),
        Scenario::UdpFragments => lessons::udp_fragments(cfg, voice),
        Scenario::UdpEcho => udp::echo(cfg, voice),
        Scenario::UdpBroadcast => udp::broadcast(cfg, voice),
        Scenario::Arp => arp::run(cfg, voice),
        Scenario::Backlog => sockets::backlog(cfg, voice),
        Scenario::Reuseaddr => sockets::reuseaddr(cfg, voice),
        other => Err(GenError::Internal(format!("{other} needs the scripted peer"))),
    }
}

// ---------------------------------------------------------------------------------------------
// narration

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    Gen,
    Server,
    Client,
    /// The kernel's side of a scripted-peer scenario.
    Kernel,
    /// The scripted peer.
    Peer,
}

/// How a narration line is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// What is being done (wrapped).
    Say,
    /// Why the capture looks the way it does (wrapped, tagged `why`).
    Why,
    /// What the lesson's program prints, verbatim (never wrapped: spaces are part of it).
    Print,
}

pub(crate) struct Line {
    who: Who,
    kind: Kind,
    text: String,
}

const WRAP: usize = 100;

impl Line {
    fn write_to(&self, w: &mut dyn io::Write) -> io::Result<()> {
        let tag = match (self.kind, self.who) {
            (Kind::Why, _) => "   why",
            (_, Who::Gen) => "",
            (_, Who::Server) => "server",
            (_, Who::Client) => "client",
            (_, Who::Kernel) => "kernel",
            (_, Who::Peer) => "  peer",
        };
        if self.kind == Kind::Print {
            return writeln!(w, "{tag}  prints {}", self.text);
        }
        if tag.is_empty() {
            return writeln!(w, "{}", self.text);
        }
        let indent = " ".repeat(tag.len() + 2);
        for (i, piece) in wrap(&self.text, WRAP - indent.len()).iter().enumerate() {
            if i == 0 {
                writeln!(w, "{tag}  {piece}")?;
            } else {
                writeln!(w, "{indent}{piece}")?;
            }
        }
        Ok(())
    }
}

/// Greedy word wrap; words longer than `width` stay whole.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
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
        let _ = self.tx.send(Line { who: self.who, kind: Kind::Say, text: text.into() });
    }

    /// What the lesson's program would print here, shown verbatim.
    pub(crate) fn print(&self, text: impl Into<String>) {
        let _ = self.tx.send(Line { who: self.who, kind: Kind::Print, text: text.into() });
    }

    /// Why the capture looks the way it does.
    pub(crate) fn why(&self, text: impl Into<String>) {
        let _ = self.tx.send(Line { who: self.who, kind: Kind::Why, text: text.into() });
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

/// Printable, position-dependent payload of `len` bytes for message `index` (so reassembly can
/// be checked by eye).
pub(crate) fn body(index: usize, len: usize) -> Vec<u8> {
    let mut pattern = format!("m{index:02}:").into_bytes();
    pattern.extend(b'A'..=b'Z');
    pattern.iter().copied().cycle().take(len).collect()
}

/// 4-byte length in `order` + body: the tutorial's `struct.pack('>I', len(body)) + body` (big).
pub(crate) fn frame(body: &[u8], order: Endian) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&order.pack(body.len() as u32));
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
        assert_eq!(Scenario::all().len(), 37);
        assert_eq!("hello_world".parse::<Scenario>().unwrap(), Scenario::HelloWorld);
        assert_eq!("ZERO_WINDOW".parse::<Scenario>().unwrap(), Scenario::ZeroWindow);
        assert_eq!(" udp-echo ".parse::<Scenario>().unwrap(), Scenario::UdpEcho);
    }

    #[test]
    fn unknown_scenario_lists_names() {
        let e = "stikcy".parse::<Scenario>().unwrap_err().to_string();
        assert!(e.starts_with("unknown scenario 'stikcy'; one of: handshake, half-close"), "{e}");
        assert!(e.ends_with("zero-window-probe, half-open"), "{e}");
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
        let endian = GenConfig { endian: Some(Endian::Little), ..GenConfig::new(Scenario::Echo) };
        assert!(bad(endian).contains("echo writes no length prefix; --endian applies to split, framed, jsonhdr, remote-cmd"));
        assert_eq!(GenConfig::new(Scenario::RemoteCmd).endian(), Endian::Little);
        assert_eq!(GenConfig::new(Scenario::Framed).endian(), Endian::Big);
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
        assert_eq!(frame(b"hello", Endian::Big), b"\x00\x00\x00\x05hello");
        assert_eq!(frame(b"hello", Endian::Little), b"\x05\x00\x00\x00hello");
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("", 10), vec![""]);
        let mut out = Vec::new();
        Line { who: Who::Client, kind: Kind::Say, text: "connected".into() }.write_to(&mut out).unwrap();
        Line { who: Who::Server, kind: Kind::Why, text: "because".into() }.write_to(&mut out).unwrap();
        Line { who: Who::Server, kind: Kind::Print, text: "b'a  b'".into() }.write_to(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "client  connected\n   why  because\nserver  prints b'a  b'\n");
    }
}
