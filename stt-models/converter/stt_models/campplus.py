"""The CAM++ speaker embedder: its PyTorch state dict read without torch, rebuilt as ONNX with
the batch norms folded in."""

import numpy as np
import onnx
from onnx import TensorProto

from . import log
from .checkpoints import read_torch_state_dict
from .onnx_graph import GraphBuilder, finish_model, tensor_info

CAMPPLUS_BLOCKS = [(12, 1), (24, 2), (16, 2)]  # (layers, dilation) of the dense TDNN blocks
CAMPPLUS_SEGMENT = 100  # frames averaged per segment in the context-aware masks
BATCH_NORM_EPS = 1e-5


def batch_norm_affine(sd, prefix):
    """(scale, shift) of an inference batch norm: y = x * scale + shift."""
    scale = 1.0 / np.sqrt(sd[f"{prefix}.running_var"] + BATCH_NORM_EPS)
    if f"{prefix}.weight" in sd:
        scale = scale * sd[f"{prefix}.weight"]
    shift = -sd[f"{prefix}.running_mean"] * scale
    if f"{prefix}.bias" in sd:
        shift = shift + sd[f"{prefix}.bias"]
    return scale.astype(np.float32), shift.astype(np.float32)


def conv_bn(g, x, sd, conv, bn, stride=1, padding=0, dilation=1, relu=True):
    """A convolution (1-D or 2-D, no bias) with the batch norm that follows folded into it."""
    weight = sd[f"{conv}.weight"]
    scale, shift = batch_norm_affine(sd, bn)
    folded = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    rank = weight.ndim - 2
    strides = list(stride) if isinstance(stride, tuple) else [stride] * rank
    y = g.op(
        "Conv",
        [x, g.weight(f"{conv}.weight", folded), g.weight(f"{conv}.bias", shift)],
        kernel_shape=list(weight.shape[2:]),
        strides=strides,
        pads=[padding] * (2 * rank),
        dilations=[dilation] * rank,
    )
    return g.op("Relu", [y]) if relu else y


def bn_relu(g, x, sd, bn):
    """Batch norm then ReLU over the channels of [B, C, T]."""
    scale, shift = batch_norm_affine(sd, bn)
    y = g.op("Mul", [x, g.weight(f"{bn}.scale", scale[:, None])])
    y = g.op("Add", [y, g.weight(f"{bn}.shift", shift[:, None])])
    return g.op("Relu", [y])


def conv1x1(g, x, sd, prefix):
    inputs = [x, g.weight(f"{prefix}.weight", sd[f"{prefix}.weight"])]
    if f"{prefix}.bias" in sd:
        inputs.append(g.weight(f"{prefix}.bias", sd[f"{prefix}.bias"]))
    return g.op("Conv", inputs, kernel_shape=[1])


def residual_block(g, x, sd, prefix, stride):
    out = conv_bn(g, x, sd, f"{prefix}.conv1", f"{prefix}.bn1", (stride, 1), 1)
    out = conv_bn(g, out, sd, f"{prefix}.conv2", f"{prefix}.bn2", 1, 1, relu=False)
    if f"{prefix}.shortcut.0.weight" in sd:
        x = conv_bn(g, x, sd, f"{prefix}.shortcut.0", f"{prefix}.shortcut.1", (stride, 1), relu=False)
    return g.op("Relu", [g.op("Add", [out, x])])


def context_mask_layer(g, x, sd, prefix, dilation):
    """CAM: a local convolution, gated by a mask from the mean of the whole input plus the mean
    of its 100-frame segment (each frame sees the segment it falls in)."""
    local = g.op(
        "Conv", [x, g.weight(f"{prefix}.linear_local.weight", sd[f"{prefix}.linear_local.weight"])],
        kernel_shape=[3], pads=[dilation, dilation], dilations=[dilation],
    )
    overall = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    segments = g.op("AveragePool", [x], kernel_shape=[CAMPPLUS_SEGMENT], strides=[CAMPPLUS_SEGMENT], ceil_mode=1)
    spread = g.op("Expand", [g.op("Unsqueeze", [segments, g.const([3])]), g.const([1, 1, 1, CAMPPLUS_SEGMENT])])
    spread = g.op("Reshape", [spread, g.const([0, 0, -1])])
    frames = g.op("Shape", [x], start=2, end=3)
    spread = g.op("Slice", [spread, g.const([0]), frames, g.const([2])])
    context = g.op("Add", [overall, spread])
    mask = g.op("Relu", [conv1x1(g, context, sd, f"{prefix}.linear1")])
    mask = g.op("Sigmoid", [conv1x1(g, mask, sd, f"{prefix}.linear2")])
    return g.op("Mul", [local, mask])


