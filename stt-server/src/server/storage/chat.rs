//! Chat over stored transcripts: each transcript's segment embeddings (computed at its first
//! question, kept until it is deleted) and the conversations, by account and session id.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use stt_llm::tasks::ChatTurn;

use super::db::Db;
use super::sql::{DbResult, params};

/// Turns a session keeps; older ones are dropped (the model sees only the last few anyway).
const KEPT_TURNS: usize = 20;

/// Vectors as base64 of little-endian `f32`s, one row per segment, joined by newlines.
fn encode(vectors: &[Vec<f32>]) -> String {
    vectors
        .iter()
        .map(|v| STANDARD.encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn decode(text: &str) -> DbResult<Vec<Vec<f32>>> {
    text.split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let bytes = STANDARD
                .decode(line)
                .map_err(|e| format!("stored embeddings: {e}"))?;
            Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        })
        .collect()
}

impl Db {
    /// The segment embeddings of transcript `id` made by `model`, if kept.
    pub async fn segment_vectors(&self, id: &str, model: &str) -> DbResult<Option<Vec<Vec<f32>>>> {
        let row = self
            .engine
            .query_opt(
                "SELECT vectors FROM transcript_embeddings WHERE transcript_id = $1 AND model = $2",
                params![id, model],
            )
            .await?;
        row.map(|row| decode(&row.text(0)?)).transpose()
    }

    pub async fn keep_segment_vectors(
        &self,
        id: &str,
        model: &str,
        vectors: &[Vec<f32>],
    ) -> DbResult<()> {
        self.engine
            .execute(
                "INSERT INTO transcript_embeddings (transcript_id, model, vectors) VALUES ($1, $2, $3)
                 ON CONFLICT (transcript_id) DO UPDATE SET model = excluded.model, vectors = excluded.vectors",
                params![id, model, encode(vectors)],
            )
            .await?;
        Ok(())
    }

    /// The earlier turns of `account`'s session `session` about `transcript` (none when the
    /// session is new or was about another transcript).
    pub async fn chat_turns(
        &self,
        account: &str,
        session: &str,
        transcript: &str,
    ) -> DbResult<Vec<ChatTurn>> {
        let row = self
            .engine
            .query_opt(
                "SELECT turns FROM chat_sessions WHERE account_id = $1 AND id = $2 AND transcript_id = $3",
                params![account, session, transcript],
            )
            .await?;
        match row {
            Some(row) => {
                serde_json::from_str(&row.text(0)?).map_err(|e| format!("stored chat: {e}"))
            }
            None => Ok(Vec::new()),
        }
    }

    /// Keeps the session with one more turn.
    pub async fn keep_chat_turns(
        &self,
        account: &str,
        session: &str,
        transcript: &str,
        mut turns: Vec<ChatTurn>,
    ) -> DbResult<()> {
        let excess = turns.len().saturating_sub(KEPT_TURNS);
        turns.drain(..excess);
        let turns = serde_json::to_string(&turns).map_err(|e| e.to_string())?;
        self.engine
            .execute(
                "INSERT INTO chat_sessions (account_id, id, transcript_id, turns, updated_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account_id, id) DO UPDATE SET transcript_id = excluded.transcript_id,
                 turns = excluded.turns, updated_ms = excluded.updated_ms",
                params![
                    account,
                    session,
                    transcript,
                    turns,
                    chrono::Utc::now().timestamp_millis()
                ],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::db::tests::test_db;
    use super::*;

    #[tokio::test]
    async fn vectors_and_turns_round_trip_per_account() {
        let (db, dir) = test_db().await;
        let vectors = vec![vec![0.5, -1.25, 3.0], vec![f32::MIN_POSITIVE, 0.0, 1.0]];
        db.keep_segment_vectors("t1", "minilm-l6", &vectors)
            .await
            .unwrap();
        assert_eq!(
            db.segment_vectors("t1", "minilm-l6").await.unwrap(),
            Some(vectors)
        );
        assert_eq!(db.segment_vectors("t1", "other").await.unwrap(), None);
        let turn = |q: &str| ChatTurn {
            question: q.into(),
            answer: format!("about {q}"),
        };
        db.keep_chat_turns("a", "s", "t1", vec![turn("one")])
            .await
            .unwrap();
        db.keep_chat_turns("a", "s", "t1", vec![turn("one"), turn("two")])
            .await
            .unwrap();
        assert_eq!(
            db.chat_turns("a", "s", "t1").await.unwrap(),
            vec![turn("one"), turn("two")]
        );
        assert!(
            db.chat_turns("b", "s", "t1").await.unwrap().is_empty(),
            "another account's session"
        );
        assert!(
            db.chat_turns("a", "s", "t2").await.unwrap().is_empty(),
            "another transcript"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
