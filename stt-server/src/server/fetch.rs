//! Downloading the audio of `url` jobs without becoming a proxy into the operator's network:
//! http(s) only, every address of every hop public (unless the operator allows private
//! ones), redirects followed by hand and re-checked, size and time limits while downloading.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::io::AsyncWriteExt;
use url::{Host, Url};

use super::error::{ApiError, MB};

#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Let private, loopback and link-local addresses through (operator's choice; tests).
    pub allow_private: bool,
    pub max_bytes: u64,
    pub max_redirects: usize,
    /// For the whole download, connection included.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_bytes: 2048 * MB,
            max_redirects: 5,
            timeout: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the download exceeds the {} MB limit", limit / MB)]
    TooLarge { limit: u64 },
    #[error("the url redirects more than {0} times")]
    TooManyRedirects(usize),
    #[error("the download took longer than {0} s")]
    Timeout(u64),
    #[error("the url answered HTTP {0}")]
    Status(u16),
    #[error("cannot fetch the url: {0}")]
    Network(String),
    #[error("cannot store the download: {0}")]
    Io(String),
}

/// Download errors of `url` jobs: over the caller's limit (413), else the URL's fault (400).
impl From<FetchError> for ApiError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::TooLarge { limit } => ApiError::too_large(limit),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// Whether an address is on the public internet. Addresses that embed an IPv4 address (mapped,
/// compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the address they reach.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240 // reserved (240.0.0.0/4)
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking (198.18.0.0/15)
                || (a == 192 && b == 0 && c == 0)) // IETF protocol assignments
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() {
                return false;
            }
            // ::ffff:127.0.0.1 and friends reach the IPv4 address they embed.
            if let Some(v4) = v6.to_ipv4() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let embedded = |high: u16, low: u16| {
                let [h1, h2] = high.to_be_bytes();
                let [l1, l2] = low.to_be_bytes();
                IpAddr::V4(std::net::Ipv4Addr::new(h1, h2, l1, l2))
            };
            match s {
                // NAT64 translates to the IPv4 address in the last 32 bits.
                [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public(embedded(high, low)),
                // Local-use NAT64 (RFC 8215) reaches whatever its operator routes to.
                [0x64, 0xff9b, 1, ..] => false,
                // 6to4 tunnels to the IPv4 address in bits 16..48.
                [0x2002, high, low, ..] => is_public(embedded(high, low)),
                // Teredo tunnels to an (obscured) IPv4 address; documentation is not routed.
                [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => false,
                [first, ..] => {
                    (first & 0xfe00) != 0xfc00 // unique local (fc00::/7)
                        && (first & 0xffc0) != 0xfe80 // link-local (fe80::/10)
                        && (first & 0xffc0) != 0xfec0 // site-local (fec0::/10)
                }
            }
        }
    }
}

fn refuse(host: &str, ip: IpAddr) -> FetchError {
    FetchError::Forbidden(format!(
        "url host {host} is a private address ({ip}); fetching it is not allowed"
    ))
}

/// Checks the scheme and that every address the host resolves to is allowed.
async fn check_hop(url: &Url, policy: &FetchPolicy) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl(format!(
            "{url}: only http and https urls can be fetched"
        )));
    }
    let host = url
        .host()
        .ok_or_else(|| FetchError::InvalidUrl(format!("{url}: no host")))?;
    if policy.allow_private {
        return Ok(());
    }
    let ips: Vec<IpAddr> = match host {
        Host::Ipv4(ip) => vec![ip.into()],
        Host::Ipv6(ip) => vec![ip.into()],
        Host::Domain(domain) => resolve(domain).await?.iter().map(|a| a.ip()).collect(),
    };
    let host = url.host_str().unwrap_or_default();
    match ips.into_iter().find(|ip| !is_public(*ip)) {
        Some(ip) => Err(refuse(host, ip)),
        None => Ok(()),
    }
}

async fn resolve(domain: &str) -> Result<Vec<SocketAddr>, FetchError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((domain, 0))
        .await
        .map_err(|e| FetchError::Network(format!("cannot resolve {domain}: {e}")))?
        .collect();
    if addresses.is_empty() {
        return Err(FetchError::Network(format!("{domain} has no address")));
    }
    Ok(addresses)
}

/// The resolver the HTTP client connects through: it refuses what [`check_hop`] refuses, so a
/// name that resolves differently the second time (DNS rebinding) cannot slip through.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let domain = name.as_str();
            let addresses = resolve(domain).await?;
            if !allow_private && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
                return Err(refuse(domain, bad.ip()).into());
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Parses and checks a url before a job is accepted (so that a refused one is a 400).
pub async fn check_url(url: &str, policy: &FetchPolicy) -> Result<Url, FetchError> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| FetchError::InvalidUrl(format!("{url}: {e}")))?;
    check_hop(&parsed, policy).await?;
    Ok(parsed)
}

/// Downloads `url` into `dest`; on any failure `dest` is removed.
pub async fn fetch_to_file(
    url: &str,
    dest: &Path,
    policy: &FetchPolicy,
) -> Result<u64, FetchError> {
    let result = match tokio::time::timeout(policy.timeout, download(url, dest, policy)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(policy.timeout.as_secs())),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

/// reqwest's errors print their outer layer only; the cause (refused address, TLS) is inside.
fn network(error: reqwest::Error) -> FetchError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    FetchError::Network(message)
}

