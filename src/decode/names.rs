//! Names for numbers: EtherTypes, IP protocols, ICMP types, IPv6 extension headers.

/// Short name of an EtherType (IEEE 802 registry), `None` when unlisted.
pub fn ethertype(ethertype: u16) -> Option<&'static str> {
    Some(match ethertype {
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x8100 => "802.1Q",
        0x88a8 => "802.1ad",
        0x8035 => "RARP",
        0x809b => "AppleTalk",
        0x80f3 => "AARP",
        0x8137 => "IPX",
        0x8847 => "MPLS",
        0x8848 => "MPLS-mc",
        0x8863 => "PPPoE-D",
        0x8864 => "PPPoE-S",
        0x888e => "EAPOL",
        0x88cc => "LLDP",
        0x88e5 => "MACsec",
        0x88f7 => "PTP",
        0x8809 => "Slow",
        0x9000 => "Loopback",
        0x6003 => "DECnet",
        0x22f0 => "AVTP",
        0x88e7 => "PBB",
        0x8902 => "CFM",
        _ => return None,
    })
}

/// IANA keyword of an IP protocol number; `proto` when unlisted.
pub fn ip_proto(proto: u8) -> &'static str {
    match proto {
        0 => "HOPOPT",
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        43 => "IPv6-Route",
        44 => "IPv6-Frag",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        59 => "IPv6-NoNxt",
        60 => "IPv6-Opts",
        88 => "EIGRP",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        115 => "L2TP",
        132 => "SCTP",
        _ => "proto",
    }
}

/// What an ICMP message is, by type and code (RFC 792, RFC 1812 for the unreachable codes); `type` when unlisted.
pub fn icmp4(ty: u8, code: u8) -> &'static str {
    match (ty, code) {
        (0, _) => "echo reply",
        (3, 0) => "net unreachable",
        (3, 1) => "host unreachable",
        (3, 2) => "protocol unreachable",
        (3, 3) => "port unreachable",
        (3, 4) => "fragmentation needed",
        (3, 13) => "administratively prohibited",
        (3, _) => "destination unreachable",
        (4, _) => "source quench",
        (5, _) => "redirect",
        (8, _) => "echo request",
        (9, _) => "router advertisement",
        (10, _) => "router solicitation",
        (11, 0) => "time exceeded in transit",
        (11, _) => "fragment reassembly time exceeded",
        (12, _) => "parameter problem",
        (13, _) => "timestamp request",
        (14, _) => "timestamp reply",
        _ => "type",
    }
}

/// What an ICMPv6 message is, by type and code (RFC 4443, RFC 4861 neighbour discovery, RFC 2710 / 3810 MLD); `type` when unlisted.
pub fn icmp6(ty: u8, code: u8) -> &'static str {
    match (ty, code) {
        (1, 4) => "port unreachable",
        (1, 3) => "address unreachable",
        (1, _) => "destination unreachable",
        (2, _) => "packet too big",
        (3, _) => "time exceeded",
        (4, _) => "parameter problem",
        (128, _) => "echo request",
        (129, _) => "echo reply",
        (130, _) => "multicast listener query",
        (131, _) => "multicast listener report",
        (132, _) => "multicast listener done",
        (133, _) => "router solicitation",
        (134, _) => "router advertisement",
        (135, _) => "neighbor solicitation",
        (136, _) => "neighbor advertisement",
        (137, _) => "redirect",
        (143, _) => "multicast listener report v2",
        _ => "type",
    }
}

/// Short name of an IPv6 extension header by next-header number (RFC 8200, RFC 4302 for AH); `ext` when unlisted.
pub fn ipv6_ext(next_header: u8) -> &'static str {
    match next_header {
        0 => "hop-by-hop",
        43 => "routing",
        44 => "fragment",
        51 => "auth",
        60 => "dest-opts",
        _ => "ext",
    }
}

/// Name of an ARP operation (RFC 826, RFC 903 RARP, RFC 2390 InARP); `op` when unlisted.
pub fn arp_op(op: u16) -> &'static str {
    match op {
        1 => "request",
        2 => "reply",
        3 => "rarp-request",
        4 => "rarp-reply",
        8 => "inarp-request",
        9 => "inarp-reply",
        _ => "op",
    }
}
