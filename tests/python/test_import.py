"""`stt models import`: Whisper models a user already has, in every form they come in.

- base's real weights written as a transformers checkpoint (sharded safetensors, transformers'
  names) import to the very graphs `stt models pull base` makes, and transcribe every fixture
  token for token like it;
- synthetic checkpoints with the published configurations of large-v3, large-v3-turbo,
  distil-large-v3 and small.en (random weights, reduced widths; see whisper_checkpoints.py for
  the numbers and their sources) import, load and decode a fixture to the end, with their
  special tokens, languages, mel bins and alignment heads as published;
- float16 graphs of base transcribe every fixture as the float32 ones do, at half the size;
- a repository id is found in a Hugging Face cache; an ONNX export is checked and copied.

Each test imports into its own $STT_HOME (the runtime, venv and pulled models linked in).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import requests

from stt_testing import FIXTURES, REPO, Server, auth, fixture_path, stt_binary
from whisper_checkpoints import (
    PUBLISHED,
    synthetic_tensors,
    transformers_tensors_from_ct2,
    v3_tokenizer,
    write_checkpoint,
)

sys.path.insert(0, str(REPO / "stt-models" / "converter"))
from stt_models.ct2 import read_ct2_model  # noqa: E402  (the reader the parity tests check)

STT_HOME = Path(os.environ.get("STT_HOME", "~/.cache/stt")).expanduser()
MANIFEST = [line.split("\t") for line in (FIXTURES / "MANIFEST.tsv").read_text().splitlines()[1:] if line]
# Imported and float16 graphs are compared with base on every language and a spread of English
# (short, 8 kHz, two speakers over 30 s, long-form): all 35 recordings took minutes more.
CHECKED_FIXTURES = [row[0] for row in MANIFEST if row[1] != "en"] + [
    "jfk.flac", "en_librispeech_1272-128104-0004_8khz.wav", "2spk_pyannote_sample.wav",
    "en_librivox_sonnets_001_002_106s.mp3",
]


@pytest.fixture
def home(tmp_path):
    """A fresh $STT_HOME sharing the set-up's runtime, venv, base, tiny.en and VAD."""
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for shared in ("runtime", "venv", "ct2"):
        if not (STT_HOME / shared).exists():
            pytest.fail(f"{STT_HOME / shared} is missing: run scripts/setup.sh", pytrace=False)
        (home / shared).symlink_to(STT_HOME / shared)
    for model in ("base", "tiny.en", "silero-vad"):
        (home / "models" / model).symlink_to(STT_HOME / "models" / model)
    return home


