"""The CTranslate2 `model.bin` reader: Whisper weights without CTranslate2 installed."""

import json
import os
import struct

import numpy as np

from . import Failure, log
from .checkpoints import bfloat16_to_float32
from .whisper_config import Checkpoint

CT2_GELU = 3  # CTranslate2 ActivationType::GELU (exact, erf based)

_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CT2_BFLOAT16 = 5
_CT2_LEGACY_ITEM_SIZES = {1: np.int8, 2: np.int16, 4: np.float32}  # binary versions < 4


class _Cursor:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def unpack(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        length = self.unpack("H")  # includes the trailing NUL
        text = bytes(self.data[self.pos : self.pos + length - 1]).decode("utf-8")
        self.pos += length
        return text

    def take(self, n_bytes):
        chunk = self.data[self.pos : self.pos + n_bytes]
        if len(chunk) != n_bytes:
            raise Failure("model.bin is truncated")
        self.pos += n_bytes
        return chunk


def read_ct2_model(path):
    """Returns (spec name, {variable name: numpy array}) with aliases resolved."""
    with open(path, "rb") as f:
        data = memoryview(f.read())
    cur = _Cursor(data)
    version = cur.unpack("I")
    if not 1 <= version <= 6:
        raise Failure(f"{path}: unsupported CTranslate2 binary version {version}")
    spec = cur.string() if version >= 2 else ""
    if version >= 2:
        cur.unpack("I")  # spec revision
    variables = {}
    for _ in range(cur.unpack("I")):
        name = cur.string()
        rank = cur.unpack("B")
        shape = [cur.unpack("I") for _ in range(rank)]
        if version >= 4:
            dtype_id = cur.unpack("B")
            n_bytes = cur.unpack("I")
            raw = cur.take(n_bytes)
            if dtype_id == _CT2_BFLOAT16:
                array = bfloat16_to_float32(np.frombuffer(raw, dtype=np.uint16))
            elif dtype_id in _CT2_DTYPES:
                array = np.frombuffer(raw, dtype=_CT2_DTYPES[dtype_id])
            else:
                raise Failure(f"{path}: variable {name} has unknown dtype {dtype_id}")
        else:
            item_size = cur.unpack("B")
            n_elements = cur.unpack("I")
            array = np.frombuffer(
                cur.take(item_size * n_elements), dtype=_CT2_LEGACY_ITEM_SIZES[item_size]
            )
        variables[name] = array.reshape(shape)
    if version >= 3:
        for _ in range(cur.unpack("I")):
            alias = cur.string()
            target = cur.string()
            variables[alias] = variables[target]
    return spec, variables


class WhisperWeights:
    """Float32 view of a CTranslate2 Whisper model, with the dimensions read off the weights."""

    def __init__(self, variables):
        self.vars = variables
        for name, expected in (("decoder/pre_norm", 1), ("decoder/activation", CT2_GELU)):
            if name in variables and int(variables[name]) != expected:
                raise Failure(f"unsupported Whisper variant: {name} = {int(variables[name])}")
        if int(variables.get("decoder/scale_embeddings", 0)) != 0:
            raise Failure("unsupported Whisper variant: scaled embeddings")
        for name, array in variables.items():
            if array.dtype not in (np.float32, np.float16) and array.ndim > 0:
                raise Failure(
                    f"quantized CTranslate2 models cannot be imported ({name} is {array.dtype}): import the "
                    "float16 or float32 model (faster-whisper's published models are float16); --precision int8 "
                    "makes int8 graphs from it"
                )

        embeddings = self["decoder/embeddings/weight"]
        self.vocab_size, self.d_model = embeddings.shape
        self.n_mels = self["encoder/conv1/weight"].shape[1]
        self.encoder_layers = self._count_layers("encoder")
        self.decoder_layers = self._count_layers("decoder")
        self.encoder_heads = int(variables["encoder/num_heads"])
        self.decoder_heads = int(variables["decoder/num_heads"])
        self.encoder_ffn_dim = self["encoder/layer_0/ffn/linear_0/weight"].shape[0]
        self.decoder_ffn_dim = self["decoder/layer_0/ffn/linear_0/weight"].shape[0]
        self.max_source_positions = self["encoder/position_encodings/encodings"].shape[0]
        self.max_target_positions = self["decoder/position_encodings/encodings"].shape[0]

    def __getitem__(self, name):
        if name not in self.vars:
            raise Failure(f"model.bin has no variable {name}")
        return np.ascontiguousarray(self.vars[name], dtype=np.float32)

    def _count_layers(self, stack):
        n = 0
        while f"{stack}/layer_{n}/ffn/linear_0/weight" in self.vars:
            n += 1
        return n


def is_ct2_dir(path):
    return os.path.isfile(os.path.join(path, "model.bin")) and os.path.isfile(os.path.join(path, "config.json"))


def _read_vocabulary(ct2_dir):
    """vocabulary.txt (one token a line) or vocabulary.json (a list), as converters write them."""
    text_path = os.path.join(ct2_dir, "vocabulary.txt")
    if os.path.isfile(text_path):
        with open(text_path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]
    json_path = os.path.join(ct2_dir, "vocabulary.json")
    if os.path.isfile(json_path):
        with open(json_path, encoding="utf-8") as f:
            vocabulary = json.load(f)
        if isinstance(vocabulary, list) and all(isinstance(t, str) for t in vocabulary):
            return vocabulary
        raise Failure(f"{json_path} is not a list of tokens")
    raise Failure(f"{ct2_dir} has no vocabulary.txt or vocabulary.json")


def read_ct2_checkpoint(ct2_dir):
    """A CTranslate2 Whisper directory (as `ct2-transformers-converter` and faster-whisper's
    published models have it) as the converter's `Checkpoint`."""
    for file in ("model.bin", "config.json", "tokenizer.json"):
        if not os.path.isfile(os.path.join(ct2_dir, file)):
            raise Failure(f"{ct2_dir} has no {file}")
    with open(os.path.join(ct2_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(ct2_dir, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = json.load(f)
    vocabulary = _read_vocabulary(ct2_dir)
    log(f"reading {os.path.join(ct2_dir, 'model.bin')}")
    spec, variables = read_ct2_model(os.path.join(ct2_dir, "model.bin"))
    if spec != "WhisperSpec":
        raise Failure(f"{ct2_dir}/model.bin is a {spec or 'unknown'} model, not Whisper")
    return Checkpoint(
        variables=variables,
        tokenizer=tokenizer,
        vocabulary=vocabulary,
        alignment_heads=config.get("alignment_heads", []),
        suppress_tokens=config.get("suppress_ids", []),
        begin_suppress_tokens=config.get("suppress_ids_begin"),
        declared_languages=None,  # lang_ids are ids only: the tokenizer names them
    )
