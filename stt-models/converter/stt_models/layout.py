"""Model directories on disk: the marker that completes them, the files they hold, and the
temporary sibling a directory is built in before it is moved into place, so that an
interrupted pull never leaves a directory the Rust store would load."""

import hashlib
import json
import os
import shutil
import tempfile
import time

MARKER = "stt-model.json"
MARKER_FORMAT = 7  # 7: encoder input of any even frame count (short windows); 6: per-channel int8, fused encoder attention, cross cache per audio, logits_to_keep
# The marker's "kind": what the Rust store may load the directory as.
WHISPER_KIND = "whisper"
VAD_KIND = "vad"
SPEAKER_KIND = "speaker"
LLM_KIND = "llm"
EMBEDDING_KIND = "embedding"
ENHANCE_KIND = "enhance"
VOICE_KIND = "voice"

CT2_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")



def write_marker(model_dir, **fields):
    """Writes the marker of a finished directory (last: it makes the directory complete), with
    the list of every file in it."""
    files = sorted(
        os.path.relpath(os.path.join(root, file), model_dir) for root, _, names in os.walk(model_dir) for file in names
    )
    marker = {**fields, "format": MARKER_FORMAT, "files": files,
              "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_json(os.path.join(model_dir, MARKER), marker)


def is_complete(model_dir):
    """True when `model_dir` has a marker and every file the marker lists."""
    try:
        with open(os.path.join(model_dir, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return False
    files = marker.get("files", [])
    return marker.get("format") == MARKER_FORMAT and all(
        os.path.isfile(os.path.join(model_dir, f)) for f in files
    )


def temporary_sibling(path):
    """An empty directory next to `path`, with the permissions a plain mkdir would give."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def publish(tmp_dir, final_dir):
    """Moves a finished temporary directory into place (replacing an incomplete one)."""
    if os.path.exists(final_dir):
        shutil.rmtree(final_dir)
    os.rename(tmp_dir, final_dir)
