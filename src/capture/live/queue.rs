//! The bounded queue between the capture thread and the thread that annotates: a fixed pool of
//! batches, each one buffer of pcap records back to back (the `-w` file's own record layout,
//! so a whole batch goes to the savefile in one write) and the place of every frame in it.
//!
//! The capture thread fills a batch and hands it on when it is full or when libpcap has nothing
//! more for the moment; the annotating thread gives each batch back once its frames are through
//! the pipeline. Nothing is allocated per frame: the pool is made once and its buffers are
//! reused. When every batch is in use, [`WhenFull`] says what the capture thread does.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use memmap2::{Advice, MmapMut};

/// Bytes of a pcap record header: seconds, nanoseconds, captured length, wire length.
pub const RECORD_HEADER: usize = 16;

/// Frames a batch holds at most (a batch of small frames is handed on when it has this many).
const FRAMES_PER_BATCH: usize = 8_192;

/// One frame of a batch: where its record begins and what libpcap said of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Offset of the record header in the batch's bytes; the frame's bytes follow it.
    pub at: usize,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Bytes captured.
    pub caplen: u32,
    /// Length on the wire.
    pub len: u32,
}

/// Frames captured one after another, as pcap records in one buffer.
///
/// The buffer is an anonymous mapping of its own ([`Bounds::BATCH_BYTES`], 2 MiB), advised
/// for transparent huge pages (madvise(2) `MADV_HUGEPAGE`): the kernel places a mapping of a
/// multiple of 2 MiB on a 2 MiB boundary, so a batch first touched costs one page fault
/// instead of 512. Batches the capture starts with are made resident at once
/// (`MADV_POPULATE_WRITE`, [`Bounds::resident`]).
#[derive(Debug)]
pub struct Batch {
    bytes: MmapMut,
    /// Bytes of records in `bytes`.
    used: usize,
    slots: Vec<Slot>,
}

impl Batch {
    /// An empty batch with room for `bytes` bytes of records (its pages not yet touched).
    fn with_capacity(bytes: usize) -> io::Result<Self> {
        let map = MmapMut::map_anon(bytes)?;
        // only a hint: without transparent huge pages the batch is in 4 KiB pages
        let _ = map.advise(Advice::HugePage);
        Ok(Batch { bytes: map, used: 0, slots: Vec::with_capacity(FRAMES_PER_BATCH) })
    }

    /// Make every page of the batch resident now, so that filling it faults no page in.
    fn make_resident(&mut self) {
        if self.bytes.advise(Advice::PopulateWrite).is_err() {
            // before Linux 5.14: touch a byte of every 4 KiB page
            for at in (0..self.bytes.len()).step_by(4096) {
                self.bytes[at] = 0;
            }
        }
    }

