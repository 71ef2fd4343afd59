"""Keyword options of :meth:`stt.Whisper.transcribe`: the engine's ``TranscribeOptions``, by
the same names (faster-whisper's). Leave one out to get the engine's default."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, TypedDict, Union

from .errors import InvalidOptionError


class VadParameters(TypedDict, total=False):
    """Thresholds of the voice activity detection (Silero VAD)."""

    threshold: float
    neg_threshold: Optional[float]
    min_speech_duration_ms: int
    max_speech_duration_s: Optional[float]
    min_silence_duration_ms: int
    speech_pad_ms: int


class TranscribeOptions(TypedDict, total=False):
    """Every option of the engine; see the README for meanings and defaults."""

    language: Optional[str]
    task: Literal["transcribe", "translate"]
    beam_size: int
    best_of: int
    patience: float
    length_penalty: float
    temperature: Union[float, Sequence[float]]
    compression_ratio_threshold: Optional[float]
    log_prob_threshold: Optional[float]
    no_speech_threshold: Optional[float]
    condition_on_previous_text: bool
    prompt_reset_on_temperature: float
    initial_prompt: Optional[str]
    prefix: Optional[str]
    hotwords: Optional[str]
    suppress_tokens: List[int]
    suppress_blank: bool
    without_timestamps: bool
    max_initial_timestamp: float
    word_timestamps: bool
    prepend_punctuations: str
    append_punctuations: str
    vad_filter: bool
    vad_parameters: VadParameters
    clip_timestamps: Sequence[float]
    hallucination_silence_threshold: Optional[float]
    max_new_tokens: Optional[int]
    window_padding: Optional[float]
    diarize: bool
    speakers: int
    diarize_by_channel: bool


def options_json(options: Mapping[str, Any]) -> str:
    """The options as the engine reads them; it rejects unknown names and bad values."""
    converted: Dict[str, Any] = dict(options)
    # faster-whisper accepts one temperature as well as a list of fallbacks.
    temperature = converted.get("temperature")
    if isinstance(temperature, (int, float)):
        converted["temperature"] = [float(temperature)]
    elif temperature is not None:
        converted["temperature"] = list(temperature)
    if "vad_parameters" in converted:
        converted["vad_parameters"] = dict(converted["vad_parameters"])
    if "clip_timestamps" in converted:
        converted["clip_timestamps"] = list(converted["clip_timestamps"])
    try:
        return json.dumps(converted, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidOptionError(f"options cannot be encoded: {error}", "invalid_option") from None


__all__ = ["TranscribeOptions", "VadParameters"]
