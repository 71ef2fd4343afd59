"""Score a running server's /v1/analyze (sentiment, pii_redact) and /v1/translate endpoints on
the hand-written sets in this folder. Python 3.11 standard library only.

usage:
  python benches/llm_eval/evaluate.py --url http://127.0.0.1:PORT --key KEY [--model NAME]
         [--only sentiment,pii,translation] [--limit N] [--json OUT] [--timeout S]
  python benches/llm_eval/evaluate.py --self-test

Prints a Markdown summary. Requests that fail (transport error, non-2xx, or a body that does
not follow the contract) are counted as failures: a failed sentiment item counts as wrong, a
failed PII item finds nothing, a failed translation is scored as an empty hypothesis.

PII matching: a gold item is found when a returned entity of the same type has the same text
(case-folded, surrounding whitespace and trailing punctuation stripped), or when the entity's
span overlaps an occurrence of the gold string by at least 50 % of the gold string's characters.
The entity's span is its start/end when those are valid offsets into the text, otherwise the
first occurrence of its text. A returned entity that matches no gold item of its type is a
false positive. A leak is a gold string that still occurs verbatim in redacted_text.

chrF: sacreBLEU's default chrF (character n-grams 1..6, beta 2, whitespace removed, no word
n-grams): n-gram counts are summed over the corpus, precision and recall are averaged over the
orders that have n-grams on both sides, then combined into F-beta; reported on a 0..100 scale.
"""

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = ["positive", "negative", "neutral"]
PATTERNED = ["email", "phone", "credit_card", "iban", "ip_address", "national_id"]
KINDS = PATTERNED + ["person", "location"]
TARGETS = ["es", "fr", "de", "zh"]
TRAILING_PUNCT = ".,;:!?\"'`»”’…"


# ---------------------------------------------------------------- chrF


def char_ngrams(s, n):
    return Counter(s[i:i + n] for i in range(len(s) - n + 1))


def chrf_stats(hyp, ref, order=6):
    """[hyp_count, ref_count, match_count] per order 1..order, whitespace removed."""
    hyp = "".join(hyp.split())
    ref = "".join(ref.split())
    stats = []
    for n in range(1, order + 1):
        h, r = char_ngrams(hyp, n), char_ngrams(ref, n)
        stats.append([sum(h.values()), sum(r.values()), sum((h & r).values())])
    return stats


def chrf_from_stats(stats, beta=2.0):
    prec = rec = 0.0
    effective = 0
    for n_hyp, n_ref, n_match in stats:
        if n_hyp > 0 and n_ref > 0:
            prec += n_match / n_hyp
            rec += n_match / n_ref
            effective += 1
    if effective == 0:
        return 0.0
    prec /= effective
    rec /= effective
    if prec + rec == 0:
        return 0.0
    b2 = beta * beta
    return 100.0 * (1 + b2) * prec * rec / (b2 * prec + rec)


def corpus_chrf(hyps, refs, order=6, beta=2.0):
    total = [[0, 0, 0] for _ in range(order)]
    for hyp, ref in zip(hyps, refs, strict=True):
        for acc, s in zip(total, chrf_stats(hyp, ref, order)):
            for i in range(3):
                acc[i] += s[i]
    return chrf_from_stats(total, beta)


# ---------------------------------------------------------------- PII matching


def norm(s):
    return s.strip().rstrip(TRAILING_PUNCT).strip().casefold()


def occurrences(text, sub):
    spans, start = [], 0
    while sub:
        i = text.find(sub, start)
        if i < 0:
            break
        spans.append((i, i + len(sub)))
        start = i + 1
    return spans


def entity_span(text, ent):
    start, end = ent.get("start"), ent.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return (start, end)
    value = ent.get("text")
    if isinstance(value, str) and value.strip():
        i = text.find(value.strip())
        if i >= 0:
            return (i, i + len(value.strip()))
    return None


def matches(text, gold, ent):
    """Whether returned entity `ent` matches gold item `gold` (types compared by the caller)."""
    value = ent.get("text")
    if isinstance(value, str) and norm(value) and norm(value) == norm(gold["text"]):
        return True
    span = entity_span(text, ent)
    if span is None:
        return False
    for gs, ge in occurrences(text, gold["text"]):
        overlap = min(ge, span[1]) - max(gs, span[0])
        if overlap > 0 and overlap >= 0.5 * (ge - gs):
            return True
    return False


