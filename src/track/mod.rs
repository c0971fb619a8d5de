//! Protocol state: the only stateful layer. ARP bindings; TCP connections come with the tracker.

pub mod arp;
pub mod tcp;
pub mod udp;
