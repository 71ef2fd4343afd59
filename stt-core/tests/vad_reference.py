"""Reference results for the Rust VAD tests, from faster-whisper's own vad.py.

usage: vad_reference.py SAMPLES_F32LE MODEL OUR_PROBABILITIES_F32LE OUT_JSON
Reads 16 kHz mono float32 samples (the engine's own decoded audio), the Silero model the engine
runs, and the engine's speech probabilities for the samples. Writes OUT_JSON with:
  probabilities                 MODEL run through faster-whisper's framing (SileroVADModel.__call__)
  spans_from_probabilities      get_speech_timestamps on those, default options
  cases                         [{options, spans}]: get_speech_timestamps fed the engine's
                                probabilities, for several option sets
  time_map                      [{samples, is_end, original}]: SpeechTimestampsMap of the first
                                case's spans, for times given as samples / 16000
  faster_whisper_probabilities  faster-whisper's bundled model (its own export of Silero VAD)
  faster_whisper_spans          get_speech_timestamps with that model, default options
"""

import json
import sys

import numpy as np
import onnxruntime
from faster_whisper import vad

SAMPLE_RATE = 16000

# Option sets that take every path of get_speech_timestamps on real speech.
CASES = [
    {},
    {"min_silence_duration_ms": 100, "speech_pad_ms": 30},
    {"max_speech_duration_s": 5.0, "min_silence_duration_ms": 500},
    {"max_speech_duration_s": 2.0, "min_speech_duration_ms": 250, "speech_pad_ms": 100},
    {"threshold": 0.6, "neg_threshold": 0.5, "min_silence_duration_ms": 200, "speech_pad_ms": 0},
]


class FrameByFrame:
    """Stands in for the session of faster-whisper's SileroVADModel: receives its framed
    [frames, 576] input and runs `silero_vad.onnx` (state [2, 1, 128]) one frame at a time."""

    def __init__(self, path):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.state = np.zeros((2, 1, 128), dtype=np.float32)

    def run(self, _outputs, inputs):
        probabilities = []
        rate = np.array(SAMPLE_RATE, dtype=np.int64)
        for frame in inputs["input"]:
            out, self.state = self.session.run(
                None, {"input": frame[None, :], "state": self.state, "sr": rate}
            )
            probabilities.append(out[0, 0])
        return np.array(probabilities, dtype=np.float32), inputs["h"], inputs["c"]


def silero_vad_model(path):
    model = vad.SileroVADModel.__new__(vad.SileroVADModel)
    model.session = FrameByFrame(path)
    return model


def spans_with(model, samples, options):
    vad.get_vad_model = lambda: model
    found = vad.get_speech_timestamps(samples, vad.VadOptions(**options))
    return [[span["start"], span["end"]] for span in found]


def main():
    samples_path, model_path, probabilities_path, out = sys.argv[1:5]
    samples = np.fromfile(samples_path, dtype="<f4")
    ours = np.fromfile(probabilities_path, dtype="<f4")
    bundled = vad.get_vad_model()
    padded = np.pad(samples, (0, 512 - samples.shape[0] % 512))

    reference = silero_vad_model(model_path)
    probabilities = reference(padded.copy())
    spans_from_probabilities = spans_with(silero_vad_model(model_path), samples, {})

    cases = [
        {"options": options, "spans": spans_with(lambda audio: ours, samples, options)}
        for options in CASES
    ]

    chunks = [{"start": start, "end": end} for start, end in cases[0]["spans"]]
    time_map = []
    if chunks:
        ts_map = vad.SpeechTimestampsMap(chunks, SAMPLE_RATE)
        joined = sum(end - start for start, end in cases[0]["spans"])
        grid = list(range(0, joined + SAMPLE_RATE, 320))  # every 20 ms, Whisper's resolution
        for sample in sorted(set(grid + ts_map.chunk_end_sample)):
            for is_end in (False, True):
                original = ts_map.get_original_time(sample / SAMPLE_RATE, is_end=is_end)
                time_map.append({"samples": sample, "is_end": is_end, "original": original})

    result = {
        "probabilities": probabilities.tolist(),
        "spans_from_probabilities": spans_from_probabilities,
        "cases": cases,
        "time_map": time_map,
        "faster_whisper_probabilities": bundled(padded.copy()).tolist(),
        "faster_whisper_spans": spans_with(bundled, samples, {}),
    }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
