"""Speaker diarization of `stt` on the fixtures: diarization error rate, speaker counts, cost.

- 2spk_pyannote_sample.wav against its RTTM: DER by the standard definition (missed speech +
  false alarm + speaker confusion over reference speech, optimal one-to-one speaker mapping,
  overlapped speech scored, 0.25 s collar around each reference boundary not scored), with the
  number of speakers estimated and with `--speakers 2`. The hypothesis is what a user gets:
  the labelled segments of the JSON output.
- 2spk_faster_whisper_stereo_diarization.wav: speakers found by channel and by voice.
- Every single-speaker fixture: how many get exactly one speaker.
- Cost: wall time of `stt transcribe` (base, default beam 5, word timings) with and without
  `--diarize`, alternating, best of N runs, on the two-speaker sample and the 106 s fixture.

usage: python benches/diarization.py [--stt target/release/stt] [--runs 2]
Prints a report and writes benches/out/diarization.json.
"""

import argparse
import csv
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLAR = 0.25
STEP = 0.001  # scoring resolution, seconds


def transcribe(stt, path, *flags):
    started = time.monotonic()
    out = subprocess.run(
        [str(stt), "transcribe", "--model", "base", "--format", "json", *flags, str(path)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout), time.monotonic() - started


def read_rttm(path):
    turns = []
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append((start, start + duration, fields[7]))
    return turns


def diarization_error(reference, hypothesis, collar=COLLAR):
    """(DER, miss, false alarm, confusion) as fractions of scored reference speech."""
    end = max(t[1] for t in reference + hypothesis)
    frames = int(end / STEP) + 1
    ref_speakers = sorted({t[2] for t in reference})
    hyp_speakers = sorted({t[2] for t in hypothesis})
    scored = [True] * frames
    for start, stop, _ in reference:
        for edge in (start, stop):
            for i in range(max(0, int((edge - collar) / STEP)), min(frames, int((edge + collar) / STEP))):
                scored[i] = False

    def activity(turns, speakers):
        active = [[False] * frames for _ in speakers]
        for start, stop, who in turns:
            row = active[speakers.index(who)]
            for i in range(int(start / STEP), min(frames, int(stop / STEP))):
                row[i] = True
        return active

    ref, hyp = activity(reference, ref_speakers), activity(hypothesis, hyp_speakers)
    frames_scored = [i for i in range(frames) if scored[i]]
    ref_count = {i: sum(r[i] for r in ref) for i in frames_scored}
    hyp_count = {i: sum(h[i] for h in hyp) for i in frames_scored}
    total = sum(ref_count.values())
    miss = sum(max(0, ref_count[i] - hyp_count[i]) for i in frames_scored)
    false_alarm = sum(max(0, hyp_count[i] - ref_count[i]) for i in frames_scored)
    # The mapping of hypothesis to reference speakers that maximises agreement.
    agreement = [[sum(ref[r][i] and hyp[h][i] for i in frames_scored) for h in range(len(hyp))]
                 for r in range(len(ref))]
    best = 0
    slots = list(range(len(hyp))) + [None] * len(ref)
    for chosen in itertools.permutations(slots, len(ref)):
        if any(h is not None and list(chosen).count(h) > 1 for h in chosen):
            continue
        best = max(best, sum(agreement[r][h] for r, h in enumerate(chosen) if h is not None))
    confusion = sum(min(ref_count[i], hyp_count[i]) for i in frames_scored) - best
    return tuple(x / total for x in (miss + false_alarm + confusion, miss, false_alarm, confusion))


def labelled_segments(result):
    return [(s["start"], s["end"], s["speaker"]) for s in result["segments"] if s.get("speaker")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stt", default=REPO / "target" / "release" / "stt", type=Path)
    parser.add_argument("--fixtures", default=REPO.parent / "shared" / "fixtures" / "audio", type=Path)
    parser.add_argument("--runs", default=2, type=int)
    args = parser.parse_args()
    fixtures = args.fixtures
    report = {}

    sample = fixtures / "2spk_pyannote_sample.wav"
    reference = read_rttm(fixtures / "2spk_pyannote_sample.rttm")
    for name, flags in (("estimated", ["--diarize"]), ("told_2", ["--diarize", "--speakers", "2"])):
        result, _ = transcribe(args.stt, sample, *flags)
        der, miss, fa, confusion = diarization_error(reference, labelled_segments(result))
        report[f"pyannote_{name}"] = {
            "speakers": len(result["speakers"]), "der": der, "miss": miss,
            "false_alarm": fa, "confusion": confusion,
        }

    stereo = fixtures / "2spk_faster_whisper_stereo_diarization.wav"
    for name, flags in (("by_channel", ["--by-channel"]), ("by_voice", ["--diarize"])):
        result, _ = transcribe(args.stt, stereo, *flags)
        report[f"stereo_{name}"] = {"speakers": len(result["speakers"]),
                                    "segments": [[s["speaker"], s["text"].strip()] for s in result["segments"]]}

    with open(fixtures / "MANIFEST.tsv", newline="") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    single = [r["file"] for r in rows if not r["file"].startswith("2spk_") and "badlastframe" not in r["file"]]
    counts = {}
    for file in single:
        result, _ = transcribe(args.stt, fixtures / file, "--diarize", "--beam-size", "1")
        counts[file] = len(result["speakers"])
    report["single_speaker"] = {"files": len(counts), "exactly_one": sum(c == 1 for c in counts.values()),
                                "counts": counts}

    cost = {}
    for file in ("2spk_pyannote_sample.wav", "en_librivox_sonnets_001_002_106s.mp3"):
        plain, diarized = [], []
        for _ in range(args.runs):
            plain.append(transcribe(args.stt, fixtures / file)[1])
            diarized.append(transcribe(args.stt, fixtures / file, "--diarize")[1])
        cost[file] = {"without_s": min(plain), "with_s": min(diarized),
                      "added": min(diarized) / min(plain) - 1}
    report["cost"] = cost

    out = REPO / "benches" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "diarization.json").write_text(json.dumps(report, indent=2))

    print("## Diarization (base model, CPU)\n")
    for name in ("pyannote_estimated", "pyannote_told_2"):
        r = report[name]
        print(f"- 2spk_pyannote_sample, {name.split('_', 1)[1]}: {r['speakers']} speakers, "
              f"DER {r['der']:.1%} (miss {r['miss']:.1%}, false alarm {r['false_alarm']:.1%}, "
              f"confusion {r['confusion']:.1%}), collar {COLLAR} s")
    for name in ("stereo_by_channel", "stereo_by_voice"):
        print(f"- stereo fixture, {name.split('_', 1)[1].replace('_', ' ')}: {report[name]['speakers']} speakers")
        for speaker, text in report[name]["segments"]:
            print(f"    {speaker}: {text}")
    s = report["single_speaker"]
    print(f"- single-speaker fixtures with exactly one speaker: {s['exactly_one']} of {s['files']}")
    for file, count in s["counts"].items():
        if count != 1:
            print(f"    {file}: {count}")
    for file, c in cost.items():
        print(f"- cost on {file}: {c['without_s']:.2f} s without, {c['with_s']:.2f} s with diarization "
              f"(+{c['added']:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
