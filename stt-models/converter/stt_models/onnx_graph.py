"""The ONNX graph builder shared by the Whisper and CAM++ graphs."""

import re

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from . import Failure

OPSET = 17  # first opset with LayerNormalization
IR_VERSION = 8  # the IR version that goes with opset 17; readable by older runtimes


class GraphBuilder:
    """Collects nodes for one (sub)graph; initializers live in the top-level graph.

    With `weight_dtype=np.float16` the weights are stored in half precision, each followed by a
    top-level Cast to float32: ONNX Runtime folds the Casts when it loads the graph, so the file
    is half the size and the arithmetic is the float32 graph's."""

    def __init__(self, weight_dtype=np.float32, _shared=None):
        self.nodes = []
        self.weight_dtype = np.dtype(weight_dtype)
        self._shared = _shared or {"initializers": {}, "casts": [], "counter": [0]}
        self.initializers = self._shared["initializers"]
        self.weight_casts = self._shared["casts"]
        self._counter = self._shared["counter"]

    def subgraph(self):
        """A builder for an If branch: own nodes, shared initializers and unique names."""
        return GraphBuilder(self.weight_dtype, self._shared)

    def fresh(self, hint):
        self._counter[0] += 1
        return f"{hint}_{self._counter[0]}"

    def op(self, op_type, inputs, outputs=1, name_hint=None, **attrs):
        """Adds a node; returns its output name (or list of names when outputs > 1)."""
        if isinstance(outputs, int):
            hint = name_hint or op_type.lower()
            outputs = [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append(
            helper.make_node(op_type, list(inputs), list(outputs), name=self.fresh(op_type), **attrs)
        )
        return outputs[0] if len(outputs) == 1 else outputs

    def weight(self, name, array):
        """Adds (once) a named weight; returns the name of its float32 value."""
        if self.weight_dtype == np.float32:
            if name not in self.initializers:
                self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)
            return name
        stored = f"{name}.{self.weight_dtype.name}"
        if stored not in self.initializers:
            values = np.ascontiguousarray(array, dtype=self.weight_dtype)
            if not np.isfinite(values).all():
                raise Failure(f"weight {name} does not fit in {self.weight_dtype.name}")
            self.initializers[stored] = numpy_helper.from_array(values, stored)
            self.weight_casts.append(helper.make_node("Cast", [stored], [name], name=f"cast_{name}", to=TensorProto.FLOAT))
        return name

    def const(self, values, dtype=np.int64):
        """A small constant (shapes, axes, scalars); equal constants are shared."""
        array = np.asarray(values, dtype=dtype)
        key = f"const_{array.dtype.name}_{'x'.join(map(str, array.shape)) or 'scalar'}_" + "_".join(
            str(v) for v in array.flatten().tolist()
        )
        key = re.sub(r"[^A-Za-z0-9_.]", "", key.replace("-", "m"))
        if key not in self.initializers:
            self.initializers[key] = numpy_helper.from_array(array, key)
        return key


def tensor_info(name, elem_type, shape):
    """A graph input/output; in `shape`, ints are fixed sizes and strings symbolic names."""
    return helper.make_tensor_value_info(name, elem_type, shape)


def finish_model(g, name, inputs, outputs):
    graph = helper.make_graph(g.weight_casts + g.nodes, name, inputs, outputs, initializer=list(g.initializers.values()))
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="stt_models.py",
    )
    model.ir_version = IR_VERSION
    return model
