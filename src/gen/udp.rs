//! UDP: datagrams keep their boundaries (contrast with `sticky`), and broadcast on an interface.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::thread::sleep;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::net::{Ctx, Env, IO_TIMEOUT};
use super::{GenConfig, GenError, GenReport, Rng, Role, Tally, Voice, Who};

/// How long a client waits for each echoed datagram.
const REPLY_WAIT: Duration = Duration::from_secs(2);

pub(crate) fn bind_udp(addr: SocketAddr, broadcast: bool) -> Result<UdpSocket, GenError> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).ctx("creating a socket")?;
    if addr.is_ipv6() {
        sock.set_only_v6(true).ctx("setting IPV6_V6ONLY")?;
    }
    if broadcast {
        sock.set_reuse_address(true).ctx("setting SO_REUSEADDR")?;
        sock.set_broadcast(true).ctx("setting SO_BROADCAST")?;
    }
    sock.bind(&SockAddr::from(addr)).map_err(|err| match err.raw_os_error() {
        Some(libc::EADDRINUSE) => GenError::PortInUse { port: addr.port() },
        Some(libc::EADDRNOTAVAIL) => GenError::AddrNotAvailable { addr: addr.ip() },
        _ => GenError::io(format!("binding {addr}"), err),
    })?;
    Ok(sock.into())
}

pub(crate) fn timed_out(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

// ---------------------------------------------------------------------------------------------
// udp-echo

fn datagram(index: usize, len: usize) -> Vec<u8> {
    let mut pattern = format!("dgram {index:02} ").into_bytes();
    pattern.extend(b'a'..=b'z');
    pattern.iter().copied().cycle().take(len).collect()
}

fn sizes(cfg: &GenConfig) -> Vec<usize> {
    let mut rng = Rng::new(cfg.seed);
    (0..cfg.count_or(5)).map(|_| cfg.size.unwrap_or_else(|| rng.range(16, 1200))).collect()
}

pub(crate) fn echo(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "UDP is message oriented: every sendto() is one datagram and every recvfrom() returns exactly one, \
         never two glued together and never half of one (a buffer too small truncates it instead). The client \
         sends all its datagrams back to back, the way the sticky client writes, yet the server still reads \
         them one by one. No handshake, no ACKs: a datagram lost is simply gone.",
    );
    let env = Env::new(cfg);
    let mut report = GenReport::new(cfg);
    let target = SocketAddr::new(cfg.addr, cfg.port);
    match cfg.role {
        Role::Client => {
            report.server = Some(target);
            let (tally, local) = echo_client(&env, target, &voice.as_(Who::Client))?;
            report.client = Some(local);
            fill(&mut report, Some(tally), None);
        }
        Role::Server => {
            let sock = bind_udp(target, false)?;
            let at = sock.local_addr().ctx("reading the bound address")?;
            let server_voice = voice.as_(Who::Server);
            server_voice.say(format!("bound {at}; waiting up to {:.0} s for datagrams", env.wait.as_secs_f64()));
            report.server = Some(at);
            let tally = echo_server(&env, &sock, &server_voice)?;
            fill(&mut report, None, Some(tally));
        }
        Role::Both => {
            let sock = bind_udp(target, false)?;
            let at = sock.local_addr().ctx("reading the bound address")?;
            let server_voice = voice.as_(Who::Server);
            server_voice.say(format!("bound {at}"));
            report.server = Some(at);
            let (client, server) = std::thread::scope(|scope| {
                let (env_ref, sock_ref) = (&env, &sock);
                let server_thread = scope.spawn(move || echo_server(env_ref, sock_ref, &server_voice));
                let client = echo_client(&env, at, &voice.as_(Who::Client));
                let server = server_thread.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into())));
                (client, server)
            });
            let (client, local) = client?;
            let server = server?;
            report.client = Some(local);
            fill(&mut report, Some(client), Some(server));
        }
    }
    Ok(report)
}

fn fill(report: &mut GenReport, client: Option<Tally>, server: Option<Tally>) {
    if let Some(server) = server {
        report.server_tally = server;
        report.server_reads = Some(server.messages_received);
        report.bytes_sent = server.bytes_sent;
        report.messages = server.messages_sent;
        report.replies = server.messages_received;
    }
    if let Some(client) = client {
        report.client_tally = client;
        report.bytes_sent = client.bytes_sent;
        report.messages = client.messages_sent;
        report.replies = client.messages_received;
    }
}

