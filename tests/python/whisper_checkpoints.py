"""Whisper checkpoints written the way transformers writes them, for the import tests:
base's real weights renamed from its CTranslate2 file, and synthetic checkpoints with the
published configurations of larger models (random weights, reduced widths).

The published numbers below come from these sources (read 2026-12-05):
- widths, layers, mel bins, vocabulary sizes and token ids: the config.json files of the
  checkpoints (openai/whisper-large-v3, openai/whisper-large-v3-turbo,
  distil-whisper/distil-large-v3, openai/whisper-small.en on huggingface.co, as copied by
  fine-tunes naming them as `_name_or_path`), cross-checked against openai/whisper's
  `whisper/tokenizer.py` (special tokens appended after the BPE ranks: endoftext,
  startoftranscript, the languages, translate, transcribe, startoflm, startofprev, nospeech,
  notimestamps, the timestamps) and whisper.cpp's `src/whisper.cpp` token table;
- alignment heads: openai/whisper `whisper/__init__.py` `_ALIGNMENT_HEADS` (the base85 masks
  decoded), equal to whisper.cpp's `g_aheads_*` presets; distil-large-v3's are its
  generation_config.json since commit c4fbc17 ("Update alignment heads in gen config"): every
  head of decoder layer 1, openai's default for a model without a preset;
- suppress_tokens: openai/whisper `non_speech_tokens` plus the task and special tokens, as the
  generation configs list them; small.en's equals faster-whisper's tests/test_tokenizer.py.
"""

import json
import struct

import numpy as np

V3_SUPPRESS = [1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503,
               522, 542, 873, 893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268, 3536, 3846,
               3961, 4183, 4667, 6585, 6647, 7273, 9061, 9383, 10428, 10929, 11938, 12033, 12331, 12562, 13793,
               14157, 14635, 15265, 15618, 16553, 16604, 18362, 18956, 20075, 21675, 22520, 26130, 26161, 26435,
               28279, 29464, 31650, 32302, 32470, 36865, 42863, 47425, 49870, 50254, 50258, 50359, 50360, 50361,
               50362, 50363]
ENGLISH_SUPPRESS = [1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 357, 366,
                    438, 532, 685, 705, 796, 930, 1058, 1220, 1267, 1279, 1303, 1343, 1377, 1391, 1635, 1782, 1875,
                    2162, 2361, 2488, 3467, 4008, 4211, 4600, 4808, 5299, 5855, 6329, 7203, 9609, 9959, 10563, 10786,
                    11420, 11709, 11907, 13163, 13697, 13700, 14808, 15306, 16410, 16791, 17992, 19203, 19510, 20724,
                    22305, 22935, 27007, 30109, 30420, 33409, 34949, 40283, 40493, 40549, 47282, 49146, 50257, 50357,
                    50358, 50359, 50360, 50361]

# The special token ids of the two tokenizers (v3: 100 languages, <|yue|> the last).
V3_TOKENS = {"<|endoftext|>": 50257, "<|startoftranscript|>": 50258, "<|en|>": 50259, "<|yue|>": 50358,
             "<|translate|>": 50359, "<|transcribe|>": 50360, "<|startoflm|>": 50361, "<|startofprev|>": 50362,
             "<|nospeech|>": 50363, "<|notimestamps|>": 50364, "<|0.00|>": 50365, "<|30.00|>": 51865}
ENGLISH_TOKENS = {"<|endoftext|>": 50256, "<|startoftranscript|>": 50257, "<|en|>": 50258,
                  "<|translate|>": 50357, "<|transcribe|>": 50358, "<|startoflm|>": 50359, "<|startofprev|>": 50360,
                  "<|nocaptions|>": 50361, "<|notimestamps|>": 50362, "<|0.00|>": 50363, "<|30.00|>": 51863}

V3_ARCHITECTURE = {"d_model": 1280, "encoder_layers": 32, "encoder_attention_heads": 20,
                   "decoder_attention_heads": 20, "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120,
                   "num_mel_bins": 128, "vocab_size": 51866, "max_source_positions": 1500, "max_target_positions": 448,
                   "bos_token_id": 50257, "eos_token_id": 50257, "decoder_start_token_id": 50258}
