//! What callers of the workspace API (`/api/v1/`) send: the transcript list's query, the
//! usage period, the account fields a user may change, export format names, and transcripts
//! made elsewhere to keep.

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::Value;
use stt_core::Transcript;
use stt_core::transcript::Segment;

use crate::server::error::{ApiError, Result};
use crate::server::storage::accounts::{EmailPreferences, Profile};
use crate::server::storage::transcripts::{TranscriptFilter, TranscriptStatus};

/// Parameters of `GET /api/v1/transcripts/`, in the order they were sent (the links to the
/// next and previous pages keep them).
pub struct ListQuery {
    pub filter: TranscriptFilter,
    /// From 1.
    pub page: u64,
    pub page_size: u64,
    filters: Vec<(String, String)>,
}

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;
const LIST_PATH: &str = "/api/v1/transcripts/";

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn whole_number(name: &str, value: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid `{name}`: {value:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

/// Milliseconds since the epoch of a date (midnight UTC) or an RFC 3339 time.
fn time(name: &str, value: &str) -> Result<i64> {
    let value = value.trim();
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(date
            .and_time(Default::default())
            .and_utc()
            .timestamp_millis());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.timestamp_millis())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "invalid `{name}`: {value:?} is neither a date (2026-12-05) nor an RFC 3339 \
                 time (2026-12-05T14:00:00Z)"
            ))
        })
}

impl ListQuery {
    pub fn parse(query: Option<&str>) -> Result<Self> {
        let mut list = Self {
            filter: TranscriptFilter::default(),
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            filters: Vec::new(),
        };
        for (name, value) in pairs(query) {
            match name.as_str() {
                "page" => list.page = whole_number(&name, &value, 1..=u32::MAX as u64)?,
                "page_size" => list.page_size = whole_number(&name, &value, 1..=MAX_PAGE_SIZE)?,
                _ if value.trim().is_empty() => continue,
                "status" => {
                    let status = TranscriptStatus::parse(value.trim()).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "invalid `status`: {value:?}; expected processing, completed or failed"
                        ))
                    })?;
                    list.filter.status = Some(status);
                }
                "language" => list.filter.language = Some(value.trim().to_ascii_lowercase()),
                "created_after" => list.filter.created_after_ms = Some(time(&name, &value)?),
                "created_before" => list.filter.created_before_ms = Some(time(&name, &value)?),
                "search" => list.filter.search = Some(value.clone()),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter `{name}`; expected page, page_size, status, \
                         language, created_after, created_before or search"
                    )));
                }
            }
            if !["page", "page_size"].contains(&name.as_str()) {
                list.filters.push((name, value));
            }
        }
        Ok(list)
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.page_size
    }

    /// The list's address at `page`, with the same size and filters (relative to the server).
    pub fn link(&self, page: u64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("page", &page.to_string());
        query.append_pair("page_size", &self.page_size.to_string());
        for (name, value) in &self.filters {
            query.append_pair(name, value);
        }
        format!("{LIST_PATH}?{}", query.finish())
    }
}

