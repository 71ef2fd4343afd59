//! Decoding behaviour on real recordings with the real base model: beam search, word timings
//! against faster-whisper, translation, voice activity detection, clips and prefixes.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use stt_core::audio::{Audio, SAMPLE_RATE};
use stt_core::{Task, TranscribeOptions, Transcript, audio, store};

fn transcribe_audio(audio: &Audio, options: &TranscribeOptions) -> Transcript {
    base()
        .transcribe(audio, options)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn load(name: &str) -> Audio {
    audio::load_file(&fixtures().join(name)).unwrap()
}

#[test]
fn beam_search_gives_the_reference_sentence_with_timestamps() {
    let transcript = transcribe("jfk.flac", &TranscribeOptions::default());
    assert_eq!(
        transcript.text,
        "And so, my fellow Americans, ask not what your country can do for you, \
         ask what you can do for your country."
    );
    for segment in &transcript.segments {
        assert_eq!(segment.temperature, 0.0);
        assert!(segment.avg_logprob > -0.5, "{segment:?}");
        assert!((0.0..=1.0).contains(&segment.confidence()));
    }
}

/// faster-whisper's words for each fixture, from one run of `words_reference.py`.
fn reference_words(names: &[String]) -> serde_json::Value {
    let out = std::env::temp_dir().join(format!("stt-words-{}.json", std::process::id()));
    let status = Command::new(store::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/words_reference.py"))
        .arg(store::stt_home().join("ct2/base"))
        .arg(&out)
        .args(names.iter().map(|name| fixtures().join(name)))
        .status()
        .expect("python runs");
    assert!(status.success(), "words_reference.py failed");
    let words = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).ok();
    words
}

/// Mean absolute difference of our word starts and ends from faster-whisper's, in seconds,
/// over the words both chose.
fn word_timing_difference(name: &str, theirs: &[serde_json::Value]) -> f64 {
    let options = TranscribeOptions {
        vad_filter: false,
        ..TranscribeOptions::default()
    };
    let ours: Vec<_> = transcribe(name, &options)
        .segments
        .into_iter()
        .flat_map(|s| s.words)
        .collect();
    let our_words: Vec<&str> = ours.iter().map(|w| w.word.as_str()).collect();
    let their_words: Vec<&str> = theirs.iter().map(|w| w["word"].as_str().unwrap()).collect();
    // Beam search may still pick a different word now and then: time the words both chose.
    let matched = common_subsequence(&our_words, &their_words);
    assert!(
        matched.len() * 10 >= their_words.len() * 9,
        "{name}: too few words in common\n ours: {our_words:?}\n theirs: {their_words:?}"
    );
    let total: f64 = matched
        .iter()
        .map(|&(o, t)| {
            (ours[o].start - theirs[t]["start"].as_f64().unwrap()).abs()
                + (ours[o].end - theirs[t]["end"].as_f64().unwrap()).abs()
        })
        .sum();
    for word in &ours {
        assert!(word.start <= word.end && (0.0..=1.0).contains(&word.probability));
    }
    total / (2 * matched.len()).max(1) as f64
}

#[test]
fn word_timings_match_faster_whisper() {
    let names: Vec<String> = std::iter::once("jfk.flac".to_string())
        .chain(
            manifest()
                .into_iter()
                .filter(|f| f.file.starts_with("en_librispeech"))
                .map(|f| f.file),
        )
        .collect();
    let reference = reference_words(&names);
    for name in &names {
        let path = fixtures().join(name);
        let theirs = reference[path.to_str().unwrap()].as_array().unwrap();
        let difference = word_timing_difference(name, theirs);
        println!(
            "{name}: mean word time difference {:.1} ms",
            difference * 1000.0
        );
        assert!(difference < 0.06, "{name}: {difference:.3} s");
    }
}

/// Index pairs of a longest common subsequence of `a` and `b`.
fn common_subsequence(a: &[&str], b: &[&str]) -> Vec<(usize, usize)> {
    let mut lengths = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lengths[i][j] = match a[i] == b[j] {
                true => lengths[i + 1][j + 1] + 1,
                false => lengths[i + 1][j].max(lengths[i][j + 1]),
            };
        }
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if lengths[i + 1][j] >= lengths[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

#[test]
fn translate_turns_speech_into_english() {
    let cases = [
        ("de_picovoice_test_de.wav", &["portal", "room", "hall"][..]),
        ("es_picovoice_test_es.wav", &["sand", "white", "grain"][..]),
        ("fr_picovoice_test_fr.wav", &["consulate", "general"][..]),
    ];
    for (name, key_words) in cases {
        let options = TranscribeOptions {
            task: Task::Translate,
            ..TranscribeOptions::default()
        };
        let transcript = transcribe(name, &options);
        let text = words(&transcript.text);
        for key in key_words {
            assert!(
                text.iter().any(|w| w.starts_with(key)),
                "{name}: {key:?} missing from {:?}",
                transcript.text
            );
        }
        // The detected language is the spoken one; the text is English.
        assert_eq!(transcript.language, &name[..2]);
        assert!(transcript.text.is_ascii(), "{}", transcript.text);
    }
}

#[test]
fn silence_and_noise_give_no_text() {
    let seconds = 30 * SAMPLE_RATE as usize;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<f32> = (0..seconds)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 0.4 - 0.2
        })
        .collect();
    for (what, samples) in [("silence", vec![0.0; seconds]), ("white noise", noise)] {
        let transcript =
            transcribe_audio(&Audio::from_samples(samples), &TranscribeOptions::default());
        assert_eq!(transcript.text, "", "{what}: {:?}", transcript.segments);
        assert!(transcript.segments.is_empty());
        assert_eq!(transcript.duration, 30.0);
        assert!(transcript.duration_after_vad < 1.0, "{what}");
    }
}

