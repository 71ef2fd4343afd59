"""Reference values for the unit tests of stt-core/src/alignment.rs.

usage: alignment_reference.py WHISPER_TIMING_PY
WHISPER_TIMING_PY is whisper/timing.py of openai-whisper (`pip download --no-deps openai-whisper`);
its DTW runs here as plain Python (numba stubbed out). The median filter is openai's torch code
in numpy (reflect padding, sort, middle element), and the steps of openai's find_alignment after
the model run on toy attention. Word splitting, merge_punctuations and add_word_timestamps are
faster-whisper's own functions, given a toy vocabulary and prepared alignments.

Inputs come from a 64-bit LCG that the Rust tests reproduce; prints the values they hardcode.
"""

import ast
import sys
import types

import numpy as np
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import WhisperModel, merge_punctuations

EOT = 20
VOCAB = {
    0: b" The",
    1: b" qu",
    2: b"ick",
    3: b' "',
    4: b"fox",
    5: b'"',
    6: b",",
    7: b" jumps",
    8: b".",
    9: b"\xe4\xbd",  # the first two bytes of U+4F60
    10: b"\xa0",  # its last byte
    11: b" ok",
}


def pseudo_random(seed, count):
    state, out = seed, []
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append(state >> 33)
    return out


def load_openai_dtw(path):
    module = ast.parse(open(path).read())
    wanted = [
        node
        for node in module.body
        if isinstance(node, ast.FunctionDef) and node.name in ("backtrace", "dtw_cpu")
    ]
    numba = types.SimpleNamespace(jit=lambda **_: (lambda f: f))
    namespace = {"np": np, "numba": numba}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), path, "exec"), namespace)
    return namespace["dtw_cpu"]


