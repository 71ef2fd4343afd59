"""Reference results for the Rust engine tests, from faster-whisper's feature extractor and
CTranslate2 running the same weights.

usage: reference.py SAMPLES_F32LE CT2_DIR LANGUAGE OUT_PREFIX
Reads 16 kHz mono float32 samples (the engine's own decoded audio), writes OUT_PREFIX.mel80
and OUT_PREFIX.mel128 (float32 [n_mels, frames] of the samples followed by 30 s of silence, as
openai-whisper pads) and OUT_PREFIX.json ({"tokens": greedy tokens of the first window with timestamps}).
"""

import json
import sys

import ctranslate2
import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

N_SAMPLES = 480_000
N_FRAMES = 3000


def main():
    samples_path, ct2_dir, language, out = sys.argv[1:5]
    samples = np.fromfile(samples_path, dtype="<f4")
    model = ctranslate2.models.Whisper(ct2_dir, device="cpu", compute_type="float32")
    for n_mels in (80, 128):
        mel = FeatureExtractor(feature_size=n_mels)(samples, padding=N_SAMPLES).astype(np.float32)
        mel.tofile(f"{out}.mel{n_mels}")
        if n_mels == model.n_mels:
            # As faster-whisper's transcribe(): the window holds the content frames only,
            # zero-padded to 30 s in the feature domain.
            content_frames = min(mel.shape[-1] - N_FRAMES, N_FRAMES)
            window = np.zeros((1, n_mels, N_FRAMES), dtype=np.float32)
            window[0, :, :content_frames] = mel[:, :content_frames]

    tokenizer_prompt = ["<|startoftranscript|>"]
    if model.is_multilingual:
        tokenizer_prompt += [f"<|{language}|>", "<|transcribe|>"]
    result = model.generate(
        ctranslate2.StorageView.from_array(window),
        [tokenizer_prompt],
        beam_size=1,
        suppress_blank=True,
        suppress_tokens=[-1],
        max_initial_timestamp_index=50,
        max_length=448,
    )[0]
    with open(out + ".json", "w") as f:
        json.dump({"tokens": result.sequences_ids[0], "n_mels": int(model.n_mels)}, f)


if __name__ == "__main__":
    main()
