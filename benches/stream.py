"""Live streaming through `/v1/stream`, as a real client sees it.

Each English fixture (one copy of each recording) is replayed in real time, 100 ms of PCM per
WebSocket message, into `stt serve` (base model by default), one stream at a time. Then four
streams run at once on the 106 s fixture, and a fifth is tried while they run; the server's
admission by measured capacity decides which run.

Reported per file and overall:
- latency from a word being spoken (the end time the stream gives the word) to the word first
  appearing in a partial (or final) message, and to its final message: median and p90;
- how long after the last audio the last final came (`flush_s`): a stream that keeps up
  ends within about one decode, one that falls behind ends later the longer the file;
- WER of the finals against the reference transcript, and of offline transcription of the
  same file (`stt transcribe`, default options) against the same reference, and of the finals
  against the offline text.

usage: python benches/stream.py [--model base] [--stt target/release/stt] [--files N]
Writes benches/out/stream.json and prints a table.
"""

import argparse
import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import create_key, start_server  # noqa: E402
from wer import wer, words  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))
CHUNK_SECONDS = 0.1
LONG = "en_librivox_sonnets_001_002_106s.mp3"


def english_fixtures():
    """(file, reference) of each English recording once: the container copies of the 9 s
    sonnet and its damaged copy are the same speech."""
    with open(FIXTURES / "MANIFEST.tsv", encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    chosen = []
    for row in rows:
        name = row["file"]
        if row["language"] != "en" or ("first9s" in name and not name.endswith("first9s.flac")):
            continue
        chosen.append((name, row["reference_text"]))
    return chosen


def pcm(path):
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "16000",
         "-"], capture_output=True, check=True).stdout


async def replay(url, key, audio):
    """Streams `audio` in real time; returns the messages with their arrival times (seconds
    since the first audio was sent) and the time the last audio was sent."""
    step = int(32000 * CHUNK_SECONDS)
    received = []
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"},
                                  max_size=None) as ws:
        try:
            await ws.send(json.dumps({"language": "en"}))
        except websockets.ConnectionClosed:
            pass  # refused at once: the reason is waiting to be read
        ready = json.loads(await ws.recv())
        if ready != {"status": "ready"}:
            return {"refused": ready}
        started = time.perf_counter()

        async def send():
            for index, offset in enumerate(range(0, len(audio), step)):
                await ws.send(audio[offset:offset + step])
                due = started + (index + 1) * CHUNK_SECONDS
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await ws.send(json.dumps({"action": "stop"}))
            return time.perf_counter() - started

        sender = asyncio.create_task(send())
        async for message in ws:
            received.append((time.perf_counter() - started, json.loads(message)))
        audio_end = await sender
    return {"messages": received, "audio_end": audio_end}


def latencies(messages):
    """Per final word: (seconds from spoken to first sight, to final). A partial continues the
    finals received before it, so its n-th word is a guess at the final word in that place."""
    finals = []  # (word, spoken at, finalised at), in the normalised words of the WER
    guesses = {}  # place -> {word: when first guessed there}
    for at, message in messages:
        if "text" in message:
            for word in message.get("words", []):
                finals += [(token, word["end"], at) for token in words(word["word"])]
        elif "partial" in message:
            for offset, token in enumerate(words(message["partial"])):
                guesses.setdefault(len(finals) + offset, {}).setdefault(token, at)
    result = []
    for place, (token, spoken, finalised) in enumerate(finals):
        seen = min(guesses.get(place, {}).get(token, finalised), finalised)
        result.append((seen - spoken, finalised - spoken))
    return result


def quantiles(values):
    if not values:
        return {"median": None, "p90": None}
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 3),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3)}




