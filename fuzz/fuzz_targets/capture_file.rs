//! Arbitrary bytes as a capture file: pcap/pcapng parsing, then every frame through decode,
//! tracking and the JSON and verbose text printers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wireseam::capture::FileSource;
use wireseam::output::json::JsonSink;
use wireseam::output::style::Palette;
use wireseam::output::text::{PayloadDump, TextOptions, TextSink};
use wireseam::pipeline::{run, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions::new("fuzz.pcap".into());
    if let Ok(mut src) = FileSource::from_bytes("fuzz.pcap", data.to_vec()) {
        let _ = run(&mut src, &opts, &mut JsonSink::new(std::io::sink()));
    }
    if let Ok(mut src) = FileSource::from_bytes("fuzz.pcap", data.to_vec()) {
        let o = TextOptions { payload: PayloadDump::Hex, ..TextOptions::new(2, Palette::off()) };
        let _ = run(&mut src, &opts, &mut TextSink::new(std::io::sink(), o));
    }
});
