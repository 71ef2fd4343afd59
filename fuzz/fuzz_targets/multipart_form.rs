//! The upload handlers' `multipart/form-data` reader (`read_form`) on arbitrary bodies; see
//! `stt_server::fuzzing::multipart_form`. The first byte picks the boundary.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stt_server::fuzzing::multipart_form(data);
});
