//! The web app at `/`: plain HTML, CSS and JavaScript modules from `stt-server/web/`, built
//! into the binary, so it loads nothing from anywhere else (its content security policy says so
//! to the browser too). It speaks only the public API, with the key a person enters.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Each file of the app: its path, content type and text.
const FILES: [(&str, &str, &str); 10] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../../web/index.html"),
    ),
    (
        "/app.css",
        "text/css; charset=utf-8",
        include_str!("../../../web/app.css"),
    ),
    ("/app.js", JS, include_str!("../../../web/app.js")),
    ("/api.js", JS, include_str!("../../../web/api.js")),
    (
        "/transcript.js",
        JS,
        include_str!("../../../web/transcript.js"),
    ),
    ("/upload.js", JS, include_str!("../../../web/upload.js")),
    ("/live.js", JS, include_str!("../../../web/live.js")),
    (
        "/live-worklet.js",
        JS,
        include_str!("../../../web/live-worklet.js"),
    ),
    ("/library.js", JS, include_str!("../../../web/library.js")),
    ("/assist.js", JS, include_str!("../../../web/assist.js")),
];
const JS: &str = "text/javascript; charset=utf-8";

/// Same origin only: scripts, styles, requests and the stream; media from the person's own
/// files (`blob:`).
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; worker-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES
        .into_iter()
        .fold(Router::new(), |router, (path, content_type, text)| {
            router.route(path, get(move || async move { file(content_type, text) }))
        })
}

fn file(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}
