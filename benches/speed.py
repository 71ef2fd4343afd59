"""Speed, memory and accuracy of `stt` against faster-whisper on the same weights, side by side.

Both run the base model from the same CTranslate2 directory (`$STT_HOME/ct2/base`; ours as the
converter's ONNX graphs of it) on the same audio, with beam 5, language detection, voice
activity filtering and word timestamps on in both, 2 threads, fp32 (faster-whisper `float32`)
and int8 (`int8`). Each measurement is a fresh process, ours and theirs alternating, best of
`--runs`: wall time (model load included, as a user waits for it), real-time factor, peak RSS
(`/usr/bin/time`), WER against the references, and the ratio ours/theirs of each.

Audio: the English fixtures concatenated into one long file (0.5 s of silence between them),
and the 106 s fixture. Then the short clips (every recording under 35 s once, 8 languages)
in one process per engine with language detection: the cost per clip, model load included.

usage: python benches/speed.py [--runs 2] [--stt target/release/stt]
Writes benches/out/speed.md and benches/out/speed.json.
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
from faster_whisper.audio import decode_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wer import wer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STT_HOME = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt"))
OUT = REPO / "benches" / "out"
THREADS = 2
BEAM = 5

THEIRS = """
import json, sys, time
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type=sys.argv[2], cpu_threads=int(sys.argv[4]))
segments, info = model.transcribe(sys.argv[3], beam_size=int(sys.argv[5]), vad_filter=True,
                                  word_timestamps=True)
print(json.dumps({"text": "".join(s.text for s in segments).strip(), "language": info.language}))
"""

THEIRS_CLIPS = """
import json, sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type=sys.argv[2], cpu_threads=int(sys.argv[3]))
for path in sys.argv[5:]:
    segments, info = model.transcribe(path, beam_size=int(sys.argv[4]), vad_filter=True, word_timestamps=True)
    print(json.dumps({"text": "".join(s.text for s in segments).strip(), "language": info.language}))
"""


def timed(command, env=None):
    """(stdout, wall seconds, peak RSS in MB) of one process."""
    run = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if run.returncode != 0:
        sys.exit(f"{command[0]} failed: {run.stderr.strip()[-2000:]}")
    wall, rss_kb = run.stderr.strip().splitlines()[-1].split()
    return run.stdout, float(wall), int(rss_kb) / 1024


def ours(stt, audio, precision):
    out, wall, rss = timed([str(stt), "transcribe", "--model", "base", "--precision", precision,
                            "--beam-size", str(BEAM), "--format", "json", str(audio)])
    return json.loads(out)["text"], wall, rss


def theirs(audio, precision):
    compute_type = {"float32": "float32", "int8": "int8"}[precision]
    out, wall, rss = timed([sys.executable, "-c", THEIRS, str(STT_HOME / "ct2" / "base"), compute_type,
                            str(audio), str(THREADS), str(BEAM)])
    return json.loads(out)["text"], wall, rss


def clips(stt, paths, precision, out_dir):
    """(per-clip seconds, peak RSS MB, texts) of ours and theirs on every clip, one process each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _, wall, rss = timed([str(stt), "transcribe", "--model", "base", "--precision", precision,
                          "--beam-size", str(BEAM), "--format", "txt", "--output-dir", str(out_dir),
                          *map(str, paths)])
    texts = [(out_dir / f"{p.name}.txt").read_text().strip() for p in paths]
    out, their_wall, their_rss = timed([sys.executable, "-c", THEIRS_CLIPS, str(STT_HOME / "ct2" / "base"),
                                        precision, str(THREADS), str(BEAM), *map(str, paths)])
    their_texts = [json.loads(line)["text"] for line in out.splitlines()]
    return (wall / len(paths), rss, texts), (their_wall / len(paths), their_rss, their_texts)


def long_english(fixtures, rows):
    """The English fixtures one after the other as a 16 kHz WAV, and its reference text."""
    path = OUT / "english_long.wav"
    gap = np.zeros(8000, dtype=np.float32)
    pieces, texts = [], []
    for row in rows:
        pieces += [decode_audio(str(fixtures / row["file"])), gap]
        texts.append(row["reference_text"])
    samples = np.concatenate(pieces)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path, " ".join(texts), len(samples) / 16000




