// The audio tools as a user gets them: noise removal (`enhance`, `Enhancer`: DeepFilterNet3)
// and speech synthesis (`speak`, `Voice`: the installed Piper voice) in this process, then the
// client's calls of the same tools on a real `stt serve`. `sdk.test.mjs` imports this module,
// so scripts/test_node_sdk.sh runs it; `node --test test/audio-tools.mjs` runs it alone. Each
// model is loaded once; the audio is short.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { fixture, installedProject, startServer } from './helpers.mjs';

const NOISY = 'en_ljspeech_LJ001-0001.wav';
const SENTENCES = 'The quick brown fox jumps over the lazy dog. It was a bright cold day in April.';

/** The rate and samples (in [-1, 1)) of a 16-bit mono WAV file. */
function readWav(bytes) {
  assert.equal(bytes.subarray(0, 4).toString(), 'RIFF');
  assert.deepEqual([bytes.readUInt16LE(20), bytes.readUInt16LE(22), bytes.readUInt16LE(34)], [1, 1, 16]);
  const data = bytes.indexOf('data');
  const length = bytes.readUInt32LE(data + 4) / 2;
  assert.equal(bytes.length, data + 8 + 2 * length);
  const samples = new Float32Array(length);
  for (let i = 0; i < length; i++) samples[i] = bytes.readInt16LE(data + 8 + 2 * i) / 32768;
  return { rate: bytes.readUInt32LE(24), samples };
}

const seconds = ({ rate, samples }) => samples.length / rate;
const rmsDb = (samples) => 10 * Math.log10(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
const maxDifference = (a, b) => a.reduce((max, x, i) => Math.max(max, Math.abs(x - b[i])), 0);
const isMpeg = (bytes) => bytes.subarray(0, 3).toString() === 'ID3' || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0);

