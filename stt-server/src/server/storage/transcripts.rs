//! The transcript workspace: every transcription made with a key is kept under its account
//! (unless the request said `store=false`), listed, searched and deleted by its owner only.
//! The whole `Transcript` is kept as JSON; what lists filter on has columns of its own.

use stt_core::Transcript;

use super::db::Db;
use super::sql::{Conn, DbResult, Row, Value, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptStatus {
    /// An asynchronous job that has not finished.
    Processing,
    Completed,
    Failed,
}

impl TranscriptStatus {
    const ALL: [Self; 3] = [Self::Processing, Self::Completed, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Which endpoint made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptSource {
    /// `POST /v1/transcribe`.
    Transcribe,
    /// `POST /v1/stt/create`.
    Job,
    /// `POST /v1/audio/*`.
    OpenAi,
    /// `POST /api/v1/transcripts/`: made elsewhere (live captions kept by the web app).
    Imported,
}

impl TranscriptSource {
    const ALL: [Self; 4] = [Self::Transcribe, Self::Job, Self::OpenAi, Self::Imported];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transcribe => "transcribe",
            Self::Job => "job",
            Self::OpenAi => "openai",
            Self::Imported => "imported",
        }
    }
}

/// A stored transcript without its segments.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptRecord {
    pub id: String,
    pub account_id: String,
    pub job_id: Option<String>,
    pub status: TranscriptStatus,
    pub source: TranscriptSource,
    pub file_name: Option<String>,
    pub language: Option<String>,
    pub duration: Option<f64>,
    pub model: String,
    pub speakers: Vec<String>,
    /// The text; in lists, its first `PREVIEW_CHARS` characters.
    pub text: String,
    pub error: Option<String>,
    pub created_ms: i64,
    pub created: String,
}

/// Characters of text a list shows of each transcript.
pub const PREVIEW_CHARS: i64 = 200;