#[test]
fn vad_skips_silence_and_keeps_the_original_timeline() {
    let jfk = load("jfk.flac");
    let lead = 20 * SAMPLE_RATE as usize;
    let mut samples = vec![0.0; lead];
    samples.extend_from_slice(&jfk.samples);
    samples.extend(vec![0.0; lead]);
    let padded = transcribe_audio(&Audio::from_samples(samples), &TranscribeOptions::default());
    let plain = transcribe_audio(&jfk, &TranscribeOptions::default());

    assert_eq!(words(&padded.text), words(&plain.text));
    assert!((padded.duration - (plain.duration + 40.0)).abs() < 0.01);
    assert!(padded.duration_after_vad < plain.duration + 1.0);
    let first = &padded.segments[0].words[0];
    let plain_first = &plain.segments[0].words[0];
    assert!(
        (first.start - (plain_first.start + 20.0)).abs() < 0.5,
        "{first:?} vs {plain_first:?}"
    );
    let last = padded.segments.last().unwrap();
    assert!(last.end > 29.5 && last.end < 31.5, "{last:?}");
}

#[test]
fn clips_limit_what_is_transcribed() {
    let options = TranscribeOptions {
        clip_timestamps: vec![0.0, 4.3],
        ..TranscribeOptions::default()
    };
    let transcript = transcribe("jfk.flac", &options);
    let text = words(&transcript.text);
    assert!(text.starts_with(&["and".into(), "so".into()]), "{text:?}");
    assert!(!text.contains(&"country".to_string()), "{text:?}");
    assert!(transcript.segments.iter().all(|s| s.end <= 4.5));
}

#[test]
fn a_prefix_starts_the_transcript() {
    let options = TranscribeOptions {
        prefix: Some("And so, my dear fellow".into()),
        ..TranscribeOptions::default()
    };
    let transcript = transcribe("jfk.flac", &options);
    assert!(
        transcript
            .text
            .starts_with("And so, my dear fellow Americans"),
        "{}",
        transcript.text
    );
}

#[test]
fn bad_options_are_refused_with_their_name() {
    let audio = load("jfk.flac");
    for (options, name) in [
        (
            TranscribeOptions {
                beam_size: 0,
                ..TranscribeOptions::default()
            },
            "beam_size",
        ),
        (
            TranscribeOptions {
                clip_timestamps: vec![5.0, 2.0],
                ..TranscribeOptions::default()
            },
            "clip_timestamps",
        ),
    ] {
        let error = base().transcribe(&audio, &options).unwrap_err();
        assert_eq!(error.kind(), stt_core::ErrorKind::InvalidOption);
        assert!(error.to_string().contains(name), "{error}");
    }
}
