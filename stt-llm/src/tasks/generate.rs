//! `/v1/generate`: content written from a transcript. Prose types answer in `content`;
//! flashcards, quizzes, key quotes and chapter markers are structured (`result`, their shape
//! enforced by the sampler's grammar).

use serde::Serialize;
use serde_json::{Value, json};
use stt_core::{Error, Result};

use super::pieces::{condense, text_budget};
use super::schema::{list, object, string};
use super::{SYSTEM, TaskContext, check_text, named_enum, transcript_message};
use crate::runtime::Message;

named_enum!(
    /// What to write from a transcript.
    ContentType, "type" {
        BlogPost => "blog_post",
        SocialMedia => "social_media",
        Newsletter => "newsletter",
        KeyQuotes => "key_quotes",
        ShowNotes => "show_notes",
        MeetingNotes => "meeting_notes",
        StudyGuide => "study_guide",
        Flashcards => "flashcards",
        Quiz => "quiz",
        ChapterMarkers => "chapter_markers",
    }
);

/// Either prose (`content`) or a structured `result`, by type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generated {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl ContentType {
    fn instruction(self) -> &'static str {
        match self {
            ContentType::BlogPost => {
                "Write a blog post from the transcript: a title line, then four to six paragraphs."
            }
            ContentType::SocialMedia => {
                "Write three short social media posts (each under 280 characters) about the transcript, separated by blank lines."
            }
            ContentType::Newsletter => {
                "Write a newsletter section from the transcript: a headline, a short introduction and the main points."
            }
            ContentType::KeyQuotes => {
                "Pick the most striking sentences said in the transcript, quoted exactly."
            }
            ContentType::ShowNotes => {
                "Write podcast show notes for the transcript: a one-paragraph overview, then the topics covered as bullet points."
            }
            ContentType::MeetingNotes => {
                "Write meeting notes from the transcript with the sections Summary, Decisions, Action items and Open questions."
            }
            ContentType::StudyGuide => {
                "Write a study guide from the transcript: the key concepts with short explanations, then review questions."
            }
            ContentType::Flashcards => {
                "Write study flashcards about the facts in the transcript: a question or term on the front, its answer on the back."
            }
            ContentType::Quiz => {
                "Write a multiple-choice quiz about the transcript: each question with four options and the index (0 to 3) of the correct one."
            }
            ContentType::ChapterMarkers => {
                "Divide the transcript into chapters in time order. Lines start with [seconds]: give each chapter the start time in seconds of its first line and a short title."
            }
        }
    }

    /// The shape of a structured type; `None` for prose.
    fn schema(self) -> Option<Value> {
        Some(match self {
            ContentType::KeyQuotes => object(json!({"quotes": list(string(), 1, 8)})),
            ContentType::Flashcards => object(
                json!({"flashcards": list(object(json!({"front": string(), "back": string()})), 1, 8)}),
            ),
            ContentType::Quiz => object(json!({"questions": list(object(json!({
                    "question": string(),
                    "options": list(string(), 4, 4),
                    "answer": {"type": "integer", "minimum": 0, "maximum": 3},
                })), 1, 5)})),
            ContentType::ChapterMarkers => object(
                json!({"chapters": list(object(json!({"start": {"type": "number", "minimum": 0}, "title": string()})), 1, 12)}),
            ),
            _ => return None,
        })
    }

    fn max_tokens(self) -> u32 {
        match self {
            ContentType::SocialMedia | ContentType::KeyQuotes => 500,
            _ => 1200,
        }
    }
}

/// Content of `kind` written from `text` (condensed into notes first when it does not fit).
pub fn generate(
    context: &mut TaskContext,
    text: &str,
    kind: ContentType,
    stream: bool,
) -> Result<Generated> {
    let text = check_text(text)?;
    let budget = text_budget(context, kind.max_tokens());
    let text = condense(context, text, budget)?;
    let Some(schema) = kind.schema() else {
        let messages = [
            Message::system(SYSTEM),
            transcript_message(kind.instruction(), &text),
        ];
        let content = context.text(&messages, kind.max_tokens(), stream)?;
        return Ok(Generated {
            content: Some(content),
            result: None,
        });
    };
    let messages = [
        Message::system(format!("{SYSTEM} Answer in JSON.")),
        transcript_message(kind.instruction(), &text),
    ];
    let mut result: Value = context.json(&messages, &schema, kind.max_tokens(), stream)?;
    if kind == ContentType::ChapterMarkers {
        order_chapters(&mut result)?;
    }
    Ok(Generated {
        content: None,
        result: Some(result),
    })
}

/// Chapters sorted by start, the first at 0: a model may list them out of order.
fn order_chapters(result: &mut Value) -> Result<()> {
    let chapters = result
        .get_mut("chapters")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Inference("chapter markers without chapters".into()))?;
    let start = |c: &Value| c["start"].as_f64().unwrap_or(0.0);
    chapters.sort_by(|a, b| start(a).total_cmp(&start(b)));
    if let Some(first) = chapters.first_mut() {
        first["start"] = json!(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_types_have_grammars_and_prose_types_none() {
        for kind in ContentType::ALL {
            match kind.schema() {
                Some(schema) => {
                    let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string());
                    assert!(grammar.is_ok(), "{kind}: {grammar:?}");
                }
                None => assert!(!matches!(kind, ContentType::Quiz | ContentType::Flashcards)),
            }
        }
    }

    #[test]
    fn chapters_come_out_in_time_order_from_zero() {
        let mut result =
            json!({"chapters": [{"start": 40.5, "title": "b"}, {"start": 3, "title": "a"}]});
        order_chapters(&mut result).unwrap();
        assert_eq!(
            result,
            json!({"chapters": [{"start": 0, "title": "a"}, {"start": 40.5, "title": "b"}]})
        );
    }
}
