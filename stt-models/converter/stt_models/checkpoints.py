"""Checkpoint files read with numpy alone (no torch, no safetensors package): safetensors
files, single or sharded, and `torch.save` state dicts."""

import collections
import json
import os
import pickle
import struct
import zipfile

import numpy as np

from . import Failure

_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,  # widened to float32 on read
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit


def bfloat16_to_float32(bits):
    """bfloat16 values (their uint16 bit patterns) as float32: the same bits, widened."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path):
    """The tensors of a safetensors file (an 8-byte little-endian header length, a JSON header
    of {name: {dtype, shape, data_offsets}}, then the raw data) as numpy arrays. The data is
    memory-mapped, not read: a checkpoint larger than memory can be converted tensor by tensor."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise Failure(f"{path} is not a safetensors file (too short)")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(size - 8, _MAX_HEADER_BYTES):
            raise Failure(f"{path} is not a safetensors file (header length {header_len})")
        try:
            header = json.loads(f.read(header_len))
        except ValueError as exc:
            raise Failure(f"{path} is not a safetensors file ({exc})") from exc
    if not isinstance(header, dict):
        raise Failure(f"{path} is not a safetensors file (the header is not an object)")
    data_len = size - 8 - header_len
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len) if data_len else np.zeros(0, np.uint8)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            start, end = (int(v) for v in info["data_offsets"])
            shape = tuple(int(d) for d in info["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise Failure(f"{path}: tensor {name} has an unreadable header entry ({exc})") from exc
        if not 0 <= start <= end <= data_len or end - start != np.dtype(dtype).itemsize * int(np.prod(shape)):
            raise Failure(f"{path}: tensor {name} has inconsistent offsets {start}..{end}")
        array = data[start:end].view(np.dtype(dtype).newbyteorder("<")).reshape(shape)
        tensors[name] = bfloat16_to_float32(array) if info["dtype"] == "BF16" else array
    return tensors


_TORCH_STORAGES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16,  # widened to float32 on read
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "BoolStorage": np.bool_,
}


def read_torch_state_dict(path):
    """The tensors of a `torch.save`d state dict (zip format) as numpy arrays, without torch.
    The unpickler accepts only what a state dict holds: no other class can be loaded."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise Failure(f"{path} is not a PyTorch checkpoint in the zip format ({exc})") from exc
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise Failure(f"{path} is not a PyTorch checkpoint (no data.pkl)")
    root = pickles[0][: -len("data.pkl")]

    def rebuild_tensor(storage, offset, size, stride, *_):
        dtype, values = storage
        view = np.lib.stride_tricks.as_strided(
            values[offset:], shape=tuple(size), strides=[s * values.itemsize for s in stride]
        )
        return bfloat16_to_float32(view) if dtype == "BFloat16Storage" else np.array(view)

    class StateDictUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name in _TORCH_STORAGES:
                return name
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild_tensor
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            raise Failure(f"{path}: unexpected object {module}.{name} in a state dict")

        def persistent_load(self, pid):
            _, storage, key, _, _ = pid
            values = np.frombuffer(archive.read(f"{root}data/{key}"), dtype=_TORCH_STORAGES[storage])
            return storage, values

    with archive.open(pickles[0]) as data:
        state = StateDictUnpickler(data).load()
    if not isinstance(state, dict):
        raise Failure(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def read_weights(model_dir):
    """Every tensor of a transformers checkpoint directory: `model.safetensors`, sharded
    safetensors (`model.safetensors.index.json`), or `pytorch_model.bin` (sharded or not)."""
    for single, index, reader in (
        ("model.safetensors", "model.safetensors.index.json", read_safetensors),
        ("pytorch_model.bin", "pytorch_model.bin.index.json", read_torch_state_dict),
    ):
        if os.path.isfile(os.path.join(model_dir, single)):
            return reader(os.path.join(model_dir, single))
        index_path = os.path.join(model_dir, index)
        if os.path.isfile(index_path):
            with open(index_path, encoding="utf-8") as f:
                weight_map = json.load(f).get("weight_map", {})
            tensors = {}
            for shard in sorted(set(weight_map.values())):
                if os.path.basename(shard) != shard:
                    raise Failure(f"{index_path} names a shard outside the directory: {shard!r}")
                shard_path = os.path.join(model_dir, shard)
                if not os.path.isfile(shard_path):
                    raise Failure(f"{model_dir} is missing the shard {shard}")
                tensors.update(reader(shard_path))
            missing = sorted(set(weight_map) - set(tensors))
            if missing:
                raise Failure(f"{index_path} lists tensors no shard holds: {', '.join(missing[:3])}")
            return tensors
    raise Failure(
        f"{model_dir} has no weights: expected model.safetensors, model.safetensors.index.json "
        "or pytorch_model.bin"
    )
