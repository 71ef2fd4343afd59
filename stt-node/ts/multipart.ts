/** The bodies of uploads to a `stt serve`: multipart/form-data with a file part streamed from
 * disk or memory (a `Float32Array` is sent as a 16 kHz WAV file). */

import { randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';

import { invalidOption } from './errors';
import { AudioInput } from './whisper';

const SAMPLE_RATE = 16_000;

/** A file part from disk (streamed, never held in memory) or from memory. */
type Content = { path: string; size: number } | Buffer;

/** A WAV file of 16-bit samples, for uploading a `Float32Array`. */
function wavBytes(samples: Float32Array): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => {
    const clamped = Math.max(-1, Math.min(1, Number.isFinite(sample) ? sample : 0));
    data.writeInt16LE(Math.round(clamped * 32767), i * 2);
  });
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(SAMPLE_RATE, 24);
  header.writeUInt32LE(SAMPLE_RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

function upload(input: AudioInput): [string, Content] {
  if (typeof input === 'string') {
    let size: number;
    try {
      size = statSync(input).size;
    } catch {
      throw invalidOption(`no such file: ${input}`);
    }
    return [path.basename(input), { path: input, size }];
  }
  if (input instanceof Float32Array) return ['audio.wav', wavBytes(input)];
  if (input instanceof Uint8Array) return ['audio', Buffer.from(input.buffer, input.byteOffset, input.byteLength)];
  if (input instanceof ArrayBuffer) return ['audio', Buffer.from(input)];
  throw invalidOption('cannot upload this input: give a path, a Buffer, a Uint8Array or a Float32Array');
}

/** A multipart/form-data body whose file part is streamed; without `input`, there is no file
 * part. */
export class Multipart {
  readonly boundary = randomUUID().replace(/-/g, '');
  readonly #head: Buffer;
  readonly #tail: Buffer;
  readonly #content: Content = Buffer.alloc(0);

  constructor(fields: Record<string, string>, fileField: string, input?: AudioInput) {
    const part = (name: string, extra = ''): string =>
      `--${this.boundary}\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n`;
    const head = Object.entries(fields).map(([name, value]) => `${part(name)}\r\n${value}\r\n`);
    let tail = `--${this.boundary}--\r\n`;
    if (input !== undefined) {
      const [filename, content] = upload(input);
      head.push(`${part(fileField, `; filename="${filename}"`)}Content-Type: application/octet-stream\r\n\r\n`);
      this.#content = content;
      tail = `\r\n${tail}`;
    }
    this.#head = Buffer.from(head.join(''));
    this.#tail = Buffer.from(tail);
  }

  get contentType(): string {
    return `multipart/form-data; boundary=${this.boundary}`;
  }

  get length(): number {
    const size = Buffer.isBuffer(this.#content) ? this.#content.length : this.#content.size;
    return this.#head.length + size + this.#tail.length;
  }

  stream(): Readable {
    const [head, content, tail] = [this.#head, this.#content, this.#tail];
    return Readable.from(
      (async function* () {
        yield head;
        if (Buffer.isBuffer(content)) yield content;
        else yield* createReadStream(content.path);
        yield tail;
      })(),
    );
  }
}
