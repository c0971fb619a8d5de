//! Frames held in memory: a live capture recorded for replay (the demo), or test input.

use super::{Next, PacketMeta, Source};

#[derive(Default, Clone)]
pub struct MemSource {
    frames: Vec<(PacketMeta, Vec<u8>)>,
    next: usize,
    linktype: u32,
}

impl MemSource {
    pub fn new(linktype: u32) -> Self {
        MemSource { frames: Vec::new(), next: 0, linktype }
    }

    pub fn push(&mut self, meta: PacketMeta, data: &[u8]) {
        self.frames.push((meta, data.to_vec()));
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Start again from the first frame.
    pub fn rewind(&mut self) {
        self.next = 0;
    }
}

impl Source for MemSource {
    fn next_packet(&mut self) -> Next<'_> {
        match self.frames.get(self.next) {
            Some((m, d)) => {
                self.next += 1;
                Next::Packet(*m, d)
            }
            None => Next::End,
        }
    }
    fn linktype_hint(&self) -> u32 {
        self.linktype
    }
}
