// Runs on the audio thread: the microphone's samples (at the context's 16 kHz) as 16-bit PCM,
// posted to the page a tenth of a second at a time.

const CHUNK = 1600;

class Pcm16 extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new Int16Array(CHUNK);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    for (const sample of channel) {
      const clipped = Math.max(-1, Math.min(1, sample));
      this.buffer[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
      if (this.filled === CHUNK) {
        this.port.postMessage(this.buffer.buffer, [this.buffer.buffer]);
        this.buffer = new Int16Array(CHUNK);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('pcm16', Pcm16);
