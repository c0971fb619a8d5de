//! Frames held in memory: a live capture recorded for replay (the demo), or test input.

use super::{Next, PacketMeta, Source};

/// A [`Source`] over frames copied into memory, replayed in the order pushed.
#[derive(Default, Clone)]
pub struct MemSource {
    frames: Vec<(PacketMeta, Vec<u8>)>,
    next: usize,
    linktype: u32,
}

impl MemSource {
    /// An empty source whose frames are of link type `linktype`.
    pub fn new(linktype: u32) -> Self {
        MemSource { frames: Vec::new(), next: 0, linktype }
    }

    /// Append a copy of a frame.
    pub fn push(&mut self, meta: PacketMeta, data: &[u8]) {
        self.frames.push((meta, data.to_vec()));
    }

    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no frame is held.
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
            Some((meta, data)) => {
                self.next += 1;
                Next::Packet(*meta, data)
            }
            None => Next::End,
        }
    }
    fn linktype_hint(&self) -> u32 {
        self.linktype
    }
}