def stt(home, *args, check=True, env=None):
    result = subprocess.run(
        [str(stt_binary()), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "STT_HOME": str(home), **(env or {})},
        timeout=900,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def transcripts(home, model, out_dir, files, *extra):
    """{file: full transcript} of `files` transcribed in one run."""
    stt(home, "transcribe", *[fixture_path(f) for f in files], "--model", model, "--format", "full_json",
        "--output-dir", out_dir, *extra)
    return {f: json.loads((out_dir / f"{f}.json").read_text()) for f in files}


def tokens_of(transcript):
    return [segment["tokens"] for segment in transcript["segments"]]


def marker(home, name):
    return json.loads((home / "models" / name / "stt-model.json").read_text())


def graph_bytes(model_dir, suffix):
    return sum(
        (model_dir / "onnx" / f"{graph}{suffix}").stat().st_size for graph in ("encoder_model", "decoder_model_merged")
    )


@pytest.fixture(scope="module")
def base_transcripts(tmp_path_factory):
    """The checked fixtures transcribed by the pulled base (float32), the tests' reference."""
    out = tmp_path_factory.mktemp("base")
    return transcripts(STT_HOME, "base", out, CHECKED_FIXTURES)


def base_checkpoint(path, shards, torch_file=False):
    """base's weights as a transformers checkpoint, from its CTranslate2 file."""
    ct2 = STT_HOME / "ct2" / "base"
    _, variables = read_ct2_model(ct2 / "model.bin")
    ct2_config = json.loads((ct2 / "config.json").read_text())
    tokenizer = json.loads((ct2 / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    languages = {c: i for c, i in ids.items() if ids["<|startoftranscript|>"] < i < ids["<|translate|>"]}
    config = {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8,
              "decoder_attention_heads": 8, "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048, "num_mel_bins": 80,
              "vocab_size": 51865, "max_source_positions": 1500, "max_target_positions": 448}
    generation = {"alignment_heads": ct2_config["alignment_heads"], "lang_to_id": languages,
                  "task_to_id": {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
                  "suppress_tokens": ct2_config["suppress_ids"], "begin_suppress_tokens": ct2_config["suppress_ids_begin"],
                  "no_timestamps_token_id": ids["<|notimestamps|>"], "is_multilingual": True}
    tensors = transformers_tensors_from_ct2(variables, 6, 6)
    write_checkpoint(path, config, generation, tokenizer, tensors, shards=shards, torch_file=torch_file)


def test_a_transformers_checkpoint_of_base_transcribes_like_base(home, tmp_path, base_transcripts):
    checkpoint = tmp_path / "whisper-base-hf"
    base_checkpoint(checkpoint, shards=3)

    # Its default name is base's, which is taken: refused, nothing replaced.
    refused = stt(home, "models", "import", checkpoint, check=False)
    assert refused.returncode == 1 and "'base' is already installed" in refused.stderr, refused.stderr

    stt(home, "models", "import", checkpoint, "--name", "base-hf", "--precision", "float32")
    installed = home / "models" / "base-hf"
    assert marker(home, "base-hf")["source_format"] == "transformers"
    assert marker(home, "base-hf")["precisions"] == ["float32"]
    # The same weights under other names make the same graphs, byte for byte.
    for graph in ("encoder_model.onnx", "decoder_model_merged.onnx"):
        assert (installed / "onnx" / graph).read_bytes() == (STT_HOME / "models/base/onnx" / graph).read_bytes()
    for file in ("config.json", "generation_config.json", "tokenizer.json"):
        assert json.loads((installed / file).read_text()) == json.loads((STT_HOME / "models/base" / file).read_text())

    imported = transcripts(home, "base-hf", tmp_path / "out", CHECKED_FIXTURES)
    for file in CHECKED_FIXTURES:
        assert tokens_of(imported[file]) == tokens_of(base_transcripts[file]), file


def test_a_pytorch_model_bin_is_read_without_torch(home, tmp_path):
    checkpoint = tmp_path / "whisper-base"
    base_checkpoint(checkpoint, shards=1, torch_file=True)
    stt(home, "models", "import", checkpoint, "--name", "base-torch", "--precision", "float32")
    for graph in ("encoder_model.onnx", "decoder_model_merged.onnx"):
        imported = home / "models" / "base-torch" / "onnx" / graph
        assert imported.read_bytes() == (STT_HOME / "models/base/onnx" / graph).read_bytes()


@pytest.mark.parametrize("published", sorted(PUBLISHED))
def test_synthetic_checkpoints_of_the_published_configurations_import_and_decode(home, tmp_path, published):
    spec = PUBLISHED[published]
    heads = spec["config"]["decoder_attention_heads"]
    width = 4 * heads  # head_dim 4: every head the alignment lists name still exists
    config = {**spec["config"], "d_model": width, "encoder_ffn_dim": 4 * width, "decoder_ffn_dim": 4 * width}
    if spec["languages"]:
        tokenizer = v3_tokenizer(json.loads((STT_HOME / "ct2/base/tokenizer.json").read_text()))
        ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
        generation = {**spec["generation"], "lang_to_id": {
            c: i for c, i in ids.items() if ids["<|startoftranscript|>"] < i < ids["<|translate|>"]}}
    else:  # small.en's tokenizer is tiny.en's (GPT-2's BPE), without timestamp tokens
        tokenizer = json.loads((STT_HOME / "ct2/tiny.en/tokenizer.json").read_text())
        generation = dict(spec["generation"])
    checkpoint = tmp_path / f"whisper-{published}"
    write_checkpoint(checkpoint, config, generation, tokenizer, synthetic_tensors(config, width))

    # turbo is imported as a user would (the checkpoint's float16, and int8), its graphs' weights
    # in external files as a large checkpoint's must be; the others in float32 only, for speed.
    turbo = published == "large-v3-turbo"
    external = {"STT_MODELS_EXTERNAL_DATA_BYTES": "0"} if turbo else {}
    stt(home, "models", "import", checkpoint, *([] if turbo else ["--precision", "float32"]), env=external)
    model_dir = home / "models" / published  # the name comes from the directory
    precisions = "float16+int8" if turbo else "float32"
    if turbo:
        for graph in ("decoder_model_merged_fp16.onnx", "encoder_model_fp16.onnx"):
            assert (model_dir / "onnx" / f"{graph}_data").is_file(), graph

    written = json.loads((model_dir / "config.json").read_text())
    for key in ("encoder_layers", "decoder_layers", "decoder_attention_heads", "num_mel_bins", "vocab_size"):
        assert written[key] == spec["config"][key], key
    written_generation = json.loads((model_dir / "generation_config.json").read_text())
    assert written_generation["alignment_heads"] == spec["generation"]["alignment_heads"]
    assert written_generation["no_timestamps_token_id"] == spec["generation"]["no_timestamps_token_id"]
    assert written_generation["prev_sot_token_id"] == spec["generation"]["prev_sot_token_id"]
    assert written_generation["begin_suppress_tokens"] == spec["generation"]["begin_suppress_tokens"]
    assert written_generation["suppress_tokens"] == spec["generation"]["suppress_tokens"]
    assert len(written_generation["lang_to_id"]) == spec["languages"]
    if spec["languages"]:
        assert written_generation["lang_to_id"]["<|yue|>"] == spec["tokens"]["<|yue|>"]
        assert written_generation["task_to_id"] == spec["generation"]["task_to_id"]
    vocabulary = json.loads((model_dir / "tokenizer.json").read_text())
    written_ids = {t["content"]: t["id"] for t in vocabulary["added_tokens"]}
    for token, token_id in spec["tokens"].items():
        assert written_ids[token] == token_id, token

    listed = stt(home, "models", "list").stdout
    line = next(l for l in listed.splitlines() if l.startswith(f"{published}\t"))
    languages = f"{spec['languages']} languages" if spec["languages"] else "English only"
    assert f"\t{languages}\t{precisions}\t" in line, line

    # Random weights say nothing sensible, but every step runs: mel bins, language detection
    # over the model's own languages, timestamps and word timing on its heads (greedy, one
    # temperature: random logits would fail every fallback test and only cost time).
    result = transcripts(home, published, tmp_path / "out", ["jfk.flac"], "--beam-size", "1",
                         "--set", "temperature=[0]")["jfk.flac"]
    assert result["duration"] == pytest.approx(11.0, abs=0.1)
    for segment in result["segments"]:
        assert all(0 <= token < spec["config"]["vocab_size"] for token in segment["tokens"])
    if spec["languages"]:
        assert result["language"] in {c.strip("<|>") for c in written_generation["lang_to_id"]}
    if turbo:
        quantized = transcripts(home, published, tmp_path / "int8", ["jfk.flac"], "--precision", "int8",
                                "--beam-size", "1", "--set", "temperature=[0]")["jfk.flac"]
        assert quantized["duration"] == result["duration"]
    if published == "large-v3":
        served_by_its_name(home, tmp_path)


def served_by_its_name(home, tmp_path):
    """`stt serve` lists the imported model with its true name and languages, and a request
    for large-v3 under any of its API names gets it; base stays the default, being larger
    than this reduced-width large-v3."""
    server = Server(tmp_path / "server", [], env={"STT_HOME": str(home)})
    try:
        listed = {m["id"]: m for m in requests.get(server.url("/v1/models"), timeout=30).json()["models"]}
        assert set(listed) == {"base", "tiny.en", "large-v3"}
        assert listed["large-v3"]["languages"] == 100 and listed["large-v3"]["name"] == "Whisper Large V3"
        assert listed["base"]["default"] and listed["base"]["languages"] == 99
        for requested in ("large-v3", "openai/whisper-large-v3", "Systran/faster-whisper-large-v3"):
            answer = requests.get(server.url("/v1/languages"), params={"model": requested}, timeout=30).json()
            assert answer["model"] == "large-v3" and len(answer["languages"]) == 100, requested
        key = server.create_key()["key"]
        with open(fixture_path("jfk.flac"), "rb") as audio:  # greedy, one temperature, as above
            response = requests.post(server.url("/v1/transcribe"), headers=auth(key), files={"file": audio},
                                     data={"model": "whisper-large-v3", "diarize": "false", "beam_size": "1",
                                           "temperature": "0.01", "word_timestamps": "false"}, timeout=300)
        assert response.status_code == 200, response.text
        assert response.json()["model"] == "large-v3"
    finally:
        server.stop()


def test_float16_graphs_of_base_transcribe_like_float32_at_half_the_size(home, tmp_path, base_transcripts):
    stt(home, "models", "import", STT_HOME / "ct2" / "base", "--name", "base-fp16", "--precision", "float16")
    model_dir = home / "models" / "base-fp16"
    assert marker(home, "base-fp16")["precisions"] == ["float16"]
    float16_bytes = graph_bytes(model_dir, "_fp16.onnx")
    float32_bytes = graph_bytes(STT_HOME / "models" / "base", ".onnx")
    print(f"\nbase graphs on disk: float32 {float32_bytes / 1e6:.1f} MB, float16 {float16_bytes / 1e6:.1f} MB")
    assert float16_bytes < 0.51 * float32_bytes

    # The default precision takes the float16 graphs when they are all a model has.
    imported = transcripts(home, "base-fp16", tmp_path / "out", CHECKED_FIXTURES)
    differences = [f for f in CHECKED_FIXTURES if tokens_of(imported[f]) != tokens_of(base_transcripts[f])]
    assert differences == [], f"float16 transcribed these fixtures differently: {differences}"


def test_a_repository_id_is_found_in_the_hugging_face_cache(home, tmp_path):
    """The cache's layout: blobs named by hash, snapshots of symlinks to them, refs/main."""
    cache = tmp_path / "hf" / "hub"
    repo = cache / "models--Systran--faster-whisper-tiny.en"
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for file in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        blob = repo / "blobs" / f"blob-{file}"
        blob.symlink_to(STT_HOME / "ct2" / "tiny.en" / file)
        (snapshot / file).symlink_to(Path("../../blobs") / blob.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    old = repo / "snapshots" / "an-older-revision"  # not the one refs/main names
    old.mkdir()

    env = {"HF_HOME": str(tmp_path / "hf")}
    missing = stt(home, "models", "import", "Systran/faster-whisper-large-v3", check=False, env=env)
    assert missing.returncode == 1 and "is not in the Hugging Face cache" in missing.stderr, missing.stderr

    stt(home, "models", "import", "Systran/faster-whisper-tiny.en", "--name", "tiny-en-copy", "--precision", "int8",
        env=env)
    assert marker(home, "tiny-en-copy")["source"] == "Systran/faster-whisper-tiny.en"
    copy = home / "models" / "tiny-en-copy" / "onnx" / "decoder_model_merged_quantized.onnx"
    assert copy.read_bytes() == (STT_HOME / "models/tiny.en/onnx/decoder_model_merged_quantized.onnx").read_bytes()
    result = transcripts(home, "tiny-en-copy", tmp_path / "out", ["jfk.flac"])["jfk.flac"]
    assert "ask not what your country can do for you" in result["text"]


def onnx_export(tmp_path):
    """tiny.en as a plain optimum export: no cross-attention outputs and no per-audio cross
    cache; plus float16-input graphs, as onnx-community's `*_fp16.onnx` take."""
    import onnx
    from onnx import TensorProto

    export = tmp_path / "whisper-tiny.en-onnx"
    (export / "onnx").mkdir(parents=True)
    source = STT_HOME / "models" / "tiny.en"
    for file in ("config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json"):
        (export / file).write_bytes((source / file).read_bytes())
    encoder = onnx.load(source / "onnx" / "encoder_model.onnx")
    onnx.save(encoder, export / "onnx" / "encoder_model.onnx")
    encoder.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.save(encoder, export / "onnx" / "encoder_model_fp16.onnx")
    decoder = onnx.load(source / "onnx" / "decoder_model_merged.onnx")
    kept = [o for o in decoder.graph.output if not o.name.startswith("cross_attentions.")]
    del decoder.graph.output[:]
    decoder.graph.output.extend(kept)
    del decoder.metadata_props[:]
    onnx.save(decoder, export / "onnx" / "decoder_model_merged.onnx")
    onnx.save(decoder, export / "onnx" / "decoder_model_merged_fp16.onnx")
    return export


def test_an_onnx_export_is_checked_and_copied(home, tmp_path):
    export = onnx_export(tmp_path)
    refused = stt(home, "models", "import", export, "--name", "tiny-onnx", "--precision", "float16", check=False)
    assert refused.returncode == 1 and "take float16" in refused.stderr, refused.stderr

    imported = stt(home, "models", "import", export, "--name", "tiny-onnx")
    assert "cannot time words" in imported.stderr, imported.stderr
    assert marker(home, "tiny-onnx")["source_format"] == "onnx"
    assert marker(home, "tiny-onnx")["precisions"] == ["float32"]  # the float16 pair was refused
    model_dir = home / "models" / "tiny-onnx"
    assert (model_dir / "onnx/encoder_model.onnx").read_bytes() == (export / "onnx/encoder_model.onnx").read_bytes()

    # Transcribes as tiny.en does (one cross cache per beam instead of per audio), but cannot
    # time words, and says so.
    result = transcripts(home, "tiny-onnx", tmp_path / "out", ["jfk.flac"], "--no-word-timestamps")["jfk.flac"]
    reference = transcripts(home, "tiny.en", tmp_path / "ref", ["jfk.flac"], "--no-word-timestamps")["jfk.flac"]
    assert tokens_of(result) == tokens_of(reference)
    words = stt(home, "transcribe", fixture_path("jfk.flac"), "--model", "tiny-onnx", check=False)
    assert words.returncode == 1 and "cannot time words" in words.stderr, words.stderr


def test_bad_sources_are_refused_with_one_clear_line(home, tmp_path):
    for source, message in [
        (tmp_path / "nothing-here", "neither a directory nor a Hugging Face repository id"),
        (FIXTURES, "is not a Whisper model"),
    ]:
        result = stt(home, "models", "import", source, check=False)
        assert result.returncode == 1, result.stderr
        assert message in result.stderr, result.stderr
    result = stt(home, "models", "import", STT_HOME / "ct2" / "base", "--name", "../escape", check=False)
    assert result.returncode == 1 and "not a usable model name" in result.stderr
    result = stt(home, "models", "import", STT_HOME / "ct2" / "base", "--precision", "float8", check=False)
    assert result.returncode == 1 and "float8" in result.stderr
    assert sorted(p.name for p in (home / "models").iterdir()) == ["base", "silero-vad", "tiny.en"]