    /// Append a frame as a pcap record (nanosecond timestamp); false, and nothing appended,
    /// when the batch has no room for it.
    pub fn push(&mut self, sec: i64, nsec: i64, wire_len: u32, data: &[u8]) -> bool {
        let need = RECORD_HEADER + data.len();
        if self.slots.len() == self.slots.capacity() || self.bytes.len() - self.used < need {
            return false;
        }
        let at = self.used;
        let record = &mut self.bytes[at..at + need];
        record[0..4].copy_from_slice(&(sec as u32).to_le_bytes());
        record[4..8].copy_from_slice(&(nsec as u32).to_le_bytes());
        record[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        record[12..16].copy_from_slice(&wire_len.to_le_bytes());
        record[RECORD_HEADER..].copy_from_slice(data);
        self.used += need;
        self.slots.push(Slot { at, ts_ns: sec * 1_000_000_000 + nsec, caplen: data.len() as u32, len: wire_len });
        true
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No frame yet.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Frame `i` (in capture order): its slot and its captured bytes.
    pub fn frame(&self, i: usize) -> (Slot, &[u8]) {
        let slot = self.slots[i];
        let data = slot.at + RECORD_HEADER;
        (slot, &self.bytes[data..data + slot.caplen as usize])
    }

    /// Every record, back to back, as a pcap file holds them.
    pub fn records(&self) -> &[u8] {
        &self.bytes[..self.used]
    }

    /// The records from frame `from` to frame `to` (exclusive), back to back.
    pub fn records_of(&self, from: usize, to: usize) -> &[u8] {
        let start = self.slots.get(from).map_or(self.used, |slot| slot.at);
        let end = self.slots.get(to).map_or(self.used, |slot| slot.at);
        &self.bytes[start..end]
    }

    fn clear(&mut self) {
        self.used = 0;
        self.slots.clear();
    }
}

/// What the capture thread does with a frame when every batch of the pool is in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for the annotating thread to give a batch back; meanwhile frames wait in the
    /// kernel's capture buffer, and what overflows it is libpcap's drop count. A waiting
    /// capture thread leaves its CPU to the annotation that frees batches. In the loopback
    /// bursts of benches/README.md ("Live capture") the two lost alike: with a queue twice
    /// the kernel buffer it never filled, so neither came into play.
    #[default]
    Block,
    /// Throw the frame away and count it ([`Producer::dropped`]), so that the kernel buffer
    /// never fills.
    Drop,
}

/// The queue's bounds: how many batches, the bytes of records each holds, and how many are
/// made resident when the queue is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Batches in the pool.
    pub batches: usize,
    /// Bytes of records per batch (at least one record of the largest frame).
    pub batch_bytes: usize,
    /// Batches whose pages are made resident when the queue is made (the first taken); the
    /// others fault their pages in when a burst first fills them.
    pub resident: usize,
}

impl Bounds {
    /// Bytes of records per batch, unless a frame of the snap length needs more: one
    /// transparent huge page.
    pub const BATCH_BYTES: usize = 2 << 20;

    /// About `total` bytes of records in batches of [`Bounds::BATCH_BYTES`] (at least 4
    /// batches), each large enough for a frame of `snaplen` bytes (a multiple of 2 MiB, for
    /// huge pages), the first `resident` bytes of them made resident at once.
    pub fn for_bytes(total: usize, snaplen: usize, resident: usize) -> Self {
        let batch_bytes = (RECORD_HEADER + snaplen).div_ceil(Self::BATCH_BYTES).max(1) * Self::BATCH_BYTES;
        let batches = (total / batch_bytes).max(4);
        Bounds { batches, batch_bytes, resident: (resident / batch_bytes).min(batches) }
    }
}

/// The queue has no taker any more (the annotating side ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// The batches not in use, the last given back on top: the capture thread takes the batch used
/// most recently, whose pages are in memory and likely in the cache (a batch first touched
/// costs a page fault per 4 KiB, which, in a burst, is what made the capture thread fall
/// behind with a first-in-first-out pool).
#[derive(Default)]
struct Pool {
    state: Mutex<PoolState>,
    given_back: Condvar,
}

#[derive(Default)]
struct PoolState {
    free: Vec<Batch>,
    consumer_gone: bool,
}

impl Pool {
    /// A free batch; with `wait`, waiting for one to be given back; `Ok(None)` without.
    fn take(&self, wait: bool) -> Result<Option<Batch>, Gone> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(batch) = state.free.pop() {
                return Ok(Some(batch));
            }
            if state.consumer_gone {
                return Err(Gone);
            }
            if !wait {
                return Ok(None);
            }
            state = self.given_back.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, batch: Batch) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).free.push(batch);
        self.given_back.notify_one();
    }

    fn consumer_gone(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).consumer_gone = true;
        self.given_back.notify_all();
    }
}

/// The capture thread's end of the queue.
pub struct Producer {
    full: SyncSender<Batch>,
    free: Arc<Pool>,
    waiting: Arc<AtomicBool>,
    filling: Option<Batch>,
    when_full: WhenFull,
    dropped: u64,
}

