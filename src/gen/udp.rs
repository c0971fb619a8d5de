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

fn bind_udp(addr: SocketAddr, broadcast: bool) -> Result<UdpSocket, GenError> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).ctx("creating a socket")?;
    if addr.is_ipv6() {
        sock.set_only_v6(true).ctx("setting IPV6_V6ONLY")?;
    }
    if broadcast {
        sock.set_reuse_address(true).ctx("setting SO_REUSEADDR")?;
        sock.set_broadcast(true).ctx("setting SO_BROADCAST")?;
    }
    sock.bind(&SockAddr::from(addr)).map_err(|e| match e.raw_os_error() {
        Some(libc::EADDRINUSE) => GenError::PortInUse { port: addr.port() },
        Some(libc::EADDRNOTAVAIL) => GenError::AddrNotAvailable { addr: addr.ip() },
        _ => GenError::io(format!("binding {addr}"), e),
    })?;
    Ok(sock.into())
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

// ---------------------------------------------------------------------------------------------
// udp-echo

fn datagram(i: usize, n: usize) -> Vec<u8> {
    let mut pat = format!("dgram {i:02} ").into_bytes();
    pat.extend(b'a'..=b'z');
    pat.iter().copied().cycle().take(n).collect()
}

fn sizes(cfg: &GenConfig) -> Vec<usize> {
    let mut rng = Rng::new(cfg.seed);
    (0..cfg.count_or(5)).map(|_| cfg.size.unwrap_or_else(|| rng.range(16, 1200))).collect()
}

pub(crate) fn echo(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    v.why(
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
            let (t, local) = echo_client(&env, target, &v.as_(Who::Client))?;
            report.client = Some(local);
            fill(&mut report, Some(t), None);
        }
        Role::Server => {
            let sock = bind_udp(target, false)?;
            let at = sock.local_addr().ctx("reading the bound address")?;
            let sv = v.as_(Who::Server);
            sv.say(format!("bound {at}; waiting up to {:.0} s for datagrams", env.wait.as_secs_f64()));
            report.server = Some(at);
            let t = echo_server(&env, &sock, &sv)?;
            fill(&mut report, None, Some(t));
        }
        Role::Both => {
            let sock = bind_udp(target, false)?;
            let at = sock.local_addr().ctx("reading the bound address")?;
            let sv = v.as_(Who::Server);
            sv.say(format!("bound {at}"));
            report.server = Some(at);
            let (c, s) = std::thread::scope(|scope| {
                let (env_ref, sock_ref) = (&env, &sock);
                let h = scope.spawn(move || echo_server(env_ref, sock_ref, &sv));
                let c = echo_client(&env, at, &v.as_(Who::Client));
                let s = h.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into())));
                (c, s)
            });
            let (c, local) = c?;
            let s = s?;
            report.client = Some(local);
            fill(&mut report, Some(c), Some(s));
        }
    }
    Ok(report)
}

fn fill(r: &mut GenReport, client: Option<Tally>, server: Option<Tally>) {
    if let Some(s) = server {
        r.server_tally = s;
        r.server_reads = Some(s.messages_received);
        r.bytes_sent = s.bytes_sent;
        r.messages = s.messages_sent;
        r.replies = s.messages_received;
    }
    if let Some(c) = client {
        r.client_tally = c;
        r.bytes_sent = c.bytes_sent;
        r.messages = c.messages_sent;
        r.replies = c.messages_received;
    }
}

fn echo_server(env: &Env, sock: &UdpSocket, v: &Voice) -> Result<Tally, GenError> {
    let want = env.cfg.count_or(5);
    let mut t = Tally::default();
    let mut buf = vec![0u8; 65_536];
    let mut sizes = Vec::new();
    while t.messages_received < want {
        let wait = if t.messages_received == 0 { env.wait } else { IO_TIMEOUT };
        sock.set_read_timeout(Some(wait)).ctx("setting the read timeout")?;
        let (k, peer) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if timed_out(&e) && t.messages_received > 0 => {
                v.say(format!("no more datagrams after {} of {want}: the rest were lost", t.messages_received));
                break;
            }
            Err(e) if timed_out(&e) => return Err(GenError::Timeout { what: "waiting for a datagram".into(), secs: wait.as_secs_f64() }),
            Err(e) => return Err(GenError::io("receiving a datagram", e)),
        };
        t.got(k);
        sizes.push(k.to_string());
        sock.send_to(&buf[..k], peer).ctx("echoing a datagram")?;
        t.bytes_sent += k as u64;
        t.messages_sent += 1;
    }
    v.say(format!(
        "{} recvfrom() calls returned exactly one datagram each: {} bytes; each echoed back",
        t.messages_received,
        sizes.join(", ")
    ));
    Ok(t)
}