def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stt", default=REPO / "target" / "release" / "stt", type=Path)
    parser.add_argument("--fixtures", default=REPO.parent / "shared" / "fixtures" / "audio", type=Path)
    parser.add_argument("--runs", default=2, type=int)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with open(args.fixtures / "MANIFEST.tsv", newline="", encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    # Each recording once: the sonnet clip comes in many containers, the 106 s file is apart.
    english = [r for r in rows if r["language"] == "en" and not r["file"].startswith("2spk_")
               and ("first9s" not in r["file"] or r["file"].endswith("first9s.flac"))
               and "106s" not in r["file"]]
    long_path, long_reference, long_seconds = long_english(args.fixtures, english)
    sonnet = next(r for r in rows if "106s" in r["file"])
    inputs = [("english_long", long_path, long_reference, long_seconds),
              ("sonnets_106s", args.fixtures / sonnet["file"], sonnet["reference_text"],
               float(sonnet["duration_s"]))]

    results = []
    for name, path, reference, seconds in inputs:
        for precision in ("float32", "int8"):
            best = {}
            for _ in range(args.runs):
                for engine, run in (("stt", lambda: ours(args.stt, path, precision)),
                                    ("faster-whisper", lambda: theirs(path, precision))):
                    text, wall, rss = run()
                    kept = best.get(engine)
                    best[engine] = {"wall_s": min(wall, kept["wall_s"]) if kept else wall,
                                    "rss_mb": max(rss, kept["rss_mb"]) if kept else rss,
                                    "wer": wer(reference, text)}
            row = {"audio": name, "seconds": seconds, "precision": precision, **{
                f"{engine}_{key}": value for engine, m in best.items() for key, value in m.items()}}
            row["time_ratio"] = best["stt"]["wall_s"] / best["faster-whisper"]["wall_s"]
            row["rss_ratio"] = best["stt"]["rss_mb"] / best["faster-whisper"]["rss_mb"]
            results.append(row)
            print(json.dumps(row))

    short = [r for r in rows if float(r["duration_s"]) < 35 and not r["file"].startswith("2spk_")
             and ("first9s" not in r["file"] or r["file"].endswith("first9s.flac"))]
    paths = [args.fixtures / r["file"] for r in short]
    clip_rows = []
    for precision in ("float32", "int8"):
        best = None
        for _ in range(args.runs):
            (wall, rss, texts), (their_wall, their_rss, their_texts) = clips(
                args.stt, paths, precision, OUT / "clips")
            if best is None or wall + their_wall < best[0] + best[1]:
                best = (wall, their_wall, rss, their_rss, texts, their_texts)
        wall, their_wall, rss, their_rss, texts, their_texts = best
        english = [i for i, r in enumerate(short) if r["language"] == "en"]
        mean_wer = lambda found: sum(wer(short[i]["reference_text"], found[i]) for i in english) / len(english)
        row = {"clips": len(paths), "precision": precision, "stt_s_per_clip": wall,
               "faster-whisper_s_per_clip": their_wall, "time_ratio": wall / their_wall,
               "stt_rss_mb": rss, "faster-whisper_rss_mb": their_rss, "rss_ratio": rss / their_rss,
               "stt_english_wer": mean_wer(texts), "faster-whisper_english_wer": mean_wer(their_texts)}
        clip_rows.append(row)
        print(json.dumps(row))

    lines = [
        "# stt vs faster-whisper (base, beam 5, VAD, word timestamps, 2 threads, CPU)", "",
        f"Best of {args.runs} fresh processes each, alternating; wall time includes loading the model.", "",
        "| audio | precision | stt s (RTF) | f-w s (RTF) | time ratio | stt RSS MB | f-w RSS MB | RSS ratio | stt WER | f-w WER |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["seconds"]
        lines.append(
            f"| {r['audio']} ({s:.0f} s) | {r['precision']} | {r['stt_wall_s']:.1f} ({r['stt_wall_s'] / s:.3f}) "
            f"| {r['faster-whisper_wall_s']:.1f} ({r['faster-whisper_wall_s'] / s:.3f}) | **{r['time_ratio']:.2f}** "
            f"| {r['stt_rss_mb']:.0f} | {r['faster-whisper_rss_mb']:.0f} | **{r['rss_ratio']:.2f}** "
            f"| {100 * r['stt_wer']:.1f} % | {100 * r['faster-whisper_wer']:.1f} % |")
    lines += [
        "", f"Short clips: {len(paths)} recordings under 35 s (8 languages), one process per engine, "
        "language detected; seconds per clip, model load shared.", "",
        "| precision | stt s/clip | f-w s/clip | time ratio | stt RSS MB | f-w RSS MB | RSS ratio | stt WER (en) | f-w WER (en) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in clip_rows:
        lines.append(
            f"| {r['precision']} | {r['stt_s_per_clip']:.2f} | {r['faster-whisper_s_per_clip']:.2f} "
            f"| **{r['time_ratio']:.2f}** | {r['stt_rss_mb']:.0f} | {r['faster-whisper_rss_mb']:.0f} "
            f"| **{r['rss_ratio']:.2f}** | {100 * r['stt_english_wer']:.1f} % "
            f"| {100 * r['faster-whisper_english_wer']:.1f} % |")
    (OUT / "speed.md").write_text("\n".join(lines) + "\n")
    (OUT / "speed.json").write_text(json.dumps({"long": results, "clips": clip_rows}, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
