//! `/v1/analyze`: sentiment, topics, entities, action items, questions (structured answers,
//! their shape enforced by the sampler's grammar) and PII redaction (patterned PII found by
//! the detectors of [`crate::pii`], names and places by the model).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stt_core::Result;

use super::pieces::{split, text_budget};
use super::schema::{list, object, optional, string};
use super::{SYSTEM, TaskContext, check_text, named_enum, transcript_message};
use crate::pii::{self, PiiKind, PiiSpan};
use crate::runtime::Message;

named_enum!(
    /// What an analysis looks for.
    AnalysisType, "type" {
        Sentiment => "sentiment",
        Topics => "topics",
        Entities => "entities",
        ActionItems => "action_items",
        Questions => "questions",
        PiiRedact => "pii_redact",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// `positive`, `negative` or `neutral`.
    pub label: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub text: String,
    /// `person`, `organization`, `location`, `date`, `product`, `event` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionItem {
    pub task: String,
    pub owner: Option<String>,
    pub due: Option<String>,
}

/// One redacted finding; `start` and `end` count characters (Unicode scalar values) of the
/// original text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PiiEntity {
    #[serde(rename = "type")]
    pub kind: PiiKind,
    pub text: String,
    pub start: usize,
    pub end: usize,
    /// `pattern` (a detector with its checksum) or `model` (names and places).
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redaction {
    pub redacted_text: String,
    pub entities: Vec<PiiEntity>,
}

/// The result of one analysis; serialised as the object of its fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Analysis {
    Sentiment(Sentiment),
    Topics { topics: Vec<String> },
    Entities { entities: Vec<Entity> },
    ActionItems { action_items: Vec<ActionItem> },
    Questions { questions: Vec<String> },
    PiiRedact(Redaction),
}

const SENTIMENTS: [&str; 3] = ["positive", "negative", "neutral"];
const ENTITY_TYPES: [&str; 7] = [
    "person",
    "organization",
    "location",
    "date",
    "product",
    "event",
    "other",
];

impl AnalysisType {
    fn instruction(self) -> &'static str {
        match self {
            AnalysisType::Sentiment => {
                "What is the overall sentiment of the speakers in the transcript? Answer with a \
                 label (positive, negative or neutral) and a one-sentence reason."
            }
            AnalysisType::Topics => "List the main topics of the transcript, each in a few words.",
            AnalysisType::Entities => {
                "List the named entities the transcript mentions (people, organisations, \
                 places, dates, products, events), each with its type."
            }
            AnalysisType::ActionItems => {
                "List the action items agreed or assigned in the transcript: the task, its \
                 owner and its deadline (null when not said). An empty list if there are none."
            }
            AnalysisType::Questions => {
                "List the questions asked in the transcript, each as a full question."
            }
            AnalysisType::PiiRedact => {
                "List every personal name of a person and every place name (city, country, \
                 street, address) that appears in the transcript, exactly as written. Empty \
                 lists if there are none."
            }
        }
    }

    fn schema(self) -> Value {
        match self {
            AnalysisType::Sentiment => {
                object(json!({"label": {"enum": SENTIMENTS}, "reason": string()}))
            }
            AnalysisType::Topics => object(json!({"topics": list(string(), 0, 8)})),
            AnalysisType::Entities => object(json!({"entities": list(
                object(json!({"text": string(), "type": {"enum": ENTITY_TYPES}})),
                0,
                20
            )})),
            AnalysisType::ActionItems => object(json!({"action_items": list(object(json!({
                    "task": string(),
                    "owner": optional(string()),
                    "due": optional(string()),
                })), 0, 10)})),
            AnalysisType::Questions => object(json!({"questions": list(string(), 0, 10)})),
            AnalysisType::PiiRedact => object(json!({
                "people": list(string(), 0, 20),
                "places": list(string(), 0, 20),
            })),
        }
    }
}

/// Answer tokens a structured analysis may take: enough for its longest allowed shape.
const ANALYSIS_TOKENS: u32 = 1200;

/// The model's part of one analysis of one piece of text.
#[derive(Deserialize)]
#[serde(untagged)]
enum PieceAnswer {
    Sentiment(Sentiment),
    Topics {
        topics: Vec<String>,
    },
    Entities {
        entities: Vec<Entity>,
    },
    ActionItems {
        action_items: Vec<ActionItem>,
    },
    Questions {
        questions: Vec<String>,
    },
    Names {
        people: Vec<String>,
        places: Vec<String>,
    },
}

/// Analyses `text`; one that does not fit the context is analysed piece by piece and the
/// answers merged (lists joined without repeats, the sentiment most pieces have).
pub fn analyze(
    context: &mut TaskContext,
    text: &str,
    kind: AnalysisType,
    stream: bool,
) -> Result<Analysis> {
    let text = check_text(text)?;
    let pieces = split(context, text, text_budget(context, ANALYSIS_TOKENS));
    let schema = kind.schema();
    let mut answers = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        let messages = [
            Message::system(format!("{SYSTEM} Answer in JSON.")),
            transcript_message(kind.instruction(), piece),
        ];
        // Only a one-piece answer is the whole answer, so only that one streams.
        let stream = stream && pieces.len() == 1;
        answers.push(context.json::<PieceAnswer>(&messages, &schema, ANALYSIS_TOKENS, stream)?);
    }
    Ok(merge(kind, text, answers))
}

