//! One frame of any supported (or unsupported) link type through the decoder and both printers.
#![no_main]
use libfuzzer_sys::fuzz_target;

const LINKTYPES: [u32; 16] = [1, 113, 276, 0, 108, 101, 228, 147, 9, 10, 50, 104, 105, 127, 192, 239];

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let lt = LINKTYPES[data[0] as usize % LINKTYPES.len()];
    let frame = &data[1..];
    // wire length: sometimes longer than captured (snap length), sometimes equal
    let wire = if data[0] & 0x80 != 0 { frame.len() as u32 + 100 } else { frame.len() as u32 };
    let f = wireseam::decode::decode(lt, frame, wire);
    for w in f.warnings.iter() {
        let _ = w.to_string();
    }
    // the tunnel layers as the printers and flow tables use them
    let _ = (f.encaps.tag().to_string(), f.encaps.label().to_string(), f.encaps.flow_id());
    for layer in f.encaps.iter() {
        let _ = wireseam::decode::tunnel::LongEncap(layer).to_string();
    }
    if let Some(t) = f.tcp() {
        for o in wireseam::decode::tcpopt::options(t.opt_bytes) {
            let _ = o;
        }
    }
});
