//! What the tap reports: one [`Record`] per thing seen, and its JSON.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;

use super::FrameView;
use crate::ws::{FrameError, Opcode};

/// Which protocol a tapped connection speaks, so the viewer knows how to
/// show its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// An event stream: the bytes are `text/event-stream` lines.
    Sse,
    /// A WebSocket: the bytes are frames, decoded in each record.
    WebSocket,
}

impl Protocol {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Protocol::Sse => "sse",
            Protocol::WebSocket => "ws",
        }
    }
}

/// Seen from the server: `In` was read from the browser, `Out` written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read from the client.
    In,
    /// Written to the client.
    Out,
}

impl Direction {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// What a record reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The request that opened the connection, as the server parsed it.
    Request {
        /// `GET /ticker HTTP/1.1` and then one `name: value` per field.
        lines: Vec<String>,
    },
    /// The response head, as encoded for the wire.
    Head,
    /// Bytes read or written on the taken-over connection.
    Data,
    /// The client closed its side (a read returned end-of-file).
    Eof,
    /// The server dropped the connection.
    Closed,
}

/// One thing the tap saw.
#[derive(Debug, Clone)]
pub struct Record {
    /// The view (the page) the connection belongs to; only viewers of
    /// the same view are shown the record. Not part of the JSON.
    pub view: Arc<str>,
    /// The connection's number, unique while the server runs.
    pub conn: u64,
    /// The protocol on this connection.
    pub protocol: Protocol,
    /// The path that was requested.
    pub path: Arc<str>,
    /// Which way the bytes went.
    pub direction: Direction,
    /// What this record reports.
    pub kind: Kind,
    /// How many bytes crossed the wire in this read or write.
    pub len: usize,
    /// The first [`MAX_RECORD_BYTES`] of them.
    pub bytes: Bytes,
    /// WebSocket frames whose payload ended in these bytes.
    pub frames: Vec<FrameView>,
    /// Frames that ended here but were not listed (over
    /// [`MAX_FRAMES_PER_RECORD`]).
    pub frames_omitted: usize,
    /// Set once when the bytes stop being valid frames: the tracker stops.
    pub frame_error: Option<FrameError>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl Record {
    /// The record as one line of JSON, the `data` of a `wire` event.
    /// Bytes are base64 so that binary survives the UTF-8-only stream.
    pub fn to_json(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = String::with_capacity(128 + self.bytes.len() * 4 / 3);
        let kind = match &self.kind {
            Kind::Request { .. } => "request",
            Kind::Head => "head",
            Kind::Data => "data",
            Kind::Eof => "eof",
            Kind::Closed => "closed",
        };
        let _ = write!(
            out,
            "{{\"conn\":{},\"proto\":\"{}\",\"path\":{},\"dir\":\"{}\",\"kind\":\"{}\",\"at\":{},\"len\":{},\"b64\":\"{}\",\"cut\":{}",
            self.conn,
            self.protocol.as_str(),
            json_string(&self.path),
            self.direction.as_str(),
            kind,
            self.at_ms,
            self.len,
            b64.encode(&self.bytes),
            self.bytes.len() < self.len,
        );
        if let Kind::Request { lines } = &self.kind {
            out.push_str(",\"lines\":[");
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(line));
            }
            out.push(']');
        }
        if self.protocol == Protocol::WebSocket && self.kind == Kind::Data {
            out.push_str(",\"frames\":[");
            for (i, frame) in self.frames.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let h = &frame.header;
                let mask = h
                    .mask
                    .map_or_else(|| "null".to_string(), |k| format!("\"{}\"", hex(&k)));
                let _ = write!(
                    out,
                    "{{\"fin\":{},\"rsv1\":{},\"rsv2\":{},\"rsv3\":{},\"opcode\":\"{}\",\"op\":{},\"mask\":{},\"len\":{},\"head\":\"{}\",\"payload\":\"{}\",\"cut\":{}}}",
                    h.fin,
                    h.rsv1,
                    h.rsv2,
                    h.rsv3,
                    opcode_name(h.opcode),
                    h.opcode.as_u8(),
                    mask,
                    h.payload_len,
                    hex(&frame.raw_header),
                    b64.encode(&frame.preview),
                    (frame.preview.len() as u64) < h.payload_len,
                );
            }
            let _ = write!(out, "],\"framesOmitted\":{}", self.frames_omitted);
            if let Some(err) = &self.frame_error {
                let _ = write!(out, ",\"frameError\":{}", json_string(&err.to_string()));
            }
        }
        out.push('}');
        out
    }
}

fn opcode_name(op: Opcode) -> &'static str {
    match op {
        Opcode::Continuation => "continuation",
        Opcode::Text => "text",
        Opcode::Binary => "binary",
        Opcode::Close => "close",
        Opcode::Ping => "ping",
        Opcode::Pong => "pong",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A JSON string literal for `s`: quotes, backslashes and control
/// characters escaped, everything else as is.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
