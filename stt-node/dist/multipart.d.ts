/** The bodies of uploads to a `stt serve`: multipart/form-data with a file part streamed from
 * disk or memory (a `Float32Array` is sent as a 16 kHz WAV file). */
import { Readable } from 'node:stream';
import { AudioInput } from './whisper';
/** A multipart/form-data body whose file part is streamed; without `input`, there is no file
 * part. */
export declare class Multipart {
    #private;
    readonly boundary: string;
    constructor(fields: Record<string, string>, fileField: string, input?: AudioInput);
    get contentType(): string;
    get length(): number;
    stream(): Readable;
}
