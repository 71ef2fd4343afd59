"""Stream options compared on the English fixtures, in simulated real time.

`stt-core/examples/stream_file --simulated` replays each recording through a live session
as `benches/stream.py` does through the server, but skips the time the engine would wait for
audio, so each configuration costs only its compute. Latency and WER are computed as in
`benches/stream.py`; its real-time figures through the server stay the reference.

usage: python benches/stream_sweep.py [--model base] [--files N] NAME=JSON ...
  e.g. 'agreement={"commit": "local_agreement"}' 'align={}'
Writes benches/out/stream_sweep.json and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream import FIXTURES, REPO, english_fixtures, latencies, quantiles  # noqa: E402
from wer import wer, words  # noqa: E402

# Built by `cargo build --release -p stt-core --examples` (scripts/env.sh sets the target).
EXAMPLE = (REPO / "target" / os.environ.get("CARGO_BUILD_TARGET", "") / "release" / "examples"
           / "stream_file")


def run(name, options, model):
    result = subprocess.run(
        [str(EXAMPLE), str(FIXTURES / name), "--simulated", "--json", "--model", model,
         "--options", options], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    busy = float(result.stderr.rsplit("engine busy", 1)[1].split()[0])
    return [(line["at"], line["message"]) for line in lines], busy


def measure(options, fixtures, model):
    timing, errors, reference_words, busy, per_file = [], 0, 0, 0.0, {}
    for name, reference in fixtures:
        messages, seconds = run(name, options, model)
        finals = " ".join(m["text"] for _, m in messages if "text" in m)
        timing += latencies(messages)
        per_file[name] = {"wer": round(wer(reference, finals), 4), "finals": finals}
        errors += round(wer(reference, finals) * len(words(reference)))
        reference_words += len(words(reference))
        busy += seconds
    return {
        "words": len(timing),
        "partial_latency": quantiles([t[0] for t in timing]),
        "final_latency": quantiles([t[1] for t in timing]),
        "wer": round(errors / reference_words, 4),
        "engine_busy_s": round(busy, 1),
        "files": per_file,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--files", type=int, default=None, help="only the first N fixtures")
    parser.add_argument("configurations", nargs="+", help="NAME=JSON of StreamOptions")
    args = parser.parse_args()
    fixtures = english_fixtures()[:args.files]
    report = {"model": args.model, "files": len(fixtures), "configurations": {}}
    for configuration in args.configurations:
        name, options = configuration.split("=", 1)
        row = measure(options, fixtures, args.model)
        report["configurations"][name] = {"options": json.loads(options), **row}
        print(f"{name:20s} partial {row['partial_latency']}  final {row['final_latency']}  "
              f"WER {row['wer']:.3f}  busy {row['engine_busy_s']} s", flush=True)
    out = REPO / "benches" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream_sweep.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
