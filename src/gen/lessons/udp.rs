//! The lessons' UDP programs: seed 003's datagram cut short by a small `recvfrom()`, and a
//! datagram larger than the MTU that IP fragments and the receiver still gets whole.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::SockRef;

use super::super::net::{self, Ctx, Env, Part};
use super::super::udp::{bind_udp, timed_out};
use super::super::{body, GenConfig, GenError, GenReport, Role, Voice, Who};
use super::{grouped, py_bytes_repr};

/// A UDP scenario's receiving side: serve on the bound socket, report what it did.
type UdpServe = fn(&Env, &UdpSocket, &Voice) -> Result<Part, GenError>;
/// A UDP scenario's sending side: send to the address, report what it did.
type UdpSend = fn(&Env, SocketAddr, &Voice) -> Result<Part, GenError>;

/// How long a client waits for the server's answer datagram.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// Run a UDP scenario for `cfg.role`, as [`run_tcp`] does a TCP one.
fn run_udp(cfg: &GenConfig, voice: &Voice, serve: UdpServe, client: UdpSend) -> Result<GenReport, GenError> {
    let env = Env::new(cfg);
    let target = SocketAddr::new(cfg.addr, cfg.port);
    let (server_voice, client_voice) = (voice.as_(Who::Server), voice.as_(Who::Client));
    let mut report = GenReport::new(cfg);
    match cfg.role {
        Role::Client => {
            let part = client(&env, target, &client_voice)?;
            report.server = Some(target);
            net::merge(&mut report, Some(part), None);
        }
        Role::Server => {
            let sock = bind_udp(target, false)?;
            let at = sock.local_addr().ctx("reading the bound address")?;
            server_voice.say(format!(
                "bound {at}; waiting up to {:.0} s for a datagram (wireseam gen {} --role client --addr {} --port {})",
                env.wait.as_secs_f64(),
                cfg.scenario,
                at.ip(),
                at.port()
            ));
            report.server = Some(at);
            let part = serve(&env, &sock, &server_voice)?;
            net::merge(&mut report, None, Some(part));
        }
        Role::Both => {
            let sock = bind_udp(target, false)?;
            let at = sock.local_addr().ctx("reading the bound address")?;
            server_voice.say(format!("bound {at}"));
            report.server = Some(at);
            let (sent, served) = std::thread::scope(|scope| {
                let (env_ref, sock_ref) = (&env, &sock);
                let server = scope.spawn(move || serve(env_ref, sock_ref, &server_voice));
                let sent = client(&env, at, &client_voice);
                (sent, server.join().unwrap_or_else(|_| Err(GenError::Internal("the server thread panicked".into()))))
            });
            let (sent, served) = match (sent, served) {
                (Ok(sent), Ok(served)) => (sent, served),
                (Err(client_err), Err(server_err)) => {
                    return Err(if matches!(server_err, GenError::Timeout { .. }) { client_err } else { server_err })
                }
                (Err(err), Ok(_)) | (Ok(_), Err(err)) => return Err(err),
            };
            net::merge(&mut report, Some(sent), Some(served));
        }
    }
    Ok(report)
}

/// recvfrom() with MSG_TRUNC: the datagram's real length (Linux, udp(7)), of which at most
/// `buf.len()` bytes are in `buf`.
#[allow(unsafe_code)]
fn recv_from_trunc(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    // SAFETY: MaybeUninit<u8> has the layout of u8, and recvfrom(2) only ever writes initialized
    // bytes, so `buf` stays initialized; the borrow ends before `buf` is used again.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (len, from) = SockRef::from(sock).recv_from_with_flags(uninit, libc::MSG_TRUNC)?;
    let from = from.as_socket().ok_or_else(|| io::Error::other("a datagram from a non-IP address"))?;
    Ok((len, from))
}

/// Receive the first datagram, waiting up to `wait`.
fn first_datagram(sock: &UdpSocket, buf: &mut [u8], wait: Duration) -> Result<(usize, SocketAddr), GenError> {
    sock.set_read_timeout(Some(wait)).ctx("setting the read timeout")?;
    match recv_from_trunc(sock, buf) {
        Ok(received) => Ok(received),
        Err(error) if timed_out(&error) => Err(GenError::Timeout { what: "waiting for a datagram".into(), secs: wait.as_secs_f64() }),
        Err(error) => Err(GenError::io("receiving a datagram", error)),
    }
}

/// A socket for the sending side, connected to `at` (so an ICMP port unreachable comes back as
/// ECONNREFUSED), bound to `iface` when given.
fn udp_client(at: SocketAddr, iface: Option<&str>) -> Result<UdpSocket, GenError> {
    let any: IpAddr = if at.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
    let sock = bind_udp(SocketAddr::new(any, 0), false)?;
    if let Some(name) = iface {
        SockRef::from(&sock).bind_device(Some(name.as_bytes())).map_err(|error| match error.raw_os_error() {
            Some(libc::EPERM) => GenError::Permission(format!("binding to {name} (SO_BINDTODEVICE) needs root (CAP_NET_RAW)")),
            Some(libc::ENODEV) => GenError::Config(format!("no interface named {name}; `ip -br link` lists them")),
            _ => GenError::io(format!("binding to {name}"), error),
        })?;
    }
    sock.connect(at).ctx("setting the peer address")?;
    Ok(sock)
}