V3_GENERATION = {"is_multilingual": True, "no_timestamps_token_id": 50364, "prev_sot_token_id": 50362,
                 "task_to_id": {"translate": 50359, "transcribe": 50360}, "begin_suppress_tokens": [220, 50257],
                 "suppress_tokens": V3_SUPPRESS, "decoder_start_token_id": 50258, "eos_token_id": 50257,
                 "max_initial_timestamp_index": 50, "max_length": 448}

PUBLISHED = {
    "large-v3": {
        "config": {**V3_ARCHITECTURE, "decoder_layers": 32, "pad_token_id": 50256},
        "generation": {**V3_GENERATION, "alignment_heads": [[7, 0], [10, 17], [12, 18], [13, 12], [16, 1], [17, 14],
                                                            [19, 11], [21, 4], [24, 1], [25, 6]]},
        "tokens": V3_TOKENS, "languages": 100,
    },
    "large-v3-turbo": {
        # Its config.json says begin_suppress_tokens [220, 50256]; generation_config.json wins.
        "config": {**V3_ARCHITECTURE, "decoder_layers": 4, "pad_token_id": 50257, "begin_suppress_tokens": [220, 50256]},
        "generation": {**V3_GENERATION, "alignment_heads": [[2, 4], [2, 11], [3, 3], [3, 6], [3, 11], [3, 14]]},
        "tokens": V3_TOKENS, "languages": 100,
    },
    "distil-large-v3": {
        "config": {**V3_ARCHITECTURE, "decoder_layers": 2, "pad_token_id": 50256},
        "generation": {**V3_GENERATION, "alignment_heads": [[1, head] for head in range(20)]},
        "tokens": V3_TOKENS, "languages": 100,
    },
    "small.en": {
        "config": {"d_model": 768, "encoder_layers": 12, "decoder_layers": 12, "encoder_attention_heads": 12,
                   "decoder_attention_heads": 12, "encoder_ffn_dim": 3072, "decoder_ffn_dim": 3072, "num_mel_bins": 80,
                   "vocab_size": 51864, "max_source_positions": 1500, "max_target_positions": 448,
                   "bos_token_id": 50257, "eos_token_id": 50256, "pad_token_id": 50256,
                   "decoder_start_token_id": 50257},
        "generation": {"is_multilingual": False, "no_timestamps_token_id": 50362, "prev_sot_token_id": 50360,
                       "begin_suppress_tokens": [220, 50256], "suppress_tokens": ENGLISH_SUPPRESS,
                       "decoder_start_token_id": 50257, "eos_token_id": 50256, "max_initial_timestamp_index": 50,
                       "max_length": 448,
                       "alignment_heads": [[6, 6], [7, 0], [7, 3], [7, 8], [8, 2], [8, 5], [8, 7], [9, 0], [9, 4],
                                           [9, 8], [9, 10], [10, 0], [10, 1], [10, 2], [10, 3], [10, 6], [10, 11],
                                           [11, 2], [11, 4]]},
        "tokens": ENGLISH_TOKENS, "languages": 0,
    },
}

N_TIMESTAMPS = 1501


def write_safetensors(path, tensors):
    """A safetensors file as the format specifies it (header padded to 8 bytes)."""
    names = sorted(tensors)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in names:
        array = tensors[name]
        dtype = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32"}[array.dtype]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).tobytes())


