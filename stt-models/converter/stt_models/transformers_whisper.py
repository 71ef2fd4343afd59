"""A transformers Whisper checkpoint (`config.json`, `generation_config.json`,
`tokenizer.json`, and safetensors or `pytorch_model.bin` weights) read as the converter's
`Checkpoint`: its tensors renamed to CTranslate2's names, attention projections fused as
CTranslate2 fuses them, and every number read from the checkpoint's own files."""

import json
import os

import numpy as np

from . import Failure
from .checkpoints import read_weights
from .whisper_config import N_TIMESTAMPS, Checkpoint, timestamp_token


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def is_transformers_dir(path):
    """A Whisper config.json with weights beside it (an ONNX-only export has none)."""
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError, AttributeError):
        return False
    return model_type == "whisper" and any(os.path.isfile(os.path.join(path, f)) for f in WEIGHT_FILES)


def read_json(path, required=True):
    if not os.path.isfile(path):
        if required:
            raise Failure(f"{os.path.dirname(path)} has no {os.path.basename(path)}")
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as exc:
        raise Failure(f"{path} is not valid JSON ({exc})") from exc


def vocabulary_from_tokenizer(tokenizer, vocab_size):
    """Token strings by id: the BPE vocabulary, the added tokens, and, when the tokenizer
    stops before them (older exports), the timestamp tokens that end Whisper's vocabulary."""
    by_id = {}
    for token, token_id in tokenizer.get("model", {}).get("vocab", {}).items():
        by_id[int(token_id)] = token
    for added in tokenizer.get("added_tokens", []):
        by_id[int(added["id"])] = added["content"]
    size = max(by_id) + 1 if by_id else 0
    holes = [i for i in range(size) if i not in by_id]
    if holes:
        raise Failure(f"tokenizer.json has no token with id {holes[0]} ({len(holes)} ids missing)")
    vocabulary = [by_id[i] for i in range(size)]
    if size < vocab_size:
        no_timestamps = next((i for i, t in enumerate(vocabulary) if t == "<|notimestamps|>"), None)
        if no_timestamps is None or size != no_timestamps + 1 or vocab_size != size + N_TIMESTAMPS:
            raise Failure(f"tokenizer.json has {size} tokens and config.json says {vocab_size}")
        vocabulary += [timestamp_token(i) for i in range(N_TIMESTAMPS)]
    return vocabulary


def _fused(tensors, parts, rows):
    """Concatenates projection weights or biases along the output axis; a missing bias (Whisper's
    key projection has none) is zeros of the others' type."""
    present = [np.asarray(tensors[p]) for p in parts if p in tensors]
    zeros = np.zeros(rows, present[0].dtype if present else np.float32)
    return np.concatenate([np.asarray(tensors[p]) if p in tensors else zeros for p in parts], axis=0)


def ct2_variables(tensors, config):
    """{CTranslate2 name: array} from transformers' names (with or without the `model.` prefix
    of WhisperForConditionalGeneration)."""
    prefix = "model." if "model.encoder.conv1.weight" in tensors else ""
    if f"{prefix}encoder.conv1.weight" not in tensors:
        raise Failure("the checkpoint has no encoder.conv1.weight: not a Whisper model")
    t = {name[len(prefix):]: array for name, array in tensors.items() if name.startswith(prefix)}
    d_model = int(config["d_model"])
    variables = {}

    def take(ct2, hf):
        if hf not in t:
            raise Failure(f"the checkpoint has no {prefix}{hf}")
        variables[ct2] = t[hf]

    def linear(ct2, hf, bias=True):
        take(f"{ct2}/weight", f"{hf}.weight")
        if bias or f"{hf}.bias" in t:
            take(f"{ct2}/bias", f"{hf}.bias")

    def norm(ct2, hf):
        take(f"{ct2}/gamma", f"{hf}.weight")
        take(f"{ct2}/beta", f"{hf}.bias")

    def attention(ct2, hf, parts, linear_index):
        weights = [f"{hf}.{p}_proj.weight" for p in parts]
        for name in weights:
            if name not in t:
                raise Failure(f"the checkpoint has no {prefix}{name}")
        variables[f"{ct2}/linear_{linear_index}/weight"] = _fused(t, weights, d_model)
        variables[f"{ct2}/linear_{linear_index}/bias"] = _fused(t, [f"{hf}.{p}_proj.bias" for p in parts], d_model)

    def block(ct2, hf, cross):
        attention(f"{ct2}/self_attention", f"{hf}.self_attn", "qkv", 0)
        linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
        norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
        if cross:
            linear(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
            attention(f"{ct2}/attention", f"{hf}.encoder_attn", "kv", 1)
            linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
            norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
        linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
        linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
        norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")

    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"encoder.{conv}")
    take("encoder/position_encodings/encodings", "encoder.embed_positions.weight")
    for i in range(int(config["encoder_layers"])):
        block(f"encoder/layer_{i}", f"encoder.layers.{i}", cross=False)
    norm("encoder/layer_norm", "encoder.layer_norm")
    take("decoder/embeddings/weight", "decoder.embed_tokens.weight")
    take("decoder/position_encodings/encodings", "decoder.embed_positions.weight")
    for i in range(int(config["decoder_layers"])):
        block(f"decoder/layer_{i}", f"decoder.layers.{i}", cross=True)
    norm("decoder/layer_norm", "decoder.layer_norm")

    output = tensors.get("proj_out.weight")
    if output is not None and not np.array_equal(output, variables["decoder/embeddings/weight"]):
        raise Failure("the checkpoint's output projection is not tied to its embeddings (unsupported)")
    variables["encoder/num_heads"] = np.int32(config["encoder_attention_heads"])
    variables["decoder/num_heads"] = np.int32(config["decoder_attention_heads"])
    return variables


def read_transformers_checkpoint(model_dir):
    config = read_json(os.path.join(model_dir, "config.json"))
    generation = read_json(os.path.join(model_dir, "generation_config.json"), required=False)
    tokenizer = read_json(os.path.join(model_dir, "tokenizer.json"))
    for key in ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                "decoder_attention_heads", "vocab_size"):
        if not isinstance(config.get(key), int) or config[key] <= 0:
            raise Failure(f"{model_dir}/config.json has no valid {key}")
    if config.get("activation_function", "gelu") != "gelu" or config.get("scale_embedding", False):
        raise Failure("unsupported Whisper variant: the activation is not GELU or embeddings are scaled")
    variables = ct2_variables(read_weights(model_dir), config)

    def setting(key):  # generation_config.json wins over config.json, as in transformers
        return generation.get(key, config.get(key))

    return Checkpoint(
        variables=variables,
        tokenizer=tokenizer,
        vocabulary=vocabulary_from_tokenizer(tokenizer, config["vocab_size"]),
        alignment_heads=setting("alignment_heads") or [],
        suppress_tokens=setting("suppress_tokens") or [],
        begin_suppress_tokens=setting("begin_suppress_tokens"),
        declared_languages=generation.get("lang_to_id"),
    )