fn send_datagram(sock: &UdpSocket, at: SocketAddr, data: &[u8], part: &mut Part) -> Result<(), GenError> {
    match sock.send(data) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr: at }),
        Err(error) => return Err(GenError::io("sending a datagram", error)),
    }
    part.tally.bytes_sent += data.len() as u64;
    part.tally.messages_sent += 1;
    Ok(())
}

/// The client's `recvfrom(1024)` of the server's answer.
fn answer(sock: &UdpSocket, at: SocketAddr, part: &mut Part) -> Result<Vec<u8>, GenError> {
    sock.set_read_timeout(Some(ANSWER_WAIT)).ctx("setting the read timeout")?;
    let mut buf = [0u8; 1024];
    let got = match sock.recv(&mut buf) {
        Ok(got) => got,
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => return Err(GenError::Refused { addr: at }),
        Err(error) if timed_out(&error) => {
            return Err(GenError::Timeout { what: "waiting for the server's answer".into(), secs: ANSWER_WAIT.as_secs_f64() })
        }
        Err(error) => return Err(GenError::io("receiving the answer", error)),
    };
    part.tally.got(got);
    Ok(buf[..got].to_vec())
}

/// Default datagram of udp-truncate: seed 003's `b'x' * 2000`.
const TRUNCATE_SIZE: usize = 2000;
/// Default of the udp-truncate server's `recvfrom()` size.
const TRUNCATE_RECV: usize = 1024;

pub(crate) fn udp_truncate(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "seed 003's UDP programs: the client sends one datagram of 2,000 bytes, b'x' * 2000; the server calls \
         recvfrom(1024) and prints len(msg) and msg[:8], then answers b'hi'. A datagram is delivered whole or \
         not at all, and one recvfrom() takes one datagram: what does not fit in the buffer is discarded.",
    );
    run_udp(cfg, voice, truncate_serve, truncate_send)
}

fn truncate_send(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.size_or(TRUNCATE_SIZE);
    let sock = udp_client(at, env.cfg.iface.as_deref())?;
    let mut part = Part { local: sock.local_addr().ok(), ..Part::default() };
    send_datagram(&sock, at, &vec![b'x'; size], &mut part)?;
    voice.say(format!("sendto(b'x' * {size}) to {at}: one datagram of {} bytes", grouped(size)));
    let reply = answer(&sock, at, &mut part)?;
    part.print(voice, py_bytes_repr(&reply));
    Ok(part)
}

fn truncate_serve(env: &Env, sock: &UdpSocket, voice: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.recv.first().copied().unwrap_or(TRUNCATE_RECV);
    let mut part = Part::default();
    let mut buf = vec![0u8; size];
    let (real, from) = first_datagram(sock, &mut buf, env.wait)?;
    let got = real.min(size);
    part.tally.got(got);
    part.print(voice, format!("{got} {}", py_bytes_repr(&buf[..got.min(8)])));
    if real > size {
        part.note(
            voice,
            format!(
                "recvfrom({size}) → {} of {} bytes; {} lost: UDP does not keep the rest for the next call",
                grouped(got),
                grouped(real),
                grouped(real - got)
            ),
        );
        voice.why(
            "the datagram was larger than the buffer: the kernel copied what fitted and dropped the rest, and the \
             next recvfrom() gets the next datagram. Python's recvfrom() does not say so; on Linux MSG_TRUNC makes \
             recvfrom() return the real length (this server uses it), or the sender has to say how long it was.",
        );
    } else {
        part.note(voice, format!("recvfrom({size}) → the whole datagram of {} bytes: it fitted", grouped(real)));
    }
    sock.send_to(b"hi", from).ctx("answering")?;
    part.tally.bytes_sent += 2;
    part.tally.messages_sent += 1;
    voice.say(format!("sendto(b'hi') to {from}"));
    Ok(part)
}

/// Default datagram of udp-fragments: larger than an Ethernet MTU of 1,500 bytes.
const FRAGMENTS_SIZE: usize = 4000;

/// The IP payload sizes of the fragments of an IP datagram whose payload (UDP header included)
/// is `payload` bytes, for a link of `mtu`: every fragment but the last carries a multiple of 8
/// bytes, since the fragment offset counts 8-byte units (RFC 791; IPv6 adds an 8-byte Fragment
/// header to each, RFC 8200 §4.5). One element when the datagram fits.
fn fragments(payload: usize, mtu: usize, v6: bool) -> Vec<usize> {
    let header = if v6 { 40 } else { 20 };
    if payload + header <= mtu {
        return vec![payload];
    }
    let per = (mtu.saturating_sub(header + if v6 { 8 } else { 0 }) / 8 * 8).max(8);
    let mut sizes = Vec::new();
    let mut left = payload;
    while left > 0 {
        let piece = left.min(per);
        sizes.push(piece);
        left -= piece;
    }
    sizes
}