def write_checkpoint(out_dir, config, generation, tokenizer, tensors, shards=1, torch_file=False):
    """A transformers checkpoint directory: safetensors (with shards > 1, sharded with an
    index) or, with `torch_file`, `pytorch_model.bin`."""
    out_dir.mkdir(parents=True)
    (out_dir / "config.json").write_text(json.dumps({"model_type": "whisper", "activation_function": "gelu",
                                                     "architectures": ["WhisperForConditionalGeneration"], **config}))
    (out_dir / "generation_config.json").write_text(json.dumps(generation))
    (out_dir / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    (out_dir / "preprocessor_config.json").write_text(json.dumps({"feature_size": config["num_mel_bins"]}))
    if torch_file:
        write_torch_state_dict(out_dir / "pytorch_model.bin", tensors)
    elif shards == 1:
        write_safetensors(out_dir / "model.safetensors", tensors)
    else:
        write_shards(out_dir, tensors, shards)


def write_shards(out_dir, tensors, shards):
    names = sorted(tensors)
    weight_map = {}
    for index in range(shards):
        shard = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        part = names[index::shards]
        write_safetensors(out_dir / shard, {n: tensors[n] for n in part})
        weight_map.update({n: shard for n in part})
    (out_dir / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def transformers_tensors_from_ct2(v, encoder_layers, decoder_layers):
    """transformers' tensors (WhisperForConditionalGeneration names) from CTranslate2's
    variables: fused projections split, the key projections without bias."""
    t = {}

    def linear(hf, ct2):
        t[f"{hf}.weight"] = v[f"{ct2}/weight"]
        if f"{ct2}/bias" in v:
            t[f"{hf}.bias"] = v[f"{ct2}/bias"]

    def norm(hf, ct2):
        t[f"{hf}.weight"], t[f"{hf}.bias"] = v[f"{ct2}/gamma"], v[f"{ct2}/beta"]

    def split(hf, ct2, parts):
        weights = np.split(v[f"{ct2}/weight"], len(parts))
        biases = np.split(v[f"{ct2}/bias"], len(parts))
        for part, weight, bias in zip(parts, weights, biases):
            t[f"{hf}.{part}_proj.weight"] = weight
            if part != "k":
                t[f"{hf}.{part}_proj.bias"] = bias

    def block(hf, ct2, cross):
        split(f"{hf}.self_attn", f"{ct2}/self_attention/linear_0", "qkv")
        linear(f"{hf}.self_attn.out_proj", f"{ct2}/self_attention/linear_1")
        norm(f"{hf}.self_attn_layer_norm", f"{ct2}/self_attention/layer_norm")
        if cross:
            linear(f"{hf}.encoder_attn.q_proj", f"{ct2}/attention/linear_0")
            split(f"{hf}.encoder_attn", f"{ct2}/attention/linear_1", "kv")
            linear(f"{hf}.encoder_attn.out_proj", f"{ct2}/attention/linear_2")
            norm(f"{hf}.encoder_attn_layer_norm", f"{ct2}/attention/layer_norm")
        linear(f"{hf}.fc1", f"{ct2}/ffn/linear_0")
        linear(f"{hf}.fc2", f"{ct2}/ffn/linear_1")
        norm(f"{hf}.final_layer_norm", f"{ct2}/ffn/layer_norm")

    linear("model.encoder.conv1", "encoder/conv1")
    linear("model.encoder.conv2", "encoder/conv2")
    t["model.encoder.embed_positions.weight"] = v["encoder/position_encodings/encodings"]
    for i in range(encoder_layers):
        block(f"model.encoder.layers.{i}", f"encoder/layer_{i}", cross=False)
    norm("model.encoder.layer_norm", "encoder/layer_norm")
    t["model.decoder.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    t["model.decoder.embed_positions.weight"] = v["decoder/position_encodings/encodings"]
    for i in range(decoder_layers):
        block(f"model.decoder.layers.{i}", f"decoder/layer_{i}", cross=True)
    norm("model.decoder.layer_norm", "decoder/layer_norm")
    t["proj_out.weight"] = v["decoder/embeddings/weight"]  # tied, as transformers saves it
    return {name: np.ascontiguousarray(array) for name, array in t.items()}


def synthetic_tensors(config, d_model, seed=0):
    """Random transformers tensors with the config's layers, heads, mel bins and vocabulary,
    `d_model` wide (a multiple of the head count)."""
    rng = np.random.default_rng(seed)
    ffn = 4 * d_model

    def rand(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float16)

    t = {}

    def linear(name, n_out, n_in, bias=True):
        t[f"{name}.weight"] = rand(n_out, n_in)
        if bias:
            t[f"{name}.bias"] = rand(n_out)

    def norm(name):
        t[f"{name}.weight"] = np.ones(d_model, np.float16)
        t[f"{name}.bias"] = np.zeros(d_model, np.float16)

    def block(name, cross):
        for attention in ("self_attn", "encoder_attn") if cross else ("self_attn",):
            for part in "qkvo":
                proj = "out_proj" if part == "o" else f"{part}_proj"
                linear(f"{name}.{attention}.{proj}", d_model, d_model, bias=part != "k")
            norm(f"{name}.{attention}_layer_norm")
        linear(f"{name}.fc1", ffn, d_model)
        linear(f"{name}.fc2", d_model, ffn)
        norm(f"{name}.final_layer_norm")

    t["model.encoder.conv1.weight"] = rand(d_model, config["num_mel_bins"], 3)
    t["model.encoder.conv1.bias"] = rand(d_model)
    t["model.encoder.conv2.weight"] = rand(d_model, d_model, 3)
    t["model.encoder.conv2.bias"] = rand(d_model)
    t["model.encoder.embed_positions.weight"] = rand(config["max_source_positions"], d_model)
    for i in range(config["encoder_layers"]):
        block(f"model.encoder.layers.{i}", cross=False)
    norm("model.encoder.layer_norm")
    t["model.decoder.embed_tokens.weight"] = rand(config["vocab_size"], d_model)
    t["model.decoder.embed_positions.weight"] = rand(config["max_target_positions"], d_model)
    for i in range(config["decoder_layers"]):
        block(f"model.decoder.layers.{i}", cross=True)
    norm("model.decoder.layer_norm")
    return t


def _added(token_id, content):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def v3_tokenizer(multilingual_tokenizer):
    """The v3 tokenizer from a pre-v3 multilingual one (base's): <|yue|> after <|su|>, every
    later special token one higher, <|nocaptions|> named <|nospeech|>, and the timestamps as
    added tokens (v3's tokenizer.json has them)."""
    tokenizer = json.loads(json.dumps(multilingual_tokenizer))
    added = []
    for token in tokenizer["added_tokens"]:
        token = dict(token)
        if token["id"] >= V3_TOKENS["<|yue|>"]:
            token["id"] += 1
        if token["content"] == "<|nocaptions|>":
            token["content"] = "<|nospeech|>"
        added.append(token)
    added.append(_added(V3_TOKENS["<|yue|>"], "<|yue|>"))
    added += [_added(V3_TOKENS["<|0.00|>"] + i, f"<|{i * 0.02:.2f}|>") for i in range(N_TIMESTAMPS)]
    tokenizer["added_tokens"] = sorted(added, key=lambda t: t["id"])
    return tokenizer


def write_torch_state_dict(path, tensors):
    """`tensors` as `torch.save` writes a state dict (a zip: `archive/data.pkl`, pickle
    protocol 2 with each storage a persistent id, tensors rebuilt by
    `torch._utils._rebuild_tensor_v2`; `archive/data/N` the raw storages), without torch:
    stand-in modules give the pickler torch's global names."""
    import collections
    import io
    import pickle
    import sys
    import types
    import zipfile

    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    storages = {}
    for dtype, name in ((np.float16, "HalfStorage"), (np.float32, "FloatStorage")):
        storages[np.dtype(dtype)] = type(name, (), {"__module__": "torch"})
        setattr(torch, name, storages[np.dtype(dtype)])

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise AssertionError(args)

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils

    class Storage:
        def __init__(self, key, array):
            self.key, self.array = key, array

    class Tensor:
        def __init__(self, storage):
            self.storage = storage

        def __reduce__(self):
            shape = self.storage.array.shape
            stride = tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape)))
            return _rebuild_tensor_v2, (self.storage, 0, shape, stride, False, collections.OrderedDict())

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", storages[obj.array.dtype], obj.key, "cpu", obj.array.size)
            return None

    state = collections.OrderedDict(
        (name, Tensor(Storage(str(index), np.ascontiguousarray(array))))
        for index, (name, array) in enumerate(tensors.items())
    )
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        data = io.BytesIO()
        Pickler(data, protocol=2).dump(state)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data.getvalue())
        for tensor in state.values():
            archive.writestr(f"archive/data/{tensor.storage.key}", tensor.storage.array.tobytes())
        archive.writestr("archive/version", "3\n")
