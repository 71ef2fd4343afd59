//! Recognises a few formats from their first bytes, only to write better error messages.

/// A short description of what the data looks like, if it is one of the formats people commonly
/// try and the built-in decoders cannot read, or not media at all.
pub(super) fn describe(head: &[u8]) -> Option<&'static str> {
    const ASF: [u8; 16] = [
        0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE,
        0x6C,
    ];
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"AVI " {
        return Some("an AVI file");
    }
    if head.starts_with(&ASF) {
        return Some("an ASF/WMA/WMV file");
    }
    if head.starts_with(&[0x0B, 0x77]) {
        return Some("an AC-3 stream");
    }
    if head.starts_with(b"#!AMR") {
        return Some("an AMR file");
    }
    if head.starts_with(&[0x00, 0x00, 0x01, 0xBA]) {
        return Some("an MPEG program stream");
    }
    if head.starts_with(&[0x7F, 0xFF, 0xFE, 0x80]) {
        return Some("a DTS stream");
    }
    if looks_like_text(head) {
        return Some("text, not audio");
    }
    None
}

/// True if `head` is non-empty UTF-8 without control characters other than whitespace. A
/// multi-byte character cut off at the end of `head` is tolerated.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(err) if err.error_len().is_none() => {
            // Incomplete character at the end: check what precedes it.
            match std::str::from_utf8(&head[..err.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn recognises_text_and_avi() {
        assert_eq!(describe(b"hello, world\n"), Some("text, not audio"));
        assert_eq!(describe("héllo".as_bytes()), Some("text, not audio"));
        assert_eq!(describe(b"RIFF\x10\0\0\0AVI LIST"), Some("an AVI file"));
        assert_eq!(describe(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(describe(b"fLaC\0\0\0\x22"), None);
        assert_eq!(describe(b""), None);
    }
}
