"""Whisper's encoder and merged decoder as ONNX graphs, built from CTranslate2 weights
(see the package doc for their inputs and outputs)."""

import math

import numpy as np
from onnx import TensorProto, helper

from .onnx_graph import GraphBuilder, finish_model, tensor_info

LAYER_NORM_EPS = 1e-5
# Decoder metadata: the cross-attention cache inputs take one row per audio, shared by the
# consecutive sequences (beams, samples) of that audio; without it, one row per sequence.
CROSS_CACHE_KEY = "cross_cache"
CROSS_CACHE_PER_AUDIO = "per_audio"
# Encoder metadata: the input may have fewer than 3000 frames (an even number), whose first
# positions are encoded (whisper.cpp's audio_ctx); without it, exactly 3000.
ENCODER_FRAMES_KEY = "input_frames"
ENCODER_FRAMES_ANY = "any_even"


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


def build_encoder(w, weight_dtype=np.float32):
    """input_features [B, n_mels, F] -> last_hidden_state [B, F/2, D], F even and at most 3000
    (the reference engines always give 3000)."""
    g = GraphBuilder(weight_dtype)
    x = gelu(g, conv1d(g, "input_features", w, "encoder/conv1", stride=1))
    x = gelu(g, conv1d(g, x, w, "encoder/conv2", stride=2))
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [B, F/2, D]
    positions = g.weight("encoder.position_encodings", w["encoder/position_encodings/encodings"])
    length = g.op("Shape", [x], start=1, end=2)
    x = g.op("Add", [x, g.op("Slice", [positions, g.const([0]), length, g.const([0])])])
    for layer in range(w.encoder_layers):
        x = encoder_layer(g, x, w, layer)
    layer_norm_out = layer_norm(g, x, w, "encoder/layer_norm")
    g.op("Identity", [layer_norm_out], outputs=["last_hidden_state"])
    inputs = [tensor_info("input_features", TensorProto.FLOAT, ["batch_size", w.n_mels, "input_frames"])]
    outputs = [tensor_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "encoder_frames", w.d_model])]
    model = finish_model(g, "whisper_encoder", inputs, outputs)
    helper.set_model_props(model, {ENCODER_FRAMES_KEY: ENCODER_FRAMES_ANY})
    return model


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


def build_decoder(w, weight_dtype=np.float32):
    """The merged decoder (first step and cached steps in one graph), see the module doc."""
    g = GraphBuilder(weight_dtype)
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
