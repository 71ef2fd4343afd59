//! Ogg Opus output (RFC 7845): libopus (built already for decoding Opus, through `opusic-sys`)
//! in 20 ms frames of mono 48 kHz audio, the packets in Ogg pages of half a second.

use opusic_sys as opus;

use crate::{Error, Result};

/// The rate Opus is encoded at here.
pub(super) const OPUS_RATE: u32 = 48_000;
/// Samples per frame: 20 ms.
const FRAME: usize = 960;
/// Frames per Ogg page: half a second, so a stream's pages come steadily.
const FRAMES_PER_PAGE: usize = 25;
/// Speech at 32 kbit/s.
const BITRATE: i32 = 32_000;
/// The largest packet libopus writes for one frame.
const MAX_PACKET: usize = 4000;

pub(super) struct OpusWriter {
    encoder: *mut opus::OpusEncoder,
    /// Samples not yet a whole frame.
    pending: Vec<f32>,
    /// Packets of the page being built.
    packets: Vec<Vec<u8>>,
    /// Samples (48 kHz) of the frames encoded so far, the encoder's lookahead included.
    encoded: u64,
    /// Real samples given, without the lookahead or the padding of the last frame.
    given: u64,
    pre_skip: u16,
    sequence: u32,
    /// The rate of the original audio, which the header records.
    input_rate: u32,
    headers_written: bool,
}

// The encoder is used by one thread at a time (`&mut self`).
unsafe impl Send for OpusWriter {}

impl OpusWriter {
    pub(super) fn new(input_rate: u32) -> Result<Self> {
        let mut error = 0;
        // SAFETY: libopus allocates the encoder, destroyed once in Drop; the ctl requests
        // take the argument types of opus_defines.h (opus_int32, opus_int32*).
        let (encoder, lookahead) = unsafe {
            let encoder = opus::opus_encoder_create(
                OPUS_RATE as i32,
                1,
                opus::OPUS_APPLICATION_AUDIO,
                &mut error,
            );
            if encoder.is_null() || error != opus::OPUS_OK {
                return Err(Error::Inference(format!(
                    "libopus could not start (error {error})"
                )));
            }
            opus::opus_encoder_ctl(encoder, opus::OPUS_SET_BITRATE_REQUEST, BITRATE);
            let mut lookahead: i32 = 0;
            opus::opus_encoder_ctl(encoder, opus::OPUS_GET_LOOKAHEAD_REQUEST, &mut lookahead);
            (encoder, lookahead)
        };
        Ok(Self {
            encoder,
            pending: Vec::with_capacity(FRAME),
            packets: Vec::new(),
            encoded: 0,
            given: 0,
            pre_skip: u16::try_from(lookahead.max(0)).unwrap_or(0),
            sequence: 0,
            input_rate,
            headers_written: false,
        })
    }

    /// The bytes of the pages that `samples` (mono, 48 kHz) complete; the first call also
    /// gives the two header pages.
    pub(super) fn encode(&mut self, samples: &[f32]) -> Result<Vec<u8>> {
        self.given += samples.len() as u64;
        let mut out = self.headers();
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / FRAME * FRAME;
        let frames: Vec<f32> = self.pending.drain(..whole).collect();
        for frame in frames.chunks_exact(FRAME) {
            self.encode_frame(frame)?;
            if self.packets.len() == FRAMES_PER_PAGE {
                out.extend(self.page(self.encoded, false));
            }
        }
        Ok(out)
    }

    /// The last pages: the encoder's lookahead flushed with silence, and the end of the
    /// stream, whose position tells players where the real audio ends.
    pub(super) fn finish(&mut self) -> Result<Vec<u8>> {
        let mut out = self.headers();
        let end = u64::from(self.pre_skip) + self.given;
        self.pending
            .resize(self.pending.len() + usize::from(self.pre_skip), 0.0);
        while self.encoded < end {
            let mut frame = std::mem::take(&mut self.pending);
            frame.resize(FRAME.max(frame.len()), 0.0);
            self.pending = frame.split_off(FRAME);
            self.encode_frame(&frame)?;
            if self.packets.len() == FRAMES_PER_PAGE && self.encoded < end {
                out.extend(self.page(self.encoded, false));
            }
        }
        out.extend(self.page(end, true));
        Ok(out)
    }

    fn encode_frame(&mut self, frame: &[f32]) -> Result<()> {
        let mut packet = vec![0u8; MAX_PACKET];
        // SAFETY: `frame` holds FRAME samples, `packet` MAX_PACKET bytes.
        let written = unsafe {
            opus::opus_encode_float(
                self.encoder,
                frame.as_ptr(),
                FRAME as i32,
                packet.as_mut_ptr(),
                MAX_PACKET as i32,
            )
        };
        let written = usize::try_from(written)
            .map_err(|_| Error::Inference(format!("libopus failed to encode (error {written})")))?;
        packet.truncate(written);
        self.packets.push(packet);
        self.encoded += FRAME as u64;
        Ok(())
    }

    /// The identification and comment headers, the first time.
    fn headers(&mut self) -> Vec<u8> {
        if std::mem::replace(&mut self.headers_written, true) {
            return Vec::new();
        }
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&self.pre_skip.to_le_bytes());
        head.extend_from_slice(&self.input_rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family: mono or stereo
        let vendor = concat!("stt ", env!("CARGO_PKG_VERSION"));
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes()); // no comments
        let mut out = Vec::new();
        for (packet, flags) in [(head, 0x02), (tags, 0x00)] {
            out.extend(ogg_page(&[packet], 0, flags, self.sequence));
            self.sequence += 1;
        }
        out
    }

    /// The packets so far as one page ending at `granule`.
    fn page(&mut self, granule: u64, last: bool) -> Vec<u8> {
        let packets = std::mem::take(&mut self.packets);
        let page = ogg_page(
            &packets,
            granule,
            if last { 0x04 } else { 0 },
            self.sequence,
        );
        self.sequence += 1;
        page
    }
}

impl Drop for OpusWriter {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create, not used after this.
        unsafe { opus::opus_encoder_destroy(self.encoder) }
    }
}

/// Any stream serial will do: there is one logical stream.
const SERIAL: u32 = 0x5354_5431;

/// One Ogg page holding whole `packets` (each under 255 × 255 bytes, at most 255 segments in
/// all: 25 packets of speech are far below both).
fn ogg_page(packets: &[Vec<u8>], granule: u64, flags: u8, sequence: u32) -> Vec<u8> {
    let mut lacing = Vec::new();
    for packet in packets {
        lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
        lacing.push((packet.len() % 255) as u8);
    }
    let mut page = b"OggS".to_vec();
    page.push(0); // version
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&SERIAL.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]); // the checksum, below
    page.push(lacing.len() as u8);
    page.extend_from_slice(&lacing);
    for packet in packets {
        page.extend_from_slice(packet);
    }
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, starting at 0.
fn ogg_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in bytes {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ogg_checksum_matches_the_specification() {
        // The CRC of "123456789" under Ogg's parameters (CRC-32/MPEG-2 without its initial
        // value and final inversion): a published check value.
        assert_eq!(ogg_crc(b"123456789"), 0x89A1_897F);
    }
}