/// The annotating thread's end of the queue.
pub struct Consumer {
    full: Receiver<Batch>,
    free: Arc<Pool>,
    /// Set when the consumer found no batch handed on (it is about to wait), cleared when it
    /// takes one: the producer hands a partly filled batch on only then ([`Producer::offer`]).
    waiting: Arc<AtomicBool>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.free.consumer_gone();
    }
}

/// A queue of `bounds.batches` batches, all made now, `bounds.resident` of them resident; Err
/// when the system has no memory to map for them.
pub fn queue(bounds: Bounds, when_full: WhenFull) -> io::Result<(Producer, Consumer)> {
    // Each channel can hold the whole pool, so handing a batch on never waits.
    let (full_tx, full_rx) = mpsc::sync_channel(bounds.batches);
    let mut free = Vec::with_capacity(bounds.batches);
    for made in 0..bounds.batches {
        let mut batch = Batch::with_capacity(bounds.batch_bytes)?;
        // the resident batches go on top of the stack, so they are taken first
        if made >= bounds.batches - bounds.resident {
            batch.make_resident();
        }
        free.push(batch);
    }
    let pool = Arc::new(Pool { state: Mutex::new(PoolState { free, consumer_gone: false }), given_back: Condvar::new() });
    let waiting = Arc::new(AtomicBool::new(true));
    let producer = Producer { full: full_tx, free: Arc::clone(&pool), waiting: Arc::clone(&waiting), filling: None, when_full, dropped: 0 };
    Ok((producer, Consumer { full: full_rx, free: pool, waiting }))
}

impl Producer {
    /// Queue one frame; Err when the annotating side is gone.
    pub fn push(&mut self, sec: i64, nsec: i64, wire_len: u32, data: &[u8]) -> Result<(), Gone> {
        if let Some(batch) = self.filling.as_mut() {
            if batch.push(sec, nsec, wire_len, data) {
                return Ok(());
            }
            self.hand_on()?;
        }
        let fresh = self.free.take(self.when_full == WhenFull::Block)?;
        let Some(mut batch) = fresh else {
            self.dropped += 1;
            return Ok(());
        };
        // A free batch is empty and holds a record of the snap length (Bounds::for_bytes).
        let pushed = batch.push(sec, nsec, wire_len, data);
        debug_assert!(pushed, "a frame longer than a whole batch");
        if !pushed {
            self.dropped += 1;
        }
        self.filling = Some(batch);
        Ok(())
    }

    /// Hand the batch being filled on, if it holds any frame (libpcap has nothing more now,
    /// or the capture ends).
    pub fn flush(&mut self) -> Result<(), Gone> {
        if self.filling.as_ref().is_some_and(|batch| !batch.is_empty()) {
            self.hand_on()?;
        }
        Ok(())
    }

    /// libpcap has nothing more for the moment: hand the batch being filled on if the
    /// consumer waits for one, else keep filling it (a consumer still busy with earlier
    /// batches gains nothing from a partly filled one, and a queue of batches each holding a
    /// few frames would fill by count long before its bytes are used). True when a partly
    /// filled batch is still held: the caller comes back soon ([`Producer::offer`] again),
    /// as the consumer may start waiting at any moment.
    pub fn offer(&mut self) -> Result<bool, Gone> {
        if self.filling.as_ref().is_none_or(Batch::is_empty) {
            return Ok(false);
        }
        if self.waiting.load(Ordering::Acquire) {
            self.hand_on()?;
            return Ok(false);
        }
        Ok(true)
    }

    fn hand_on(&mut self) -> Result<(), Gone> {
        if let Some(batch) = self.filling.take() {
            match self.full.try_send(batch) {
                Ok(()) => {}
                // cannot happen: the channel holds the whole pool
                Err(TrySendError::Full(batch)) => self.full.send(batch).map_err(|_| Gone)?,
                Err(TrySendError::Disconnected(_)) => return Err(Gone),
            }
        }
        Ok(())
    }

