"""Parity of `stt` with faster-whisper on the same weights, section by section, in one run.

The reference is faster-whisper on the CTranslate2 originals in $STT_HOME/ct2/<model>
(float32, CPU); ours is the `stt` CLI, called once per section with all of that section's
files (one model load per call). Options are faster-whisper's defaults on both sides unless a
section says otherwise; where our defaults differ (VAD and word timestamps on), the flags
below make both sides run alike. Text is normalised as in benches/wer.py; ja/zh use CER.

  english    all English fixtures, beam 5, VAD off, no word timings: WER per file and pooled
             (pass: ours pooled WER <= theirs); files where a side fell back to sampling
             (temperature > 0; faster-whisper's draws vary run to run) are starred and left
             out of a second, informative pooled WER
  longform   the > 60 s fixtures, beam 5, VAD off: WER (pass: within 1 point of theirs) and
             window checks (no consecutive repeated segment, starts non-decreasing, largest
             gap <= 10 s unless faster-whisper has as large a gap, last end within 8 s of the end)
  words      jfk + LibriSpeech, word timestamps on both sides, beam 5, VAD off: words aligned
             with difflib, mean |start| and |end| difference (pass: both < 60 ms)
  language   every non-English fixture, language auto, VAD off (pass: ours right on all)
  translate  de/es/fr fixtures, task=translate: English? and share of faster-whisper's
             words of >= 5 letters found in ours (pass: English and >= 0.5)
  silence    30 s digital silence and 30 s white noise, ours with DEFAULT options (VAD on),
             faster-whisper with vad_filter on and off (pass: ours empty); the two-speaker
             fixtures with our defaults: segments, max compression ratio (pass: no text 3x)
Wall time per section and side is reported (ours includes its model load; theirs excludes
its one load, printed apart). It is a measurement: the exit status is 0 whatever it finds.

usage: ~/.cache/stt/venv/bin/python benches/parity.py [--model base] [--only SECTION ...]
           [--fixtures DIR] [--stt target/release/stt]
Prints a table per section and a PASS/FAIL summary; writes benches/out/parity.json (sections
run with --only are merged into an existing file).
"""

import argparse
import csv
import difflib
import json
import os
import sys
import tempfile
import time
import wave
import subprocess
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wer import edit_distance, words  # noqa: E402  (same normalisation as benches/wer.py)
from faster_whisper import WhisperModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ["english", "longform", "words", "language", "translate", "silence"]
FOREIGN = {"und", "der", "das", "ist", "nicht", "mit", "ein", "eine", "wurde", "el", "los",
           "las", "del", "que", "una", "por", "muy", "les", "des", "est", "une", "avec", "dans",
           "sous", "il"}
NO_VAD = ["--beam-size", "5", "--no-vad", "--no-word-timestamps"]


def error_rate(ref, hyp, language):
    """(edits, reference length): CER for ja/zh, WER otherwise."""
    if language in ("ja", "zh"):
        ref, hyp = [c for c in ref if c.isalnum()], [c for c in hyp if c.isalnum()]
    else:
        ref, hyp = words(ref), words(hyp)
    return edit_distance(ref, hyp), len(ref)


def pct(edits, total):
    return 100.0 * edits / max(total, 1)


def wait_for_binary(path, timeout=1800):
    """The binary may be missing or being relinked by a concurrent build: wait until it settles."""
    deadline, told = time.time() + timeout, False
    while time.time() < deadline:
        try:
            if os.access(path, os.X_OK) and time.time() - os.stat(path).st_mtime > 5:
                return
        except OSError:
            pass
        if not told:
            print(f"  (waiting for {path} to be built)", flush=True)
            told = True
        time.sleep(5)


def built_at(path):
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(path).st_mtime))
    except OSError:
        return "missing"


def write_wav(path, samples):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


