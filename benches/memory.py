"""Peak memory of `stt` against faster-whisper on the same weights, as the input grows: 3 min, 1 h, 3 h.

Memory should not grow with the input's length: the target is a 3 h peak RSS within +25 % of
the 3 min one, with WER unchanged. Each engine transcribes each length once, in a fresh
process, ours and theirs alternating; reported are wall time (model load included), real-time
factor, peak RSS (`/usr/bin/time`), WER, the ratio ours/theirs of the peak, and each engine's
peak over its own peak on the shortest length measured (3 min by default).

Both run the base model from the same CTranslate2 directory (`$STT_HOME/ct2/base`; ours as the
converter's ONNX graphs of it), fp32, with the options `stt transcribe` uses by default and
faster-whisper given the same: beam 5, language detection, voice activity filtering and word
timestamps on. faster-whisper gets `cpu_threads=2`; the CLI has no thread flag, so ONNX
Runtime uses one thread per physical core (2 on the reference machine). The commands are
speed.py's.

Audio: the English fixtures (each recording once, as in speed.py) with 0.5 s of silence after
each, repeated in order until the length is reached, written as 44.1 kHz stereo MP3 (a
typical upload: decoding, channel mixing and resampling all run). They are built once with
ffmpeg into `$STT_HOME/bench-audio/`. The reference of a long file is the fixtures' references
in the same order; WER is of the whole text against it.

usage: python benches/memory.py [--lengths 3,60,180] [--engines stt,faster-whisper]
           [--stt target/release/stt]
Writes benches/out/memory.md and benches/out/memory.json.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import OUT, REPO, STT_HOME, ours, theirs  # noqa: E402  (the same commands and timing)
from wer import words  # noqa: E402

AUDIO = STT_HOME / "bench-audio"
GAP_S = 0.5
PRECISION = "float32"


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *map(str, args)], check=True)


def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True)
    return float(out.stdout.strip() or 0)


def pieces(fixtures, rows):
    """Each fixture as 44.1 kHz stereo PCM with the gap after it, and its length in seconds:
    one format for all, so that the concat demuxer can join them without re-timing."""
    out = []
    for row in rows:
        path = AUDIO / "pieces" / (Path(row["file"]).stem + ".wav")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            ffmpeg("-i", fixtures / row["file"], "-af", f"apad=pad_dur={GAP_S}", "-ar", 44100,
                   "-ac", 2, "-c:a", "pcm_s16le", path)
        with wave.open(str(path)) as w:
            out.append((path, w.getnframes() / w.getframerate(), row["reference_text"]))
    return out


def long_file(parts, minutes):
    """The fixtures cycled until `minutes` is reached, as MP3 (built once), its reference and
    length."""
    chosen, total = [], 0.0
    while total < minutes * 60:
        part = parts[len(chosen) % len(parts)]
        chosen.append(part)
        total += part[1]
    path = AUDIO / f"english_{minutes}min.mp3"
    # A cached file is reused only when it is complete (an interrupted build is shorter).
    if not path.exists() or abs(duration(path) - total) > 1:
        listing = AUDIO / f"english_{minutes}min.txt"
        listing.write_text("".join(f"file '{p}'\n" for p, _, _ in chosen))
        partial = path.with_suffix(".part.mp3")
        ffmpeg("-f", "concat", "-safe", 0, "-i", listing, "-c:a", "libmp3lame", "-b:a", "128k",
               partial)
        partial.rename(path)
    return path, " ".join(text for _, _, text in chosen), duration(path)


def long_wer(reference, hypothesis):
    """wer.wer, with the same normalisation and edit distance, but a row of the distance table
    at a time in numpy: the pure-Python table of a 3 h text (~30k words each side) would take
    longer than the transcription. The insertions along a row are a running minimum:
    row[j] = min over k <= j of (candidate[k] + j - k)."""
    ref, hyp = words(reference), words(hypothesis)
    ids = {w: i for i, w in enumerate(set(ref) | set(hyp))}
    hyp_ids = np.array([ids[w] for w in hyp], dtype=np.int64)
    steps = np.arange(len(hyp) + 1)
    row = steps.copy()
    for i, word in enumerate(ref, 1):
        candidate = np.empty_like(row)
        candidate[0] = i
        candidate[1:] = np.minimum(row[1:] + 1, row[:-1] + (hyp_ids != ids[word]))
        row = np.minimum.accumulate(candidate - steps) + steps
    return int(row[-1]) / max(1, len(ref))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stt", default=REPO / "target" / "release" / "stt", type=Path)
    parser.add_argument("--fixtures", default=REPO.parent / "shared" / "fixtures" / "audio", type=Path)
    parser.add_argument("--lengths", default="3,60,180", help="minutes, comma-separated")
    parser.add_argument("--engines", default="stt,faster-whisper")
    args = parser.parse_args()
    lengths = sorted(int(m) for m in args.lengths.split(","))
    engines = args.engines.split(",")
    runners = {"stt": lambda path: ours(args.stt, path, PRECISION),
               "faster-whisper": lambda path: theirs(path, PRECISION)}
    if unknown := set(engines) - set(runners):
        sys.exit(f"unknown engines: {', '.join(sorted(unknown))}")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(args.fixtures / "MANIFEST.tsv", newline="", encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    # speed.py's selection: each English recording once (the sonnet clip comes in many
    # containers; the 106 s file repeats it), no two-speaker recordings.
    english = [r for r in rows if r["language"] == "en" and not r["file"].startswith("2spk_")
               and ("first9s" not in r["file"] or r["file"].endswith("first9s.flac"))
               and "106s" not in r["file"]]
    parts = pieces(args.fixtures, english)

    results = []
    for minutes in lengths:
        path, reference, seconds = long_file(parts, minutes)
        row = {"minutes": minutes, "seconds": seconds, "reference_words": len(words(reference))}
        for engine in engines:
            print(f"{engine} on {path.name} ...", file=sys.stderr, flush=True)
            text, wall, rss = runners[engine](path)
            row.update({f"{engine}_wall_s": wall, f"{engine}_rtf": wall / seconds,
                        f"{engine}_rss_mb": rss, f"{engine}_wer": long_wer(reference, text)})
            # Growth against the shortest length, which comes first.
            row[f"{engine}_rss_growth"] = rss / results[0][f"{engine}_rss_mb"] if results else 1.0
        if len(engines) == 2:
            row["rss_ratio"] = row["stt_rss_mb"] / row["faster-whisper_rss_mb"]
        results.append(row)
        print(json.dumps(row), flush=True)

    base = lengths[0]
    cell = lambda r, key, fmt: format(r[key], fmt) if key in r else "–"
    lines = [
        "# Peak memory by input length: stt vs faster-whisper (base, fp32, beam 5, VAD, word timestamps, CPU)",
        "", f"One fresh process per engine and length on {os.cpu_count()} cores; wall time includes "
        f"loading the model. Growth: peak RSS over the engine's own peak at {base} min "
        "(target for stt: at most 1.25 at 180 min).", "",
        "| audio | stt s (RTF) | f-w s (RTF) | stt RSS MB | f-w RSS MB | RSS ratio "
        f"| stt growth vs {base} min | f-w growth vs {base} min | stt WER | f-w WER |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        speed = {e: f"{r[f'{e}_wall_s']:.1f} ({r[f'{e}_rtf']:.3f})" if f"{e}_wall_s" in r else "–"
                 for e in runners}
        werp = {e: f"{100 * r[f'{e}_wer']:.1f} %" if f"{e}_wer" in r else "–" for e in runners}
        lines.append(
            f"| {r['minutes']} min ({r['seconds']:.0f} s) | {speed['stt']} | {speed['faster-whisper']} "
            f"| {cell(r, 'stt_rss_mb', '.0f')} | {cell(r, 'faster-whisper_rss_mb', '.0f')} "
            f"| **{cell(r, 'rss_ratio', '.2f')}** | **{cell(r, 'stt_rss_growth', '.2f')}** "
            f"| {cell(r, 'faster-whisper_rss_growth', '.2f')} | {werp['stt']} | {werp['faster-whisper']} |")
    (OUT / "memory.md").write_text("\n".join(lines) + "\n")
    (OUT / "memory.json").write_text(json.dumps(results, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
