//! `GET /metrics` in Prometheus' text format, on every node: the shared queue (jobs by
//! state, seconds of audio waiting: what to autoscale workers on), this node's worker slots,
//! transcriptions with their audio and processing time (real-time factor), and HTTP
//! responses by status.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::AppState;

/// What this node's transcription workers did.
#[derive(Default)]
pub struct WorkerStats {
    pub busy: AtomicUsize,
    transcriptions: AtomicU64,
    audio_ms: AtomicU64,
    processing_ms: AtomicU64,
}

impl WorkerStats {
    pub fn record(&self, audio_seconds: f64, processing: Duration) {
        self.transcriptions.fetch_add(1, Ordering::Relaxed);
        self.audio_ms
            .fetch_add((audio_seconds * 1000.0) as u64, Ordering::Relaxed);
        self.processing_ms
            .fetch_add(processing.as_millis() as u64, Ordering::Relaxed);
    }
}

/// HTTP responses by status code.
#[derive(Default)]
pub struct Responses(Mutex<BTreeMap<u16, u64>>);

impl Responses {
    pub fn count(&self, status: u16) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(status).or_default() += 1;
    }
}

pub async fn render(state: &AppState) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    match state.db.queue_stats().await {
        Ok(queue) => {
            metric(
                "stt_queue_depth",
                "gauge",
                "Jobs waiting for a worker, on every node.",
                &[(String::new(), queue.waiting as f64)],
            );
            metric(
                "stt_queue_audio_seconds",
                "gauge",
                "Seconds of audio waiting for a worker (of jobs whose length is known).",
                &[(String::new(), queue.waiting_seconds)],
            );
            let by_status: Vec<_> = queue
                .by_status
                .iter()
                .map(|(status, count)| (format!("{{status=\"{status}\"}}"), *count as f64))
                .collect();
            metric("stt_jobs", "gauge", "Jobs by status.", &by_status);
            metric(
                "stt_database_up",
                "gauge",
                "The database answers.",
                &[(String::new(), 1.0)],
            );
        }
        Err(_) => metric(
            "stt_database_up",
            "gauge",
            "The database answers.",
            &[(String::new(), 0.0)],
        ),
    }
    let (total, busy, stats) = match &state.workers {
        Some(workers) => (
            workers.count,
            workers.stats.busy.load(Ordering::Relaxed),
            Some(&workers.stats),
        ),
        None => (0, 0, None),
    };
    metric(
        "stt_worker_slots",
        "gauge",
        "Transcription workers of this node, by state.",
        &[
            ("{state=\"busy\"}".into(), busy as f64),
            ("{state=\"idle\"}".into(), total.saturating_sub(busy) as f64),
        ],
    );
    if let Some(stats) = stats {
        let audio = stats.audio_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let processing = stats.processing_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        metric(
            "stt_transcriptions_total",
            "counter",
            "Transcriptions run by this node.",
            &[(
                String::new(),
                stats.transcriptions.load(Ordering::Relaxed) as f64,
            )],
        );
        metric(
            "stt_audio_seconds_total",
            "counter",
            "Seconds of audio transcribed.",
            &[(String::new(), audio)],
        );
        metric(
            "stt_processing_seconds_total",
            "counter",
            "Seconds the workers spent transcribing.",
            &[(String::new(), processing)],
        );
        let rtf = if audio > 0.0 { processing / audio } else { 0.0 };
        metric(
            "stt_real_time_factor",
            "gauge",
            "Processing time over audio time since start (lower is faster).",
            &[(String::new(), rtf)],
        );
    }
    let responses: Vec<_> = {
        let counts = state.responses.0.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|(status, count)| (format!("{{status=\"{status}\"}}"), *count as f64))
            .collect()
    };
    metric(
        "stt_http_responses_total",
        "counter",
        "HTTP responses by status code.",
        &responses,
    );
    out
}
