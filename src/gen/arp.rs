//! ARP on an Ethernet interface, with raw frames (pnet datalink): a request for a neighbour, a
//! gratuitous announcement, and an RFC 5227 probe; then the replies that come back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use pnet::datalink::{self, Channel, MacAddr, NetworkInterface};
use pnet::ipnetwork::IpNetwork;
use pnet::packet::arp::{ArpHardwareTypes, ArpOperation, ArpOperations, ArpPacket, MutableArpPacket};
use pnet::packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet::packet::Packet;

use super::{GenConfig, GenError, GenReport, Role, Voice, Who};

/// Ethernet header + ARP for IPv4: 14 + 28 bytes (the NIC pads to 60 on the wire).
const FRAME_LEN: usize = 42;
/// How long to listen for replies after the last frame.
const LISTEN: Duration = Duration::from_millis(500);

/// The interface facts ARP needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArpIface {
    /// The interface's Ethernet address.
    pub mac: MacAddr,
    /// Its first IPv4 address.
    pub ip: Ipv4Addr,
    /// That address's prefix length.
    pub prefix: u8,
}

/// Check that `iface` can carry ARP and return its MAC and first IPv4 address.
pub(crate) fn arp_iface(iface: &NetworkInterface) -> Result<ArpIface, GenError> {
    if iface.is_loopback() {
        return Err(GenError::Unsupported("arp needs an Ethernet interface; loopback has no link layer".into()));
    }
    let mac = iface
        .mac
        .filter(|mac| *mac != MacAddr::zero())
        .ok_or_else(|| GenError::Unsupported(format!("{} has no Ethernet address; arp needs an Ethernet interface", iface.name)))?;
    let (ip, prefix) = iface
        .ips
        .iter()
        .find_map(|net| match net {
            IpNetwork::V4(v4) => Some((v4.ip(), v4.prefix())),
            IpNetwork::V6(_) => None,
        })
        .ok_or_else(|| GenError::Unsupported(format!("{} has no IPv4 address; ARP maps IPv4 addresses", iface.name)))?;
    if !iface.is_up() {
        return Err(GenError::Unsupported(format!("{} is down; `ip link set {} up` first", iface.name, iface.name)));
    }
    Ok(ArpIface { mac, ip, prefix })
}

/// The netmask of a prefix length, as a host-order integer.
fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

/// The address to ask about: `want` if it is another host of the subnet, else the first host
/// address of the subnet that is not ours.
pub(crate) fn target(own: Ipv4Addr, prefix: u8, want: IpAddr) -> Result<Ipv4Addr, GenError> {
    let netmask = mask(prefix);
    let net = u32::from(own) & netmask;
    let broadcast = net | !netmask;
    if let IpAddr::V4(wanted) = want {
        let wanted_bits = u32::from(wanted);
        if wanted_bits & netmask == net && wanted != own && wanted_bits != net && wanted_bits != broadcast {
            return Ok(wanted);
        }
    }
    if prefix >= 31 {
        return Err(GenError::Unsupported(format!("{own}/{prefix} has no other host address to ask about; give one with --addr")));
    }
    let first = net + 1;
    Ok(Ipv4Addr::from(if first == u32::from(own) { first + 1 } else { first }))
}

/// One Ethernet frame carrying an ARP packet for IPv4 over Ethernet.
pub(crate) fn arp_frame(eth_dst: MacAddr, op: ArpOperation, sha: MacAddr, spa: Ipv4Addr, tha: MacAddr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; FRAME_LEN];
    let mut arp_buf = [0u8; 28];
    {
        let mut arp = MutableArpPacket::new(&mut arp_buf).expect("28 bytes hold an ARP packet");
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(op);
        arp.set_sender_hw_addr(sha);
        arp.set_sender_proto_addr(spa);
        arp.set_target_hw_addr(tha);
        arp.set_target_proto_addr(tpa);
    }
    let mut eth = MutableEthernetPacket::new(&mut buf).expect("42 bytes hold an Ethernet frame");
    eth.set_destination(eth_dst);
    eth.set_source(sha);
    eth.set_ethertype(EtherTypes::Arp);
    eth.set_payload(&arp_buf);
    buf
}

/// An ARP reply addressed to us: (who, at which MAC, the target IP it answers: 0.0.0.0 for a probe).
fn reply_for(frame: &[u8], me: MacAddr) -> Option<(Ipv4Addr, MacAddr, Ipv4Addr)> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    (arp.get_operation() == ArpOperations::Reply && arp.get_target_hw_addr() == me)
        .then(|| (arp.get_sender_proto_addr(), arp.get_sender_hw_addr(), arp.get_target_proto_addr()))
}

