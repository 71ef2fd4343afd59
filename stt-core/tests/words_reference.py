"""Word timings from faster-whisper on the CTranslate2 original of the same weights.

usage: words_reference.py CT2_DIR OUT.json AUDIO...
Writes {AUDIO: [{"word", "start", "end", "probability"}, ...]} for beam 5, no VAD, as in the
Rust test.
"""

import json
import sys

from faster_whisper import WhisperModel


def main():
    ct2_dir, out, *audios = sys.argv[1:]
    model = WhisperModel(ct2_dir, device="cpu", compute_type="float32")
    words = {}
    for audio in audios:
        segments, _ = model.transcribe(audio, beam_size=5, word_timestamps=True, vad_filter=False)
        words[audio] = [
            {"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
            for segment in segments
            for w in segment.words
        ]
    with open(out, "w") as f:
        json.dump(words, f)


if __name__ == "__main__":
    main()
