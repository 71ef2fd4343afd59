//! Accepting connections: hyper with a header timeout (which also ends idle keep-alive
//! connections), WebSocket upgrades, the peer address for handlers, a bounded graceful
//! shutdown, and `{"error"}` bodies on the answers hyper writes by itself for requests it
//! cannot parse (a malformed `Content-Length`, headers too large).

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// How long open connections may take to finish at shutdown (a live stream may never end).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` until `shutdown` completes, then lets open connections finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let io = TokioIo::new(JsonErrors::new(stream));
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// The connection's socket, replacing the empty-bodied 4xx answers hyper writes itself (the
/// only responses without a content type: every handler's has one) by the same status with a
/// JSON body.
struct JsonErrors {
    inner: TcpStream,
    /// A replacement being written, how much of it is out, and the length it stands for.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl JsonErrors {
    fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            replacing: None,
        }
    }
}

impl AsyncRead for JsonErrors {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonErrors {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            match automatic_error(buf) {
                Some(status) => self.replacing = Some((json_error(status), 0, buf.len())),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        let this = &mut *self;
        let Some((bytes, written, stands_for)) = &mut this.replacing else {
            unreachable!("set above");
        };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let stands_for = *stands_for;
        this.replacing = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    /// One buffer per write, so that a response head arrives whole in `poll_write`.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The status of a response head hyper wrote for a request it could not parse: a 4xx with no
/// header but `content-length: 0`, `date` and `connection: close`.
fn automatic_error(buf: &[u8]) -> Option<u16> {
    let head = std::str::from_utf8(buf).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?;
    let status: u16 = rest.get(..3)?.parse().ok()?;
    let only_hypers_headers = lines.all(|line| {
        let lower = line.to_ascii_lowercase();
        lower == "content-length: 0" || lower == "connection: close" || lower.starts_with("date: ")
    });
    ((400..500).contains(&status) && only_hypers_headers).then_some(status)
}

fn json_error(status: u16) -> Vec<u8> {
    let (reason, message) = match status {
        431 => (
            "Request Header Fields Too Large",
            "the request headers are too large or too many",
        ),
        414 => ("URI Too Long", "the request URI is too long"),
        _ => (
            "Bad Request",
            "malformed request: its request line or a header cannot be parsed \
             (a Content-Length must be one decimal number)",
        ),
    };
    let body = serde_json::json!({ "error": message }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::automatic_error;

    #[test]
    fn only_hypers_own_error_heads_are_replaced() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
                      date: Fri, 04 Dec 2026 19:00:00 GMT\r\n\r\n";
        assert_eq!(automatic_error(hyper), Some(431));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                     content-length: 20\r\n\r\n";
        assert_eq!(automatic_error(ours), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_error(ok), None);
        assert_eq!(automatic_error(b"HTTP/1.1 400 Bad Request\r\n"), None);
    }
}
