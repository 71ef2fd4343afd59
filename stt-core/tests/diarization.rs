//! Speaker labels with the real base model and the real CAM++ embedder on real recordings.
#![cfg(feature = "diarization")]

mod common;

use common::base;
use stt_core::{CancelToken, ErrorKind, TranscribeOptions, Transcript};

fn transcribe(name: &str, options: TranscribeOptions) -> stt_core::Result<Transcript> {
    let path = common::fixtures().join(name);
    base().transcribe_file(&path, &options)
}

fn diarized(speakers: usize) -> TranscribeOptions {
    TranscribeOptions {
        diarize: true,
        speakers,
        beam_size: 1,
        ..TranscribeOptions::default()
    }
}

/// Reference turns of the RTTM: (start, end, speaker).
fn reference_turns() -> Vec<(f64, f64, String)> {
    let rttm =
        std::fs::read_to_string(common::fixtures().join("2spk_pyannote_sample.rttm")).unwrap();
    rttm.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let start: f64 = fields.get(3)?.parse().ok()?;
            let duration: f64 = fields.get(4)?.parse().ok()?;
            Some((start, start + duration, fields.get(7)?.to_string()))
        })
        .collect()
}

#[test]
fn a_telephone_call_has_two_speakers_in_the_right_places() {
    let transcript = transcribe("2spk_pyannote_sample.wav", diarized(0)).unwrap();
    assert_eq!(transcript.speakers, ["Speaker 1", "Speaker 2"]);
    // Words spoken by exactly one reference speaker: the label must map one-to-one.
    let reference = reference_turns();
    let mut agree = [[0usize; 2]; 2];
    for segment in &transcript.segments {
        assert!(segment.speaker.is_some(), "{segment:?}");
        for word in &segment.words {
            assert_eq!(word.speaker, segment.speaker, "{segment:?}");
            let middle = (word.start + word.end) / 2.0;
            let speaking: Vec<&str> = reference
                .iter()
                .filter(|(start, end, _)| *start <= middle && middle < *end)
                .map(|(_, _, who)| who.as_str())
                .collect();
            if let [who] = speaking[..] {
                let reference_index = usize::from(who == "speaker91");
                let label_index = usize::from(word.speaker.as_deref() == Some("Speaker 2"));
                agree[reference_index][label_index] += 1;
            }
        }
    }
    let mapped = (agree[0][0] + agree[1][1]).max(agree[0][1] + agree[1][0]);
    let total: usize = agree.iter().flatten().sum();
    assert!(total > 40, "{agree:?}");
    assert!(
        mapped as f64 >= 0.9 * total as f64,
        "words by the right speaker: {agree:?}"
    );
}

#[test]
fn one_voice_is_one_speaker_and_a_count_is_honoured() {
    for name in ["jfk.flac", "en_librivox_sonnets_001_002_106s.mp3"] {
        let transcript = transcribe(name, diarized(0)).unwrap();
        assert_eq!(transcript.speakers, ["Speaker 1"], "{name}");
    }
    let forced = transcribe("2spk_pyannote_sample.wav", diarized(3)).unwrap();
    assert_eq!(forced.speakers.len(), 3);
}

#[test]
fn stereo_is_labelled_by_channel() {
    let options = TranscribeOptions {
        diarize_by_channel: true,
        ..diarized(0)
    };
    let stereo = transcribe(
        "2spk_faster_whisper_stereo_diarization.wav",
        options.clone(),
    )
    .unwrap();
    assert_eq!(stereo.speakers, ["Speaker 1", "Speaker 2"]);
    // jfk.flac has two channels with the same voice: one speaker.
    let same = transcribe("jfk.flac", options.clone()).unwrap();
    assert_eq!(same.speakers, ["Speaker 1"]);
    let mono = transcribe("en_librispeech_1089-134691-0000.flac", options).unwrap_err();
    assert_eq!(mono.kind(), ErrorKind::InvalidOption);
    assert!(mono.to_string().contains("channels"), "{mono}");
}

#[test]
fn progress_hands_over_labelled_segments_only() {
    let audio =
        stt_core::audio::load_file(&common::fixtures().join("2spk_pyannote_sample.wav")).unwrap();
    let mut reported = Vec::new();
    let transcript = base()
        .transcribe_with_progress(&audio, &diarized(0), &CancelToken::new(), &mut |progress| {
            reported.extend_from_slice(progress.new_segments);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(reported, transcript.segments);
    assert!(reported.iter().all(|s| s.speaker.is_some()));
}

#[test]
fn without_diarization_nothing_is_labelled() {
    let transcript = transcribe("jfk.flac", TranscribeOptions::default()).unwrap();
    assert!(transcript.speakers.is_empty());
    assert!(transcript.segments.iter().all(|s| s.speaker.is_none()));
}