class Bench:
    def __init__(self, args):
        self.args = args
        self.fixtures = Path(args.fixtures)
        with open(self.fixtures / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
            self.rows = list(csv.DictReader(f, delimiter="\t"))
        self.stt_home = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt"))
        self._model, self.load_s = None, 0.0
        self.timing, self.summary, self.section, self.builds = {}, [], None, {}

    def clock(self, side, wall_s, audio_s):
        t = self.timing.setdefault(self.section, {"ours_s": 0.0, "ours_audio_s": 0.0,
                                                  "theirs_s": 0.0, "theirs_audio_s": 0.0})
        t[f"{side}_s"] += wall_s
        t[f"{side}_audio_s"] += audio_s

    def check(self, criterion, ok, detail):
        status = "ERROR" if ok is None else "PASS" if ok else "FAIL"
        self.summary.append({"section": self.section, "criterion": criterion,
                             "status": status, "detail": detail})

    def ours(self, paths, audio_s, flags=()):
        """{file name: full_json dict, or {"error": message}} from one CLI call."""
        with tempfile.TemporaryDirectory() as out:
            cmd = [self.args.stt, "transcribe", *map(str, paths), "--model", self.args.model,
                   "--format", "full_json", "--output-dir", out, *flags]
            stderr = "could not run stt"
            for _ in range(5):
                wait_for_binary(self.args.stt)
                self.builds.setdefault(self.section, set()).add(built_at(self.args.stt))
                start = time.perf_counter()
                try:
                    run = subprocess.run(cmd, capture_output=True, text=True)
                    stderr = run.stderr.strip() or f"exit status {run.returncode}"
                    break
                except OSError as e:  # replaced mid-build (text file busy, vanished)
                    stderr = str(e)
                    time.sleep(10)
            self.clock("ours", time.perf_counter() - start, audio_s)
            results = {}
            for p in paths:
                f = Path(out) / f"{p.name}.json"
                if f.exists():
                    results[p.name] = json.loads(f.read_text())
                else:
                    lines = [ln for ln in stderr.splitlines() if str(p) in ln] or stderr.splitlines()
                    results[p.name] = {"error": lines[0][:300]}
            return results

    def theirs(self, path, audio_s, **options):
        if self._model is None:
            start = time.perf_counter()
            self._model = WhisperModel(str(self.stt_home / "ct2" / self.args.model),
                                       device="cpu", compute_type="float32")
            self.load_s = time.perf_counter() - start
        start = time.perf_counter()
        try:
            segments, info = self._model.transcribe(str(path), **options)
            segments = [{"start": s.start, "end": s.end, "text": s.text,
                         "compression_ratio": s.compression_ratio, "temperature": s.temperature,
                         "words": [{"word": w.word, "start": w.start, "end": w.end}
                                   for w in (s.words or [])]} for s in segments]
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            return {"error": f"{type(e).__name__}: {e}"}
        finally:
            self.clock("theirs", time.perf_counter() - start, audio_s)
        return {"text": "".join(s["text"] for s in segments), "language": info.language,
                "language_probability": info.language_probability, "segments": segments}

    def fixture_rows(self, keep):
        rows = [r for r in self.rows if keep(r)]
        return rows, [self.fixtures / r["file"] for r in rows], sum(float(r["duration_s"]) for r in rows)

    # 1 ------------------------------------------------------------------------------------
    def run_english(self):
        rows, paths, audio = self.fixture_rows(lambda r: r["language"] == "en")
        ours = self.ours(paths, audio, NO_VAD)
        out, tot, steady = [], {"words": 0, "ours": 0, "theirs": 0}, {"words": 0, "ours": 0, "theirs": 0}
        print(f"{'file':<50} {'words':>5} {'stt':>7} {'f-w':>7}   (* = a side fell back to sampling)")
        for r, p in zip(rows, paths):
            o, t = ours[p.name], self.theirs(p, float(r["duration_s"]), beam_size=5)
            ref = words(r["reference_text"])
            oe = len(ref) if "error" in o else edit_distance(ref, words(o["text"]))
            te = len(ref) if "error" in t else edit_distance(ref, words(t["text"]))
            # temperature > 0 samples: faster-whisper's draws differ run to run, so such files are noise
            fallback = any(seg.get("temperature", 0) > 0 for x in (o, t) for seg in x.get("segments", []))
            for totals in (tot, steady) if not fallback else (tot,):
                totals["words"] += len(ref)
                totals["ours"] += oe
                totals["theirs"] += te
            out.append({"file": r["file"], "words": len(ref), "stt_errors": oe, "fw_errors": te,
                        "fallback": fallback, "stt_text": o.get("text", o.get("error")),
                        "fw_text": t.get("text", t.get("error"))})
            note = ("*" if fallback else "") + (f"  {o['error']}" if "error" in o else "")
            print(f"{r['file']:<50} {len(ref):>5} {pct(oe, len(ref)):>6.1f}% {pct(te, len(ref)):>6.1f}%{note}")
        ow, tw = pct(tot["ours"], tot["words"]), pct(tot["theirs"], tot["words"])
        sow, stw = pct(steady["ours"], steady["words"]), pct(steady["theirs"], steady["words"])
        print(f"{'pooled':<50} {tot['words']:>5} {ow:>6.2f}% {tw:>6.2f}%")
        print(f"{'pooled, files without * (informative)':<50} {steady['words']:>5} {sow:>6.2f}% {stw:>6.2f}%")
        self.check("pooled WER ours <= faster-whisper", ow <= tw,
                   f"{ow:.2f}% vs {tw:.2f}% ({sow:.2f}% vs {stw:.2f}% without fallback files)")
        return {"stt_wer": ow, "fw_wer": tw, "totals": tot, "without_fallback": steady, "files": out}

    # 2 ------------------------------------------------------------------------------------
    @staticmethod
    def windows(segments, duration):
        texts = [s["text"].strip() for s in segments]
        pairs = list(zip(segments, segments[1:]))
        return {"segments": len(segments),
                "repeats": sum(1 for a, b in zip(texts, texts[1:]) if a and a == b),
                "starts_ok": all(b["start"] >= a["start"] for a, b in pairs),
                "max_gap": max((b["start"] - a["end"] for a, b in pairs), default=0.0),
                "tail": duration - segments[-1]["end"] if segments else duration}

    def run_longform(self):
        rows, paths, audio = self.fixture_rows(lambda r: float(r["duration_s"]) > 60)
        ours = self.ours(paths, audio, NO_VAD)
        out = []
        print(f"{'file':<46} {'side':<4} {'WER':>6} {'segs':>4} {'rep':>3} {'order':>5} {'gap':>5} {'tail':>5}")
        for r, p in zip(rows, paths):
            duration = float(r["duration_s"])
            sides = {"stt": ours[p.name], "f-w": self.theirs(p, duration, beam_size=5)}
            res = {"file": r["file"]}
            for side, x in sides.items():
                if "error" in x:
                    res[side] = {"error": x["error"]}
                    print(f"{r['file']:<46} {side:<4} {x['error']}")
                    continue
                e, n = error_rate(r["reference_text"], x["text"], r["language"])
                res[side] = {"wer": pct(e, n), **self.windows(x["segments"], duration), "text": x["text"]}
                w = res[side]
                print(f"{r['file']:<46} {side:<4} {w['wer']:>5.1f}% {w['segments']:>4} {w['repeats']:>3} "
                      f"{'ok' if w['starts_ok'] else 'BAD':>5} {w['max_gap']:>5.1f} {w['tail']:>5.1f}")
            o, t = res["stt"], res["f-w"]
            if "error" in o or "error" in t:
                self.check(f"{r['file']}: WER within 1 pt", None, o.get("error") or t.get("error"))
                self.check(f"{r['file']}: windows", None if "error" in o else True, o.get("error", ""))
            else:
                self.check(f"{r['file']}: WER within 1 pt", o["wer"] <= t["wer"] + 1.0,
                           f"{o['wer']:.2f}% vs {t['wer']:.2f}%")
                gap_ok = o["max_gap"] <= 10 or t["max_gap"] >= o["max_gap"] - 2
                ok = o["repeats"] == 0 and o["starts_ok"] and gap_ok and abs(o["tail"]) <= 8
                self.check(f"{r['file']}: windows", ok,
                           f"repeats {o['repeats']}, order {'ok' if o['starts_ok'] else 'BAD'}, "
                           f"max gap {o['max_gap']:.1f} s (f-w {t['max_gap']:.1f}), tail {o['tail']:.1f} s")
            out.append(res)
        return {"files": out}

    # 3 ------------------------------------------------------------------------------------
    def run_words(self):
        rows, paths, audio = self.fixture_rows(
            lambda r: r["file"] == "jfk.flac" or r["file"].startswith("en_librispeech_"))
        ours = self.ours(paths, audio, ["--beam-size", "5", "--no-vad"])
        out, d_start, d_end = [], [], []
        print(f"{'file':<46} {'stt':>4} {'f-w':>4} {'match':>5} {'start ms':>8} {'end ms':>7}")
        for r, p in zip(rows, paths):
            o = ours[p.name]
            t = self.theirs(p, float(r["duration_s"]), beam_size=5, word_timestamps=True)
            if "error" in o or "error" in t:
                print(f"{r['file']:<46} {o.get('error') or t.get('error')}")
                out.append({"file": r["file"], "error": o.get("error") or t.get("error")})
                continue
            lists = [[("".join(words(w["word"])), w["start"], w["end"])
                      for s in x["segments"] for w in (s.get("words") or [])] for x in (o, t)]
            a, b = ([w for w in ws if w[0]] for ws in lists)
            matcher = difflib.SequenceMatcher(None, [w[0] for w in a], [w[0] for w in b], autojunk=False)
            pairs = [(a[m.a + k], b[m.b + k]) for m in matcher.get_matching_blocks() for k in range(m.size)]
            ds = [abs(x[1] - y[1]) * 1000 for x, y in pairs]
            de = [abs(x[2] - y[2]) * 1000 for x, y in pairs]
            d_start += ds
            d_end += de
            ms, me = (np.mean(ds) if ds else float("nan")), (np.mean(de) if de else float("nan"))
            out.append({"file": r["file"], "stt_words": len(a), "fw_words": len(b), "matched": len(pairs),
                        "mean_start_ms": ms, "mean_end_ms": me})
            print(f"{r['file']:<46} {len(a):>4} {len(b):>4} {len(pairs):>5} {ms:>8.1f} {me:>7.1f}")
        ms, me = (float(np.mean(d_start)), float(np.mean(d_end))) if d_start else (float("nan"),) * 2
        print(f"{'all matched words':<46} {'':>4} {'':>4} {len(d_start):>5} {ms:>8.1f} {me:>7.1f}")
        errors = [x["file"] for x in out if "error" in x]
        self.check("word start/end mean |diff| < 60 ms", None if errors else ms < 60 and me < 60,
                   f"start {ms:.1f} ms, end {me:.1f} ms over {len(d_start)} matched words"
                   + (f"; errors on {errors}" if errors else ""))
        return {"mean_start_ms": ms, "mean_end_ms": me, "matched": len(d_start), "files": out}

    # 4 ------------------------------------------------------------------------------------
    def run_language(self):
        rows, paths, audio = self.fixture_rows(lambda r: r["language"] != "en")
        ours = self.ours(paths, audio, NO_VAD)
        out, wrong = [], []
        print(f"{'file':<46} {'ref':<3} {'stt':<10} {'f-w':<10} {'stt ER':>7} {'f-w ER':>7}")
        for r, p in zip(rows, paths):
            o, t = ours[p.name], self.theirs(p, float(r["duration_s"]), beam_size=5)
            res = {"file": r["file"], "expected": r["language"]}
            cells = []
            for side, x in (("stt", o), ("fw", t)):
                if "error" in x:
                    res[side] = {"error": x["error"]}
                    cells.append(("error", "", float("nan")))
                    continue
                e, n = error_rate(r["reference_text"], x["text"], r["language"])
                res[side] = {"language": x["language"], "probability": x["language_probability"],
                             "error_rate": pct(e, n), "text": x["text"]}
                cells.append((x["language"], f"{x['language_probability']:.2f}", pct(e, n)))
            if res["stt"].get("language") != r["language"]:
                wrong.append(f"{r['file']} -> {res['stt'].get('language', res['stt'].get('error'))}")
            out.append(res)
            (ol, op, oe), (tl, tp, te) = cells
            print(f"{r['file']:<46} {r['language']:<3} {ol + ' ' + op:<10} {tl + ' ' + tp:<10} {oe:>6.1f}% {te:>6.1f}%")
        print("(ER: CER for ja/zh, WER otherwise)")
        self.check("ours detects every language", not wrong,
                   f"{len(rows) - len(wrong)}/{len(rows)} right" + (f"; wrong: {wrong}" if wrong else ""))
        return {"files": out}

    # 5 ------------------------------------------------------------------------------------
    def run_translate(self):
        rows, paths, audio = self.fixture_rows(lambda r: r["language"] in ("de", "es", "fr"))
        out = []
        for lang in ("de", "es", "fr"):  # one call per source language (--language applies to all files)
            sub = [(r, p) for r, p in zip(rows, paths) if r["language"] == lang]
            ours = self.ours([p for _, p in sub], sum(float(r["duration_s"]) for r, _ in sub),
                             ["--task", "translate", "--language", lang, *NO_VAD])
            for r, p in sub:
                o = ours[p.name]
                t = self.theirs(p, float(r["duration_s"]), beam_size=5, task="translate", language=lang)
                ot, tt = o.get("text", f"error: {o.get('error')}"), t.get("text", f"error: {t.get('error')}")
                letters = [c for c in ot if c.isalpha()] if "error" not in o else []
                ascii_share = sum(c.isascii() for c in letters) / len(letters) if letters else 0.0
                foreign = sorted(set(words(ot)) & FOREIGN) if "error" not in o else []
                english = ascii_share >= 0.95 and not foreign
                keys = sorted({w for w in words(tt) if len(w) >= 5}) if "error" not in t else []
                have = set(words(ot))
                share = sum(k in have for k in keys) / len(keys) if keys else 1.0
                print(f"{r['file']}\n  stt: {ot.strip()}\n  f-w: {tt.strip()}\n"
                      f"  English: {english} (ASCII {ascii_share:.2f}, foreign words {foreign}); "
                      f"key words {share:.2f} of {len(keys)}")
                out.append({"file": r["file"], "stt_text": ot, "fw_text": tt, "english": english,
                            "ascii_share": ascii_share, "foreign_words": foreign, "key_words": keys,
                            "key_word_share": share})
                self.check(f"{r['file']}: English, key words >= 0.5",
                           None if "error" in o else english and share >= 0.5,
                           f"English {english}, key words {share:.2f}" + (f"; {o['error']}" if "error" in o else ""))
        return {"files": out}

    # 6 ------------------------------------------------------------------------------------
    def run_silence(self):
        tmp = Path(tempfile.mkdtemp(prefix="parity-"))
        write_wav(tmp / "silence_30s.wav", np.zeros(30 * 16000))
        write_wav(tmp / "white_noise_30s.wav", np.random.default_rng(0).normal(0, 0.1, 30 * 16000))
        rows, speakers, sp_audio = self.fixture_rows(lambda r: r["file"].startswith("2spk_"))
        generated = [tmp / "silence_30s.wav", tmp / "white_noise_30s.wav"]
        ours = self.ours(generated + speakers, 60 + sp_audio)  # DEFAULT options (VAD on)
        out = {"generated": [], "two_speaker": []}
        for p in generated:
            o = ours[p.name]
            texts = {"stt (VAD on)": o.get("text", f"error: {o.get('error')}")}
            for vad in (True, False):
                t = self.theirs(p, 30.0, vad_filter=vad)
                texts[f"f-w (VAD {'on' if vad else 'off'})"] = t.get("text", f"error: {t.get('error')}")
            print(p.name)
            for side, text in texts.items():
                print(f"  {side:<15} {text.strip()!r}")
            out["generated"].append({"file": p.name, **texts})
            self.check(f"{p.name}: ours empty", None if "error" in o else not o["text"].strip(),
                       o.get("error") or repr(o["text"].strip()[:80]))
        print(f"{'file':<46} {'side':<4} {'segs':>4} {'max CR':>6} {'loop':>5} {'WER':>6}")
        for r, p in zip(rows, speakers):
            sides = {"stt": ours[p.name],
                     "f-w": self.theirs(p, float(r["duration_s"]), vad_filter=True, word_timestamps=True)}
            res = {"file": r["file"]}
            for side, x in sides.items():
                if "error" in x:
                    res[side] = {"error": x["error"]}
                    print(f"{r['file']:<46} {side:<4} {x['error']}")
                    continue
                texts = [s["text"].strip().lower() for s in x["segments"] if s["text"].strip()]
                loop = any(texts.count(s) >= 3 for s in set(texts))
                cr = max((s["compression_ratio"] for s in x["segments"]), default=0.0)
                e, n = error_rate(r["reference_text"], x["text"], r["language"])
                res[side] = {"segments": len(x["segments"]), "max_compression_ratio": cr, "loop": loop,
                             "wer": pct(e, n), "text": x["text"]}
                print(f"{r['file']:<46} {side:<4} {len(x['segments']):>4} {cr:>6.2f} {str(loop):>5} {pct(e, n):>5.1f}%")
            out["two_speaker"].append(res)
            o = res["stt"]
            self.check(f"{r['file']}: no loop", None if "error" in o else not o["loop"],
                       o.get("error") or f"{o['segments']} segments, max compression ratio "
                                         f"{o['max_compression_ratio']:.2f}")
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--fixtures", default=str(REPO.parent / "shared" / "fixtures" / "audio"))
    parser.add_argument("--stt", default=str(REPO / "target" / "release" / "stt"))
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run this section (repeatable)")
    args = parser.parse_args()
    bench, results = Bench(args), {}
    for name in args.only or SECTIONS:
        print(f"\n== {name} (stt built {built_at(args.stt)}) ==", flush=True)
        bench.section = name
        try:
            results[name] = getattr(bench, f"run_{name}")()
        except Exception as e:  # noqa: BLE001 - a broken section must not stop the others
            import traceback
            traceback.print_exc()
            bench.check("section ran", None, f"{type(e).__name__}: {e}")
            results[name] = {"error": f"{type(e).__name__}: {e}"}
        results[name]["generated_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        results[name]["stt_built_at"] = sorted(bench.builds.get(name, ()))  # rebuilt concurrently

    print("\n== timing (wall s; x = audio s / wall s; ours incl. model load per call) ==")
    print(f"{'section':<10} {'stt s':>7} {'stt x':>6} {'f-w s':>7} {'f-w x':>6} {'speed stt/f-w':>13}")
    for name, t in bench.timing.items():
        ox = t["ours_audio_s"] / t["ours_s"] if t["ours_s"] else 0.0
        tx = t["theirs_audio_s"] / t["theirs_s"] if t["theirs_s"] else 0.0
        t.update(ours_x=ox, theirs_x=tx, speed_ratio=ox / tx if tx else None)
        print(f"{name:<10} {t['ours_s']:>7.1f} {ox:>6.2f} {t['theirs_s']:>7.1f} {tx:>6.2f} "
              f"{(ox / tx if tx else float('nan')):>13.2f}")
    print(f"(faster-whisper model load, once: {bench.load_s:.1f} s; machine load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")

    print("\n== summary ==")
    for c in bench.summary:
        print(f"{c['status']:<5} {c['section']:<9} {c['criterion']}: {c['detail']}")
    counts = {s: sum(c["status"] == s for c in bench.summary) for s in ("PASS", "FAIL", "ERROR")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))

    out = REPO / "benches" / "out"
    out.mkdir(exist_ok=True)
    path = out / "parity.json"
    previous = json.loads(path.read_text()) if args.only and path.exists() else {}
    sections = {**previous.get("sections", {}), **results}
    summary = [c for c in previous.get("summary", []) if c["section"] not in results] + bench.summary
    timing = {**previous.get("timing", {}), **bench.timing}
    path.write_text(json.dumps({"model": args.model, "stt": args.stt, "sections": sections,
                                "timing": timing, "summary": summary},
                               indent=2, ensure_ascii=False, default=float))
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
