"""The JSON files beside the Whisper graphs: tokenizer.json with the timestamp tokens, and the
Hugging Face config, generation and preprocessor files the engine reads."""

import json

import numpy as np

from . import Failure, log

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_SECONDS = 30
N_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480000
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3000 mel frames per window
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>
TIMESTAMP_STEP = 0.02
MAX_INITIAL_TIMESTAMP_INDEX = 50


class SpecialTokens:
    """Ids of Whisper's special tokens, looked up by content (tiny.en's are one lower)."""

    def __init__(self, vocabulary, added_tokens):
        ids = {t["content"]: t["id"] for t in added_tokens}
        for content, token_id in ids.items():
            if token_id >= len(vocabulary) or vocabulary[token_id] != content:
                raise Failure(f"tokenizer.json token {content} has id {token_id}, vocabulary.txt disagrees")

        def get(content):
            if content not in ids:
                raise Failure(f"tokenizer.json has no {content} token")
            return ids[content]

        self.eot = get("<|endoftext|>")
        self.sot = get("<|startoftranscript|>")
        self.translate = get("<|translate|>")
        self.transcribe = get("<|transcribe|>")
        self.prev = get("<|startofprev|>")
        self.no_timestamps = get("<|notimestamps|>")
        self.timestamp_begin = self.no_timestamps + 1
        # Language tokens sit between <|startoftranscript|> and <|translate|>.
        self.languages = {
            content: token_id
            for content, token_id in sorted(ids.items(), key=lambda kv: kv[1])
            if self.sot < token_id < self.translate
        }


def timestamp_token(index):
    return f"<|{index * TIMESTAMP_STEP:.2f}|>"


def build_tokenizer(ct2_tokenizer, vocabulary):
    """The CTranslate2 tokenizer.json plus the 1,501 timestamp tokens as added special tokens."""
    tokenizer = json.loads(json.dumps(ct2_tokenizer))  # deep copy
    added = tokenizer["added_tokens"]
    special = SpecialTokens(vocabulary, added)
    present = {t["content"] for t in added}
    for index in range(N_TIMESTAMPS):
        token_id = special.timestamp_begin + index
        content = timestamp_token(index)
        if token_id >= len(vocabulary) or vocabulary[token_id] != content:
            raise Failure(f"vocabulary.txt does not hold {content} at id {token_id}")
        if content in present:
            continue
        added.append(
            {
                "id": token_id,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        )
    added.sort(key=lambda t: t["id"])
    if len(vocabulary) != special.timestamp_begin + N_TIMESTAMPS:
        raise Failure(f"vocabulary.txt has {len(vocabulary)} tokens, expected timestamps to end it")
    return tokenizer, special


class Checkpoint:
    """What the converter needs from any source (CTranslate2 or transformers): the weights
    under CTranslate2's names, the tokenizer, its vocabulary by id, and the generation settings
    read from the checkpoint's own files (never assumed from another model)."""

    def __init__(self, variables, tokenizer, vocabulary, alignment_heads, suppress_tokens,
                 begin_suppress_tokens, declared_languages=None):
        self.variables = variables
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.alignment_heads = alignment_heads
        self.suppress_tokens = suppress_tokens
        self.begin_suppress_tokens = begin_suppress_tokens
        self.declared_languages = declared_languages

    def stored_dtype(self):
        """"float16" when every floating-point weight is stored in half precision (so float16
        graphs lose nothing), else "float32"."""
        floats = [a.dtype for a in self.variables.values() if np.ndim(a) > 0 and a.dtype.kind == "f"]
        return "float16" if floats and all(d == np.float16 for d in floats) else "float32"


def _checked_heads(heads, w):
    """Alignment heads inside the model; heads outside it (a config copied from a larger model)
    are dropped with a warning rather than failing word timings later."""
    kept = []
    for pair in heads:
        layer, head = (int(v) for v in pair)
        if 0 <= layer < w.decoder_layers and 0 <= head < w.decoder_heads:
            kept.append([layer, head])
    if len(kept) != len(heads):
        log(f"warning: {len(heads) - len(kept)} of {len(heads)} alignment heads are outside the "
            f"decoder ({w.decoder_layers} layers x {w.decoder_heads} heads) and are ignored")
    return kept


def build_configs(w, checkpoint, special):
    multilingual = bool(special.languages) and w.vocab_size >= 51865
    declared = checkpoint.declared_languages
    if multilingual and declared and {k: int(v) for k, v in declared.items()} != special.languages:
        raise Failure("generation_config.json's lang_to_id disagrees with the tokenizer's language tokens")
    alignment_heads = _checked_heads(checkpoint.alignment_heads, w)
    suppress = [int(i) for i in checkpoint.suppress_tokens]
    begin = checkpoint.begin_suppress_tokens
    begin_suppress = [int(i) for i in (begin if begin is not None else [220, special.eot])]
    for token in suppress + begin_suppress:
        if not 0 <= token < w.vocab_size:
            raise Failure(f"suppressed token {token} is outside the vocabulary of {w.vocab_size}")
    config = {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "d_model": w.d_model,
        "encoder_layers": w.encoder_layers,
        "decoder_layers": w.decoder_layers,
        "num_hidden_layers": w.encoder_layers,
        "encoder_attention_heads": w.encoder_heads,
        "decoder_attention_heads": w.decoder_heads,
        "encoder_ffn_dim": w.encoder_ffn_dim,
        "decoder_ffn_dim": w.decoder_ffn_dim,
        "num_mel_bins": w.n_mels,
        "vocab_size": w.vocab_size,
        "max_source_positions": w.max_source_positions,
        "max_target_positions": w.max_target_positions,
        "activation_function": "gelu",
        "scale_embedding": False,
        "tie_word_embeddings": True,
        "use_cache": True,
        "bos_token_id": special.eot,
        "eos_token_id": special.eot,
        "pad_token_id": special.eot,
        "decoder_start_token_id": special.sot,
        "begin_suppress_tokens": begin_suppress,
        "suppress_tokens": suppress,
        "torch_dtype": "float32",
    }
    generation = {
        "alignment_heads": alignment_heads,
        "begin_suppress_tokens": begin_suppress,
        "bos_token_id": special.eot,
        "decoder_start_token_id": special.sot,
        "eos_token_id": special.eot,
        "pad_token_id": special.eot,
        "is_multilingual": multilingual,
        "lang_to_id": special.languages if multilingual else {},
        "task_to_id": {"transcribe": special.transcribe, "translate": special.translate} if multilingual else {},
        "max_initial_timestamp_index": MAX_INITIAL_TIMESTAMP_INDEX,
        "max_length": w.max_target_positions,
        "no_timestamps_token_id": special.no_timestamps,
        "prev_sot_token_id": special.prev,
        "return_timestamps": False,
        "suppress_tokens": suppress,
    }
    preprocessor = {
        "chunk_length": CHUNK_SECONDS,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": w.n_mels,
        "hop_length": HOP_LENGTH,
        "n_fft": N_FFT,
        "n_samples": N_SAMPLES,
        "nb_max_frames": N_FRAMES,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "sampling_rate": SAMPLE_RATE,
    }
    return config, generation, preprocessor
