#![no_main]
//! Arbitrary bytes as a capture file through the decoder and the flow engine
//! (`vigil_flow::Engine::ingest_capture` + `finish`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    if let Ok(cap) = vigil_capture::CaptureFile::from_reader(reader, "fuzz") {
        let mut engine = vigil_flow::Engine::new(vigil_flow::EngineConfig::default().max_flows(64));
        let mut n = 0usize;
        engine.ingest_capture(cap, &mut |_| n += 1);
        let stats = engine.finish(&mut |_| n += 1);
        assert_eq!(stats.conns as usize, n);
    }
});