describe('audio tools', () => {
  let stt;
  let enhancer;
  let voice;
  before(async () => {
    ({ stt } = await installedProject());
    [enhancer, voice] = await Promise.all([stt.Enhancer.load(), stt.Voice.load()]);
  });

  describe('local', () => {
    test('enhance gives a 48 kHz WAV of the same length from a path or bytes', async () => {
      assert.equal(enhancer.sampleRate, 48000);
      const clean = await enhancer.enhance(fixture(NOISY));
      const wav = readWav(clean);
      const input = readWav(readFileSync(fixture(NOISY)));
      assert.equal(wav.rate, 48000);
      assert.ok(Math.abs(seconds(wav) / seconds(input) - 1) < 0.01, `${seconds(wav)} s vs ${seconds(input)} s`);
      assert.ok(rmsDb(wav.samples) > -40);
      // The module function keeps its enhancer for the next call.
      const bytes = readFileSync(fixture(NOISY));
      assert.ok((await stt.enhance(bytes)).equals(clean));
      const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
      assert.ok((await stt.enhance(copy)).equals(clean));
    });

    test('enhance options reach the engine, and bad ones and bad input are refused', async () => {
      const quiet = readWav(await enhancer.enhance(fixture(NOISY), { loudness: -30 })).samples;
      const loud = readWav(await enhancer.enhance(fixture(NOISY), { loudness: -20 })).samples;
      assert.ok(Math.abs(rmsDb(loud) - rmsDb(quiet) - 10) < 1, `${rmsDb(loud)} dB vs ${rmsDb(quiet)} dB`);
      for (const [name, value] of [['attenuationLimit', 101], ['attenuationLimit', -1], ['loudness', 3], ['loudness', NaN]]) {
        await assert.rejects(enhancer.enhance(fixture(NOISY), { [name]: value }), (error) => {
          assert.ok(error instanceof stt.SttError, String(error));
          assert.equal(error.code, 'invalid_option');
          assert.match(error.message, new RegExp(name.replace('Limit', '')));
          return true;
        });
      }
      await assert.rejects(enhancer.enhance(fixture(NOISY), { loudness: '-20' }), { code: 'invalid_option' });
      await assert.rejects(enhancer.enhance(Buffer.from('this is not audio at all'.repeat(100))), {
        code: 'unsupported_format',
      });
      await assert.rejects(enhancer.enhance('/nonexistent/noisy.wav'), { code: 'io', message: /nonexistent/ });
      await assert.rejects(enhancer.enhance(new Float32Array(16000)), { code: 'invalid_option', message: /Float32Array/ });
      await assert.rejects(enhancer.enhance(fixture(NOISY), { signal: AbortSignal.abort() }), {
        name: 'AbortError',
        code: 'cancelled',
      });
      assert.throws(() => new stt.Enhancer({ device: 'tpu' }), { code: 'invalid_option', message: /tpu/ });
    });

    test('speak says a text at the voice rate, faster at speed 2, as WAV, PCM or MP3', async () => {
      assert.deepEqual([voice.name, voice.sampleRate], ['en_US-joe-medium', 22050]);
      const speech = readWav(await voice.speak(SENTENCES));
      assert.equal(speech.rate, 22050);
      // 17 words at an everyday pace (2 to 4 words a second), with a pause between sentences.
      assert.ok(seconds(speech) > 17 / 4 && seconds(speech) < 17 / 2, `${seconds(speech)} s`);
      assert.ok(rmsDb(speech.samples) > -30);
      const phonemes = await voice.phonemes(SENTENCES);
      assert.equal(phonemes.length, 2);
      assert.match(phonemes[0], /^ðə kwˈɪk bɹˈaʊn/);

      const normal = seconds(readWav(await stt.speak('Good morning, everyone.')));
      const fast = seconds(readWav(await stt.speak('Good morning, everyone.', { speed: 2 })));
      assert.ok(fast / normal > 0.4 && fast / normal < 0.7, `${fast} s vs ${normal} s`);
      const mp3 = await stt.speak('Good morning.', { format: 'mp3', voice: 'en_US-joe-medium' });
      assert.ok(isMpeg(mp3), mp3.subarray(0, 4).toString('hex'));
      const pcm = await voice.speak('Good morning.', { format: 'pcm' });
      assert.ok(pcm.length % 2 === 0 && pcm.subarray(0, 4).toString() !== 'RIFF');
    });

    test('speak refuses what it cannot say', async () => {
      for (const text of ['', '   ', '...']) {
        await assert.rejects(voice.speak(text), { code: 'invalid_option', message: /nothing to say/ });
      }
      await assert.rejects(voice.speak('Hello.', { speed: 5 }), { code: 'invalid_option', message: /speed/ });
      await assert.rejects(voice.speak('Hello.', { format: 'ogg' }), { code: 'invalid_option', message: /ogg/ });
      await assert.rejects(voice.speak(42), { code: 'invalid_option' });
      await assert.rejects(stt.speak('Hello.', { voice: 'de_DE-nobody-low' }), {
        code: 'model_not_found',
        message: /en_US-joe-medium/,
      });
      await assert.rejects(voice.speak('Hello.', { signal: AbortSignal.abort() }), { code: 'cancelled' });
      assert.throws(() => new stt.Voice({ threads: -1 }), { code: 'invalid_option' });
    });
  });

  describe('client', () => {
    let server;
    let client;
    before(async () => {
      server = await startServer(['--model', 'base', '--workers', '1']);
      client = new stt.Client({ baseUrl: server.base, apiKey: server.key });
    });
    after(() => server?.stop());

    test('enhances on the server as locally', async () => {
      // The server's defaults are the engine's, and its options mean the same.
      for (const options of [{}, { attenuationLimit: 20, loudness: -30 }]) {
        const remote = readWav(await client.enhance(fixture(NOISY), options));
        const local = readWav(await enhancer.enhance(fixture(NOISY), options));
        assert.equal(remote.rate, 48000);
        assert.equal(remote.samples.length, local.samples.length);
        assert.ok(maxDifference(remote.samples, local.samples) < 0.01, JSON.stringify(options));
      }
      await assert.rejects(client.enhance(fixture(NOISY), { loudness: 3 }), { code: 'server', status: 400, message: /loudness/ });
      await assert.rejects(client.enhance(Buffer.from('this is not audio at all'.repeat(100))), { code: 'server', status: 400 });
    });

    test('speaks on the server, with the headers of the answer', async () => {
      const speech = await client.speak('Good morning, everyone.', { reference: fixture(NOISY) });
      assert.deepEqual([speech.voice, speech.voiceCloned], ['en_US-joe-medium', false]);
      const wav = readWav(speech.audio);
      assert.equal(wav.rate, 22050);
      assert.ok(Math.abs(speech.duration - seconds(wav)) < 0.001, `${speech.duration} vs ${seconds(wav)}`);
      assert.ok(speech.generationTime > 0);
      const fast = await client.speak('Good morning, everyone.', { voice: 'alloy', speed: 2 });
      assert.ok(fast.duration < speech.duration * 0.7, `${fast.duration} vs ${speech.duration}`);
      await assert.rejects(client.speak('  '), { code: 'server', status: 400 });
      await assert.rejects(client.speak('Hello.', { speed: 9 }), { code: 'server', status: 400, message: /speed/ });
    });
  });
});