fn echo_server(env: &Env, sock: &UdpSocket, voice: &Voice) -> Result<Tally, GenError> {
    let want = env.cfg.count_or(5);
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 65_536];
    let mut sizes = Vec::new();
    while tally.messages_received < want {
        let wait = if tally.messages_received == 0 { env.wait } else { IO_TIMEOUT };
        sock.set_read_timeout(Some(wait)).ctx("setting the read timeout")?;
        let (len, peer) = match sock.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err) if timed_out(&err) && tally.messages_received > 0 => {
                voice.say(format!("no more datagrams after {} of {want}: the rest were lost", tally.messages_received));
                break;
            }
            Err(err) if timed_out(&err) => {
                return Err(GenError::Timeout { what: "waiting for a datagram".into(), secs: wait.as_secs_f64() })
            }
            Err(err) => return Err(GenError::io("receiving a datagram", err)),
        };
        tally.got(len);
        sizes.push(len.to_string());
        sock.send_to(&buf[..len], peer).ctx("echoing a datagram")?;
        tally.bytes_sent += len as u64;
        tally.messages_sent += 1;
    }
    voice.say(format!(
        "{} recvfrom() calls returned exactly one datagram each: {} bytes; each echoed back",
        tally.messages_received,
        sizes.join(", ")
    ));
    Ok(tally)
}

fn echo_client(env: &Env, at: SocketAddr, voice: &Voice) -> Result<(Tally, SocketAddr), GenError> {
    let any: IpAddr = if at.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
    let sock = bind_udp(SocketAddr::new(any, 0), false)?;
    // A connected UDP socket learns of ICMP port-unreachable (nobody listening) as ECONNREFUSED.
    sock.connect(at).ctx("setting the peer address")?;
    let local = sock.local_addr().ctx("reading the bound address")?;
    let sizes = sizes(env.cfg);
    let mut tally = Tally::default();
    let sent: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &len)| datagram(i, len)).collect();
    for dgram in &sent {
        match sock.send(dgram) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr: at }),
            Err(err) => return Err(GenError::io("sending a datagram", err)),
        }
        tally.bytes_sent += dgram.len() as u64;
        tally.messages_sent += 1;
    }
    let list: Vec<String> = sizes.iter().map(|len| len.to_string()).collect();
    voice.say(format!("sent {} datagrams back to back from {local}: {} bytes", sent.len(), list.join(", ")));
    sock.set_read_timeout(Some(REPLY_WAIT)).ctx("setting the read timeout")?;
    let mut buf = vec![0u8; 65_536];
    let mut seen = vec![false; sent.len()];
    while tally.messages_received < sent.len() {
        let len = match sock.recv(&mut buf) {
            Ok(len) => len,
            Err(err) if timed_out(&err) => break,
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr: at }),
            Err(err) => return Err(GenError::io("receiving an echo", err)),
        };
        match sent.iter().position(|dgram| dgram[..] == buf[..len]) {
            Some(i) if !seen[i] => {
                seen[i] = true;
                tally.got(len);
            }
            _ => return Err(GenError::Mismatch(format!("an echo matches no datagram sent ({len} bytes)"))),
        }
    }
    let lost = sent.len() - tally.messages_received;
    if lost > 0 {
        voice.say(format!("{lost} of {} echoes never came back: UDP does not retransmit", sent.len()));
    } else {
        voice.say(format!("all {} echoes came back, each as one datagram of the size sent", sent.len()));
    }
    Ok((tally, local))
}

// ---------------------------------------------------------------------------------------------
// udp-broadcast

/// IPv4 address and broadcast address of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BcastIface {
    /// The interface's IPv4 address.
    pub addr: Ipv4Addr,
    /// Its broadcast address.
    pub broadcast: Ipv4Addr,
    /// Prefix length, when the broadcast address was computed from it because none is set.
    pub computed_from: Option<u32>,
}

/// The directed broadcast address of `addr/prefix` (RFC 919, RFC 922): the host bits all ones.
/// `None` for /31 and /32, which have no broadcast address (RFC 3021).
pub(crate) fn directed_broadcast(addr: Ipv4Addr, prefix: u32) -> Option<Ipv4Addr> {
    if prefix >= 31 {
        return None;
    }
    let host = u32::MAX >> prefix;
    Some(Ipv4Addr::from(u32::from(addr) | host))
}

