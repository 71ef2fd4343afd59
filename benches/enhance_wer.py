"""Does noise removal help transcription? Word error rate of `stt transcribe` on noisy audio
and on the same audio after `stt enhance` (DeepFilterNet3), and the SI-SDR gain against the
clean recording.

Noise: white, and babble (another speaker of the fixtures, looped), each mixed at 0, 5 and
10 dB SNR into the English LibriSpeech fixtures (and at no noise at all: what enhancement
costs clean speech). Everything runs at 48 kHz 16-bit WAV, the enhancer's own rate.

usage: python benches/enhance_wer.py [--model base] [--stt target/release/stt]
Prints a table and writes benches/out/enhance_wer.json.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "python"))
from stt_testing import FIXTURES, edit_distance, words  # noqa: E402
from test_enhance import decode_48k, read_wav, si_sdr, write_wav  # noqa: E402

BABBLE = "en_ljspeech_LJ001-0002.wav"  # a woman reading, under men's voices
SNRS = (None, 10, 5, 0)


def mix(clean, noise, snr_db):
    if snr_db is None:
        return clean
    noise = np.resize(noise, len(clean))
    return clean + noise * np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))


def transcribe(stt, model, path):
    done = subprocess.run([stt, "transcribe", str(path), "--model", model, "--language", "en"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["text"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--stt", default=str(REPO / "target" / "release" / "stt"))
    args = parser.parse_args()
    with open(FIXTURES / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["file"].startswith("en_librispeech") and "8khz" not in r["file"]]
    noises = {
        "white": np.random.default_rng(0).standard_normal(48_000 * 40).astype(np.float32),
        "babble": decode_48k(FIXTURES / BABBLE),
    }
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for noise_name, noise in noises.items():
            for snr in SNRS:
                if snr is None and noise_name != "white":
                    continue
                counts = {"words": 0, "noisy": 0, "enhanced": 0}
                gains = []
                for row in rows:
                    clean = decode_48k(FIXTURES / row["file"])
                    noisy_path, enhanced_path = tmp / "noisy.wav", tmp / "enhanced.wav"
                    noisy = write_wav(noisy_path, mix(clean, noise, snr))
                    subprocess.run([args.stt, "enhance", str(noisy_path), str(enhanced_path)],
                                   check=True, capture_output=True)
                    reference = words(row["reference_text"])
                    counts["words"] += len(reference)
                    for kind, path in (("noisy", noisy_path), ("enhanced", enhanced_path)):
                        heard = words(transcribe(args.stt, args.model, path))
                        counts[kind] += edit_distance(reference, heard)
                    if snr is not None:
                        enhanced = read_wav(enhanced_path)
                        gains.append(si_sdr(enhanced, clean) - si_sdr(noisy, clean))
                result = {
                    "noise": noise_name if snr is not None else "none",
                    "snr_db": snr,
                    "words": counts["words"],
                    "wer_noisy": counts["noisy"] / counts["words"],
                    "wer_enhanced": counts["enhanced"] / counts["words"],
                    "si_sdr_gain_db": float(np.mean(gains)) if gains else None,
                }
                results.append(result)
                gain = f"{result['si_sdr_gain_db']:+.1f} dB" if gains else "-"
                print(f"{result['noise']:7} {str(snr):>4} dB  WER noisy {result['wer_noisy']:6.1%}"
                      f"  enhanced {result['wer_enhanced']:6.1%}  SI-SDR {gain}", flush=True)
    out = REPO / "benches" / "out" / "enhance_wer.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "fixtures": [r["file"] for r in rows],
                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