def offline_text(stt, path, model):
    out = subprocess.run([stt, "transcribe", "--model", model, "--format", "txt", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip()


def summarise(name, reference, offline, outcome):
    messages = outcome["messages"]
    finals = " ".join(m["text"] for _, m in messages if "text" in m)
    timing = latencies(messages)
    last_final = max((at for at, m in messages if "text" in m), default=outcome["audio_end"])
    return {
        "file": name,
        "words": len(timing),
        "partial_latency": quantiles([t[0] for t in timing]),
        "final_latency": quantiles([t[1] for t in timing]),
        "flush_s": round(last_final - outcome["audio_end"], 2),
        "wer_stream": round(wer(reference, finals), 4),
        "wer_offline": round(wer(reference, offline), 4),
        "wer_stream_vs_offline": round(wer(offline, finals), 4),
        "_latencies": timing,
        "_ref_words": len(words(reference)),
        "_errors": (round(wer(reference, finals) * len(words(reference))),
                    round(wer(reference, offline) * len(words(reference)))),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--stt", default=str(REPO / "target" / "release" / "stt"))
    parser.add_argument("--files", type=int, default=None, help="only the first N fixtures")
    args = parser.parse_args()

    fixtures = english_fixtures()[:args.files]
    data_dir = tempfile.mkdtemp(prefix="stt-stream-bench-")
    # The server's own admission (measured capacity) decides whether the four and the fifth
    # run.
    server, base = start_server(args.stt, data_dir, args.model)
    try:
        key = create_key(args.stt, data_dir, "--plan", "paid", "--concurrency", "10")
        url = base.replace("http://", "ws://") + "/v1/stream"
        rows = []
        for name, reference in fixtures:
            offline = offline_text(args.stt, FIXTURES / name, args.model)
            outcome = asyncio.run(replay(url, key, pcm(FIXTURES / name)))
            row = summarise(name, reference, offline, outcome)
            rows.append(row)
            print(f"{name:48s} words {row['words']:4d}  partial {row['partial_latency']}  "
                  f"final {row['final_latency']}  flush {row['flush_s']:5.2f} s  "
                  f"WER stream {row['wer_stream']:.3f} offline {row['wer_offline']:.3f}",
                  flush=True)

        concurrent = asyncio.run(four_and_one(url, key, pcm(FIXTURES / LONG)))
    finally:
        server.terminate()
        server.wait()

    all_latencies = [t for row in rows for t in row["_latencies"]]
    ref_words = sum(row["_ref_words"] for row in rows)
    report = {
        "model": args.model,
        "chunk_seconds": CHUNK_SECONDS,
        "cores": os.cpu_count(),
        "overall": {
            "words": len(all_latencies),
            "partial_latency": quantiles([t[0] for t in all_latencies]),
            "final_latency": quantiles([t[1] for t in all_latencies]),
            "max_flush_s": max(row["flush_s"] for row in rows),
            "wer_stream": round(sum(r["_errors"][0] for r in rows) / ref_words, 4),
            "wer_offline": round(sum(r["_errors"][1] for r in rows) / ref_words, 4),
        },
        "files": [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows],
        "concurrent": concurrent,
    }
    out = REPO / "benches" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"overall": report["overall"], "concurrent": concurrent}, indent=2))


async def four_and_one(url, key, audio):
    """Four streams of the long file at once, and a fifth tried once they are running."""
    streams = [asyncio.create_task(replay(url, key, audio)) for _ in range(4)]
    await asyncio.sleep(5)
    fifth = await replay(url, key, audio[:32000])
    outcomes = await asyncio.gather(*streams)
    result = {"fifth": fifth.get("refused", "admitted"), "streams": []}
    for outcome in outcomes:
        if "refused" in outcome:
            result["streams"].append({"refused": outcome["refused"]})
            continue
        timing = latencies(outcome["messages"])
        last = max((at for at, m in outcome["messages"] if "text" in m),
                   default=outcome["audio_end"])
        result["streams"].append({
            "final_latency": quantiles([t[1] for t in timing]),
            "flush_s": round(last - outcome["audio_end"], 2),
        })
    return result


if __name__ == "__main__":
    main()