impl TranscriptRecord {
    /// A new record, processing until a result is given with `fill`.
    pub fn new(
        account_id: &str,
        source: TranscriptSource,
        file_name: Option<String>,
        model: &str,
    ) -> Self {
        let now = chrono::Utc::now();
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: account_id.to_string(),
            job_id: None,
            status: TranscriptStatus::Processing,
            source,
            file_name,
            language: None,
            duration: None,
            model: model.to_string(),
            speakers: Vec::new(),
            text: String::new(),
            error: None,
            created_ms: now.timestamp_millis(),
            created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// Completed with `transcript`.
    pub fn fill(mut self, transcript: &Transcript) -> Self {
        self.status = TranscriptStatus::Completed;
        self.language = detected_language(transcript);
        self.duration = Some(transcript.duration);
        self.model = transcript.model.clone();
        self.speakers = transcript.speakers.clone();
        self.text = transcript.text.clone();
        self
    }
}

/// The transcript's language; none when the audio was too short to tell.
fn detected_language(transcript: &Transcript) -> Option<String> {
    Some(transcript.language.clone()).filter(|language| !language.is_empty())
}

/// What a list is narrowed to; times in milliseconds since the epoch.
#[derive(Debug, Default, Clone)]
pub struct TranscriptFilter {
    pub status: Option<TranscriptStatus>,
    pub language: Option<String>,
    /// Created at or after.
    pub created_after_ms: Option<i64>,
    /// Created before.
    pub created_before_ms: Option<i64>,
    /// Case-insensitive, in the text or the file name.
    pub search: Option<String>,
}

const COLUMNS: &str = "id, account_id, job_id, status, source, file_name, language, duration, \
    model, speakers, text, error, created_ms, created";

fn record_from_row(row: &Row) -> DbResult<TranscriptRecord> {
    let status = row.text(3)?;
    let source = row.text(4)?;
    Ok(TranscriptRecord {
        id: row.text(0)?,
        account_id: row.text(1)?,
        job_id: row.opt_text(2)?,
        status: TranscriptStatus::parse(&status)
            .ok_or_else(|| format!("unknown transcript status {status:?}"))?,
        source: TranscriptSource::ALL
            .into_iter()
            .find(|known| known.as_str() == source)
            .ok_or_else(|| format!("unknown transcript source {source:?}"))?,
        file_name: row.opt_text(5)?,
        language: row.opt_text(6)?,
        duration: row.opt_real(7)?,
        model: row.text(8)?,
        speakers: serde_json::from_str(&row.text(9)?).map_err(|e| e.to_string())?,
        text: row.text(10)?,
        error: row.opt_text(11)?,
        created_ms: row.int(12)?,
        created: row.text(13)?,
    })
}

/// What the search looks in: text and file name, lower-cased here (SQLite's `lower` knows
/// only ASCII), so that both engines match alike.
fn search_text(file_name: Option<&str>, text: &str) -> String {
    format!("{}\n{}", file_name.unwrap_or_default(), text).to_lowercase()
}

fn like_pattern(search: &str) -> String {
    let escaped = search
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn body_json(transcript: Option<&Transcript>) -> DbResult<Option<String>> {
    transcript
        .map(|t| serde_json::to_string(t).map_err(|e| e.to_string()))
        .transpose()
}

/// Stores `record` (with its full `transcript` when completed) on `conn`.
pub(super) async fn insert(
    conn: &mut Conn,
    record: &TranscriptRecord,
    transcript: Option<&Transcript>,
) -> DbResult<()> {
    let sql = format!(
        "INSERT INTO transcripts ({COLUMNS}, search_text, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    conn.execute(
        &sql,
        params![
            record.id.as_str(),
            record.account_id.as_str(),
            record.job_id.clone(),
            record.status.as_str(),
            record.source.as_str(),
            record.file_name.clone(),
            record.language.clone(),
            record.duration,
            record.model.as_str(),
            serde_json::to_string(&record.speakers).map_err(|e| e.to_string())?,
            record.text.as_str(),
            record.error.clone(),
            record.created_ms,
            record.created.as_str(),
            search_text(record.file_name.as_deref(), &record.text),
            body_json(transcript)?
        ],
    )
    .await
    .map(drop)
}

/// The transcript of asynchronous job `job_id` (if it is kept) gets the job's outcome.
pub(super) async fn finish_job_transcript(
    conn: &mut Conn,
    job_id: &str,
    outcome: Result<&Transcript, &str>,
) -> DbResult<()> {
    match outcome {
        Ok(transcript) => {
            conn.execute(
                "UPDATE transcripts SET status = $2, language = $3, duration = $4, model = $5,
                 speakers = $6, text = $7, search_text = search_text || $8, body = $9
                 WHERE job_id = $1",
                params![
                    job_id,
                    TranscriptStatus::Completed.as_str(),
                    detected_language(transcript),
                    transcript.duration,
                    transcript.model.as_str(),
                    serde_json::to_string(&transcript.speakers).map_err(|e| e.to_string())?,
                    transcript.text.as_str(),
                    // The record was stored with `search_text(file_name, "")`.
                    transcript.text.to_lowercase(),
                    body_json(Some(transcript))?
                ],
            )
            .await?;
        }
        Err(error) => {
            conn.execute(
                "UPDATE transcripts SET status = $2, error = $3 WHERE job_id = $1",
                params![job_id, TranscriptStatus::Failed.as_str(), error],
            )
            .await?;
        }
    }
    Ok(())
}

impl Db {
    pub async fn insert_transcript(
        &self,
        record: &TranscriptRecord,
        transcript: Option<&Transcript>,
    ) -> DbResult<()> {
        insert(&mut self.engine.conn().await?, record, transcript).await
    }

    /// The `limit` transcripts of `account` after the first `offset` that pass `filter`,
    /// newest first, and how many pass it in all.
    pub async fn list_transcripts(
        &self,
        account: &str,
        filter: &TranscriptFilter,
        offset: u64,
        limit: u64,
    ) -> DbResult<(u64, Vec<TranscriptRecord>)> {
        let mut conditions = vec!["account_id = $1".to_string()];
        let mut values: Vec<Value> = vec![account.into()];
        let mut condition = |sql: &str, value: Value| {
            values.push(value);
            conditions.push(sql.replace('?', &format!("${}", values.len())));
        };
        if let Some(status) = filter.status {
            condition("status = ?", status.as_str().into());
        }
        if let Some(language) = &filter.language {
            condition("language = ?", language.as_str().into());
        }
        if let Some(after) = filter.created_after_ms {
            condition("created_ms >= ?", after.into());
        }
        if let Some(before) = filter.created_before_ms {
            condition("created_ms < ?", before.into());
        }
        if let Some(search) = &filter.search {
            condition(
                "search_text LIKE ? ESCAPE '\\'",
                like_pattern(search).into(),
            );
        }
        let filtered = format!("FROM transcripts WHERE {}", conditions.join(" AND "));
        let mut conn = self.engine.conn().await?;
        let count = conn
            .query(&format!("SELECT COUNT(*) {filtered}"), &values)
            .await?
            .first()
            .ok_or("no row from COUNT")?
            .count(0)?;
        let columns = COLUMNS.replace(" text,", &format!(" substr(text, 1, {PREVIEW_CHARS}),"));
        let page = format!(
            "SELECT {columns} {filtered} ORDER BY created_ms DESC, id DESC LIMIT {} OFFSET {}",
            limit.min(i64::MAX as u64),
            offset.min(i64::MAX as u64)
        );
        let rows = conn.query(&page, &values).await?;
        let records = rows.iter().map(record_from_row).collect::<DbResult<_>>()?;
        Ok((count, records))
    }

    /// Transcript `id` of `account`, and its whole `Transcript` once completed.
    pub async fn transcript(
        &self,
        account: &str,
        id: &str,
    ) -> DbResult<Option<(TranscriptRecord, Option<Transcript>)>> {
        let sql =
            format!("SELECT {COLUMNS}, body FROM transcripts WHERE id = $1 AND account_id = $2");
        let Some(row) = self.engine.query_opt(&sql, params![id, account]).await? else {
            return Ok(None);
        };
        let body = row
            .opt_text(14)?
            .map(|json| serde_json::from_str(&json).map_err(|e| format!("stored transcript: {e}")))
            .transpose()?;
        Ok(Some((record_from_row(&row)?, body)))
    }

    /// Deletes transcript `id` of `account` and its job: `None` when there is no such
    /// transcript, else where the job's audio is, for the caller to delete.
    pub async fn delete_transcript(
        &self,
        account: &str,
        id: &str,
    ) -> DbResult<Option<Option<String>>> {
        let mut tx = self
            .engine
            .begin_locked(&format!("transcript {id}"))
            .await?;
        let deleted = tx
            .query(
                "DELETE FROM transcripts WHERE id = $1 AND account_id = $2 RETURNING job_id",
                params![id, account],
            )
            .await?;
        let Some(row) = deleted.first() else {
            return Ok(None);
        };
        for table in ["transcript_embeddings", "chat_sessions"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE transcript_id = $1"),
                params![id],
            )
            .await?;
        }
        let mut audio = None;
        if let Some(job) = row.opt_text(0)? {
            let jobs = tx
                .query(
                    "DELETE FROM jobs WHERE id = $1 RETURNING audio_path",
                    params![job],
                )
                .await?;
            audio = jobs
                .first()
                .map(|row| row.opt_text(0))
                .transpose()?
                .flatten();
        }
        tx.commit().await?;
        Ok(Some(audio))
    }
}

#[cfg(test)]
mod tests {
    use super::super::db::tests::test_db;
    use super::*;