/// `days` of `GET /api/v1/usage/`: 30 unless given, at most a year.
pub fn usage_days(query: Option<&str>) -> Result<u64> {
    let mut days = 30;
    for (name, value) in pairs(query) {
        match name.as_str() {
            "days" => days = whole_number(&name, &value, 1..=365)?,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{name}`; expected days"
                )));
            }
        }
    }
    Ok(days)
}

const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;

/// `profile` with the changes of a `PUT /api/v1/account/` body; what the operator decides
/// (plan, limits, credits) is refused by name.
pub fn profile_update(body: &Value, mut profile: Profile) -> Result<Profile> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request("the JSON body must be an object"));
    };
    for (name, value) in fields {
        match name.as_str() {
            "name" => {
                let name = value.as_str().map(str::trim).unwrap_or_default();
                if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                    return Err(ApiError::bad_request(format!(
                        "invalid `name`: a text of 1 to {MAX_NAME_CHARS} characters"
                    )));
                }
                profile.name = name.to_string();
            }
            "email" => profile.email = email(value)?,
            "email_preferences" => {
                let mut merged = serde_json::to_value(&profile.email_preferences)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                let Some(changes) = value.as_object() else {
                    return Err(ApiError::bad_request(
                        "invalid `email_preferences`: expected an object of true/false values",
                    ));
                };
                for (key, flag) in changes {
                    merged[key] = flag.clone();
                }
                profile.email_preferences = serde_json::from_value::<EmailPreferences>(merged)
                    .map_err(|e| {
                        ApiError::bad_request(format!("invalid `email_preferences`: {e}"))
                    })?;
            }
            "plan" | "monthly_minutes" | "max_upload_mb" | "concurrency" | "credits_used"
            | "credits_remaining" | "minutes_used" | "period_start" | "id" | "created" => {
                return Err(ApiError::bad_request(format!(
                    "`{name}` is set by the operator, not through the API"
                )));
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown field `{name}`; expected name, email or email_preferences"
                )));
            }
        }
    }
    Ok(profile)
}

/// An address with one `@` and something on each side, or null to clear it.
fn email(value: &Value) -> Result<Option<String>> {
    let invalid = || {
        ApiError::bad_request(format!(
            "invalid `email`: expected an address like name@example.com (at most \
             {MAX_EMAIL_CHARS} characters) or null"
        ))
    };
    let address = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text.trim(),
        _ => return Err(invalid()),
    };
    let valid = address.len() <= MAX_EMAIL_CHARS
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && address.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if !valid {
        return Err(invalid());
    }
    Ok(Some(address.to_string()))
}

/// The largest body of `POST /api/v1/transcripts/`: hours of speech as text.
pub const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;
const MAX_IMPORT_SEGMENTS: usize = 50_000;
const MAX_SEGMENT_CHARS: usize = 10_000;
const MAX_LABEL_CHARS: usize = 255;
/// A week, in seconds: no recording is longer.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    model: Option<String>,
    segments: Vec<ImportedSegment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedSegment {
    start: f64,
    end: f64,
    text: String,
    #[serde(default)]
    speaker: Option<String>,
}

/// A short label (a file, model or speaker name): printable, at most 255 characters.
fn label(name: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty()
        || value.chars().count() > MAX_LABEL_CHARS
        || value.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "invalid `{name}`: a printable text of 1 to {MAX_LABEL_CHARS} characters"
        )));
    }
    Ok(value.to_string())
}

/// The file name and transcript a client sends to keep (live captions saved by the web app,
/// an import), checked: times in order within a week, bounded texts, an ISO 639-1 language.
pub fn imported_transcript(body: ImportBody) -> Result<(Option<String>, Transcript)> {
    let file_name = body
        .file_name
        .as_deref()
        .map(|name| label("file_name", name))
        .transpose()?;
    if body.segments.is_empty() || body.segments.len() > MAX_IMPORT_SEGMENTS {
        return Err(ApiError::bad_request(format!(
            "invalid `segments`: 1 to {MAX_IMPORT_SEGMENTS} are kept"
        )));
    }
    let language = body.language.unwrap_or_default();
    if !(language.is_empty()
        || language.len() == 2 && language.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(ApiError::bad_request(format!(
            "invalid `language`: {language:?} is not a two-letter ISO 639-1 code"
        )));
    }
    let model = label("model", body.model.as_deref().unwrap_or("imported"))?;
    let mut segments = Vec::with_capacity(body.segments.len());
    let mut last_start = 0.0;
    for (index, given) in body.segments.into_iter().enumerate() {
        let timed = given.start.is_finite()
            && given.end.is_finite()
            && given.start >= last_start
            && given.start <= given.end
            && given.end <= MAX_SECONDS;
        if !timed {
            return Err(ApiError::bad_request(format!(
                "invalid `segments[{index}]`: times must be seconds with start <= end, \
                 starts in order and ends within a week (got {} to {})",
                given.start, given.end
            )));
        }
        if given.text.chars().count() > MAX_SEGMENT_CHARS {
            return Err(ApiError::bad_request(format!(
                "invalid `segments[{index}].text`: at most {MAX_SEGMENT_CHARS} characters"
            )));
        }
        last_start = given.start;
        let text = given.text.replace(|c: char| c.is_control(), " ");
        let mut segment = Segment::from_text(index, given.start, given.end, &text);
        segment.speaker = match given.speaker {
            Some(speaker) => Some(label(&format!("segments[{index}].speaker"), &speaker)?),
            None => None,
        };
        segments.push(segment);
    }
    let transcript = Transcript::from_segments(segments, &language, &model);
    Ok((file_name, transcript))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_queries_keep_their_filters_in_page_links() {
        let query = ListQuery::parse(Some(
            "search=caf%C3%A9+au&page=2&page_size=5&status=completed&created_after=2026-12-01",
        ))
        .unwrap();
        assert_eq!((query.page, query.page_size, query.offset()), (2, 5, 5));
        assert_eq!(query.filter.search.as_deref(), Some("café au"));
        assert_eq!(query.filter.created_after_ms, Some(1_796_083_200_000));
        assert_eq!(
            query.link(3),
            "/api/v1/transcripts/?page=3&page_size=5&search=caf%C3%A9+au&status=completed\
             &created_after=2026-12-01"
        );
        for bad in [
            "page=0",
            "page_size=101",
            "status=done",
            "created_before=yesterday",
            "lang=en",
        ] {
            let error = ListQuery::parse(Some(bad)).err().expect(bad);
            assert_eq!(error.status.as_u16(), 400, "{bad}");
        }
        let time = ListQuery::parse(Some("created_before=2026-12-01T01:00:00%2B01:00")).unwrap();
        assert_eq!(time.filter.created_before_ms, Some(1_796_083_200_000));
    }

    fn import(body: Value) -> Result<Transcript> {
        let body = serde_json::from_value(body).map_err(|e| ApiError::bad_request(e.to_string()));
        Ok(imported_transcript(body?)?.1)
    }

    #[test]
    fn imported_transcripts_are_checked_before_they_are_kept() {
        let kept = import(json!({"language": "en", "segments": [
            {"start": 0.0, "end": 1.5, "text": " And so,", "speaker": "Ada"},
            {"start": 1.5, "end": 3.0, "text": "my fellow\u{7}Americans"},
        ]}))
        .unwrap();
        assert_eq!(kept.text, "And so, my fellow Americans");
        assert_eq!((kept.duration, kept.model.as_str()), (3.0, "imported"));
        assert_eq!(kept.speakers, ["Ada"]);
        let segment = |start: f64, end: f64| json!({"start": start, "end": end, "text": "x"});
        for bad in [
            json!({"segments": []}),
            json!({"segments": [segment(2.0, 1.0)]}),
            json!({"segments": [segment(2.0, 3.0), segment(1.0, 3.0)]}),
            json!({"segments": [segment(-1.0, 1.0)]}),
            json!({"segments": [segment(0.0, 1e9)]}),
            json!({"segments": [segment(0.0, 1.0)], "language": "english"}),
            json!({"segments": [segment(0.0, 1.0)], "model": ""}),
            json!({"segments": [segment(0.0, 1.0)], "file_name": "a\u{0}b"}),
            json!({"segments": [{"start": 0, "end": 1, "text": "x", "speaker": "\n"}]}),
            json!({"segments": [{"start": 0, "end": 1, "text": "x".repeat(10_001)}]}),
            json!({"segments": [segment(0.0, 1.0)], "owner": "someone else"}),
        ] {
            assert!(import(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn users_change_their_profile_but_not_their_plan() {
        let profile = Profile {
            name: "Ada".into(),
            email: None,
            email_preferences: EmailPreferences::default(),
        };
        let changed = profile_update(
            &json!({"email": "ada@example.com", "email_preferences": {"product_updates": true}}),
            profile.clone(),
        )
        .unwrap();
        assert_eq!(changed.email.as_deref(), Some("ada@example.com"));
        assert!(changed.email_preferences.product_updates);
        assert!(changed.email_preferences.usage_alerts, "others kept");
        for bad in [
            json!({"plan": "paid"}),
            json!({"monthly_minutes": 10_000}),
            json!({"email": "not an address"}),
            json!({"name": ""}),
            json!({"email_preferences": {"spam": true}}),
            json!({"nickname": "x"}),
            json!([]),
        ] {
            assert!(profile_update(&bad, profile.clone()).is_err(), "{bad}");
        }
        let cleared = profile_update(&json!({"email": null}), changed).unwrap();
        assert_eq!(cleared.email, None);
    }
}
