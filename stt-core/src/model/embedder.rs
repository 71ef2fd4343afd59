//! Sentence embeddings (all-MiniLM-L6-v2 as ONNX, `stt models pull minilm-l6`): WordPiece
//! tokens in, the mean of the last hidden states over real tokens, L2-normalised, out: the
//! sentence-transformers recipe of that model.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::runtime::{LoadOptions, open_session};
use crate::store::{self, EMBEDDING_MODEL, ModelKind};
use crate::{CancelToken, Error, Result};

/// The longest input the model was trained on; longer texts are cut (as sentence-transformers
/// does), so callers embed sentences or segments, not documents.
const MAX_TOKENS: usize = 256;
const OUTPUT: &str = "last_hidden_state";

pub struct TextEmbedder {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    needs_token_types: bool,
    dimensions: usize,
}

impl TextEmbedder {
    /// The installed [`EMBEDDING_MODEL`], or a directory with `model.onnx` and `tokenizer.json`.
    pub fn load(name_or_dir: Option<&Path>, options: &LoadOptions) -> Result<Self> {
        let dir = match name_or_dir {
            Some(dir) => dir.to_path_buf(),
            None => store::installed_model(EMBEDDING_MODEL, ModelKind::Embedding).ok_or_else(
                || {
                    Error::ModelNotFound(format!(
                        "{EMBEDDING_MODEL:?} (sentence embeddings) is not installed; run `stt models pull {EMBEDDING_MODEL}`"
                    ))
                },
            )?,
        };
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| Error::InvalidModel(format!("{}: {e}", tokenizer_path.display())))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::InvalidModel(format!("{}: {e}", tokenizer_path.display())))?;
        let (session, _) = open_session(&dir.join("model.onnx"), options)?;
        let names = |outlets: &[ort::value::Outlet]| -> Vec<String> {
            outlets.iter().map(|o| o.name().to_string()).collect()
        };
        let inputs = names(session.inputs());
        if !inputs.iter().any(|n| n == "input_ids")
            || !inputs.iter().any(|n| n == "attention_mask")
            || !names(session.outputs()).iter().any(|n| n == OUTPUT)
        {
            return Err(Error::InvalidModel(format!(
                "{} is not a BERT encoder (inputs input_ids and attention_mask, output {OUTPUT})",
                dir.display()
            )));
        }
        let dimensions = match session.outputs()[0].dtype().tensor_shape() {
            Some(shape) if shape.len() == 3 && shape[2] > 0 => shape[2] as usize,
            _ => 384,
        };
        Ok(Self {
            needs_token_types: inputs.iter().any(|n| n == "token_type_ids"),
            session: Mutex::new(session),
            tokenizer,
            dimensions,
        })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// One unit-length vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Inference(format!("tokenizing: {e}")))?;
        let (rows, width) = (encodings.len(), encodings[0].len());
        let flat = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<i64> {
            encodings
                .iter()
                .flat_map(|e| f(e).iter().map(|&v| i64::from(v)))
                .collect()
        };
        let ids = flat(tokenizers::Encoding::get_ids);
        let mask = flat(tokenizers::Encoding::get_attention_mask);
        let types = vec![0i64; rows * width];
        fn tensor(values: &[i64], rows: usize, width: usize) -> Result<TensorRef<'_, i64>> {
            TensorRef::from_array_view(([rows, width], values)).map_err(inference)
        }
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = if self.needs_token_types {
            session.run(ort::inputs![
                "input_ids" => tensor(&ids, rows, width)?,
                "attention_mask" => tensor(&mask, rows, width)?,
                "token_type_ids" => tensor(&types, rows, width)?,
            ])
        } else {
            session.run(ort::inputs![
                "input_ids" => tensor(&ids, rows, width)?,
                "attention_mask" => tensor(&mask, rows, width)?,
            ])
        }
        .map_err(inference)?;
        let (shape, hidden) = outputs[OUTPUT]
            .try_extract_tensor::<f32>()
            .map_err(inference)?;
        let size = usize::try_from(shape[2]).unwrap_or(0);
        if size == 0 || hidden.len() != rows * width * size {
            return Err(Error::Inference(format!(
                "embedder returned {} values for {rows}×{width} tokens",
                hidden.len()
            )));
        }
        Ok(hidden
            .chunks_exact(width * size)
            .zip(mask.chunks_exact(width))
            .map(|(states, mask)| mean_pool(states, mask, size))
            .collect())
    }
}

/// Texts a call of [`TextEmbedder::embed_all`] runs through the model at once.
const BATCH: usize = 32;

impl TextEmbedder {
    /// One vector per text, [`BATCH`] texts at a time, so that a cancelled call stops between
    /// batches and a long list never pads into one huge tensor.
    pub fn embed_all<S: AsRef<str>>(
        &self,
        texts: &[S],
        cancel: &CancelToken,
    ) -> Result<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            cancel.check()?;
            let batch: Vec<&str> = batch.iter().map(AsRef::as_ref).collect();
            vectors.extend(self.embed(&batch)?);
        }
        Ok(vectors)
    }
}

/// The installed [`EMBEDDING_MODEL`], loaded by the first call that needs it and shared after;
/// a load that failed is tried again by the next call.
pub struct LazyEmbedder {
    loaded: Mutex<Option<Arc<TextEmbedder>>>,
    options: LoadOptions,
}

impl LazyEmbedder {
    pub fn new(options: LoadOptions) -> Self {
        Self {
            loaded: Mutex::new(None),
            options,
        }
    }

    pub fn get(&self) -> Result<Arc<TextEmbedder>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(embedder) = loaded.as_ref() {
            return Ok(Arc::clone(embedder));
        }
        let embedder = Arc::new(TextEmbedder::load(None, &self.options)?);
        *loaded = Some(Arc::clone(&embedder));
        Ok(embedder)
    }
}

/// The mean of the states of real (unmasked) tokens, scaled to unit length.
fn mean_pool(states: &[f32], mask: &[i64], size: usize) -> Vec<f32> {
    let mut sum = vec![0f32; size];
    let mut count = 0f32;
    for (state, &real) in states.chunks_exact(size).zip(mask) {
        if real != 0 {
            sum.iter_mut().zip(state).for_each(|(s, v)| *s += v);
            count += 1.0;
        }
    }
    let norm = sum
        .iter()
        .map(|v| (v / count.max(1.0)).powi(2))
        .sum::<f32>()
        .sqrt();
    sum.iter()
        .map(|v| v / count.max(1.0) / norm.max(1e-12))
        .collect()
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::mean_pool;

    #[test]
    fn pooling_skips_padding_and_normalises() {
        let states = [1.0, 0.0, 3.0, 0.0, 100.0, 100.0];
        let pooled = mean_pool(&states, &[1, 1, 0], 2);
        assert!(
            (pooled[0] - 1.0).abs() < 1e-6 && pooled[1].abs() < 1e-6,
            "{pooled:?}"
        );
    }
}
