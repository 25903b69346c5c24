//! The frame tracker: follows the WebSocket frames in one direction of a
//! byte stream, for the wire view. Sans-IO (bytes in, frame views out),
//! so it is fuzzed (`fuzz/fuzz_targets/wire_frames.rs`) without a socket.

use bytes::Bytes;

use crate::ws::{apply_mask, FrameError, FrameHeader};

/// Payload bytes of one WebSocket frame shown (unmasked).
pub const PAYLOAD_PREVIEW: usize = 256;

/// One frame header seen on a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView {
    /// The header as [`FrameHeader::decode`] returned it.
    pub header: FrameHeader,
    /// The header's own bytes (2 to 14).
    pub raw_header: Bytes,
    /// The first bytes of the payload, unmasked.
    pub preview: Bytes,
}

// ANCHOR: tracker
/// Follows the frames in one direction of a WebSocket byte stream without
/// holding more than one header and one preview: header bytes are
/// collected until [`FrameHeader::decode`] has a whole header, then the
/// payload is counted off (its first bytes kept and unmasked for display).
#[derive(Debug, Default)]
pub struct FrameTracker {
    header: [u8; crate::ws::frame::MAX_HEADER_LEN],
    have: usize,
    /// The frame whose payload is being counted, its header's bytes, and
    /// the payload bytes still to come.
    current: Option<(FrameHeader, Bytes, u64)>,
    preview: Vec<u8>,
    broken: bool,
}

impl FrameTracker {
    /// A tracker at the start of a stream.
    pub fn new() -> Self {
        FrameTracker::default()
    }

    /// Feeds the next bytes of the stream. Frames whose payload ends in
    /// `data` go to `done`; the first bytes that are not a valid header
    /// return their error, after which the tracker ignores everything.
    ///
    /// However the stream is cut into calls, the frames and the error are
    /// the same (the `wire_frames` fuzz target checks it).
    pub fn feed(&mut self, mut data: &[u8], done: &mut Vec<FrameView>) -> Option<FrameError> {
        while !data.is_empty() && !self.broken {
            match self.current.take() {
                None => {
                    let take = (self.header.len() - self.have).min(data.len());
                    let before = self.have;
                    self.header[before..before + take].copy_from_slice(&data[..take]);
                    self.have += take;
                    match FrameHeader::decode(&self.header[..self.have]) {
                        Ok(Some((header, len))) => {
                            // Bytes copied past the header belong to the
                            // payload. (`len > before` always: the header was
                            // incomplete at `before` bytes.)
                            data = data.get(len.saturating_sub(before)..).unwrap_or(&[]);
                            let raw = Bytes::copy_from_slice(&self.header[..len]);
                            self.have = 0;
                            self.preview.clear();
                            self.current = Some((header, raw, header.payload_len));
                            self.finish_if_done(done);
                        }
                        Ok(None) => data = &data[take..],
                        Err(err) => {
                            self.broken = true;
                            return Some(err);
                        }
                    }
                }
                Some((header, raw, remaining)) => {
                    let n = remaining.min(data.len() as u64) as usize;
                    let keep = PAYLOAD_PREVIEW.saturating_sub(self.preview.len()).min(n);
                    if keep > 0 {
                        let start = self.preview.len();
                        self.preview.extend_from_slice(&data[..keep]);
                        if let Some(key) = header.mask {
                            apply_mask(&mut self.preview[start..], key, start);
                        }
                    }
                    data = &data[n..];
                    self.current = Some((header, raw, remaining - n as u64));
                    self.finish_if_done(done);
                }
            }
        }
        None
    }

    fn finish_if_done(&mut self, done: &mut Vec<FrameView>) {
        if let Some((_, _, 0)) = self.current {
            if let Some((header, raw_header, _)) = self.current.take() {
                done.push(FrameView {
                    header,
                    raw_header,
                    preview: Bytes::copy_from_slice(&self.preview),
                });
            }
        }
    }
}
// ANCHOR_END: tracker

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::write_frame;
    use crate::ws::Opcode;
    use bytes::BytesMut;

    fn header(opcode: Opcode, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader::whole(opcode, mask, 0)
    }

    #[test]
    fn tracker_decodes_frames_split_anywhere() {
        let mut stream = BytesMut::new();
        write_frame(
            &mut stream,
            &header(Opcode::Text, Some([1, 2, 3, 4])),
            b"Hello",
        );
        write_frame(&mut stream, &header(Opcode::Binary, None), &[7u8; 300]);
        write_frame(&mut stream, &header(Opcode::Ping, None), b"");
        for split in 1..stream.len() {
            let mut tracker = FrameTracker::new();
            let mut frames = Vec::new();
            assert_eq!(tracker.feed(&stream[..split], &mut frames), None);
            assert_eq!(tracker.feed(&stream[split..], &mut frames), None);
            assert_eq!(frames.len(), 3, "split at {split}");
            assert_eq!(frames[0].header.opcode, Opcode::Text);
            assert_eq!(&frames[0].preview[..], b"Hello", "unmasked");
            assert_eq!(&frames[0].raw_header[..], &stream[..6]);
            assert_eq!(frames[1].header.payload_len, 300);
            assert_eq!(frames[1].preview.len(), PAYLOAD_PREVIEW);
            assert_eq!(frames[2].header.opcode, Opcode::Ping);
        }
    }

    #[test]
    fn tracker_stops_at_a_bad_header() {
        let mut tracker = FrameTracker::new();
        let mut frames = Vec::new();
        assert_eq!(
            tracker.feed(&[0x83, 0x00], &mut frames),
            Some(FrameError::ReservedOpcode(3))
        );
        assert_eq!(tracker.feed(&[0x81, 0x00], &mut frames), None);
        assert!(frames.is_empty());
    }
}
