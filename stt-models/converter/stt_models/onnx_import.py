"""An optimum / onnx-community Whisper export taken as it is: its graphs checked against
what the engine feeds and reads, then copied with its JSON files."""

import os
import shutil

import onnx
from onnx import TensorProto

from . import Failure, log
from .convert import GRAPHS, PRECISION_SUFFIXES, graph_path
from .transformers_whisper import read_json

JSON_FILES = ("config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json")
CACHE_PARTS = ("decoder.key", "decoder.value", "encoder.key", "encoder.value")


def is_onnx_dir(path):
    return any(os.path.isfile(graph_path(path, "encoder_model", p)) for p in PRECISION_SUFFIXES)


def _io(path):
    """{name: element type} of a graph's inputs and outputs, read without its weights."""
    model = onnx.load(path, load_external_data=False)
    types = lambda values: {v.name: v.type.tensor_type.elem_type for v in values}  # noqa: E731
    return types(model.graph.input), types(model.graph.output)


def check_graphs(src, precision, decoder_layers):
    """Fails unless both graphs of `precision` have the inputs and outputs the engine uses, in
    float32; returns whether the decoder exports cross-attention (needed to time words)."""
    encoder_in, encoder_out = _io(graph_path(src, "encoder_model", precision))
    decoder_in, decoder_out = _io(graph_path(src, "decoder_model_merged", precision))
    cache = [f"{layer}.{part}" for layer in range(decoder_layers) for part in CACHE_PARTS]
    wanted = [
        ("encoder input", encoder_in, ["input_features"]),
        ("encoder output", encoder_out, ["last_hidden_state"]),
        ("decoder input", decoder_in, ["input_ids", "encoder_hidden_states", "use_cache_branch"]
         + [f"past_key_values.{c}" for c in cache]),
        ("decoder output", decoder_out, ["logits"] + [f"present.{c}" for c in cache]),
    ]
    for what, present, names in wanted:
        missing = [n for n in names if n not in present]
        if missing:
            raise Failure(f"the {precision} graphs are not a merged Whisper export: no {what} {missing[0]}")
        half = [n for n in names if present[n] == TensorProto.FLOAT16]
        if half:
            raise Failure(
                f"the {precision} graphs take float16 {what}s ({half[0]}); the engine feeds float32: "
                "import the export's float32 or quantized graphs (--precision float32 or int8), "
                "or its transformers weights"
            )
    return all(f"cross_attentions.{layer}" in decoder_out for layer in range(decoder_layers))


def _copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)  # the same file system: no second copy of gigabytes
    except OSError:
        shutil.copy2(src, dst)


def import_onnx(src, out_dir, precisions):
    """Copies the checked graphs of `precisions` (default: every complete set the export has
    that the engine can use) and the JSON files into `out_dir`; returns the precisions copied."""
    config = read_json(os.path.join(src, "config.json"))
    generation = read_json(os.path.join(src, "generation_config.json"))
    read_json(os.path.join(src, "preprocessor_config.json"))
    read_json(os.path.join(src, "tokenizer.json"))
    if config.get("vocab_size", 0) >= 51865 and not generation.get("lang_to_id"):
        raise Failure(f"{src}/generation_config.json has no lang_to_id, which a multilingual model needs")
    available = [p for p in PRECISION_SUFFIXES if all(os.path.isfile(graph_path(src, g, p)) for g, _ in GRAPHS)]
    chosen = list(precisions) or available
    absent = [p for p in chosen if p not in available]
    if absent or not chosen:
        raise Failure(
            f"{src} has no {absent[0] if absent else 'complete'} encoder and decoder_model_merged graphs "
            f"(it has: {', '.join(available) or 'none'})"
        )
    copied = []
    for precision in chosen:
        try:
            timed = check_graphs(src, precision, int(config.get("decoder_layers", 0)))
        except Failure as exc:
            if precisions:  # asked for by name: its failure is the answer
                raise
            log(f"warning: skipping the {precision} graphs: {exc}")
            continue
        if not timed:
            log(f"warning: the {precision} decoder exports no cross-attention: this model cannot time words "
                "(a *_timestamped export or the transformers weights can)")
        for graph, _ in GRAPHS:
            path = graph_path(src, graph, precision)
            for file in (path, path + "_data", path + ".data"):
                if os.path.isfile(file):
                    _copy(file, os.path.join(out_dir, os.path.relpath(file, src)))
        copied.append(precision)
    if not copied:
        raise Failure(f"none of the graphs in {src} can be used (see the warnings above)")
    for file in JSON_FILES:
        _copy(os.path.join(src, file), os.path.join(out_dir, file))
    return copied