/// Find `name`'s IPv4 broadcast address with getifaddrs(3).
pub(crate) fn broadcast_of(name: &str) -> Result<BcastIface, GenError> {
    use nix::net::if_::InterfaceFlags;
    let addrs = nix::ifaddrs::getifaddrs().map_err(|err| GenError::io("listing interfaces", err.into()))?;
    let mine: Vec<_> = addrs.filter(|ifaddr| ifaddr.interface_name == name).collect();
    if mine.is_empty() {
        return Err(GenError::Config(format!("no interface named {name}; `ip -br link` lists them")));
    }
    if mine.iter().any(|ifaddr| ifaddr.flags.contains(InterfaceFlags::IFF_LOOPBACK)) {
        return Err(GenError::Unsupported(format!(
            "{name} has no broadcast address (loopback has none); use an Ethernet or veth interface"
        )));
    }
    let v4 = mine.iter().find_map(|ifaddr| {
        let ip = ifaddr.address.as_ref()?.as_sockaddr_in()?.ip();
        let broadcast = ifaddr.broadcast.as_ref().and_then(|addr| addr.as_sockaddr_in()).map(|addr| addr.ip());
        let prefix = ifaddr.netmask.as_ref().and_then(|mask| mask.as_sockaddr_in()).map(|mask| u32::from(mask.ip()).count_ones());
        Some((ip, broadcast, prefix, ifaddr.flags))
    });
    match v4 {
        None => Err(GenError::Unsupported(format!("{name} has no IPv4 address; broadcast needs one"))),
        // An address added without `broadcast`: getifaddrs(3) then reports the address itself (or
        // 0.0.0.0) as the broadcast address; the directed broadcast follows from the prefix.
        Some((addr, reported, Some(prefix), flags))
            if flags.contains(InterfaceFlags::IFF_BROADCAST) && reported.is_none_or(|b| b == addr || b.is_unspecified()) =>
        {
            match directed_broadcast(addr, prefix) {
                Some(broadcast) => Ok(BcastIface { addr, broadcast, computed_from: Some(prefix) }),
                None => Err(GenError::Unsupported(format!(
                    "{name} has {addr}/{prefix}, a prefix without a broadcast address (RFC 3021); use a /30 or shorter"
                ))),
            }
        }
        Some((addr, Some(broadcast), _, flags)) if flags.contains(InterfaceFlags::IFF_BROADCAST) => {
            Ok(BcastIface { addr, broadcast, computed_from: None })
        }
        Some(_) => Err(GenError::Unsupported(format!(
            "{name} has no IPv4 broadcast address (point-to-point or not configured); pick an Ethernet-like interface"
        ))),
    }
}

pub(crate) fn broadcast(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    let name = cfg.iface.as_deref().unwrap_or_default();
    let iface = broadcast_of(name)?;
    let env = Env::new(cfg);
    let mut report = GenReport::new(cfg);
    voice.why(format!(
        "SO_BROADCAST allows sending to {}, the broadcast address of {name} ({}): one datagram, delivered to \
         every host on that link (Ethernet destination ff:ff:ff:ff:ff:ff) that has a socket on the port. \
         Routers do not forward it. A receiver must be bound to the wildcard (or broadcast) address.",
        iface.broadcast,
        iface.computed_from.map_or_else(
            || iface.addr.to_string(),
            |p| format!(
                "{}/{p}; no broadcast address is set on it, so wireseam computed the directed broadcast from the prefix",
                iface.addr
            )
        )
    ));
    let count = cfg.count_or(3);
    let server_voice = voice.as_(Who::Server);
    let client_voice = voice.as_(Who::Client);
    let recv_sock = |port: u16| -> Result<UdpSocket, GenError> {
        let sock = bind_udp(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), true)?;
        let at = sock.local_addr().ctx("reading the bound address")?;
        server_voice.say(format!("receiver bound to {at} (any address, port {})", at.port()));
        Ok(sock)
    };
    match cfg.role {
        Role::Client => {
            let tally = bc_send(&iface, cfg.port, count, &client_voice)?;
            report.server = Some(SocketAddr::new(iface.broadcast.into(), cfg.port));
            report.client = Some(SocketAddr::new(iface.addr.into(), 0));
            fill(&mut report, Some(tally), None);
        }
        Role::Server => {
            let sock = recv_sock(cfg.port)?;
            let tally = bc_receive(&sock, count, env.wait, &server_voice)?;
            report.server = Some(sock.local_addr().ctx("reading the bound address")?);
            fill(&mut report, None, Some(tally));
        }
        Role::Both => {
            let sock = recv_sock(cfg.port)?;
            let port = sock.local_addr().ctx("reading the bound address")?.port();
            let (sent, received) = std::thread::scope(|scope| {
                let (sock_ref, voice_ref) = (&sock, &server_voice);
                let receiver = scope.spawn(move || bc_receive(sock_ref, count, Duration::from_secs(2), voice_ref));
                let sent = bc_send(&iface, port, count, &client_voice);
                (sent, receiver.join().unwrap_or_else(|_| Err(GenError::Internal("the receiver thread panicked".into()))))
            });
            let sent = sent?;
            let received = received?;
            report.server = Some(SocketAddr::new(iface.broadcast.into(), port));
            report.client = Some(SocketAddr::new(iface.addr.into(), 0));
            fill(&mut report, Some(sent), None);
            report.server_tally = received;
            report.replies = received.messages_received;
        }
    }
    Ok(report)
}

