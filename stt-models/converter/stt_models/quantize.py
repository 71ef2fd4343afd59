"""int8 weights for the converted Whisper graphs."""

import logging

from onnx import TensorProto


def quantize(src, dst, external_data=False):
    """int8 weights for every MatMul with a constant weight (inside the If branches too) and
    for the embedding Gather; activations are quantized on the fly."""
    # Imported here: onnxruntime's quantization tools are slow to load and only this needs them.
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # silence "consider pre-processing" advice
    # Per-channel scales, and 7-bit weights so that u8 x s8 products cannot saturate on CPUs
    # without VNNI (AVX2): per-tensor 8-bit weights cost ~1 point of WER on the English files.
    quantize_dynamic(
        src,
        dst,
        op_types_to_quantize=["MatMul", "Gather"],
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        use_external_data_format=external_data,
        # DefaultTensorType: shape inference cannot type what follows a com.microsoft operator.
        extra_options={"EnableSubgraph": True, "MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT},
    )