def score_pii_item(text, gold_items, entities):
    """Returns (found flags per gold item, matched flags per entity)."""
    found = [any(e.get("type") == g["type"] and matches(text, g, e) for e in entities) for g in gold_items]
    matched = [any(e.get("type") == g["type"] and matches(text, g, e) for g in gold_items) for e in entities]
    return found, matched


# ---------------------------------------------------------------- HTTP


class Client:
    def __init__(self, url, key, model, timeout):
        self.url = url.rstrip("/")
        self.key = key
        self.model = model
        self.timeout = timeout
        self.durations = defaultdict(list)  # task -> seconds per request (all requests)
        self.reported = set()

    def post(self, task, path, body):
        """Returns (json body, None) on a 2xx JSON answer, else (None, error string)."""
        if self.model:
            body = dict(body, model=self.model)
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
            method="POST",
        )
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
            data, err = json.loads(raw.decode("utf-8")), None
            if not isinstance(data, dict):
                data, err = None, "response body is not a JSON object"
        except urllib.error.HTTPError as e:
            data, err = None, f"HTTP {e.code}: {error_message(e.read())}"
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            data, err = None, f"request failed: {getattr(e, 'reason', e)}"
        except (ValueError, UnicodeDecodeError) as e:
            data, err = None, f"response is not JSON: {e}"
        self.durations[task].append(time.perf_counter() - t0)
        return data, err

    def report(self, task, err):
        if task not in self.reported:
            self.reported.add(task)
            print(f"[{task}] first failure: {err} (further {task} failures are only counted)", file=sys.stderr)


def error_message(raw):
    try:
        body = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return raw.decode("utf-8", "replace")[:300]
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        return json.dumps(err, ensure_ascii=False)[:300]
    return str(err)[:300]


# ---------------------------------------------------------------- tasks


