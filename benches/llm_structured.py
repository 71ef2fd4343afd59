"""Every structured answer of the text endpoints must be valid JSON of its documented shape.
Runs each structured type (six analyses, four generated types) on 20 different texts (the
reference transcripts of the fixtures and the sentences of benches/llm_eval) through a running
server, checks each answer against its shape, and reports valid/tries per type and seconds per
call.

    python benches/llm_structured.py --url http://127.0.0.1:PORT --key KEY [--model NAME] [--tries 20]
"""

import argparse
import csv
import json
import pathlib
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
MANIFEST = ROOT.parent / "shared" / "fixtures" / "audio" / "MANIFEST.tsv"


def strings(value):
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def optional_string(value):
    return value is None or isinstance(value, str)


SHAPES = {
    ("analyze", "sentiment"): lambda r: r.keys() == {"label", "reason"}
    and r["label"] in {"positive", "negative", "neutral"} and isinstance(r["reason"], str),
    ("analyze", "topics"): lambda r: r.keys() == {"topics"} and strings(r["topics"]),
    ("analyze", "entities"): lambda r: r.keys() == {"entities"} and all(
        e.keys() == {"text", "type"} and e["type"] in
        {"person", "organization", "location", "date", "product", "event", "other"}
        for e in r["entities"]),
    ("analyze", "action_items"): lambda r: r.keys() == {"action_items"} and all(
        a.keys() == {"task", "owner", "due"} and isinstance(a["task"], str)
        and optional_string(a["owner"]) and optional_string(a["due"]) for a in r["action_items"]),
    ("analyze", "questions"): lambda r: r.keys() == {"questions"} and strings(r["questions"]),
    ("analyze", "pii_redact"): lambda r: r.keys() == {"redacted_text", "entities"}
    and isinstance(r["redacted_text"], str) and all(
        e.keys() == {"type", "text", "start", "end", "source"} for e in r["entities"]),
    ("generate", "key_quotes"): lambda r: r.keys() == {"quotes"} and strings(r["quotes"]),
    ("generate", "flashcards"): lambda r: r.keys() == {"flashcards"} and len(r["flashcards"]) > 0
    and all(c.keys() == {"front", "back"} for c in r["flashcards"]),
    ("generate", "quiz"): lambda r: r.keys() == {"questions"} and len(r["questions"]) > 0 and all(
        q.keys() == {"question", "options", "answer"} and len(q["options"]) == 4
        and strings(q["options"]) and q["answer"] in range(4) for q in r["questions"]),
    ("generate", "chapter_markers"): lambda r: r.keys() == {"chapters"} and len(r["chapters"]) > 0
    and all(c.keys() == {"start", "title"} and isinstance(c["start"], (int, float)) for c in r["chapters"]),
}


def texts(count):
    found = []
    with open(MANIFEST, encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            if row["language"] == "en" and len(row["reference_text"]) > 80:
                found.append(row["reference_text"])
    for name in ("sentiment.jsonl", "pii.jsonl"):
        for line in (ROOT / "benches" / "llm_eval" / name).read_text().splitlines():
            found.append(json.loads(line)["text"])
    return found[:count]


def call(url, key, path, body):
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model")
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    inputs = texts(args.tries)
    rows, failed = [], False
    for (endpoint, kind), valid in SHAPES.items():
        good, seconds, example = 0, 0.0, ""
        for text in inputs:
            body = {"text": text, "type": kind, **({"model": args.model} if args.model else {})}
            started = time.monotonic()
            try:
                result = call(args.url, args.key, f"/v1/{endpoint}", body)["result"]
                ok = valid(result)
            except (urllib.error.URLError, KeyError, ValueError, TypeError, AttributeError) as error:
                ok, result = False, repr(error)
            seconds += time.monotonic() - started
            good += ok
            if not ok and not example:
                example = json.dumps(result)[:200]
        failed |= good < len(inputs)
        rows.append((f"{endpoint} {kind}", good, len(inputs), seconds / len(inputs), example))
        print(f"{endpoint} {kind}: {good}/{len(inputs)} valid, {seconds / len(inputs):.1f} s a call", flush=True)
    print("\n| type | valid | s/call |\n|---|---|---|")
    for name, good, tries, per_call, _ in rows:
        print(f"| {name} | {good}/{tries} | {per_call:.1f} |")
    for name, _, _, _, example in rows:
        if example:
            print(f"first invalid answer of {name}: {example}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
