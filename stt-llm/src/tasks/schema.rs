//! The JSON schemas of structured answers, which llama.cpp turns into the sampler's grammar.

use serde_json::{Value, json};

/// A non-empty string. No `maxLength`: llama.cpp expands a bounded repetition into one
/// grammar rule per character, which makes sampling crawl; answers are bounded by the item
/// counts and the token budget instead.
pub(super) fn string() -> Value {
    json!({"type": "string", "minLength": 1})
}

pub(super) fn list(items: Value, min: usize, max: usize) -> Value {
    json!({"type": "array", "items": items, "minItems": min, "maxItems": max})
}

/// An object with exactly `properties`, all required.
pub(super) fn object(properties: Value) -> Value {
    let required: Vec<&String> = properties
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// `value` or null.
pub(super) fn optional(value: Value) -> Value {
    json!({"anyOf": [value, {"type": "null"}]})
}
