//! `stt serve` settings: every flag has an environment variable, and all are printed at start.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::error::MB;

/// What a server does: everything (one machine), only the API (requests go to the shared
/// queue; live streams run here), or only the engine (`stt worker`: jobs from the queue).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    All,
    Api,
    Worker,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeConfig {
    /// all: API and engine in one process; api: accept requests and queue them for the
    /// workers (needs --database; live streams still run here). `stt worker` is the third
    /// role.
    #[arg(long, env = "STT_ROLE", value_enum, default_value = "all")]
    pub role: Role,
    /// Address to listen on.
    #[arg(long, env = "STT_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, env = "STT_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Where the Whisper models run: auto (the GPU when the ONNX Runtime library is
    /// onnxruntime-gpu's and a GPU is there, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, env = "STT_DEVICE", default_value = "auto")]
    pub device: String,
    /// Transcription workers, each with its own model sessions [default: one per 2 cores].
    #[arg(long, env = "STT_WORKERS")]
    pub workers: Option<usize>,
    /// Requests waiting for a worker before new ones get 503.
    #[arg(long, env = "STT_QUEUE", default_value_t = 64)]
    pub queue: usize,
    /// Most live streams (`/v1/stream`) at once; below it, `--stream-round-seconds` decides.
    /// One more is refused with a message to retry rather than slowing all of them down.
    #[arg(long, env = "STT_MAX_STREAMS", default_value_t = 64)]
    pub max_streams: usize,
    /// Streams are admitted by measured capacity: while one round of steps over every live
    /// stream, at the measured time of a step, fits in this many seconds, i.e. each stream is
    /// decoded at least this often.
    #[arg(long, env = "STT_STREAM_ROUND_SECONDS", default_value_t = 1.0)]
    pub stream_round_seconds: f64,
    /// Workers that decode live streams, apart from the transcription workers so that a long
    /// file never delays a stream; each serves the streams' steps in turn.
    #[arg(long, env = "STT_STREAM_WORKERS", default_value_t = 1)]
    pub stream_workers: usize,
    /// Language model of the text endpoints (`/v1/summarize`, ...) when a request names none
    /// [default: the best installed].
    #[arg(long, env = "STT_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// Text workers (language model and embedding calls); each call runs on all the cores.
    #[arg(long, env = "STT_LLM_WORKERS", default_value_t = 1)]
    pub llm_workers: usize,
    /// Text calls waiting for a worker before new ones get 503.
    #[arg(long, env = "STT_LLM_QUEUE", default_value_t = 8)]
    pub llm_queue: usize,
    /// Audio-tool workers (noise removal, speech synthesis).
    #[arg(long, env = "STT_AUDIO_WORKERS", default_value_t = 1)]
    pub audio_workers: usize,
    /// Audio-tool calls waiting for a worker before new ones get 503.
    #[arg(long, env = "STT_AUDIO_QUEUE", default_value_t = 8)]
    pub audio_queue: usize,
    /// Threads of each language model call [default: every core]. llama.cpp's threads wait for
    /// each other at every token, so on a machine also transcribing, fewer than the cores
    /// keep it from stalling.
    #[arg(long, env = "STT_LLM_THREADS")]
    pub llm_threads: Option<usize>,
    /// Tokens of context per language model call; longer texts are processed in pieces.
    #[arg(long, env = "STT_LLM_CONTEXT", default_value_t = stt_llm::LlmOptions::default().context_tokens)]
    pub llm_context: u32,
    /// Model that serves requests naming none, or naming one that is not installed
    /// [default: the largest installed].
    #[arg(long, env = "STT_MODEL")]
    pub model: Option<String>,
    /// Map a requested model name to an installed one, NAME=MODEL (repeatable, or
    /// comma-separated in the variable).
    #[arg(long = "alias", env = "STT_MODEL_ALIASES", value_delimiter = ',')]
    pub aliases: Vec<String>,
    /// Refuse (400) requests for Whisper models that are not installed instead of serving
    /// them with the default model.
    #[arg(long, env = "STT_STRICT_MODELS")]
    pub strict_models: bool,
    /// Database, uploads and job results [default: $STT_HOME/server].
    #[arg(long, env = "STT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database (`postgres://user:password@host:port/name`) for keys, jobs, usage
    /// and limits, shared by every server and worker that names it [default: SQLite in the
    /// data directory].
    #[arg(long, env = "STT_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// Where queued audio waits for a worker: s3://bucket/prefix (endpoint, region and
    /// credentials from AWS_ENDPOINT, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, ...) or
    /// file:///dir shared by every node [default: the data directory's uploads/].
    #[arg(long, env = "STT_STORAGE")]
    pub storage: Option<String>,
    /// Accept requests without a key, limited per client IP.
    #[arg(long, env = "STT_ANONYMOUS")]
    pub anonymous: bool,
    /// Transcriptions per day and IP for anonymous callers.
    #[arg(long, env = "STT_ANONYMOUS_DAILY", default_value_t = 3)]
    pub anonymous_daily: u32,
    /// Largest upload of anonymous callers, in MB.
    #[arg(long, env = "STT_ANONYMOUS_MAX_UPLOAD_MB", default_value_t = 100)]
    pub anonymous_max_upload_mb: u64,
    /// Requests one anonymous IP may have in progress.
    #[arg(long, env = "STT_ANONYMOUS_CONCURRENCY", default_value_t = 1)]
    pub anonymous_concurrency: u32,
    /// Largest upload or download of any caller, in MB.
    #[arg(long, env = "STT_MAX_UPLOAD_MB", default_value_t = 2048)]
    pub max_upload_mb: u64,
    /// Longest audio accepted, in seconds; longer files are refused (413) before decoding
    /// when their container announces the length, else where decoding reaches it.
    #[arg(long, env = "STT_MAX_DURATION", default_value_t = 4 * 3600)]
    pub max_duration: u64,
    /// Operator key for `/v1/keys` (key management over HTTP is off without it).
    #[arg(long, env = "STT_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Let `url` jobs fetch private, loopback and link-local addresses.
    #[arg(long, env = "STT_ALLOW_PRIVATE_URLS")]
    pub allow_private_urls: bool,
    /// Seconds allowed for downloading a `url` job's audio.
    #[arg(long, env = "STT_URL_TIMEOUT", default_value_t = 600)]
    pub url_timeout: u64,
    /// Seconds a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, env = "STT_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds job results and uploads are kept after creation.
    #[arg(long, env = "STT_RESULT_TTL", default_value_t = 3600)]
    pub result_ttl: u64,
}

