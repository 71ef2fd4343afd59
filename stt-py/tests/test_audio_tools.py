"""The audio tools: `stt.enhance` / `stt.Enhancer` (DeepFilterNet3) and `stt.speak` /
`stt.Voice` (the installed Piper voice) in this process, and the client's calls of the same
tools on the session's real `stt serve`. Each model is loaded once; the audio is short."""

import io
import math
import re
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest

import stt
from conftest import REPO, fixture_path

NOISY = "en_ljspeech_LJ001-0001.wav"
SENTENCES = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."


@pytest.fixture(scope="module")
def enhancer():
    return stt.Enhancer()


@pytest.fixture(scope="module")
def voice():
    return stt.Voice()


def is_mpeg(data):
    return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def read_wav(data):
    """(rate, samples in [-1, 1)) of a 16-bit mono WAV file's bytes."""
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        frames = wav.readframes(wav.getnframes())
        assert len(frames) == wav.getnframes() * 2
        return wav.getframerate(), np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768


def seconds(name):
    with wave.open(str(fixture_path(name))) as wav:
        return wav.getnframes() / wav.getframerate()


def rms_db(samples):
    return 20 * math.log10(float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))))


def words(text):
    return re.findall(r"[a-z]+", text.lower())


def test_enhance_gives_48k_wav_of_the_same_length_from_every_input(enhancer, tmp_path):
    assert enhancer.sample_rate == 48000
    clean = enhancer.enhance(fixture_path(NOISY))
    rate, samples = read_wav(clean)
    assert rate == 48000
    assert len(samples) / rate == pytest.approx(seconds(NOISY), rel=0.01)
    assert rms_db(samples) > -40  # speech, not silence
    # Bytes, a file object and a path to write to give the same file; the module function
    # keeps its enhancer for the next call.
    path = fixture_path(NOISY)
    assert stt.enhance(path.read_bytes()) == clean
    with open(path, "rb") as file:
        written = stt.enhance(file, tmp_path / "clean.wav")
    assert written == tmp_path / "clean.wav" and written.read_bytes() == clean


def test_enhance_options_reach_the_engine(enhancer):
    _, quiet = read_wav(enhancer.enhance(fixture_path(NOISY), loudness=-30))
    _, loud = read_wav(enhancer.enhance(fixture_path(NOISY), loudness=-20))
    assert rms_db(loud) - rms_db(quiet) == pytest.approx(10, abs=1)
    for bad in ({"attenuation_limit": 101}, {"attenuation_limit": -1}, {"loudness": 3},
                {"loudness": float("nan")}):
        with pytest.raises(stt.InvalidOptionError) as refused:
            enhancer.enhance(fixture_path(NOISY), **bad)
        assert refused.value.kind == "invalid_option"
        assert next(iter(bad)).split("_")[0] in str(refused.value)


def test_enhance_errors(enhancer, tmp_path):
    with pytest.raises(stt.AudioDecodeError) as corrupt:
        enhancer.enhance(b"this is not audio at all" * 100)
    assert corrupt.value.kind in ("unsupported_format", "corrupt_audio")
    with pytest.raises(stt.AudioDecodeError) as missing:
        enhancer.enhance(tmp_path / "nope.wav")
    assert missing.value.kind == "io" and "nope.wav" in str(missing.value)
    with pytest.raises(stt.InvalidOptionError, match="binary mode"):
        with open(fixture_path(NOISY), errors="replace") as text:
            enhancer.enhance(text)


def test_speak_says_the_text(voice, base):
    assert (voice.name, voice.sample_rate) == ("en_US-joe-medium", 22050)
    speech = voice.speak(SENTENCES)
    rate, samples = read_wav(speech)
    assert rate == 22050
    # 17 words at an everyday pace (2 to 4 words a second), with a pause between sentences.
    assert 17 / 4 < len(samples) / rate < 17 / 2, len(samples) / rate
    heard = words(base.transcribe(speech, beam_size=1).text)
    assert len(set(words(SENTENCES)) - set(heard)) <= 2, heard
    assert voice.phonemes(SENTENCES)[0].startswith("ðə kwˈɪk bɹˈaʊn")
    assert len(voice.phonemes(SENTENCES)) == 2