def build_campplus(sd):
    """CAM++ (3D-Speaker's `CAMPPlus`, 80-bin fbank in, 192-d embedding out) in inference mode."""
    g = GraphBuilder()
    x = g.op("Unsqueeze", [g.op("Transpose", ["features"], perm=[0, 2, 1]), g.const([1])])  # [B,1,80,T]
    x = conv_bn(g, x, sd, "head.conv1", "head.bn1", 1, 1)
    for layer in ("layer1", "layer2"):
        x = residual_block(g, x, sd, f"head.{layer}.0", 2)
        x = residual_block(g, x, sd, f"head.{layer}.1", 1)
    x = conv_bn(g, x, sd, "head.conv2", "head.bn2", (2, 1), 1)  # [B, 32, 10, T]
    shape = g.op("Concat", [g.op("Shape", [x], start=0, end=1), g.const([-1]), g.op("Shape", [x], start=3, end=4)], axis=0)
    x = g.op("Reshape", [x, shape])  # [B, 320, T]
    x = conv_bn(g, x, sd, "xvector.tdnn.linear", "xvector.tdnn.nonlinear.batchnorm", 2, 2)
    for block, (layers, dilation) in enumerate(CAMPPLUS_BLOCKS, start=1):
        for layer in range(1, layers + 1):
            prefix = f"xvector.block{block}.tdnnd{layer}"
            h = bn_relu(g, x, sd, f"{prefix}.nonlinear1.batchnorm")
            h = conv_bn(g, h, sd, f"{prefix}.linear1", f"{prefix}.nonlinear2.batchnorm")
            x = g.op("Concat", [x, context_mask_layer(g, h, sd, f"{prefix}.cam_layer", dilation)], axis=1)
        x = conv1x1(g, bn_relu(g, x, sd, f"xvector.transit{block}.nonlinear.batchnorm"), sd, f"xvector.transit{block}.linear")
    x = bn_relu(g, x, sd, "xvector.out_nonlinear.batchnorm")
    # Statistics pooling: mean and unbiased standard deviation over time.
    mean = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    centred = g.op("Sub", [x, mean])
    frames = g.op("Cast", [g.op("Shape", [x], start=2, end=3)], to=TensorProto.FLOAT)
    variance = g.op("Div", [g.op("ReduceSum", [g.op("Mul", [centred, centred]), g.const([2])], keepdims=0),
                            g.op("Sub", [frames, g.const(1.0, np.float32)])])
    stats = g.op("Concat", [g.op("Squeeze", [mean, g.const([2])]), g.op("Sqrt", [variance])], axis=1)
    # The dense layer and its batch norm (no affine part) as one matrix product.
    scale, shift = batch_norm_affine(sd, "xvector.dense.nonlinear.batchnorm")
    dense = sd["xvector.dense.linear.weight"][:, :, 0] * scale[:, None]
    embedding = g.op("MatMul", [stats, g.weight("dense.weight", dense.T)])
    g.op("Add", [embedding, g.weight("dense.bias", shift)], outputs=["embedding"])
    inputs = [tensor_info("features", TensorProto.FLOAT, ["batch", "frames", 80])]
    outputs = [tensor_info("embedding", TensorProto.FLOAT, ["batch", 192])]
    return finish_model(g, "campplus", inputs, outputs)


def convert_campplus(checkpoint, out_path):
    log("converting CAM++ to ONNX")
    onnx.save_model(build_campplus(read_torch_state_dict(checkpoint)), out_path)
    onnx.checker.check_model(out_path)