async fn download(url: &str, dest: &Path, policy: &FetchPolicy) -> Result<u64, FetchError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: policy.allow_private,
        }))
        .user_agent(concat!("stt-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(network)?;
    let mut current = check_url(url, policy).await?;
    let mut redirects = 0;
    let mut response = loop {
        let response = client.get(current.clone()).send().await.map_err(network)?;
        if !response.status().is_redirection() {
            break response;
        }
        redirects += 1;
        if redirects > policy.max_redirects {
            return Err(FetchError::TooManyRedirects(policy.max_redirects));
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| FetchError::Network("a redirect without a Location".into()))?;
        current = current
            .join(location)
            .map_err(|e| FetchError::InvalidUrl(format!("redirect to {location:?}: {e}")))?;
        check_hop(&current, policy).await?;
    };
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let too_large = FetchError::TooLarge {
        limit: policy.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|length| length > policy.max_bytes)
    {
        return Err(too_large);
    }
    let io = |e: std::io::Error| FetchError::Io(e.to_string());
    // Created synchronously: a blocking create that a timeout abandons could otherwise run
    // after the clean-up and leave a file behind.
    let mut file = tokio::fs::File::from_std(std::fs::File::create(dest).map_err(io)?);
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        written += chunk.len() as u64;
        if written > policy.max_bytes {
            return Err(too_large);
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    #[test]
    fn private_and_embedded_private_addresses_are_not_public() {
        let refused = [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.170",
            "240.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "fec0::1",
            "fc00::1",
            "fe80::1",
            "2001::1",
            "2001:db8::1",
        ];
        for address in refused {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        let public = [
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ];
        for address in public {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    /// A loopback HTTP server with the answers the tests need, by path.
    async fn server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let read = socket.read(&mut request).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&request[..read]).to_string();
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let answer = match path.as_str() {
                        "/ok" => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_string(),
                        "/big" => format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{}",
                            "x".repeat(1000)
                        ),
                        "/chunked" => format!(
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
                            format!("64\r\n{}\r\n", "y".repeat(100)).repeat(3)
                        ),
                        "/slow" => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string()
                        }
                        path if path.starts_with("/redirect/") => {
                            let left: usize = path["/redirect/".len()..].parse().unwrap();
                            let next = match left {
                                0 => "/ok".to_string(),
                                n => format!("/redirect/{}", n - 1),
                            };
                            format!(
                                "HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: 0\r\n\r\n"
                            )
                        }
                        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        format!("http://{address}")
    }

    fn allowing(max_bytes: u64) -> FetchPolicy {
        FetchPolicy {
            allow_private: true,
            max_bytes,
            ..FetchPolicy::default()
        }
    }

    fn temp() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("stt-fetch-{}", uuid::Uuid::new_v4()))
    }

    #[tokio::test]
    async fn private_and_odd_urls_are_refused() {
        let policy = FetchPolicy::default();
        for url in [
            "http://127.0.0.1/a.mp3",
            "http://localhost:8080/a.mp3",
            "http://10.1.2.3/a.mp3",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/a.mp3",
            "http://[::ffff:127.0.0.1]/a.mp3",
            "http://[fd00::1]/a.mp3",
            "http://0.0.0.0/a.mp3",
            "http://100.64.0.1/a.mp3",
        ] {
            let error = check_url(url, &policy).await.unwrap_err();
            assert!(matches!(error, FetchError::Forbidden(_)), "{url}: {error}");
            assert!(error.to_string().contains("not allowed"), "{error}");
        }
        for url in [
            "ftp://example.com/a.mp3",
            "file:///etc/passwd",
            "not a url",
            "http://",
        ] {
            let error = check_url(url, &policy).await.unwrap_err();
            assert!(matches!(error, FetchError::InvalidUrl(_)), "{url}: {error}");
        }
        check_url("http://93.184.215.14/a.mp3", &policy)
            .await
            .unwrap();
        check_url("https://[2606:4700::1111]/a.mp3", &policy)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn downloads_within_the_limits() {
        let base = server().await;
        let dest = temp();
        let bytes = fetch_to_file(&format!("{base}/ok"), &dest, &allowing(100))
            .await
            .unwrap();
        assert_eq!(bytes, 5);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        std::fs::remove_file(&dest).unwrap();

        let bytes = fetch_to_file(&format!("{base}/redirect/4"), &dest, &allowing(100))
            .await
            .unwrap();
        assert_eq!(bytes, 5);
        std::fs::remove_file(&dest).unwrap();
    }

    #[tokio::test]
    async fn limits_are_enforced_and_leave_no_file() {
        let base = server().await;
        let dest = temp();
        let cases = [
            ("/big", allowing(500)),
            ("/chunked", allowing(50)),
            ("/redirect/5", allowing(100)),
            ("/missing", allowing(100)),
            (
                "/slow",
                FetchPolicy {
                    timeout: Duration::from_millis(300),
                    ..allowing(100)
                },
            ),
            ("/ok", FetchPolicy::default()),
        ];
        for (path, policy) in cases {
            let error = fetch_to_file(&format!("{base}{path}"), &dest, &policy)
                .await
                .unwrap_err();
            let expected = match path {
                "/big" | "/chunked" => matches!(error, FetchError::TooLarge { .. }),
                "/redirect/5" => matches!(error, FetchError::TooManyRedirects(5)),
                "/missing" => matches!(error, FetchError::Status(404)),
                "/slow" => matches!(error, FetchError::Timeout(_)),
                _ => matches!(error, FetchError::Forbidden(_)),
            };
            assert!(expected, "{path}: {error}");
            assert!(!dest.exists(), "{path} left a file");
        }
    }

    #[tokio::test]
    async fn redirects_are_checked_hop_by_hop() {
        let private = Url::parse("http://10.0.0.1/x").unwrap();
        let error = check_hop(&private, &FetchPolicy::default())
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Forbidden(_)), "{error}");
        check_hop(&private, &allowing(1)).await.unwrap();
    }
}