def median_filter(x, width=7):
    """openai's median_filter along the last axis, torch replaced by numpy."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return np.sort(windows, axis=-1)[..., pad]


class ToyTokenizer(Tokenizer):
    eot = EOT

    def __init__(self, language):
        self.language_code = language

    def decode_with_timestamps(self, tokens):
        # Like tiktoken: all bytes joined (specials as their names), invalid UTF-8 replaced.
        pieces = (VOCAB[t] if t < EOT else f"<|{t}|>".encode() for t in tokens)
        return b"".join(pieces).decode("utf-8", errors="replace")


def toy_attention(heads, n_tokens, frames, sot_len, seed):
    """Noise in (0, 1] plus 2 on a band of three frames around 3 * (token - sot_len)."""
    noise = np.array(pseudo_random(seed, heads * n_tokens * frames), dtype=np.uint64)
    p = ((noise % 1000 + 1) / 1000).reshape(heads, n_tokens, frames)
    for t in range(n_tokens):
        for f in range(frames):
            if abs(f - 3 * (t - sot_len)) <= 1:
                p[:, t, f] += 2.0
    return p.astype(np.float32)


def find_alignment(attention, sot_len, text_tokens, text_token_probs, num_frames, tokenizer, dtw):
    """openai's find_alignment from the attention weights on, in numpy float32 like torch."""
    weights = attention[:, :, : num_frames // 2]
    weights = weights / weights.sum(axis=-1, keepdims=True)  # = softmax of the raw scores
    std = weights.std(axis=-2, keepdims=True)
    mean = weights.mean(axis=-2, keepdims=True)
    weights = median_filter((weights - mean) / std)
    matrix = weights.mean(axis=0)[sot_len:-1]
    text_indices, time_indices = dtw((-matrix).astype(np.float64))

    words, word_tokens = tokenizer.split_to_word_tokens(text_tokens + [EOT])
    word_boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / 50
    start_times = jump_times[word_boundaries[:-1]]
    end_times = jump_times[word_boundaries[1:]]
    probs = [
        np.mean(text_token_probs[i:j])
        for i, j in zip(word_boundaries[:-1], word_boundaries[1:])
    ]
    return list(zip(words, word_tokens, start_times.tolist(), end_times.tolist(), probs))


def add_word_timestamps(alignment, segments, time_offset, last_speech_timestamp):
    model = types.SimpleNamespace(frames_per_second=100, find_alignment=lambda *_: [alignment])
    for segment in segments:
        segment["seek"] = round(time_offset * 100)
    prepend, append = "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、"
    last = WhisperModel.add_word_timestamps(
        model, [segments], ToyTokenizer("en"), None, 3000, prepend, append, last_speech_timestamp
    )
    return segments, last


def timing(word, tokens, start, end, probability=0.5):
    return dict(word=word, tokens=tokens, start=start, end=end, probability=probability)


def main():
    dtw = load_openai_dtw(sys.argv[1])

    ties = (np.array(pseudo_random(2, 35)) % 3).astype(np.float32).reshape(5, 7)
    print("dtw ties", ties.tolist(), dtw(ties.astype(np.float64)).tolist())
    noisy = (np.array(pseudo_random(7, 96)) % 1000) / 1000 - 0.5
    noisy = noisy.astype(np.float32).reshape(8, 12)
    print("dtw noisy", dtw(noisy.astype(np.float64)).tolist())

    row = ((np.array(pseudo_random(3, 11)) % 100) / 10).astype(np.float32)
    print("median 11", row.tolist(), median_filter(row).tolist())
    short = ((np.array(pseudo_random(4, 4)) % 100) / 10).astype(np.float32)
    print("median 4", short.tolist(), median_filter(short).tolist())

    for language, tokens in (
        ("en", [0, 1, 2, 3, 4, 5, 6, 7, 8, EOT]),
        ("en", [11, 9, 10, EOT]),
        ("zh", [11, 9, 10, 8, EOT]),
        ("zh", [10, 11, 9, EOT]),  # a stray byte, then a character cut short by the end
        ("zh", [11, 9]),
    ):
        print("split", language, ToyTokenizer(language).split_to_word_tokens(tokens))

    text_tokens = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    attention = toy_attention(2, 3 + 1 + len(text_tokens) + 1, 40, 3, seed=5)
    probs = (np.array(pseudo_random(6, len(text_tokens))) % 1000) / 1000
    probs = probs.astype(np.float32).tolist()
    for word in find_alignment(attention, 3, text_tokens, probs, 61, ToyTokenizer("en"), dtw):
        print("alignment", word)

    alignment = [
        timing(" Hello", [1], 0.0, 1.6),
        timing(" world", [2], 1.6, 1.9),
        timing(".", [8], 1.9, 4.0),
        timing(" Next", [3], 4.0, 6.5),
        timing(" one", [4], 6.5, 6.8),
        timing(" (", [5], 6.8, 6.8),
        timing("yes", [6], 6.8, 7.1),
        timing(")", [7], 7.1, 7.3),
    ]
    # Ids from EOT on (here timestamps) are not text tokens.
    segments = [
        dict(start=10.2, end=16.9, tokens=[50, 1, 2, 8, 3, 4, 60]),
        dict(start=16.8, end=17.3, tokens=[5, 6, 7]),
    ]
    segments, last = add_word_timestamps(alignment, segments, 10.0, 0.0)
    for segment in segments:
        print("window 1", segment["start"], segment["end"], segment["words"])
    print("window 1 last_speech_timestamp", last)

    alignment = [
        timing(" So", [1], 0.0, 2.0),
        timing(" then", [2], 2.0, 3.5),
        timing(" we", [3], 3.5, 3.8),
        timing(" left", [4], 3.8, 4.1),
        timing(" home", [5], 4.1, 4.4),
        timing(" now", [6], 4.4, 9.0),
    ]
    segments = [dict(start=31.5, end=36.0, tokens=[1, 2, 3, 4, 5, 6])]
    segments, last = add_word_timestamps(alignment, segments, 30.0, last)
    for segment in segments:
        print("window 2", segment["start"], segment["end"], segment["words"])
    print("window 2 last_speech_timestamp", last)

    for x in (0.125, 0.375, 2.675, 1.005, 0.015, 0.025, 29.995, -0.001):
        print("round", x, round(x, 2))


if __name__ == "__main__":
    main()
