//! The HTTP server behind `stt serve`, as a library so that the `stt` binary (src/main.rs) and
//! the fuzz targets (fuzz/) share it.

pub mod server;

/// Entry points for the fuzz targets in fuzz/ (benches/fuzz.sh); not an API.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use axum::body::Body;
    use axum::extract::{FromRequest, Multipart};
    use axum::http::{Request, header};

    use crate::server::request::upload::read_form;

    /// Largest file part kept; past it `read_form` must refuse the upload.
    const MAX_FILE_BYTES: u64 = 64 * 1024;
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

    fn upload_dir() -> &'static PathBuf {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir =
                std::env::temp_dir().join(format!("stt-fuzz-multipart-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("fuzz upload directory");
            dir
        })
    }

    /// Reads `data[1..]` as a `multipart/form-data` body (`data[0]` picks the boundary) with
    /// `read_form`, as the upload handlers do. Refusing the body is fine; a panic or a hang is a
    /// finding, and so is an accepted file over the limit or a temporary file left behind.
    pub fn multipart_form(data: &[u8]) {
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
        let request = Request::builder()
            .method("POST")
            .uri("/v1/audio/transcriptions")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_vec()))
            .expect("request");
        let dir = upload_dir();
        runtime().block_on(async {
            let Ok(multipart) = Multipart::from_request(request, &()).await else {
                return;
            };
            if let Ok(form) = read_form(multipart, FILE_FIELDS, dir, MAX_FILE_BYTES).await {
                for name in ["model", "language", "response_format", "prompt"] {
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
            }
        });
        let left = std::fs::read_dir(dir)
            .expect("fuzz upload directory")
            .count();
        assert_eq!(left, 0, "read_form left {left} temporary file(s) behind");
    }
}