    fn transcript(text: &str, language: &str) -> Transcript {
        Transcript {
            text: text.into(),
            language: language.into(),
            language_probability: 1.0,
            duration: 2.0,
            duration_after_vad: 2.0,
            model: "base".into(),
            segments: vec![],
            warnings: vec![],
            speakers: vec!["Speaker 1".into()],
        }
    }

    #[tokio::test]
    async fn lists_filter_page_search_and_stay_within_the_account() {
        let (db, dir) = test_db().await;
        let texts = [
            ("Hello world", "en"),
            ("Бедняга ребят", "ru"),
            ("100% sure_thing", "en"),
        ];
        let mut ids = Vec::new();
        for (index, (text, language)) in texts.into_iter().enumerate() {
            let mut record = TranscriptRecord::new(
                "a",
                TranscriptSource::Transcribe,
                Some("Meeting.mp3".into()),
                "base",
            );
            record.created_ms = 1000 * (index as i64 + 1);
            let t = transcript(text, language);
            db.insert_transcript(&record.clone().fill(&t), Some(&t))
                .await
                .unwrap();
            ids.push(record.id);
        }
        let other = TranscriptRecord::new("b", TranscriptSource::Transcribe, None, "base");
        db.insert_transcript(&other, None).await.unwrap();

        let list = |filter: TranscriptFilter, offset, limit| {
            let db = db.clone();
            async move {
                let (count, records) = db
                    .list_transcripts("a", &filter, offset, limit)
                    .await
                    .unwrap();
                (
                    count,
                    records.into_iter().map(|r| r.text).collect::<Vec<_>>(),
                )
            }
        };
        let all = list(TranscriptFilter::default(), 0, 2).await;
        assert_eq!(
            all,
            (3, vec!["100% sure_thing".into(), "Бедняга ребят".into()])
        );
        let search = |text: &str| TranscriptFilter {
            search: Some(text.into()),
            ..Default::default()
        };
        assert_eq!(
            list(search("БЕДНЯГА"), 0, 10).await.0,
            1,
            "Unicode case folding"
        );
        assert_eq!(
            list(search("meeting"), 0, 10).await.0,
            3,
            "file names are searched"
        );
        assert_eq!(list(search("0%"), 0, 10).await.0, 1, "% is literal");
        assert_eq!(list(search("o_w"), 0, 10).await.0, 0, "_ is literal");
        let english = TranscriptFilter {
            language: Some("en".into()),
            created_before_ms: Some(3000),
            ..Default::default()
        };
        assert_eq!(list(english, 0, 10).await, (1, vec!["Hello world".into()]));
        let processing = TranscriptFilter {
            status: Some(TranscriptStatus::Processing),
            ..Default::default()
        };
        assert_eq!(list(processing, 0, 10).await.0, 0);

        let (record, body) = db.transcript("a", &ids[1]).await.unwrap().unwrap();
        assert_eq!(
            (record.status, body.unwrap().language.as_str()),
            (TranscriptStatus::Completed, "ru")
        );
        assert!(
            db.transcript("b", &ids[1]).await.unwrap().is_none(),
            "another account's"
        );
        assert!(db.delete_transcript("b", &ids[1]).await.unwrap().is_none());
        assert_eq!(
            db.delete_transcript("a", &ids[1]).await.unwrap(),
            Some(None)
        );
        assert!(db.transcript("a", &ids[1]).await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