impl ServeConfig {
    /// Settings that cannot work together, told at start.
    pub fn check(&self) -> Result<(), String> {
        if self.role != Role::All && self.database.is_none() {
            return Err(format!(
                "--role {:?} shares its work through a database: give --database postgres://...",
                self.role
            )
            .to_lowercase());
        }
        Ok(())
    }

    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(|| (cores() / 2).max(1))
    }

    /// ONNX Runtime threads per worker: the cores shared out between workers.
    pub fn threads_per_worker(&self) -> usize {
        (cores() / self.workers()).max(1)
    }

    /// ONNX Runtime threads per stream worker: all the cores shared out between them (a
    /// stream's latency is one decode, which more threads shorten).
    pub fn threads_per_stream_worker(&self) -> usize {
        (cores() / self.stream_workers.max(1)).max(1)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| stt_core::store::stt_home().join("server"))
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb * MB
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout.max(1))
    }

    pub fn url_timeout(&self) -> Duration {
        Duration::from_secs(self.url_timeout)
    }
}

/// The settings as printed at start (the admin key only as set or not).
impl fmt::Display for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let anonymous = match self.anonymous {
            true => format!(
                "allowed ({} a day, {} MB, {} at a time per IP)",
                self.anonymous_daily, self.anonymous_max_upload_mb, self.anonymous_concurrency
            ),
            false => "refused".into(),
        };
        writeln!(f, "  role           {:?}", self.role)?;
        writeln!(f, "  address        {}:{}", self.host, self.port)?;
        writeln!(
            f,
            "  workers        {} x {} threads, queue {}",
            self.workers(),
            self.threads_per_worker(),
            self.queue
        )?;
        writeln!(
            f,
            "  live streams   each decoded every {} s at most, at most {}, {} workers x {} threads",
            self.stream_round_seconds,
            self.max_streams,
            self.stream_workers,
            self.threads_per_stream_worker()
        )?;
        writeln!(
            f,
            "  text models    {} ({} workers, queue {}, context {})",
            self.llm_model.as_deref().unwrap_or("best installed"),
            self.llm_workers,
            self.llm_queue,
            self.llm_context
        )?;
        writeln!(
            f,
            "  audio tools    {} workers, queue {}",
            self.audio_workers, self.audio_queue
        )?;
        writeln!(f, "  data           {}", self.data_dir().display())?;
        let database = match &self.database {
            Some(url) => without_password(url),
            None => "SQLite in the data directory".into(),
        };
        writeln!(f, "  database       {database}")?;
        writeln!(f, "  anonymous      {anonymous}")?;
        writeln!(f, "  max upload     {} MB", self.max_upload_mb)?;
        writeln!(f, "  max duration   {} s", self.max_duration)?;
        writeln!(f, "  private urls   {}", allowed(self.allow_private_urls))?;
        writeln!(f, "  header timeout {} s", self.header_timeout)?;
        writeln!(f, "  strict models  {}", self.strict_models)?;
        writeln!(f, "  aliases        {}", self.aliases.join(", "))?;
        writeln!(
            f,
            "  key admin      {}",
            match self.admin_key {
                Some(_) => "enabled (/v1/keys)",
                None => "off (set STT_ADMIN_KEY)",
            }
        )?;
        write!(f, "  results kept   {} s", self.result_ttl)
    }
}

/// A database URL fit to print: the password replaced.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unreadable URL)".into(),
    }
}

fn allowed(flag: bool) -> &'static str {
    if flag { "allowed" } else { "refused" }
}

/// The cores this process may use, which workers and threads are shared out from.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