    /// Frames thrown away because every batch was in use ([`WhenFull::Drop`]).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What the annotating side finds in the queue.
pub enum Taken {
    /// The next batch, in capture order.
    Batch(Batch),
    /// Nothing yet.
    Empty,
    /// The capture thread has ended and every batch it handed on was taken.
    Ended,
}

impl Consumer {
    /// The next batch if one is waiting.
    pub fn try_take(&self) -> Taken {
        match self.full.try_recv() {
            Ok(batch) => {
                self.waiting.store(false, Ordering::Release);
                Taken::Batch(batch)
            }
            Err(TryRecvError::Empty) => {
                self.waiting.store(true, Ordering::Release);
                Taken::Empty
            }
            Err(TryRecvError::Disconnected) => Taken::Ended,
        }
    }

    /// The next batch, waiting for it.
    pub fn take(&self) -> Taken {
        if let Ok(batch) = self.full.try_recv() {
            self.waiting.store(false, Ordering::Release);
            return Taken::Batch(batch);
        }
        self.waiting.store(true, Ordering::Release);
        match self.full.recv() {
            Ok(batch) => {
                self.waiting.store(false, Ordering::Release);
                Taken::Batch(batch)
            }
            Err(_) => Taken::Ended,
        }
    }

    /// Give a batch whose frames are through back to the pool.
    pub fn give_back(&self, mut batch: Batch) {
        batch.clear();
        self.free.give_back(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: u32) -> Vec<u8> {
        let mut bytes = i.to_le_bytes().to_vec();
        bytes.resize(60 + (i % 7) as usize * 100, i as u8);
        bytes
    }

    fn numbers(batch: &Batch) -> Vec<u32> {
        (0..batch.len()).map(|i| u32::from_le_bytes(batch.frame(i).1[..4].try_into().unwrap())).collect()
    }

    #[test]
    fn batch_holds_pcap_records_and_refuses_what_does_not_fit() {
        let mut batch = Batch::with_capacity(100).unwrap();
        assert!(batch.push(7, 9, 1500, &[1, 2, 3]));
        assert!(!batch.push(7, 10, 100, &[0; 90]), "16 + 3 + 16 + 90 > 100");
        assert_eq!(batch.len(), 1);
        let mut record = Vec::new();
        for word in [7u32, 9, 3, 1500] {
            record.extend_from_slice(&word.to_le_bytes());
        }
        record.extend_from_slice(&[1, 2, 3]);
        assert_eq!(batch.records(), &record[..]);
        assert_eq!(batch.frame(0), (Slot { at: 0, ts_ns: 7_000_000_009, caplen: 3, len: 1500 }, &[1u8, 2, 3][..]));
        assert!(batch.push(8, 0, 2, &[4, 5]));
        assert_eq!(batch.records_of(1, 2), &batch.records()[record.len()..]);
        assert_eq!(batch.records_of(0, 1), &record[..]);
    }

    #[test]
    fn every_frame_arrives_once_in_order_across_threads() {
        let (mut producer, consumer) = queue(Bounds { batches: 3, batch_bytes: 4096, resident: 1 }, WhenFull::Block).unwrap();
        let capture = std::thread::spawn(move || {
            for i in 0..20_000u32 {
                producer.push(i64::from(i), 0, 1500, &frame(i)).unwrap();
                if i % 1000 == 999 {
                    producer.flush().unwrap();
                }
            }
            producer.flush().unwrap();
            producer.dropped()
        });
        let mut seen = Vec::new();
        loop {
            match consumer.take() {
                Taken::Batch(batch) => {
                    seen.extend(numbers(&batch));
                    for i in 0..batch.len() {
                        let (slot, data) = batch.frame(i);
                        assert_eq!(data, &frame((slot.ts_ns / 1_000_000_000) as u32)[..]);
                    }
                    consumer.give_back(batch);
                }
                Taken::Empty => unreachable!("take waits"),
                Taken::Ended => break,
            }
        }
        assert_eq!(capture.join().unwrap(), 0, "a blocking queue drops nothing");
        assert_eq!(seen, (0..20_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_blocking_queue_waits_for_a_batch_back() {
        let (mut producer, consumer) = queue(Bounds { batches: 2, batch_bytes: 256, resident: 0 }, WhenFull::Block).unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        let capture = std::thread::spawn(move || {
            // 200-byte frames: one per batch; the third waits for a batch to come back
            for i in 0..3u32 {
                producer.push(0, 0, 200, &[i as u8; 200]).unwrap();
                done_tx.send(i).unwrap();
            }
            producer.flush().unwrap();
            producer.dropped()
        });
        assert_eq!(done_rx.recv().unwrap(), 0);
        assert_eq!(done_rx.recv().unwrap(), 1);
        // both batches are in use (one handed on, one filling): the third frame waits
        assert!(done_rx.recv_timeout(std::time::Duration::from_millis(200)).is_err());
        let Taken::Batch(first) = consumer.take() else { panic!("a batch") };
        assert_eq!(first.frame(0).1[0], 0);
        consumer.give_back(first);
        assert_eq!(done_rx.recv().unwrap(), 2);
        let mut rest = Vec::new();
        while let Taken::Batch(batch) = consumer.take() {
            rest.push(batch.frame(0).1[0]);
            consumer.give_back(batch);
        }
        assert_eq!(rest, [1, 2]);
        assert_eq!(capture.join().unwrap(), 0);
    }

    #[test]
    fn a_full_dropping_queue_counts_what_it_throws_away() {
        let (mut producer, consumer) = queue(Bounds { batches: 2, batch_bytes: 256, resident: 2 }, WhenFull::Drop).unwrap();
        for i in 0..5u8 {
            producer.push(0, 0, 200, &[i; 200]).unwrap();
        }
        // frames 0 and 1 took both batches (each handed on when the next frame did not fit);
        // 2, 3 and 4 found none free
        assert_eq!(producer.dropped(), 3);
        let first_of = |taken: Taken| match taken {
            Taken::Batch(batch) => {
                let first = batch.frame(0).1[0];
                consumer.give_back(batch);
                first
            }
            Taken::Empty => panic!("a batch was handed on"),
            Taken::Ended => panic!("the producer is alive"),
        };
        assert_eq!(first_of(consumer.try_take()), 0);
        assert_eq!(first_of(consumer.try_take()), 1);
        assert!(matches!(consumer.try_take(), Taken::Empty));
        // batches are back: the next frame is kept
        producer.push(0, 0, 200, &[5; 200]).unwrap();
        producer.flush().unwrap();
        assert_eq!(first_of(consumer.try_take()), 5);
        assert_eq!(producer.dropped(), 3);
        drop(producer);
        assert!(matches!(consumer.try_take(), Taken::Ended));
    }

    #[test]
    fn the_producer_learns_that_the_consumer_is_gone() {
        let (mut producer, consumer) = queue(Bounds { batches: 1, batch_bytes: 256, resident: 0 }, WhenFull::Block).unwrap();
        drop(consumer);
        producer.push(0, 0, 200, &[0; 200]).unwrap();
        assert_eq!(producer.push(0, 0, 200, &[0; 200]), Err(Gone));
    }

    #[test]
    fn bounds_fit_a_frame_of_the_snap_length() {
        assert_eq!(Bounds::for_bytes(64 << 20, 262_144, 16 << 20), Bounds { batches: 32, batch_bytes: 2 << 20, resident: 8 });
        assert_eq!(Bounds::for_bytes(1 << 20, 4 << 20, 1 << 30), Bounds { batches: 4, batch_bytes: 6 << 20, resident: 4 });
    }
}