/// The path MTU the kernel uses for a connected socket (IP_MTU / IPV6_MTU, ip(7), ipv6(7)).
#[allow(unsafe_code)]
fn path_mtu(sock: &UdpSocket, v6: bool) -> Option<usize> {
    let (level, name) = if v6 { (libc::IPPROTO_IPV6, libc::IPV6_MTU) } else { (libc::IPPROTO_IP, libc::IP_MTU) };
    let mut mtu: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes (one int) into `mtu`, which outlives the call;
    // the descriptor is open for the borrow of `sock`.
    let rc = unsafe { libc::getsockopt(sock.as_raw_fd(), level, name, (&mut mtu as *mut libc::c_int).cast(), &mut len) };
    (rc == 0 && mtu > 0).then_some(mtu as usize)
}

pub(crate) fn udp_fragments(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    voice.why(
        "UDP hands one datagram to IP; a datagram larger than the link's MTU is cut by IP into fragments that \
         share an identification, each with its offset and all but the last with 'more fragments' set \
         (RFC 791). The receiving IP layer puts them back together before UDP sees anything, so one \
         recvfrom() still returns the one message; lose one fragment and the whole datagram is lost.",
    );
    run_udp(cfg, voice, fragments_serve, fragments_send)
}

fn fragments_send(env: &Env, at: SocketAddr, voice: &Voice) -> Result<Part, GenError> {
    let size = env.cfg.size_or(FRAGMENTS_SIZE);
    let sock = udp_client(at, env.cfg.iface.as_deref())?;
    let mut part = Part { local: sock.local_addr().ok(), ..Part::default() };
    let v6 = at.is_ipv6();
    let mtu = path_mtu(&sock, v6);
    send_datagram(&sock, at, &body(0, size), &mut part)?;
    voice.say(format!("sendto() of one {}-byte datagram to {at}", grouped(size)));
    let udp_len = size + 8;
    match mtu {
        Some(mtu) => {
            let pieces = fragments(udp_len, mtu, v6);
            if pieces.len() > 1 {
                let list: Vec<String> = pieces.iter().map(|&piece| grouped(piece)).collect();
                part.note(
                    voice,
                    format!(
                        "path MTU {}: the {}-byte UDP datagram ({} + 8-byte header) left as {} IP fragments carrying {} bytes",
                        grouped(mtu),
                        grouped(udp_len),
                        grouped(size),
                        pieces.len(),
                        list.join(" + ")
                    ),
                );
            } else {
                part.note(
                    voice,
                    format!(
                        "path MTU {}: the {}-byte UDP datagram fits in one IP packet, so no fragmentation happens",
                        grouped(mtu),
                        grouped(udp_len)
                    ),
                );
                voice.why(
                    "loopback's MTU (65,536) is larger than any UDP datagram. To see fragments send across a link with MTU 1,500 (a veth between \
                     two network namespaces): `wireseam gen udp-fragments --role server --addr B` in one and \
                     `--role client --addr B` in the other (or pick the interface with --iface).",
                );
            }
        }
        None => voice.say("the path MTU is unknown (IP_MTU failed)"),
    }
    let reply = answer(&sock, at, &mut part)?;
    voice.say(format!("the server answered {}", py_bytes_repr(&reply)));
    Ok(part)
}

fn fragments_serve(env: &Env, sock: &UdpSocket, voice: &Voice) -> Result<Part, GenError> {
    let mut part = Part::default();
    let mut buf = vec![0u8; 65_536];
    let (real, from) = first_datagram(sock, &mut buf, env.wait)?;
    let got = real.min(buf.len());
    part.tally.got(got);
    part.print(voice, format!("{got} {}", py_bytes_repr(&buf[..got.min(8)])));
    part.note(voice, format!("one recvfrom(65536) returned the whole datagram: {} bytes from {from}", grouped(got)));
    let answer = format!("got {got} bytes in one recvfrom()");
    sock.send_to(answer.as_bytes(), from).ctx("answering")?;
    part.tally.bytes_sent += answer.len() as u64;
    part.tally.messages_sent += 1;
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_sizes() {
        // 4,000 + 8 bytes over Ethernet: 1,480 + 1,480 + 1,048
        assert_eq!(fragments(4008, 1500, false), vec![1480, 1480, 1048]);
        assert_eq!(fragments(1480, 1500, false), vec![1480]);
        assert_eq!(fragments(4008, 65_536, false), vec![4008]);
        assert_eq!(fragments(4008, 1500, true), vec![1448, 1448, 1112]);
    }
}