fn bc_send(iface: &BcastIface, port: u16, count: usize, voice: &Voice) -> Result<Tally, GenError> {
    let sock = bind_udp(SocketAddr::new(iface.addr.into(), 0), true)?;
    let to = SocketAddr::new(iface.broadcast.into(), port);
    let mut tally = Tally::default();
    for i in 1..=count {
        let msg = format!("wireseam broadcast {i} of {count} from {}\n", iface.addr);
        sock.send_to(msg.as_bytes(), to).map_err(|err| match err.raw_os_error() {
            Some(libc::EACCES) => GenError::Permission("sending to a broadcast address needs SO_BROADCAST".into()),
            _ => GenError::io(format!("sending to {to}"), err),
        })?;
        tally.bytes_sent += msg.len() as u64;
        tally.messages_sent += 1;
        if i < count {
            sleep(Duration::from_millis(100));
        }
    }
    voice.say(format!("sent {count} datagrams from {} to {to}", iface.addr));
    Ok(tally)
}

fn bc_receive(sock: &UdpSocket, count: usize, first_wait: Duration, voice: &Voice) -> Result<Tally, GenError> {
    let mut tally = Tally::default();
    let mut buf = [0u8; 2048];
    while tally.messages_received < count {
        let wait = if tally.messages_received == 0 { first_wait } else { Duration::from_secs(1) };
        sock.set_read_timeout(Some(wait)).ctx("setting the read timeout")?;
        match sock.recv_from(&mut buf) {
            Ok((len, from)) => {
                tally.got(len);
                if tally.messages_received == 1 {
                    voice.say(format!("received {} from {from}", super::net::show(&buf[..len])));
                }
            }
            Err(err) if timed_out(&err) => break,
            Err(err) => return Err(GenError::io("receiving a broadcast", err)),
        }
    }
    voice.say(format!("received {} of {count} broadcast datagrams", tally.messages_received));
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_broadcast_from_the_prefix() {
        let a: Ipv4Addr = "10.9.0.1".parse().unwrap();
        assert_eq!(directed_broadcast(a, 24), Some("10.9.0.255".parse().unwrap()));
        assert_eq!(directed_broadcast(a, 16), Some("10.9.255.255".parse().unwrap()));
        assert_eq!(directed_broadcast(a, 30), Some("10.9.0.3".parse().unwrap()));
        assert_eq!(directed_broadcast(a, 31), None);
        assert_eq!(directed_broadcast(a, 32), None);
        assert_eq!(directed_broadcast(a, 0), Some(Ipv4Addr::BROADCAST));
    }

    #[test]
    fn loopback_has_no_broadcast() {
        let e = broadcast_of("lo").unwrap_err().to_string();
        assert!(e.contains("loopback has none"), "{e}");
        let e = broadcast_of("no-such-if0").unwrap_err().to_string();
        assert!(e.contains("no interface named no-such-if0"), "{e}");
    }

    #[test]
    fn datagram_payloads() {
        assert_eq!(datagram(3, 12), b"dgram 03 abc");
    }
}
