//! WebSocket frame limits enforced as frame headers arrive. actix's codec checks its maximum
//! frame size only once a whole frame is buffered, so a header declaring 2^62 bytes would
//! have it buffer whatever follows. [`FrameMeter`] reads the headers of the client's frames as
//! the bytes stream in and refuses a frame (or a fragmented message) larger than the limit
//! the moment its header is complete; [`limit_frames`] applies it to a request's payload.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;

/// A frame or message whose header declares more than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooBig {
    /// The length the header declares (for a fragment, the message's length so far).
    pub declared: u64,
}

/// Follows the frame headers of a client-to-server WebSocket byte stream (RFC 6455, 5.2).
#[derive(Debug)]
pub struct FrameMeter {
    max: u64,
    /// Bytes of the current header read so far (at most 14: 2 + 8 length + 4 mask).
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come (skipped).
    remaining: u64,
    /// Payload bytes of the fragmented data message in progress.
    message: u64,
}

impl FrameMeter {
    /// A meter refusing frames and messages over `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameMeter {
            max: max as u64,
            header: [0; 14],
            have: 0,
            remaining: 0,
            message: 0,
        }
    }

    /// The header's full length once its first two bytes are known.
    fn header_len(&self) -> usize {
        let masked = self.header[1] & 0x80 != 0;
        let ext = match self.header[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if masked { 4 } else { 0 }
    }

    /// Takes the next bytes of the stream; refuses as soon as a header declares too much.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), TooBig> {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = self.remaining.min(bytes.len() as u64);
                self.remaining -= skip;
                bytes = &bytes[skip as usize..];
                continue;
            }
            let want = if self.have < 2 { 2 } else { self.header_len() };
            let take = (want - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have >= 2 && self.have == self.header_len() {
                self.end_of_header()?;
            }
        }
        Ok(())
    }

    fn end_of_header(&mut self) -> Result<(), TooBig> {
        let h = &self.header;
        let fin = h[0] & 0x80 != 0;
        let opcode = h[0] & 0x0F;
        let length = match h[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        };
        self.have = 0;
        if length > self.max {
            return Err(TooBig { declared: length });
        }
        // Data frames (continuation 0, text 1, binary 2) add up to one message.
        if opcode < 8 {
            self.message = if opcode == 0 {
                self.message.saturating_add(length)
            } else {
                length
            };
            if self.message > self.max {
                return Err(TooBig {
                    declared: self.message,
                });
            }
            if fin {
                self.message = 0;
            }
        }
        self.remaining = length;
        Ok(())
    }
}

/// The payload of a WebSocket request with frames over `max` bytes refused as their headers
/// arrive: the stream then ends with `PayloadError::Overflow` and reads no more.
pub fn limit_frames(
    payload: impl Stream<Item = Result<Bytes, PayloadError>> + 'static,
    max: usize,
) -> Payload {
    let mut meter = FrameMeter::new(max);
    let limited = payload.scan(false, move |refused, chunk| {
        if *refused {
            return std::future::ready(None);
        }
        let item = chunk.and_then(|bytes| match meter.feed(&bytes) {
            Ok(()) => Ok(bytes),
            Err(_) => Err(PayloadError::Overflow),
        });
        *refused = item.is_err();
        std::future::ready(Some(item))
    });
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(limited);
    Payload::from(boxed)
}

/// Whether a WebSocket stream error is a refusal by [`limit_frames`].
pub fn is_refusal(error: &actix_ws::ProtocolError) -> bool {
    match error {
        actix_ws::ProtocolError::Overflow => true,
        actix_ws::ProtocolError::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<PayloadError>())
            .is_some_and(|p| matches!(p, PayloadError::Overflow)),
        _ => false,
    }
}

/// The header of a masked frame as a WebSocket client writes it: `first` (FIN and opcode),
/// the payload length `len` in its shortest form, then `mask`. For tests of the limit, here
/// and over real sockets (`tests/hostile_http.rs`).
pub fn client_frame_header(first: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut h = vec![first];
    match len {
        0..=125 => h.push(0x80 | len as u8),
        126..=0xFFFF => {
            h.push(0x80 | 126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            h.push(0x80 | 127);
            h.extend_from_slice(&len.to_be_bytes());
        }
    }
    h.extend_from_slice(&mask);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
        client_frame_header((u8::from(fin) << 7) | opcode, len, [1, 2, 3, 4])
    }

    #[test]
    fn refuses_a_huge_header_before_any_payload() {
        let mut m = FrameMeter::new(64 << 10);
        assert_eq!(
            m.feed(&header(true, 1, 1 << 62)),
            Err(TooBig { declared: 1 << 62 })
        );
    }

    #[test]
    fn follows_frames_split_anywhere() {
        let mut stream = Vec::new();
        for len in [5u64, 300, 65_536] {
            stream.extend(header(true, 2, len));
            stream.extend(std::iter::repeat_n(0u8, len as usize));
        }
        stream.extend(header(true, 1, 65_537));
        for split in [1, 3, 7, 1000] {
            let mut m = FrameMeter::new(65_536);
            let result: Result<(), TooBig> = stream.chunks(split).try_for_each(|c| m.feed(c));
            assert_eq!(result, Err(TooBig { declared: 65_537 }), "split {split}");
        }
    }

    #[test]
    fn fragments_add_up_to_one_message() {
        let mut m = FrameMeter::new(100);
        let mut s = header(false, 1, 60);
        s.extend([0; 60]);
        s.extend(header(true, 9, 4)); // a ping between fragments
        s.extend([0; 4]);
        assert_eq!(m.feed(&s), Ok(()));
        assert_eq!(m.feed(&header(true, 0, 41)), Err(TooBig { declared: 101 }));
        let mut m = FrameMeter::new(100);
        let mut s = header(false, 1, 60);
        s.extend([0; 60]);
        s.extend(header(true, 0, 40));
        s.extend([0; 40]);
        s.extend(header(true, 1, 100));
        assert_eq!(m.feed(&s), Ok(()));
    }
}
