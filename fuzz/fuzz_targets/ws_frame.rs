//! Fuzzes the frame header decoder, fed whole and as every prefix.
//!
//! Invariants: never a panic; a decoded header re-encodes to exactly the
//! bytes it came from (the decoder only accepts minimal encodings); every
//! shorter prefix of a valid header asks for more; an error is a 1002 and
//! no prefix of erroneous input decodes to a header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::ws::frame::{FrameHeader, MAX_HEADER_LEN};
use realtime_events::ws::BytesMut;

fuzz_target!(|data: &[u8]| {
    match FrameHeader::decode(data) {
        Ok(Some((header, consumed))) => {
            assert!(consumed <= data.len() && consumed <= MAX_HEADER_LEN);
            assert_eq!(consumed, header.encoded_len());
            for cut in 0..consumed {
                assert_eq!(FrameHeader::decode(&data[..cut]), Ok(None));
            }
            let mut out = BytesMut::new();
            header.encode(&mut out);
            assert_eq!(&out[..], &data[..consumed]);
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_LEN),
        Err(e) => {
            assert_eq!(e.close_code(), 1002);
            for cut in 0..data.len().min(MAX_HEADER_LEN) {
                match FrameHeader::decode(&data[..cut]) {
                    Ok(None) => {}
                    Err(other) => assert_eq!(other, e),
                    Ok(Some(h)) => panic!("prefix decoded to {h:?} but whole input failed"),
                }
            }
        }
    }
});
