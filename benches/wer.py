"""Word error rate of `stt` and faster-whisper on the English fixtures, same weights, one run.

Both decode greedily (beam_size=1) with their default long-form options (temperature
fallback, conditioning on previous text, no VAD). Text is normalised the same way for both:
lower case, punctuation removed (hyphens split words), numbers left as written.

usage: python benches/wer.py [--model base] [--fixtures DIR] [--stt target/release/stt]
Prints a table and writes benches/out/wer.json.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from faster_whisper import WhisperModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "python"))
from stt_testing import edit_distance, wer, words  # noqa: E402,F401  (one normalisation for every WER; benches import it from here)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--fixtures", default=str(REPO.parent / "shared" / "fixtures" / "audio"))
    parser.add_argument("--stt", default=str(REPO / "target" / "release" / "stt"))
    args = parser.parse_args()

    stt_home = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt"))
    fixtures = Path(args.fixtures)
    with open(fixtures / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["language"] == "en"]

    reference_model = WhisperModel(
        str(stt_home / "ct2" / args.model), device="cpu", compute_type="float32"
    )
    results = []
    totals = {"words": 0, "ours": 0, "theirs": 0, "ours_s": 0.0, "theirs_s": 0.0, "audio_s": 0.0}
    print(f"{'file':<50} {'words':>5} {'stt':>7} {'f-w':>7}")
    for row in rows:
        path = fixtures / row["file"]
        start = time.perf_counter()
        run = subprocess.run(
            [args.stt, "transcribe", str(path), "--model", args.model, "--language", "en"],
            capture_output=True, text=True,
        )
        ours_s = time.perf_counter() - start
        if run.returncode != 0:
            sys.exit(f"stt failed on {row['file']}: {run.stderr.strip()}")
        ours = json.loads(run.stdout)["text"]

        start = time.perf_counter()
        segments, _ = reference_model.transcribe(str(path), beam_size=1, language="en")
        theirs = "".join(s.text for s in segments)
        theirs_s = time.perf_counter() - start

        ref = words(row["reference_text"])
        ours_errors = edit_distance(ref, words(ours))
        theirs_errors = edit_distance(ref, words(theirs))
        totals["words"] += len(ref)
        totals["ours"] += ours_errors
        totals["theirs"] += theirs_errors
        totals["ours_s"] += ours_s
        totals["theirs_s"] += theirs_s
        totals["audio_s"] += float(row["duration_s"])
        results.append({"file": row["file"], "words": len(ref), "stt_errors": ours_errors,
                        "faster_whisper_errors": theirs_errors, "stt_text": ours,
                        "faster_whisper_text": theirs})
        print(f"{row['file']:<50} {len(ref):>5} {100 * ours_errors / len(ref):>6.1f}% "
              f"{100 * theirs_errors / len(ref):>6.1f}%")

    ours_wer = 100 * totals["ours"] / totals["words"]
    theirs_wer = 100 * totals["theirs"] / totals["words"]
    print(f"{'all English fixtures':<50} {totals['words']:>5} {ours_wer:>6.2f}% {theirs_wer:>6.2f}%")
    print(f"WER difference (stt - faster-whisper): {ours_wer - theirs_wer:+.2f} points")
    print(f"wall time: stt {totals['ours_s']:.1f} s (incl. model load per file), "
          f"faster-whisper {totals['theirs_s']:.1f} s, ratio {totals['ours_s'] / totals['theirs_s']:.2f}")
    out = REPO / "benches" / "out"
    out.mkdir(exist_ok=True)
    (out / "wer.json").write_text(json.dumps(
        {"model": args.model, "stt_wer": ours_wer, "faster_whisper_wer": theirs_wer,
         "totals": totals, "files": results}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
