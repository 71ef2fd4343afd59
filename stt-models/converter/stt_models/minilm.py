"""all-MiniLM-L6-v2 in fp32: its safetensors checkpoint read with numpy alone, rebuilt as an
ONNX BertModel (standard opset 17 ops) whose `last_hidden_state` the Rust embedder pools."""

import numpy as np
import onnx
from onnx import TensorProto

from . import Failure, log
from .checkpoints import read_safetensors
from .onnx_graph import GraphBuilder, finish_model, tensor_info

# The model's config.json (a BertModel); the weights' shapes are checked against it.
MINILM_CONFIG = {
    "vocab_size": 30522,
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
}
# What masked positions add to the attention scores: (1 - mask) * MASK_BIAS, as transformers
# does (the float32 minimum, so that softmax gives padding exactly zero weight).
MASK_BIAS = float(np.finfo(np.float32).min)

def _bert_weights(tensors, config):
    """The state dict without a "bert." prefix, its shapes checked against `config`."""
    sd = {name[5:] if name.startswith("bert.") else name: value for name, value in tensors.items()}
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    expected = {
        "embeddings.word_embeddings.weight": (config["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": (config["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": (config["type_vocab_size"], hidden),
        "embeddings.LayerNorm.weight": (hidden,),
        "embeddings.LayerNorm.bias": (hidden,),
    }
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"
        for name, shape in {
            "attention.self.query": (hidden, hidden),
            "attention.self.key": (hidden, hidden),
            "attention.self.value": (hidden, hidden),
            "attention.output.dense": (hidden, hidden),
            "intermediate.dense": (inner, hidden),
            "output.dense": (hidden, inner),
        }.items():
            expected[f"{p}.{name}.weight"] = shape
            expected[f"{p}.{name}.bias"] = shape[:1]
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            expected[f"{p}.{norm}.weight"] = (hidden,)
            expected[f"{p}.{norm}.bias"] = (hidden,)
    for name, shape in expected.items():
        if name not in sd:
            raise Failure(f"the checkpoint has no tensor {name}: not a BertModel")
        if tuple(sd[name].shape) != shape:
            raise Failure(f"{name} has shape {list(sd[name].shape)}, expected {list(shape)}")
    if f"encoder.layer.{config['num_hidden_layers']}.output.dense.weight" in sd:
        raise Failure(f"the checkpoint has more than {config['num_hidden_layers']} layers")
    return sd


def _linear(g, x, sd, prefix):
    """x @ W.T + b for a torch Linear `prefix` (weight [out, in])."""
    y = g.op("MatMul", [x, g.weight(f"{prefix}.weight", sd[f"{prefix}.weight"].T)])
    return g.op("Add", [y, g.weight(f"{prefix}.bias", sd[f"{prefix}.bias"])])


def _layer_norm(g, x, sd, prefix, eps):
    return g.op(
        "LayerNormalization",
        [x, g.weight(f"{prefix}.weight", sd[f"{prefix}.weight"]), g.weight(f"{prefix}.bias", sd[f"{prefix}.bias"])],
        axis=-1,
        epsilon=eps,
    )


def _bert_layer(g, x, mask_bias, sd, prefix, config):
    """One post-norm encoder layer: self-attention, then the GELU feed-forward block."""
    heads = config["num_attention_heads"]
    head_size = config["hidden_size"] // heads
    eps = config["layer_norm_eps"]
    split = g.const([0, 0, heads, head_size])

    def project(name, perm):
        y = g.op("Reshape", [_linear(g, x, sd, f"{prefix}.attention.self.{name}"), split])
        return g.op("Transpose", [y], perm=perm)

    q = project("query", [0, 2, 1, 3])  # [B, H, S, D]
    k = project("key", [0, 2, 3, 1])  # [B, H, D, S]
    v = project("value", [0, 2, 1, 3])  # [B, H, S, D]
    scores = g.op("Mul", [g.op("MatMul", [q, k]), g.const(1.0 / np.sqrt(head_size), np.float32)])
    probs = g.op("Softmax", [g.op("Add", [scores, mask_bias])], axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    context = g.op("Reshape", [context, g.const([0, 0, config["hidden_size"]])])
    attended = _linear(g, context, sd, f"{prefix}.attention.output.dense")
    x = _layer_norm(g, g.op("Add", [attended, x]), sd, f"{prefix}.attention.output.LayerNorm", eps)
    h = _linear(g, x, sd, f"{prefix}.intermediate.dense")
    # GELU, erf form: 0.5 * h * (1 + erf(h / sqrt(2))).
    erf = g.op("Erf", [g.op("Div", [h, g.const(np.sqrt(2.0), np.float32)])])
    h = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.const(1.0, np.float32)])]), g.const(0.5, np.float32)])
    out = _linear(g, h, sd, f"{prefix}.output.dense")
    return _layer_norm(g, g.op("Add", [out, x]), sd, f"{prefix}.output.LayerNorm", eps)


def build_minilm(tensors, config=MINILM_CONFIG):
    """BertModel (absolute positions, token types, post-norm layers) from its state dict:
    input_ids, attention_mask, token_type_ids [B, S] int64 -> last_hidden_state [B, S, hidden]."""
    sd = _bert_weights(tensors, config)
    g = GraphBuilder()
    words = g.op("Gather", [g.weight("word_embeddings", sd["embeddings.word_embeddings.weight"]), "input_ids"])
    types = g.op("Gather", [g.weight("token_type_embeddings", sd["embeddings.token_type_embeddings.weight"]),
                            "token_type_ids"])
    # Positions 0..S-1: the first S rows of the table, broadcast over the batch.
    length = g.op("Shape", ["input_ids"], start=1, end=2)
    positions = g.op("Slice", [g.weight("position_embeddings", sd["embeddings.position_embeddings.weight"]),
                               g.const([0]), length, g.const([0])])
    x = g.op("Add", [g.op("Add", [words, positions]), types])
    x = _layer_norm(g, x, sd, "embeddings.LayerNorm", config["layer_norm_eps"])
    # [B, 1, 1, S]: 0 where the mask is 1, the float32 minimum where it is 0.
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask_bias = g.op("Mul", [g.op("Sub", [g.const(1.0, np.float32), mask]), g.const(MASK_BIAS, np.float32)])
    mask_bias = g.op("Unsqueeze", [mask_bias, g.const([1, 2])])
    for layer in range(config["num_hidden_layers"]):
        x = _bert_layer(g, x, mask_bias, sd, f"encoder.layer.{layer}", config)
    g.op("Identity", [x], outputs=["last_hidden_state"])
    inputs = [tensor_info(name, TensorProto.INT64, ["batch", "sequence"])
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [tensor_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", config["hidden_size"]])]
    return finish_model(g, "minilm", inputs, outputs)


def convert_minilm(safetensors_path, out_path):
    log("converting all-MiniLM-L6-v2 (fp32) to ONNX")
    onnx.save_model(build_minilm(read_safetensors(safetensors_path)), out_path)
    onnx.checker.check_model(out_path)