def test_speak_speed_formats_and_output(voice, tmp_path):
    normal = len(read_wav(voice.speak("Good morning, everyone."))[1])
    fast = len(read_wav(voice.speak("Good morning, everyone.", speed=2))[1])
    assert 0.4 < fast / normal < 0.7, (fast, normal)
    mp3 = voice.speak("Good morning.", format="mp3")
    assert is_mpeg(mp3), mp3[:4]
    pcm = voice.speak("Good morning.", format="pcm")
    assert len(pcm) % 2 == 0 and pcm[:4] != b"RIFF"
    # The output's extension picks the format; the module function keeps its voice.
    written = stt.speak("Good morning.", tmp_path / "morning.MP3")
    assert written == tmp_path / "morning.MP3"
    assert written.read_bytes()[:4] == mp3[:4]
    assert stt.speak("Good morning.", tmp_path / "morning.wav").read_bytes()[:4] == b"RIFF"


def test_speak_errors(voice, tmp_path):
    with pytest.raises(FileNotFoundError) as unwritable:
        voice.speak("Hello.", tmp_path / "no-such-dir" / "hello.wav")
    assert unwritable.value.filename == str(tmp_path / "no-such-dir" / "hello.wav")
    for text in ("", "   ", "..."):
        with pytest.raises(stt.InvalidOptionError, match="nothing to say"):
            voice.speak(text)
    with pytest.raises(stt.InvalidOptionError, match="speed"):
        voice.speak("Hello.", speed=5)
    with pytest.raises(stt.InvalidOptionError, match="ogg"):
        voice.speak("Hello.", format="ogg")  # type: ignore[arg-type]
    with pytest.raises(stt.ModelNotFoundError, match="en_US-joe-medium"):
        stt.Voice("de_DE-nobody-low")
    with pytest.raises(stt.InvalidOptionError):
        stt.Voice(threads=-1)


def test_client_audio_tools(server, enhancer):
    client = stt.Client(server.base, api_key=server.key)
    # The server's defaults are the engine's, and its options mean the same.
    for options in ({}, {"attenuation_limit": 20.0, "loudness": -30.0}):
        rate, remote = read_wav(client.enhance(fixture_path(NOISY), **options))
        _, local = read_wav(enhancer.enhance(fixture_path(NOISY), **options))
        assert rate == 48000 and len(remote) == len(local)
        assert float(np.max(np.abs(remote - local))) < 0.01, options
    assert rms_db(remote) < -27  # the default (-16 LUFS) is far louder

    speech = client.speak("Good morning, everyone.", reference=fixture_path(NOISY))
    assert isinstance(speech, stt.Speech)
    assert (speech.voice, speech.voice_cloned) == ("en_US-joe-medium", False)
    rate, samples = read_wav(speech.audio)
    assert rate == 22050 and speech.duration == pytest.approx(len(samples) / rate, abs=0.001)
    assert speech.generation_time > 0
    fast = client.speak("Good morning, everyone.", voice="alloy", speed=2)
    assert fast.duration < speech.duration * 0.7

    with pytest.raises(stt.ServerError) as bad:
        client.enhance(fixture_path(NOISY), loudness=3)
    assert bad.value.status == 400 and "loudness" in str(bad.value)
    with pytest.raises(stt.ServerError) as empty:
        client.speak("  ")
    assert empty.value.status == 400
    with pytest.raises(stt.ServerError) as corrupt:
        client.enhance(b"this is not audio at all" * 100)
    assert corrupt.value.status == 400


def test_readme_example_runs_as_written(tmp_path):
    readme = (REPO / "stt-py" / "README.md").read_text()
    section = readme[readme.index("## Noise removal and speech"):]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copy(fixture_path("en_ljspeech_LJ001-0005.mp3"), tmp_path / "noisy.mp3")
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("22050 ['həlˈoʊ, wˈɜːld!'] "), done.stdout
    rate, samples = read_wav((tmp_path / "clean.wav").read_bytes())
    assert rate == 48000 and len(samples) / rate == pytest.approx(8.15, abs=0.1)
    assert is_mpeg((tmp_path / "hello.mp3").read_bytes())
