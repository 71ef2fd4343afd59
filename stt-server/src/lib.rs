//! The HTTP server behind `stt serve`, as a library so that the `stt` binary (src/main.rs) and
//! the fuzz targets (fuzz/) share it.

pub mod server;

/// Entry points for the fuzz targets in fuzz/ (benches/fuzz.sh); not an API.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::body::Body;
    use axum::extract::{FromRequest, Multipart};
    use axum::http::{Request, header};

    use crate::server::request::upload::read_form;

    /// Largest file part kept; past it `read_form` must refuse the upload (413). Small, so that
    /// inputs of the fuzzer's sizes reach it.
    const MAX_FILE_BYTES: u64 = 16 * 1024;
    /// The part names the handlers take the audio from.
    const FILE_FIELDS: &[&str] = &["audio", "file"];
    /// `content-type` headers; the first input byte picks one (the rest is the body).
    const CONTENT_TYPES: &[&str] = &[
        "multipart/form-data; boundary=X",
        "multipart/form-data; boundary=------------------------d74496d66958873e",
        "multipart/form-data; boundary=\"a b:c\"",
        "multipart/form-data; charset=utf-8; boundary=X",
    ];

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
        })
    }

    /// A new empty directory for one call's uploads (calls may run at once, in tests).
    fn upload_dir() -> PathBuf {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("stt-fuzz-multipart-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz upload directory");
        dir
    }

    /// What `read_form` made of a body.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Outcome {
        /// Not taken as a multipart request (axum's extractor refused it).
        NotMultipart,
        /// `read_form` refused it with this status.
        Refused(u16),
        /// Read: the size of the file part, if any, and the `model` field.
        Read {
            file_bytes: Option<u64>,
            model: Option<String>,
        },
    }

    /// Reads `data[1..]` as a `multipart/form-data` body (`data[0]` picks the boundary) with
    /// `read_form`, as the upload handlers do. Refusing the body is fine; a panic or a hang is a
    /// finding, and so is an accepted file over the limit or a temporary file left behind.
    pub fn multipart_form(data: &[u8]) -> Outcome {
        let Some((&selector, body)) = data.split_first() else {
            return Outcome::NotMultipart;
        };
        let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
        let request = Request::builder()
            .method("POST")
            .uri("/v1/audio/transcriptions")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_vec()))
            .expect("request");
        let dir = upload_dir();
        let outcome = runtime().block_on(async {
            let Ok(multipart) = Multipart::from_request(request, &()).await else {
                return Outcome::NotMultipart;
            };
            let form = match read_form(multipart, FILE_FIELDS, &dir, MAX_FILE_BYTES).await {
                Ok(form) => form,
                Err(error) => return Outcome::Refused(error.status.as_u16()),
            };
            for name in ["language", "response_format", "prompt"] {
                let _ = form.text(name);
            }
            let _ = form.all("timestamp_granularities[]");
            if let Some(file) = &form.file {
                assert!(
                    file.bytes <= MAX_FILE_BYTES,
                    "file part over the limit kept"
                );
                let on_disk = std::fs::metadata(file.path()).expect("upload file").len();
                assert_eq!(on_disk, file.bytes, "upload size differs from the file");
            }
            Outcome::Read {
                file_bytes: form.file.as_ref().map(|file| file.bytes),
                model: form.text("model").map(str::to_string),
            }
        });
        let left = std::fs::read_dir(&dir)
            .expect("fuzz upload directory")
            .count();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(left, 0, "read_form left {left} temporary file(s) behind");
        outcome
    }

    /// The `/v1/stream` message layer on a conversation cut from `data`: messages separated
    /// by `0xFF 0xFE`, each text when its first byte is even. The first is the config (also
    /// through the engine's own option parser); then binary messages are PCM and text ones
    /// must be the stop action. Panics if samples are lost or a close reason does not fit.
    pub fn stream_messages(data: &[u8]) {
        use crate::server::request::json_fields;
        use crate::server::request::stream::{PcmJoiner, close_reason, config_object, stop_action};

        let check_reason = |message: &str| {
            let reason = close_reason(message);
            assert!(reason.len() <= 123 && message.starts_with(reason));
        };
        let mut messages = data
            .split(|&b| b == 0xFF)
            .map(|m| m.strip_prefix(&[0xFE]).unwrap_or(m));
        let Some(first) = messages.next() else { return };
        let text = |m: &[u8]| {
            std::str::from_utf8(m.get(1..).unwrap_or_default())
                .ok()
                .map(str::to_string)
        };
        if let Some(config) = text(first) {
            match config_object(&config) {
                Ok(value) => {
                    let fields = json_fields(&value);
                    for name in [
                        "model",
                        "language",
                        "task",
                        "prompt",
                        "temperature",
                        "beam_size",
                        "vad",
                        "diarize",
                        "speakers",
                    ] {
                        let _ = fields.get(name);
                    }
                    if let Ok(options) = stt_core::TranscribeOptions::from_json(&config) {
                        let _ = options.normalized();
                    }
                }
                Err(refusal) => check_reason(&refusal.message),
            }
        }
        let mut pcm = PcmJoiner::default();
        let (mut bytes, mut samples) = (0, 0);
        for message in messages {
            match message.first() {
                Some(kind) if kind % 2 == 0 => {
                    if let Some(text) = text(message)
                        && let Err(refusal) = stop_action(&text)
                    {
                        check_reason(&refusal.message);
                    }
                }
                _ => {
                    let body = message.get(1..).unwrap_or_default();
                    bytes += body.len();
                    samples += pcm.samples(body).len();
                    assert_eq!(samples, bytes / 2, "a sample was lost or made up");
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// A body for `CONTENT_TYPES[0]` (boundary `X`): `(name, filename, value)` parts.
        fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
            let mut out = vec![0];
            for (name, filename, value) in parts {
                out.extend_from_slice(b"--X\r\nContent-Disposition: form-data; name=\"");
                out.extend_from_slice(name.as_bytes());
                out.push(b'"');
                if let Some(filename) = filename {
                    out.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
                }
                out.extend_from_slice(b"\r\n\r\n");
                out.extend_from_slice(value);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"--X--\r\n");
            out
        }

        #[test]
        fn reads_a_file_and_fields() {
            let data = body(&[
                ("file", Some("a.wav"), b"RIFF0000WAVE"),
                ("model", None, b"base"),
            ]);
            assert_eq!(
                multipart_form(&data),
                Outcome::Read {
                    file_bytes: Some(12),
                    model: Some("base".into())
                }
            );
        }

        #[test]
        fn every_boundary_variant_parses() {
            for (selector, content_type) in CONTENT_TYPES.iter().enumerate() {
                let boundary = content_type.rsplit("boundary=").next().unwrap();
                let boundary = boundary.trim_matches('"');
                let data = body(&[("audio", Some("a.wav"), b"1234")]);
                let data = String::from_utf8(data[1..].to_vec())
                    .unwrap()
                    .replace("--X", &format!("--{boundary}"));
                let mut input = vec![selector as u8];
                input.extend_from_slice(data.as_bytes());
                assert_eq!(
                    multipart_form(&input),
                    Outcome::Read {
                        file_bytes: Some(4),
                        model: None
                    },
                    "{content_type}"
                );
            }
        }

        #[test]
        fn refuses_what_read_form_refuses() {
            let big = vec![b'a'; MAX_FILE_BYTES as usize + 1];
            let too_large = body(&[("file", Some("a.wav"), &big)]);
            assert_eq!(multipart_form(&too_large), Outcome::Refused(413));
            let two = body(&[("file", Some("a"), b"1"), ("audio", Some("b"), b"2")]);
            assert_eq!(multipart_form(&two), Outcome::Refused(400));
            let not_utf8 = body(&[("prompt", None, b"\xff\xfe")]);
            assert_eq!(multipart_form(&not_utf8), Outcome::Refused(400));
        }
    }
}
