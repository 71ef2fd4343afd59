"""`import`: a Whisper model the user already has (a CTranslate2 directory, a transformers
checkpoint, an optimum / onnx-community ONNX export, or a Hugging Face repository id found in
the local Hugging Face cache, offline) installed as DIR/models/NAME."""

import os
import re
import shutil
import time

from . import Failure, log
from .convert import convert_into
from .ct2 import is_ct2_dir, read_ct2_checkpoint
from .layout import MARKER, WHISPER_KIND, publish, temporary_sibling, write_marker
from .onnx_import import import_onnx, is_onnx_dir
from .transformers_whisper import is_transformers_dir, read_transformers_checkpoint

REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def hf_cache():
    """The Hugging Face hub cache, found as huggingface_hub finds it."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "huggingface", "hub")


def cached_snapshot(repo):
    """The snapshot directory of `repo` in the local cache: the one `refs/main` points at, else
    the most recent."""
    folder = os.path.join(hf_cache(), "models--" + repo.replace("/", "--"))
    snapshots = os.path.join(folder, "snapshots")
    if not os.path.isdir(snapshots):
        raise Failure(
            f"{repo} is not in the Hugging Face cache ({hf_cache()}); nothing is downloaded: "
            f"fetch it there first (huggingface-cli download {repo}) or give its directory"
        )
    ref = os.path.join(folder, "refs", "main")
    if os.path.isfile(ref):
        with open(ref, encoding="utf-8") as f:
            revision = f.read().strip()
        if os.path.isdir(os.path.join(snapshots, revision)):
            return os.path.join(snapshots, revision)
    candidates = [os.path.join(snapshots, d) for d in os.listdir(snapshots)]
    candidates = [d for d in candidates if os.path.isdir(d)]
    if not candidates:
        raise Failure(f"{repo} has no snapshot in {snapshots}")
    return max(candidates, key=os.path.getmtime)


def resolve_source(source):
    """(directory, repository id or None) of what the user named."""
    path = os.path.expanduser(source)
    if os.path.isdir(path):
        return os.path.abspath(path), None
    if REPO_ID.fullmatch(source) and not os.path.exists(path):
        return cached_snapshot(source), source
    raise Failure(f"{source!r} is neither a directory nor a Hugging Face repository id (owner/name)")


def default_name(directory, repo):
    """`Systran/faster-whisper-large-v3` -> `large-v3`, `distil-whisper/distil-large-v3` ->
    `distil-large-v3`, `.../whisper-small.en` -> `small.en`."""
    if repo is None:
        parts = os.path.normpath(directory).split(os.sep)
        # A snapshot inside the cache: .../models--owner--name/snapshots/<hash>
        if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
            repo = parts[-3][len("models--"):].replace("--", "/")
    name = (repo.split("/")[-1] if repo else os.path.basename(os.path.normpath(directory))).lower()
    name = name.removeprefix("faster-")
    for suffix in ("-ct2", "-ctranslate2", "-onnx", "-hf"):
        name = name.removesuffix(suffix)
    name = name.replace("whisper-", "").replace("whisper_", "")
    return name


def import_model(source, home, name=None, precision=None):
    directory, repo = resolve_source(source)
    name = name or default_name(directory, repo)
    if not MODEL_NAME.fullmatch(name):
        raise Failure(f"{name!r} is not a usable model name (letters, digits, '.', '_', '-'); pass --name")
    home = os.path.abspath(os.path.expanduser(home))
    model_dir = os.path.join(home, "models", name)
    if os.path.exists(os.path.join(model_dir, MARKER)):
        raise Failure(f"a model called {name!r} is already installed in {model_dir}; remove it or pass --name")
    precisions = [precision] if precision else []
    provenance = {"name": name, "source": repo or directory}
    started = time.monotonic()
    if is_ct2_dir(directory) or is_transformers_dir(directory):
        ct2 = is_ct2_dir(directory)
        checkpoint = read_ct2_checkpoint(directory) if ct2 else read_transformers_checkpoint(directory)
        if not precisions:  # the checkpoint's own precision loses nothing; int8 for speed
            precisions = [checkpoint.stored_dtype(), "int8"]
        log(f"importing {'CTranslate2' if ct2 else 'transformers'} checkpoint {directory} as {name} "
            f"({', '.join(precisions)})")
        convert_into(checkpoint, model_dir, precisions, **provenance,
                     source_format="ctranslate2" if ct2 else "transformers")
    elif is_onnx_dir(directory):
        tmp = temporary_sibling(model_dir)
        try:
            copied = import_onnx(directory, tmp, precisions)
            write_marker(tmp, kind=WHISPER_KIND, **provenance, source_format="onnx", precisions=copied)
            publish(tmp, model_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        raise Failure(
            f"{directory} is not a Whisper model: expected a CTranslate2 directory (model.bin), "
            "a transformers checkpoint (config.json and safetensors or pytorch_model.bin) "
            "or an ONNX export (onnx/encoder_model.onnx)"
        )
    log(f"{name} installed in {model_dir} ({time.monotonic() - started:.0f} s)")
    return model_dir