/// Send a request, an announcement and a probe on `cfg.iface`, then listen for replies.
pub(crate) fn run(cfg: &GenConfig, voice: &Voice) -> Result<GenReport, GenError> {
    if cfg.role == Role::Server {
        return Err(GenError::Unsupported(
            "arp has no server side: the kernel of every host on the link answers; run it with --role client or both".into(),
        ));
    }
    let name = cfg.iface.as_deref().unwrap_or_default();
    let iface = datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| GenError::Config(format!("no interface named {name}; `ip -br link` lists them")))?;
    let me = arp_iface(&iface)?;
    let tpa = target(me.ip, me.prefix, cfg.addr)?;
    let client_voice = voice.as_(Who::Client);
    let config = datalink::Config {
        read_timeout: Some(Duration::from_millis(50)),
        write_timeout: Some(Duration::from_secs(1)),
        promiscuous: false,
        ..datalink::Config::default()
    };
    let (mut tx, mut rx) = match datalink::channel(&iface, config) {
        Ok(Channel::Ethernet(tx, rx)) => (tx, rx),
        Ok(_) => return Err(GenError::Unsupported(format!("{name} is not an Ethernet interface"))),
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(GenError::Permission("arp sends raw Ethernet frames: it needs root or CAP_NET_RAW (try sudo)".into()))
        }
        Err(err) => return Err(GenError::io(format!("opening a raw socket on {name}"), err)),
    };
    client_voice.say(format!("on {name}: {} at {}/{}", me.mac, me.ip, me.prefix));
    let broadcast = MacAddr::broadcast();
    let zero = MacAddr::zero();
    let unspecified = Ipv4Addr::UNSPECIFIED;
    let frames = [
        (
            arp_frame(broadcast, ArpOperations::Request, me.mac, me.ip, zero, tpa),
            format!("request: who has {tpa}? tell {} (broadcast)", me.ip),
            "a host that must send to a neighbour's IP first asks the whole link, to ff:ff:ff:ff:ff:ff, for its MAC; \
             the owner answers with a unicast reply and both sides cache the binding (`ip neigh`).",
        ),
        (
            arp_frame(broadcast, ArpOperations::Request, me.mac, me.ip, zero, me.ip),
            format!("announcement (gratuitous ARP): {} is at {}", me.ip, me.mac),
            "sender and target IP are both our own address: nobody is asked anything; every host that already \
             caches this IP updates it to our MAC (after an address or NIC change, a failover). RFC 5227 calls \
             it an ARP Announcement.",
        ),
        (
            arp_frame(broadcast, ArpOperations::Request, me.mac, unspecified, zero, tpa),
            format!("probe: is anyone using {tpa}? (sender IP 0.0.0.0)"),
            "an RFC 5227 probe, sent before claiming an address: sender IP 0.0.0.0 so no cache learns anything \
             from it. If the address is taken its owner replies and the prober must pick another one.",
        ),
    ];
    let mut report = GenReport::new(cfg);
    for (frame, what, why) in &frames {
        match tx.send_to(frame, None) {
            Some(Ok(())) => {}
            Some(Err(err)) => return Err(GenError::io(format!("sending an ARP frame on {name}"), err)),
            None => return Err(GenError::Internal("pnet did not send the frame".into())),
        }
        report.messages += 1;
        report.bytes_sent += frame.len() as u64;
        report.client_tally.messages_sent += 1;
        report.client_tally.bytes_sent += frame.len() as u64;
        client_voice.say(format!("sent {what}"));
        voice.why(*why);
        std::thread::sleep(Duration::from_millis(100));
    }
    let until = Instant::now() + LISTEN;
    let mut replies = Vec::new();
    while Instant::now() < until {
        // Timeouts come back as errors; keep listening until the deadline.
        if let Ok(received) = rx.next() {
            if let Some(reply) = reply_for(received, me.mac) {
                if reply.2.is_unspecified() {
                    client_voice.say(format!("reply to the probe: {} is at {}, so the address is taken", reply.0, reply.1));
                } else {
                    client_voice.say(format!("reply to the request: {} is at {}", reply.0, reply.1));
                }
                report.client_tally.got(received.len());
                replies.push(reply);
            }
        }
    }
    if replies.is_empty() {
        client_voice.say(format!("no ARP reply within {} ms: nobody on the link has {tpa}", LISTEN.as_millis()));
    }
    report.replies = replies.len();
    report.server = Some(std::net::SocketAddr::new(tpa.into(), 0));
    report.notes = replies.iter().map(|(ip, mac, _)| format!("{ip} is at {mac}")).collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_a_neighbour() {
        let own: Ipv4Addr = "198.18.0.1".parse().unwrap();
        assert_eq!(target(own, 24, "127.0.0.1".parse().unwrap()).unwrap(), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(target(own, 24, "198.18.0.77".parse().unwrap()).unwrap(), Ipv4Addr::new(198, 18, 0, 77));
        assert_eq!(target(own, 24, "198.18.0.255".parse().unwrap()).unwrap(), Ipv4Addr::new(198, 18, 0, 2));
        let own2: Ipv4Addr = "198.18.0.5".parse().unwrap();
        assert_eq!(target(own2, 24, "::1".parse().unwrap()).unwrap(), Ipv4Addr::new(198, 18, 0, 1));
        assert!(target(own, 32, "127.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn frames_have_rfc5227_shapes() {
        let me = MacAddr::new(2, 0, 0, 0, 0, 1);
        let ip = Ipv4Addr::new(198, 18, 0, 1);
        let probe = arp_frame(MacAddr::broadcast(), ArpOperations::Request, me, Ipv4Addr::UNSPECIFIED, MacAddr::zero(), ip);
        assert_eq!(probe.len(), 42);
        assert_eq!(&probe[..6], &[0xff; 6]);
        assert_eq!(&probe[12..14], &[0x08, 0x06]);
        let arp = ArpPacket::new(&probe[14..]).unwrap();
        assert_eq!(arp.get_operation(), ArpOperations::Request);
        assert_eq!(arp.get_sender_proto_addr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(arp.get_target_proto_addr(), ip);
        let reply = arp_frame(me, ArpOperations::Reply, MacAddr::new(2, 0, 0, 0, 0, 2), ip, me, ip);
        assert_eq!(reply_for(&reply, me), Some((ip, MacAddr::new(2, 0, 0, 0, 0, 2), ip)));
        assert_eq!(reply_for(&probe, me), None);
    }

    #[test]
    fn refuses_loopback() {
        let lo = datalink::interfaces().into_iter().find(|i| i.is_loopback()).expect("a loopback interface");
        let e = arp_iface(&lo).unwrap_err().to_string();
        assert_eq!(e, "arp needs an Ethernet interface; loopback has no link layer");
    }
}
