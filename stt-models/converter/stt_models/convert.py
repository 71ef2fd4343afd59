"""A Whisper `Checkpoint` -> ONNX model directory: the graphs in each asked precision, the
JSON files, and the marker last."""

import json
import os
import shutil

import numpy as np
import onnx

from . import Failure, log
from .ct2 import WhisperWeights
from .layout import WHISPER_KIND, publish, temporary_sibling, write_json, write_marker
from .quantize import quantize
from .whisper_config import build_configs, build_tokenizer
from .whisper_graphs import build_decoder, build_encoder

# File name endings of each precision's graphs, as optimum / onnx-community name them.
PRECISION_SUFFIXES = {"float32": ".onnx", "float16": "_fp16.onnx", "int8": "_quantized.onnx"}
GRAPHS = (("encoder_model", build_encoder), ("decoder_model_merged", build_decoder))
# Graphs with more weight bytes than this keep them in a `.onnx_data` file beside the graph:
# a protobuf file cannot exceed 2 GB (large-v3's float32 encoder is 2.5 GB).
EXTERNAL_DATA_BYTES = int(os.environ.get("STT_MODELS_EXTERNAL_DATA_BYTES", 1 << 30))


def graph_path(out_dir, graph, precision):
    return os.path.join(out_dir, "onnx", graph + PRECISION_SUFFIXES[precision])


def save_graph(model, path):
    """Saves a graph (its weights in `<file>_data` when large), then validates it from the file
    once the proto is freed (checking the in-memory proto would hold two more copies of the
    weights). Returns whether the weights went to an external file."""
    external = sum(len(t.raw_data) for t in model.graph.initializer) > EXTERNAL_DATA_BYTES
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + "_data", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    del model
    onnx.checker.check_model(path)
    return external


def remove_graph(path):
    for file in (path, path + "_data"):
        if os.path.exists(file):
            os.remove(file)


def size_mb(path):
    return sum(os.path.getsize(f) for f in (path, path + "_data") if os.path.exists(f)) / 1e6


def write_graphs(w, out_dir, precisions):
    """Each graph in each precision: int8 is quantized from the float32 graph (written for the
    purpose when float32 itself is not wanted); float16 stores the weights in half precision."""
    for graph, build in GRAPHS:
        if {"float32", "int8"} & set(precisions):
            path = graph_path(out_dir, graph, "float32")
            log(f"building {graph} (float32)")
            external = save_graph(build(w), path)
            log(f"wrote onnx/{os.path.basename(path)} ({size_mb(path):.1f} MB)")
            if "int8" in precisions:
                quantized = graph_path(out_dir, graph, "int8")
                log(f"quantizing {graph} (int8)")
                quantize(path, quantized, external)
                log(f"wrote onnx/{os.path.basename(quantized)} ({size_mb(quantized):.1f} MB)")
            if "float32" not in precisions:
                remove_graph(path)
        if "float16" in precisions:
            path = graph_path(out_dir, graph, "float16")
            log(f"building {graph} (float16 weights)")
            save_graph(build(w, np.float16), path)
            log(f"wrote onnx/{os.path.basename(path)} ({size_mb(path):.1f} MB)")


def convert(checkpoint, out_dir, precisions, marker):
    """Converts `checkpoint` into `out_dir` (an empty directory); `marker` adds the marker's
    provenance fields (name, source, ...)."""
    unknown = set(precisions) - set(PRECISION_SUFFIXES)
    if unknown or not precisions:
        raise Failure(f"unknown precision {sorted(unknown)}; use {', '.join(PRECISION_SUFFIXES)}")
    w = WhisperWeights(checkpoint.variables)
    if w.vocab_size != len(checkpoint.vocabulary):
        raise Failure(f"the model has {w.vocab_size} tokens but its vocabulary has {len(checkpoint.vocabulary)}")
    log(
        f"whisper: d_model {w.d_model}, {w.encoder_layers}+{w.decoder_layers} layers, "
        f"{w.decoder_heads} heads, {w.n_mels} mels, vocab {w.vocab_size}"
    )
    tokenizer, special = build_tokenizer(checkpoint.tokenizer, checkpoint.vocabulary)
    config, generation, preprocessor = build_configs(w, checkpoint, special)
    os.makedirs(os.path.join(out_dir, "onnx"))
    write_graphs(w, out_dir, precisions)
    del w

    write_json(os.path.join(out_dir, "config.json"), config)
    write_json(os.path.join(out_dir, "generation_config.json"), generation)
    write_json(os.path.join(out_dir, "preprocessor_config.json"), preprocessor)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)

    precisions = [p for p in PRECISION_SUFFIXES if p in precisions]
    write_marker(out_dir, kind=WHISPER_KIND, **marker, precisions=precisions)


def convert_into(checkpoint, out_dir, precisions, **marker):
    """convert() into a temporary sibling of `out_dir`, renamed into place when complete."""
    tmp = temporary_sibling(out_dir)
    try:
        convert(checkpoint, tmp, precisions, marker)
        publish(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
