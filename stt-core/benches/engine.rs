//! Micro-benchmarks of the pipeline's stages on a real recording with the installed base
//! model: log-mel features of one window, one encoder pass, one decoder step (greedy and a
//! batch of 5 beams, after a 32-token past) and a whole beam-5 window of 24 tokens.
//!
//! `cargo bench -p stt-core --bench engine` (after `scripts/setup.sh`);
//! `STT_BENCH_PRECISION=int8` measures the quantized graphs.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use stt_core::decode::{LogitRules, TokenDecoder, WindowParams, decode_window};
use stt_core::mel::{MelExtractor, N_FRAMES, N_SAMPLES};
use stt_core::model::{AudioFeatures, ModelFiles, WhisperModel};
use stt_core::tokenizer::WhisperTokenizer;
use stt_core::{LoadOptions, Precision, Task};

const PAST_TOKENS: usize = 32;
const WINDOW_TOKENS: usize = 24;

struct Setup {
    model: WhisperModel,
    mel: MelExtractor,
    samples: Vec<f32>,
    prompt: Vec<u32>,
    rules: LogitRules,
    eot: u32,
    no_speech: u32,
}

fn setup() -> Setup {
    let precision: Precision = std::env::var("STT_BENCH_PRECISION")
        .unwrap_or_else(|_| "float32".into())
        .parse()
        .expect("STT_BENCH_PRECISION");
    let dir = stt_core::store::resolve_model("base").expect("run scripts/setup.sh first");
    let files = ModelFiles::open(&dir, precision).unwrap();
    let tokenizer =
        WhisperTokenizer::load(&files.tokenizer, files.config.languages.clone()).unwrap();
    let model = WhisperModel::load(&files, &LoadOptions::default()).unwrap();
    let mel = MelExtractor::new(model.config.n_mels);
    let fixtures = std::env::var_os("STT_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/audio"),
        Into::into,
    );
    let audio =
        stt_core::audio::load_file(&fixtures.join("en_librivox_sonnets_001_002_106s.mp3")).unwrap();
    let samples = audio.samples[..N_SAMPLES].to_vec();
    let english = tokenizer.language_token("en").unwrap();
    let special = tokenizer.special;
    Setup {
        prompt: tokenizer.start_sequence(Some(english), Task::Transcribe),
        rules: LogitRules {
            suppress: vec![],
            suppress_at_begin: vec![special.eot],
            timestamps: None,
        },
        eot: special.eot,
        no_speech: special.no_speech,
        model,
        mel,
        samples,
    }
}

/// The first 32 tokens the model writes for the window, to build a realistic past.
fn past_tokens(s: &mut Setup, audio: &AudioFeatures) -> Vec<u32> {
    let mut decoder = s.model.decoder(audio);
    let mut tokens = s.prompt.clone();
    let mut logits = decoder.forward(&[tokens.clone()], 1).unwrap();
    while tokens.len() < PAST_TOKENS {
        let row = logits.slice(ndarray::s![0, 0, ..]);
        let next = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0 as u32;
        tokens.push(next);
        logits = decoder.forward(&[vec![next]], 1).unwrap();
    }
    tokens
}

fn stages(c: &mut Criterion) {
    let mut s = setup();
    c.bench_function("mel/30s", |b| {
        b.iter(|| s.mel.compute(&s.samples, N_SAMPLES))
    });

    let window = s.mel.compute(&s.samples, N_SAMPLES).window(0, N_FRAMES);
    let mut group = c.benchmark_group("model");
    group.sample_size(10);
    group.bench_function("encoder/window", |b| {
        b.iter(|| s.model.encode(window.clone()).unwrap())
    });
    let audio = s.model.encode(window).unwrap();
    let past = past_tokens(&mut s, &audio);
    for batch in [1, 5] {
        group.bench_function(
            format!("decoder_step/batch{batch}_past{PAST_TOKENS}"),
            |b| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let mut decoder = s.model.decoder(&audio);
                        decoder.forward(std::slice::from_ref(&past), 1).unwrap();
                        decoder.reorder(&vec![0; batch]).unwrap();
                        let next = vec![vec![past[PAST_TOKENS - 1]]; batch];
                        let start = Instant::now();
                        decoder.forward(&next, 1).unwrap();
                        decoder
                            .reorder(&(0..batch).rev().collect::<Vec<_>>())
                            .unwrap();
                        total += start.elapsed();
                    }
                    total
                })
            },
        );
    }
    let params = WindowParams {
        temperature: 0.0,
        beam_size: 5,
        patience: 1.0,
        best_of: 1,
        length_penalty: 1.0,
        max_new_tokens: WINDOW_TOKENS,
        prefix: vec![],
        sot_index: 0,
        no_speech: s.no_speech,
        eot: s.eot,
        seed: 0,
    };
    group.bench_function(format!("beam5_window/{WINDOW_TOKENS}_tokens"), |b| {
        b.iter(|| {
            decode_window(&mut s.model.decoder(&audio), &s.prompt, &s.rules, &params).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