fn echo_client(env: &Env, at: SocketAddr, v: &Voice) -> Result<(Tally, SocketAddr), GenError> {
    let any: IpAddr = if at.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
    let sock = bind_udp(SocketAddr::new(any, 0), false)?;
    // A connected UDP socket learns of ICMP port-unreachable (nobody listening) as ECONNREFUSED.
    sock.connect(at).ctx("setting the peer address")?;
    let local = sock.local_addr().ctx("reading the bound address")?;
    let sizes = sizes(env.cfg);
    let mut t = Tally::default();
    let sent: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| datagram(i, n)).collect();
    for d in &sent {
        match sock.send(d) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr: at }),
            Err(e) => return Err(GenError::io("sending a datagram", e)),
        }
        t.bytes_sent += d.len() as u64;
        t.messages_sent += 1;
    }
    let list: Vec<String> = sizes.iter().map(|n| n.to_string()).collect();
    v.say(format!("sent {} datagrams back to back from {local}: {} bytes", sent.len(), list.join(", ")));
    sock.set_read_timeout(Some(REPLY_WAIT)).ctx("setting the read timeout")?;
    let mut buf = vec![0u8; 65_536];
    let mut seen = vec![false; sent.len()];
    while t.messages_received < sent.len() {
        let k = match sock.recv(&mut buf) {
            Ok(k) => k,
            Err(e) if timed_out(&e) => break,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr: at }),
            Err(e) => return Err(GenError::io("receiving an echo", e)),
        };
        match sent.iter().position(|d| d[..] == buf[..k]) {
            Some(i) if !seen[i] => {
                seen[i] = true;
                t.got(k);
            }
            _ => return Err(GenError::Mismatch(format!("an echo matches no datagram sent ({k} bytes)"))),
        }
    }
    let lost = sent.len() - t.messages_received;
    if lost > 0 {
        v.say(format!("{lost} of {} echoes never came back: UDP does not retransmit", sent.len()));
    } else {
        v.say(format!("all {} echoes came back, each as one datagram of the size sent", sent.len()));
    }
    Ok((t, local))
}

// ---------------------------------------------------------------------------------------------
// udp-broadcast

/// IPv4 address and broadcast address of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BcastIface {
    pub addr: Ipv4Addr,
    pub broadcast: Ipv4Addr,
}

/// Find `name`'s IPv4 broadcast address with getifaddrs(3).
pub(crate) fn broadcast_of(name: &str) -> Result<BcastIface, GenError> {
    use nix::net::if_::InterfaceFlags;
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| GenError::io("listing interfaces", e.into()))?;
    let mine: Vec<_> = addrs.filter(|a| a.interface_name == name).collect();
    if mine.is_empty() {
        return Err(GenError::Config(format!("no interface named {name}; `ip -br link` lists them")));
    }
    if mine.iter().any(|a| a.flags.contains(InterfaceFlags::IFF_LOOPBACK)) {
        return Err(GenError::Unsupported(format!(
            "{name} has no broadcast address (loopback has none); use an Ethernet or veth interface"
        )));
    }
    let v4 = mine.iter().find_map(|a| {
        let ip = a.address.as_ref()?.as_sockaddr_in()?.ip();
        let bc = a.broadcast.as_ref().and_then(|b| b.as_sockaddr_in()).map(|b| b.ip());
        Some((ip, bc, a.flags))
    });
    match v4 {
        None => Err(GenError::Unsupported(format!("{name} has no IPv4 address; broadcast needs one"))),
        Some((addr, Some(broadcast), flags)) if flags.contains(InterfaceFlags::IFF_BROADCAST) => Ok(BcastIface { addr, broadcast }),
        Some(_) => Err(GenError::Unsupported(format!(
            "{name} has no IPv4 broadcast address (point-to-point or not configured); pick an Ethernet-like interface"
        ))),
    }
}

