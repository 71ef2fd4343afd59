"""Throughput of the Python SDK against the `stt` CLI on the same file, model and options:
the cost of going through Python (issue target: within 5%).

Each run is a fresh process that loads the model and transcribes the file once, so both sides
pay the same start-up; runs alternate CLI / Python to share the machine's state. Reported:
wall time per run, the medians and the ratio python/cli, and whether both produced the same
text (they run the same engine and defaults, so they must).

usage: benches/sdk_python.py [--python $STT_HOME/sdk-test-venv/bin/python] [--runs 3]
           [--model base] [FILE ...]
The Python must have the SDK installed (scripts/test_python_sdk.sh makes that venv).
Writes benches/out/sdk_python.json and .md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))
STT_HOME = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt"))
DEFAULT_FILES = ["en_librivox_sonnets_001_002_106s.mp3", "jfk.flac"]

PYTHON_RUN = """
import json, sys, stt
transcript = stt.Whisper(sys.argv[1]).transcribe(sys.argv[2])
print(json.dumps({"text": transcript.text}))
"""


def timed(command):
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)["text"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=DEFAULT_FILES)
    parser.add_argument("--python", default=str(STT_HOME / "sdk-test-venv" / "bin" / "python"))
    parser.add_argument("--stt", default=str(REPO / "target" / "release" / "stt"))
    parser.add_argument("--model", default="base")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    rows = []
    for name in args.files:
        path = Path(name) if Path(name).is_file() else FIXTURES / name
        cli_command = [args.stt, "transcribe", str(path), "--model", args.model]
        python_command = [args.python, "-c", PYTHON_RUN, args.model, str(path)]
        timed(python_command)  # warm the page cache and the model files
        cli, python, texts = [], [], set()
        for _ in range(args.runs):
            seconds, text = timed(cli_command)
            cli.append(seconds)
            texts.add(("cli", text))
            seconds, text = timed(python_command)
            python.append(seconds)
            texts.add(("python", text))
        same_text = len({text for _, text in texts}) == 1
        row = {
            "file": path.name,
            "cli_s": [round(s, 3) for s in cli],
            "python_s": [round(s, 3) for s in python],
            "cli_median_s": round(statistics.median(cli), 3),
            "python_median_s": round(statistics.median(python), 3),
            "ratio_python_over_cli": round(statistics.median(python) / statistics.median(cli), 3),
            "same_text": same_text,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    out = REPO / "benches" / "out"
    out.mkdir(parents=True, exist_ok=True)
    report = {"model": args.model, "runs": args.runs, "cpus": os.cpu_count(), "files": rows}
    (out / "sdk_python.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# Python SDK vs `stt` CLI ({args.model}, default options, {args.runs} runs each, "
        f"{os.cpu_count()} CPUs)",
        "",
        "| file | CLI median s | Python median s | Python / CLI | same text |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['file']} | {row['cli_median_s']} | {row['python_median_s']} | "
            f"{row['ratio_python_over_cli']} | {row['same_text']} |"
        )
    (out / "sdk_python.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(row["same_text"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
