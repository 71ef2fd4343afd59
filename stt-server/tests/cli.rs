//! The `stt` binary as a user runs it: real model, real files, and bad input that must end in
//! one clear error line and a non-zero exit, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    std::env::var_os("STT_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/audio"),
        PathBuf::from,
    )
}

fn stt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stt"))
        .args(args)
        .output()
        .expect("stt runs")
}

/// Runs `stt` and asserts it succeeded, showing its stderr otherwise.
fn stt_ok(args: &[&str]) -> Output {
    let output = stt(args);
    assert!(
        output.status.success(),
        "stt {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stt-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts a failed run printed exactly one line, `error: ...`, mentioning `needle`.
fn assert_one_line_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected failure, got success; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {stderr}"
    );
}

#[test]
fn transcribes_jfk_to_api_json() {
    let jfk = fixtures().join("jfk.flac");
    let output = stt_ok(&["transcribe", jfk.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["language"], "en");
    assert_eq!(json["model"], "base");
    assert!((json["duration"].as_f64().unwrap() - 11.0).abs() < 0.1);
    let text = json["text"].as_str().unwrap();
    assert!(text.starts_with("And so, my fellow Americans"), "{text}");
    assert!(
        text.ends_with("ask what you can do for your country."),
        "{text}"
    );
    let segments = json["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    for segment in segments {
        assert!(segment["start"].as_f64().unwrap() < segment["end"].as_f64().unwrap());
        let confidence = segment["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence));
        // Words are on by default, inside their segment and in order.
        let words = segment["words"].as_array().unwrap();
        assert!(!words.is_empty());
        let mut previous_end = segment["start"].as_f64().unwrap();
        for word in words {
            let (start, end) = (
                word["start"].as_f64().unwrap(),
                word["end"].as_f64().unwrap(),
            );
            assert!(start >= previous_end - 1e-9 && start <= end, "{word}");
            previous_end = end;
        }
        assert!(previous_end <= segment["end"].as_f64().unwrap() + 1e-9);
        assert!(segment["words"].is_array());
    }
}

#[test]
fn writes_subtitles_and_text_to_files() {
    let dir = temp_dir("formats");
    let jfk = fixtures().join("jfk.flac");
    for format in ["srt", "vtt", "txt"] {
        let out = dir.join(format!("jfk.{format}"));
        let output = stt_ok(&[
            "transcribe",
            jfk.to_str().unwrap(),
            "--format",
            format,
            "--output",
            out.to_str().unwrap(),
            "--language",
            "en",
        ]);
        assert!(output.stdout.is_empty());
        let text = std::fs::read_to_string(&out).unwrap();
        match format {
            "srt" => assert!(text.starts_with("1\n00:00:00,000 --> 00:00:"), "{text}"),
            "vtt" => assert!(
                text.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:"),
                "{text}"
            ),
            _ => assert!(text.trim_end().ends_with("for your country."), "{text}"),
        }
    }
}

#[test]
fn text_only_decoding_prints_the_reference_sentence() {
    let jfk = fixtures().join("jfk.flac");
    let output = stt_ok(&[
        "transcribe",
        jfk.to_str().unwrap(),
        "--format",
        "txt",
        "--without-timestamps",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.\n"
    );
}

#[test]
fn bad_audio_gives_one_clear_error_line() {
    let dir = temp_dir("bad-audio");
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert_one_line_error(&stt(&["transcribe", empty.to_str().unwrap()]), "empty.wav");

    let text = dir.join("notes.mp3");
    std::fs::write(&text, "these are meeting notes, not audio\n".repeat(50)).unwrap();
    assert_one_line_error(&stt(&["transcribe", text.to_str().unwrap()]), "notes.mp3");

    let mp3 = std::fs::read(fixtures().join("en_ljspeech_LJ001-0005.mp3")).unwrap();
    let stub = dir.join("stub.mp3");
    std::fs::write(&stub, &mp3[..100]).unwrap();
    assert_one_line_error(&stt(&["transcribe", stub.to_str().unwrap()]), "stub.mp3");

    let missing = dir.join("missing.flac");
    assert_one_line_error(
        &stt(&["transcribe", missing.to_str().unwrap()]),
        "missing.flac",
    );
}

#[test]
fn a_truncated_file_is_transcribed_as_far_as_it_goes_with_a_warning() {
    let dir = temp_dir("truncated");
    let mp3 = std::fs::read(fixtures().join("en_librispeech_1272-141231-0002.mp3")).unwrap();
    let half = dir.join("half.mp3");
    std::fs::write(&half, &mp3[..mp3.len() / 2]).unwrap();
    let output = stt(&["transcribe", half.to_str().unwrap(), "--format", "txt"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.starts_with("warning: "), "{stderr}");
    let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(text.contains("the cut on his chest"), "{text}");
    assert!(
        !text.contains("spectators"),
        "the second half was cut off: {text}"
    );
}

#[test]
fn bad_options_and_models_are_named() {
    let jfk = fixtures().join("jfk.flac");
    let jfk = jfk.to_str().unwrap();
    assert_one_line_error(
        &stt(&["transcribe", jfk, "--model", "large-v9"]),
        "large-v9",
    );
    assert_one_line_error(&stt(&["transcribe", jfk, "--format", "docx"]), "docx");
    assert_one_line_error(&stt(&["transcribe", jfk, "--language", "xx"]), "xx");
    assert_one_line_error(
        &stt(&["transcribe", jfk, "--task", "summarize"]),
        "summarize",
    );
    assert_one_line_error(&stt(&["models", "pull", "huge"]), "huge");
}

#[test]
fn a_missing_runtime_library_is_reported_with_where_it_looked() {
    let home = temp_dir("no-runtime");
    let model = stt_core::store::resolve_model("base").unwrap();
    let jfk = fixtures().join("jfk.flac");
    let output = Command::new(env!("CARGO_BIN_EXE_stt"))
        .args([
            "transcribe",
            jfk.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
        .env("STT_HOME", &home)
        .env("STT_PYTHON", home.join("no-python"))
        .env_remove("STT_ORT_LIB")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    assert_one_line_error(&output, "ONNX Runtime library not found");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(home.join("runtime").to_str().unwrap()),
        "{stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_stt"))
        .args([
            "transcribe",
            jfk.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
        .env("STT_ORT_LIB", home.join("libonnxruntime.so.0"))
        .output()
        .unwrap();
    assert_one_line_error(&output, "libonnxruntime.so.0");
}

#[test]
fn models_list_shows_the_installed_models() {
    let output = stt_ok(&["models", "list"]);
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(
        listing.lines().any(|l| l.starts_with("base\t")),
        "{listing}"
    );
    assert!(
        listing.lines().any(|l| l.starts_with("tiny.en\t")),
        "{listing}"
    );
}

#[test]
fn devices_fall_back_to_the_cpu_or_fail_clearly() {
    // This machine's ONNX Runtime is the CPU library: auto (the default) and cpu transcribe on
    // the CPU; cuda names what it needs; a made-up device is refused by name.
    let jfk = fixtures().join("jfk.flac");
    let jfk = jfk.to_str().unwrap();
    for device in ["auto", "cpu"] {
        let output = stt_ok(&["transcribe", "--device", device, "--format", "txt", jfk]);
        assert!(String::from_utf8_lossy(&output.stdout).contains("fellow Americans"));
    }
    assert_one_line_error(
        &stt(&["transcribe", "--device", "cuda", jfk]),
        "onnxruntime-gpu",
    );
    assert_one_line_error(&stt(&["transcribe", "--device", "tpu", jfk]), "\"tpu\"");
}
