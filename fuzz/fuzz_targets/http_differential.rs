//! Our request-head parser against httparse on the same bytes: they must
//! agree on accept/reject and on every field, or disagree in one of the
//! deliberate ways listed (with RFC reasons) in the shared oracle.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/differential.rs"]
mod differential;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = differential::check_against_httparse(data) {
        panic!("{why}");
    }
    // Terminated like a head, so both reach a verdict more often.
    let mut terminated = data.to_vec();
    terminated.extend_from_slice(b"\r\n\r\n");
    if let Err(why) = differential::check_against_httparse(&terminated) {
        panic!("{why}");
    }
});