fn merge(kind: AnalysisType, text: &str, answers: Vec<PieceAnswer>) -> Analysis {
    let mut sentiments = Vec::new();
    let (mut topics, mut entities, mut actions, mut questions, mut names) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for answer in answers {
        match answer {
            PieceAnswer::Sentiment(s) => sentiments.push(s),
            PieceAnswer::Topics { topics: t } => topics.extend(t),
            PieceAnswer::Entities { entities: e } => entities.extend(e),
            PieceAnswer::ActionItems { action_items: a } => actions.extend(a),
            PieceAnswer::Questions { questions: q } => questions.extend(q),
            PieceAnswer::Names { people, places } => {
                names.extend(people.into_iter().map(|n| (PiiKind::Person, n)));
                names.extend(places.into_iter().map(|n| (PiiKind::Location, n)));
            }
        }
    }
    match kind {
        AnalysisType::Sentiment => Analysis::Sentiment(majority(sentiments)),
        AnalysisType::Topics => Analysis::Topics {
            topics: unique(topics, |t| t.to_lowercase()),
        },
        AnalysisType::Entities => Analysis::Entities {
            entities: unique(entities, |e| (e.text.to_lowercase(), e.kind.clone())),
        },
        AnalysisType::ActionItems => Analysis::ActionItems {
            action_items: unique(actions, |a| a.task.to_lowercase()),
        },
        AnalysisType::Questions => Analysis::Questions {
            questions: unique(questions, |q| q.to_lowercase()),
        },
        AnalysisType::PiiRedact => Analysis::PiiRedact(redact(text, &names)),
    }
}

/// The label most pieces have (earlier pieces win ties), with the reason of its first piece.
fn majority(sentiments: Vec<Sentiment>) -> Sentiment {
    let count = |label: &str| sentiments.iter().filter(|s| s.label == label).count();
    let best = sentiments
        .iter()
        .max_by_key(|s| {
            (
                count(&s.label),
                std::cmp::Reverse(sentiments.iter().position(|o| o.label == s.label)),
            )
        })
        .cloned();
    best.unwrap_or(Sentiment {
        label: "neutral".into(),
        reason: String::new(),
    })
}

fn unique<T, K: PartialEq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = Vec::new();
    items
        .into_iter()
        .filter(|item| {
            let k = key(item);
            let new = !seen.contains(&k);
            if new {
                seen.push(k);
            }
            new
        })
        .collect()
}

/// Detector findings and the model's names (those that look like names and are really in the
/// text), redacted.
fn redact(text: &str, names: &[(PiiKind, String)]) -> Redaction {
    let names: Vec<(PiiKind, String)> = names
        .iter()
        .filter(|(_, name)| pii::plausible_name(name))
        .cloned()
        .collect();
    let mut spans = pii::find_patterned(text);
    spans.extend(pii::find_literals(text, &names));
    let (redacted_text, spans) = pii::redact(text, spans);
    Redaction {
        redacted_text,
        entities: spans.into_iter().map(|s| entity(text, s)).collect(),
    }
}

fn entity(text: &str, span: PiiSpan) -> PiiEntity {
    let chars = |byte: usize| text[..byte].chars().count();
    let source = match span.kind {
        PiiKind::Person | PiiKind::Location => "model",
        _ => "pattern",
    };
    PiiEntity {
        kind: span.kind,
        start: chars(span.start),
        end: chars(span.end),
        text: span.text,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentiment(label: &str) -> PieceAnswer {
        PieceAnswer::Sentiment(Sentiment {
            label: label.into(),
            reason: label.into(),
        })
    }

    #[test]
    fn pieces_merge_into_one_answer() {
        let merged = merge(
            AnalysisType::Sentiment,
            "",
            vec![
                sentiment("neutral"),
                sentiment("positive"),
                sentiment("positive"),
            ],
        );
        assert_eq!(
            merged,
            Analysis::Sentiment(Sentiment {
                label: "positive".into(),
                reason: "positive".into()
            })
        );
        let topics = |t: &[&str]| PieceAnswer::Topics {
            topics: t.iter().map(|s| s.to_string()).collect(),
        };
        let merged = merge(
            AnalysisType::Topics,
            "",
            vec![topics(&["Budget", "Hiring"]), topics(&["budget", "Launch"])],
        );
        assert_eq!(
            merged,
            Analysis::Topics {
                topics: vec!["Budget".into(), "Hiring".into(), "Launch".into()]
            }
        );
    }

    #[test]
    fn redaction_uses_detectors_and_only_names_really_in_the_text() {
        let text = "Zoë Martin in Lyon: write to zoe@example.com.";
        let names = [
            (PiiKind::Person, "Zoë Martin".to_string()),
            (PiiKind::Location, "Lyon".to_string()),
            (PiiKind::Person, "Nobody Here".to_string()),
        ];
        let redaction = redact(text, &names);
        assert_eq!(
            redaction.redacted_text,
            "[PERSON] in [LOCATION]: write to [EMAIL]."
        );
        let found: Vec<_> = redaction
            .entities
            .iter()
            .map(|e| (e.kind, e.start, e.end, e.source))
            .collect();
        assert_eq!(
            found,
            vec![
                (PiiKind::Person, 0, 10, "model"),
                (PiiKind::Location, 14, 18, "model"),
                (PiiKind::Email, 29, 44, "pattern"),
            ]
        );
    }

    #[test]
    fn every_schema_becomes_a_grammar() {
        for kind in AnalysisType::ALL {
            let grammar = llama_cpp_2::json_schema_to_grammar(&kind.schema().to_string());
            assert!(grammar.is_ok_and(|g| g.contains("root")), "{kind}");
        }
    }
}