pub(crate) fn broadcast(cfg: &GenConfig, v: &Voice) -> Result<GenReport, GenError> {
    let name = cfg.iface.as_deref().unwrap_or_default();
    let ifc = broadcast_of(name)?;
    let env = Env::new(cfg);
    let mut report = GenReport::new(cfg);
    v.why(format!(
        "SO_BROADCAST allows sending to {}, the broadcast address of {name} ({}): one datagram, delivered to \
         every host on that link (Ethernet destination ff:ff:ff:ff:ff:ff) that has a socket on the port. \
         Routers do not forward it. A receiver must be bound to the wildcard (or broadcast) address.",
        ifc.broadcast, ifc.addr
    ));
    let count = cfg.count_or(3);
    let sv = v.as_(Who::Server);
    let cv = v.as_(Who::Client);
    let recv_sock = |port: u16| -> Result<UdpSocket, GenError> {
        let s = bind_udp(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), true)?;
        let at = s.local_addr().ctx("reading the bound address")?;
        sv.say(format!("receiver bound to {at} (any address, port {})", at.port()));
        Ok(s)
    };
    match cfg.role {
        Role::Client => {
            let t = bc_send(&ifc, cfg.port, count, &cv)?;
            report.server = Some(SocketAddr::new(ifc.broadcast.into(), cfg.port));
            report.client = Some(SocketAddr::new(ifc.addr.into(), 0));
            fill(&mut report, Some(t), None);
        }
        Role::Server => {
            let s = recv_sock(cfg.port)?;
            let t = bc_receive(&s, count, env.wait, &sv)?;
            report.server = Some(s.local_addr().ctx("reading the bound address")?);
            fill(&mut report, None, Some(t));
        }
        Role::Both => {
            let s = recv_sock(cfg.port)?;
            let port = s.local_addr().ctx("reading the bound address")?.port();
            let (c, r) = std::thread::scope(|scope| {
                let (s_ref, sv_ref) = (&s, &sv);
                let h = scope.spawn(move || bc_receive(s_ref, count, Duration::from_secs(2), sv_ref));
                let c = bc_send(&ifc, port, count, &cv);
                (c, h.join().unwrap_or_else(|_| Err(GenError::Internal("the receiver thread panicked".into()))))
            });
            let c = c?;
            let r = r?;
            report.server = Some(SocketAddr::new(ifc.broadcast.into(), port));
            report.client = Some(SocketAddr::new(ifc.addr.into(), 0));
            fill(&mut report, Some(c), None);
            report.server_tally = r;
            report.replies = r.messages_received;
        }
    }
    Ok(report)
}

fn bc_send(ifc: &BcastIface, port: u16, count: usize, v: &Voice) -> Result<Tally, GenError> {
    let sock = bind_udp(SocketAddr::new(ifc.addr.into(), 0), true)?;
    let to = SocketAddr::new(ifc.broadcast.into(), port);
    let mut t = Tally::default();
    for i in 1..=count {
        let msg = format!("wireseam broadcast {i} of {count} from {}\n", ifc.addr);
        sock.send_to(msg.as_bytes(), to).map_err(|e| match e.raw_os_error() {
            Some(libc::EACCES) => GenError::Permission("sending to a broadcast address needs SO_BROADCAST".into()),
            _ => GenError::io(format!("sending to {to}"), e),
        })?;
        t.bytes_sent += msg.len() as u64;
        t.messages_sent += 1;
        if i < count {
            sleep(Duration::from_millis(100));
        }
    }
    v.say(format!("sent {count} datagrams from {} to {to}", ifc.addr));
    Ok(t)
}

fn bc_receive(s: &UdpSocket, count: usize, first_wait: Duration, v: &Voice) -> Result<Tally, GenError> {
    let mut t = Tally::default();
    let mut buf = [0u8; 2048];
    while t.messages_received < count {
        let wait = if t.messages_received == 0 { first_wait } else { Duration::from_secs(1) };
        s.set_read_timeout(Some(wait)).ctx("setting the read timeout")?;
        match s.recv_from(&mut buf) {
            Ok((k, from)) => {
                t.got(k);
                if t.messages_received == 1 {
                    v.say(format!("received {} from {from}", super::net::show(&buf[..k])));
                }
            }
            Err(e) if timed_out(&e) => break,
            Err(e) => return Err(GenError::io("receiving a broadcast", e)),
        }
    }
    v.say(format!("received {} of {count} broadcast datagrams", t.messages_received));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

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
