//! Wake-ups between servers: a job was queued (an idle worker claims it), a job finished
//! (the API node waiting on it answers). With SQLite they stay in the process; with
//! PostgreSQL they are `NOTIFY`s that every server's listener turns into the same local
//! wake-ups. Waiters still poll now and then, so a notification lost with a connection
//! delays work without losing it.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, broadcast};
use tokio_postgres::AsyncMessage;

use super::db::Db;
use super::sql::params;

const JOBS_CHANNEL: &str = "stt_jobs";
const DONE_CHANNEL: &str = "stt_done";

pub struct Events {
    /// A job was queued.
    pub jobs_waiting: Notify,
    /// The id of a job that finished; an empty id when some may have been missed.
    finished: broadcast::Sender<String>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            jobs_waiting: Notify::new(),
            finished: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    pub fn finished(&self) -> broadcast::Receiver<String> {
        self.finished.subscribe()
    }
}

impl Db {
    pub(super) async fn notify_jobs_waiting(&self) {
        match &self.listen {
            None => self.events.jobs_waiting.notify_one(),
            Some(_) => self.notify(JOBS_CHANNEL, "").await,
        }
    }

    pub(super) async fn notify_job_finished(&self, id: &str) {
        match &self.listen {
            None => drop(self.events.finished.send(id.to_string())),
            Some(_) => self.notify(DONE_CHANNEL, id).await,
        }
    }

    async fn notify(&self, channel: &str, payload: &str) {
        // Lost, it costs a poll interval: not worth failing the caller's request.
        let _ = self
            .engine
            .execute("SELECT pg_notify($1, $2)", params![channel, payload])
            .await;
    }

    /// With PostgreSQL, listens for the other servers' notifications for as long as the
    /// process runs, reconnecting when the connection drops.
    pub fn spawn_listener(&self) {
        let Some(config) = self.listen.clone() else {
            return;
        };
        let events = std::sync::Arc::clone(&self.events);
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&config, &events).await {
                    eprintln!("stt: database notifications: {error}; reconnecting");
                }
                // Whatever came while no one listened: everyone looks again.
                events.jobs_waiting.notify_waiters();
                let _ = events.finished.send(String::new());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

async fn listen(config: &tokio_postgres::Config, events: &Events) -> Result<(), String> {
    let (client, mut connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, mut messages) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            let stop = message.is_err();
            if sender.send(message).is_err() || stop {
                break;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {JOBS_CHANNEL}; LISTEN {DONE_CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    while let Some(message) = messages.recv().await {
        match message.map_err(|e| e.to_string())? {
            AsyncMessage::Notification(note) if note.channel() == JOBS_CHANNEL => {
                events.jobs_waiting.notify_one();
            }
            AsyncMessage::Notification(note) => {
                let _ = events.finished.send(note.payload().to_string());
            }
            _ => {}
        }
    }
    driver.abort();
    Err("the connection closed".into())
}