def load(name, limit):
    with open(HERE / name, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows[:limit] if limit else rows


def run_sentiment(client, rows):
    confusion = {g: Counter() for g in LABELS}
    failures, correct, models, items = 0, 0, Counter(), []
    for row in rows:
        data, err = client.post("sentiment", "/v1/analyze", {"text": row["text"], "type": "sentiment"})
        label = None
        if data is not None:
            result = data.get("result")
            raw = result.get("label") if isinstance(result, dict) else None
            label = raw.strip().lower() if isinstance(raw, str) else None
            if label not in LABELS:
                err, label = f"bad sentiment result: {json.dumps(result, ensure_ascii=False)[:200]}", None
            models[str(data.get("model"))] += 1
        if label is None:
            failures += 1
            client.report("sentiment", err)
        confusion[row["label"]][label or "failed"] += 1
        correct += label == row["label"]
        items.append({"text": row["text"], "gold": row["label"], "predicted": label, "error": err})
    n = len(rows)
    answered = n - failures
    return {
        "items": n,
        "failures": failures,
        "accuracy": correct / n if n else None,
        "accuracy_answered": correct / answered if answered else None,
        "confusion": {g: {p: confusion[g][p] for p in LABELS + ["failed"]} for g in LABELS},
        "models": dict(models),
        "details": items,
    }


def valid_pii_result(result, text):
    if not isinstance(result, dict) or not isinstance(result.get("redacted_text"), str):
        return False
    ents = result.get("entities")
    return isinstance(ents, list) and all(isinstance(e, dict) for e in ents)


def run_pii(client, rows):
    gold_n, found_n, pred_n, tp_n = Counter(), Counter(), Counter(), Counter()
    failures, leaks, leaky_items, offset_mismatch = 0, Counter(), 0, 0
    sources, models, items = Counter(), Counter(), []
    for row in rows:
        text, gold = row["text"], row["pii"]
        for g in gold:
            gold_n[g["type"]] += 1
        data, err = client.post("pii", "/v1/analyze", {"text": text, "type": "pii_redact"})
        result = data.get("result") if data is not None else None
        if data is not None and not valid_pii_result(result, text):
            err = f"bad pii_redact result: {json.dumps(result, ensure_ascii=False)[:200]}"
        if err is not None:
            failures += 1
            client.report("pii", err)
            items.append({"text": text, "error": err, "missed": gold, "false_positives": []})
            continue
        models[str(data.get("model"))] += 1
        entities = result["entities"]
        found, matched = score_pii_item(text, gold, entities)
        for g, f in zip(gold, found):
            found_n[g["type"]] += f
        for e, m in zip(entities, matched):
            kind = e.get("type") if e.get("type") in KINDS else "other"
            pred_n[kind] += 1
            tp_n[kind] += m
            sources[str(e.get("source"))] += 1
            s, t = e.get("start"), e.get("end")
            if not (isinstance(s, int) and isinstance(t, int) and text[s:t] == e.get("text") and 0 <= s < t):
                offset_mismatch += 1
        redacted = result["redacted_text"]
        item_leaks = [g for g in gold if g["text"] in redacted]
        for g in item_leaks:
            leaks[g["type"]] += 1
        leaky_items += bool(item_leaks)
        items.append({
            "text": text,
            "redacted_text": redacted,
            "missed": [g for g, f in zip(gold, found) if not f],
            "false_positives": [e for e, m in zip(entities, matched) if not m],
            "leaked": item_leaks,
        })

    def ratio(a, b):
        return a / b if b else None

    per_kind = {}
    for kind in KINDS + (["other"] if pred_n["other"] else []):
        per_kind[kind] = {
            "gold": gold_n[kind], "found": found_n[kind], "recall": ratio(found_n[kind], gold_n[kind]),
            "predicted": pred_n[kind], "false_positives": pred_n[kind] - tp_n[kind],
            "precision": ratio(tp_n[kind], pred_n[kind]), "leaked": leaks[kind],
        }
    pg = sum(gold_n[k] for k in PATTERNED)
    pf = sum(found_n[k] for k in PATTERNED)
    return {
        "items": len(rows),
        "failures": failures,
        "per_kind": per_kind,
        "patterned_recall": ratio(pf, pg),
        "recall": ratio(sum(found_n.values()), sum(gold_n.values())),
        "precision": ratio(sum(tp_n.values()), sum(pred_n.values())),
        "leaks": sum(leaks.values()),
        "items_with_leaks": leaky_items,
        "no_leaks": sum(leaks.values()) == 0 and failures == 0,
        "entities_by_source": dict(sources),
        "offset_mismatches": offset_mismatch,
        "models": dict(models),
        "details": items,
    }


def run_translation(client, rows):
    by_target = defaultdict(lambda: ([], []))
    failures, fail_by_target, items = 0, Counter(), []
    for row in rows:
        body = {"text": row["text"], "target": row["target"], "source": row["source"]}
        data, err = client.post("translation", "/v1/translate", body)
        hyp = data.get("translated_text") if data is not None else None
        if data is not None and not isinstance(hyp, str):
            err = f"bad translate response: {json.dumps(data, ensure_ascii=False)[:200]}"
        if err is not None:
            failures += 1
            fail_by_target[row["target"]] += 1
            client.report("translation", err)
            hyp = ""
        hyps, refs = by_target[row["target"]]
        hyps.append(hyp)
        refs.append(row["reference"])
        items.append({"target": row["target"], "text": row["text"], "reference": row["reference"],
                      "hypothesis": hyp, "chrf": corpus_chrf([hyp], [row["reference"]]), "error": err})
    per_target = {}
    for t in TARGETS + sorted(set(by_target) - set(TARGETS)):
        if t in by_target:
            hyps, refs = by_target[t]
            per_target[t] = {"items": len(hyps), "failures": fail_by_target[t], "chrf": corpus_chrf(hyps, refs)}
    all_h = [h for hs, _ in by_target.values() for h in hs]
    all_r = [r for _, rs in by_target.values() for r in rs]
    return {
        "items": len(rows),
        "failures": failures,
        "chrf": corpus_chrf(all_h, all_r) if all_h else None,
        "per_target": per_target,
        "details": items,
    }


# ---------------------------------------------------------------- output


def fmt(x, pct=False, digits=3):
    if x is None:
        return "n/a"
    return f"{100 * x:.1f} %" if pct else f"{x:.{digits}f}"


def timing(durations):
    out = {}
    for task, ds in durations.items():
        ds = sorted(ds)
        out[task] = {
            "requests": len(ds),
            "mean_s": statistics.fmean(ds),
            "p50_s": statistics.median(ds),
            "p90_s": ds[min(len(ds) - 1, int(0.9 * len(ds)))],
            "max_s": ds[-1],
            "total_s": sum(ds),
        }
    return out


def print_summary(results):
    lines = ["## LLM evaluation", "", "| set | items | failures | headline |", "|---|---:|---:|---|"]
    if "sentiment" in results:
        s = results["sentiment"]
        lines.append(f"| sentiment | {s['items']} | {s['failures']} | accuracy {fmt(s['accuracy'], True)} |")
    if "pii" in results:
        p = results["pii"]
        lines.append(f"| pii | {p['items']} | {p['failures']} | patterned recall {fmt(p['patterned_recall'], True)}, "
                     f"recall {fmt(p['recall'], True)}, precision {fmt(p['precision'], True)}, leaks {p['leaks']} |")
    if "translation" in results:
        t = results["translation"]
        lines.append(f"| translation | {t['items']} | {t['failures']} | chrF {fmt(t['chrf'], digits=1)} |")

    if "sentiment" in results:
        s = results["sentiment"]
        lines += ["", "### Sentiment", "",
                  f"Accuracy {fmt(s['accuracy'], True)} over all items "
                  f"({fmt(s['accuracy_answered'], True)} over answered ones), {s['failures']} failures.", "",
                  "| gold \\ predicted | " + " | ".join(LABELS + ["failed"]) + " |",
                  "|---|" + "---:|" * (len(LABELS) + 1)]
        for g in LABELS:
            lines.append(f"| {g} | " + " | ".join(str(s["confusion"][g][p]) for p in LABELS + ["failed"]) + " |")

    if "pii" in results:
        p = results["pii"]
        absent = "yes" if p["no_leaks"] else "no" if p["leaks"] else f"not established ({p['failures']} failed requests)"
        lines += ["", "### PII", "",
                  "| kind | gold | found | recall | predicted | false pos. | precision | leaked |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for kind, k in p["per_kind"].items():
            lines.append(f"| {kind} | {k['gold']} | {k['found']} | {fmt(k['recall'], True)} | {k['predicted']} | "
                         f"{k['false_positives']} | {fmt(k['precision'], True)} | {k['leaked']} |")
        lines += ["",
                  f"Patterned recall (email, phone, credit_card, iban, ip_address, national_id): "
                  f"{fmt(p['patterned_recall'], True)}. Leaks: {p['leaks']} gold strings in redacted_text "
                  f"({p['items_with_leaks']} texts); every gold string absent: {absent}. "
                  f"Entities by source: {p['entities_by_source'] or '{}'}; offset mismatches: {p['offset_mismatches']}; "
                  f"failures: {p['failures']}."]

    if "translation" in results:
        t = results["translation"]
        lines += ["", "### Translation (chrF, corpus level)", "", "| target | items | failures | chrF |",
                  "|---|---:|---:|---:|"]
        for tgt, v in t["per_target"].items():
            lines.append(f"| {tgt} | {v['items']} | {v['failures']} | {fmt(v['chrf'], digits=1)} |")
        lines.append(f"| all | {t['items']} | {t['failures']} | {fmt(t['chrf'], digits=1)} |")

    if results.get("timing"):
        lines += ["", "### Seconds per request", "", "| set | requests | mean | p50 | p90 | max |",
                  "|---|---:|---:|---:|---:|---:|"]
        for task, v in results["timing"].items():
            lines.append(f"| {task} | {v['requests']} | {v['mean_s']:.3f} | {v['p50_s']:.3f} | "
                         f"{v['p90_s']:.3f} | {v['max_s']:.3f} |")
    print("\n".join(lines))


# ---------------------------------------------------------------- self-test


def self_test():
    checks = []

    def close(name, got, want, tol=1e-9):
        ok = abs(got - want) <= tol
        checks.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: got {got:.6f}, want {want:.6f}")

    close("identical strings", corpus_chrf(["The meeting starts at ten."], ["The meeting starts at ten."]), 100.0)
    close("identical, whitespace ignored", corpus_chrf(["会议 十点 开始"], ["会议十点开始"]), 100.0)
    close("disjoint strings", corpus_chrf(["abc"], ["xyz"]), 0.0)
    close("empty hypothesis", corpus_chrf([""], ["abc"]), 0.0)
    # hyp "ab c" -> "abc", ref "abd": 1-grams P=R=2/3, 2-grams P=R=1/2, 3-grams P=R=0 (3 effective
    # orders) -> mean P = mean R = 7/18, and F_beta of equal P and R is that value.
    close("partial, symmetric (7/18)", corpus_chrf(["ab c"], ["abd"]), 100 * 7 / 18)
    # hyp "aab", ref "ab": 1-grams P=2/3 R=1, 2-grams P=1/2 R=1, 3-grams none in ref (skipped)
    # -> P=7/12, R=1, F2 = 5*P*R/(4P+R) = (35/12)/(40/12) = 0.875.
    close("partial, asymmetric (87.5)", corpus_chrf(["aab"], ["ab"]), 87.5)
    # Corpus level sums counts before dividing: ["ab","ab"] vs ["ab","cd"] gives 1-grams 2/4,
    # 2-grams 1/2 on both sides -> 50, not the mean of the sentence scores (100 and 0).
    close("corpus pools counts (50)", corpus_chrf(["ab", "ab"], ["ab", "cd"]), 50.0)
    # Values printed by sacrebleu's CHRF() in the Hugging Face chrF metric card examples.
    close("sacrebleu published example 1",
          corpus_chrf(["The relationship between Obama and Netanyahu is not exactly friendly."],
                      ["The ties between Obama and Netanyahu are not particularly friendly."]),
          61.576379378113785, 1e-6)
    close("sacrebleu published example 2",
          corpus_chrf(["The relationship between cats and dogs is not exactly friendly.",
                       "a good bookshop is just a genteel black hole that knows how to read."],
                      ["The relationship between dogs and cats is not exactly friendly.",
                       "A good bookshop is just a genteel Black Hole that knows how to read."]),
          84.64214891738334, 1e-6)

    # PII matcher sanity.
    text = "Call Maria Lopez on +44 20 7946 0958."
    gold = [{"type": "person", "text": "Maria Lopez"}, {"type": "phone", "text": "+44 20 7946 0958"}]
    ents = [{"type": "person", "text": "Maria Lopez.", "start": 5, "end": 17},
            {"type": "phone", "text": "20 7946 0958", "start": 24, "end": 36},
            {"type": "location", "text": "Lopez", "start": 11, "end": 16}]
    found, matched = score_pii_item(text, gold, ents)
    ok = found == [True, True] and matched == [True, True, False]
    checks.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} pii matching: found={found} matched={matched}")
    found, _ = score_pii_item(text, gold[:1], [{"type": "person", "text": "Maria", "start": 5, "end": 10}])
    ok = found == [False]
    checks.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} pii matching: 5 of 11 characters is not enough")

    print(f"self-test: {sum(checks)}/{len(checks)} passed")
    return all(checks)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="server base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--key", default="", help="API key sent as 'Authorization: Bearer KEY'")
    ap.add_argument("--model", help="model name added to every request body")
    ap.add_argument("--only", default="sentiment,pii,translation", help="comma-separated subset of sets")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N items of each set")
    ap.add_argument("--json", dest="json_out", help="also write every figure (and per-item details) here")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("--self-test", action="store_true", help="check chrF and PII matching, no server")
    args = ap.parse_args()

    if args.self_test:
        sys.exit(0 if self_test() else 1)
    if not args.url:
        ap.error("--url is required (or use --self-test)")
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - {"sentiment", "pii", "translation"}
    if unknown:
        ap.error(f"unknown set(s) in --only: {', '.join(sorted(unknown))}")

    client = Client(args.url, args.key, args.model, args.timeout)
    results = {"url": args.url, "model_requested": args.model, "limit": args.limit or None}
    t0 = time.perf_counter()
    if "sentiment" in only:
        results["sentiment"] = run_sentiment(client, load("sentiment.jsonl", args.limit))
    if "pii" in only:
        results["pii"] = run_pii(client, load("pii.jsonl", args.limit))
    if "translation" in only:
        results["translation"] = run_translation(client, load("translation.jsonl", args.limit))
    results["wall_s"] = time.perf_counter() - t0
    results["timing"] = timing(client.durations)

    print_summary(results)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=2)
        print(f"\nwrote {args.json_out}")
    requests = sum(v["requests"] for v in results["timing"].values())
    failed = sum(results[k]["failures"] for k in ("sentiment", "pii", "translation") if k in results)
    if requests and failed == requests:
        print("every request failed", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
