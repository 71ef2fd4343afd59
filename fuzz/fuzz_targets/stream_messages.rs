//! The `/v1/stream` message layer (config, PCM joining, stop action, close reasons) on
//! arbitrary conversations; see `stt_server::fuzzing::stream_messages`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stt_server::fuzzing::stream_messages(data);
});
