"""CTranslate2 Whisper directory -> ONNX model directory (graphs, int8 copies, JSON files,
marker last)."""

import json
import os
import shutil
import time

import onnx

from . import Failure, log
from .ct2 import WhisperWeights, read_ct2_model
from .layout import (
    CT2_FILES,
    MARKER,
    MARKER_FORMAT,
    OUTPUT_FILES,
    WHISPER_KIND,
    publish,
    sha256_file,
    temporary_sibling,
    write_json,
)
from .quantize import quantize
from .whisper_config import build_configs, build_tokenizer, read_vocabulary
from .whisper_graphs import build_decoder, build_encoder


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


def convert_into(ct2_dir, out_dir, **marker):
    """convert() into a temporary sibling of `out_dir`, renamed into place when complete."""
    tmp = temporary_sibling(out_dir)
    try:
        convert(ct2_dir, tmp, **marker)
        publish(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
