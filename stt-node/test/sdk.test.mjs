// The Node SDK as a user gets it: the release's packages (dist/) installed with `npm install`
// from a loopback registry into a fresh project, with no Rust on the PATH, then the real engine
// on real recordings, the client against a real `stt serve`, and the README's TypeScript
// examples compiled with `tsc --strict`.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { FIXTURES, JFK, PACKAGE_DIR, REPO, fixture, installedProject, startServer, words } from './helpers.mjs';
// The text features (`Llm` and the client's text calls) and the audio tools, in this run.
import './audio-tools.mjs';
import './llm.mjs';

const LONG = 'en_librivox_sonnets_001_002_106s.mp3';
const SONNET = ['fairest', 'creatures', 'desire', 'rose', 'never', 'die'];

let project;
let stt;
let whisper;

before(async () => {
  ({ project, stt } = await installedProject());
  whisper = new stt.Whisper({ model: 'base' });
  await whisper.ready();
});

/** 16 kHz mono 16-bit WAV samples as a Float32Array in [-1, 1). */
function wavSamples(name) {
  const bytes = readFileSync(fixture(name));
  assert.equal(bytes.readUInt32LE(24), 16000);
  assert.equal(bytes.readUInt16LE(22), 1);
  const data = bytes.indexOf('data');
  const length = bytes.readUInt32LE(data + 4) / 2;
  const samples = new Float32Array(length);
  for (let i = 0; i < length; i++) samples[i] = bytes.readInt16LE(data + 8 + 2 * i) / 32768;
  return samples;
}

describe('package', () => {
  test('installs the platform package for this machine, and runs on the ONNX Runtime it ships', () => {
    const modules = path.join(project, 'node_modules');
    const platform = `stt-node-linux-${process.arch}-gnu`;
    assert.deepEqual(readdirSync(modules).filter((name) => name.startsWith('stt-node')).sort(), ['stt-node', platform]);
    assert.deepEqual(readdirSync(path.join(modules, 'stt-node', 'dist')).filter((name) => name.endsWith('.node')), []);
    const shipped = stt.runtimeLibrary();
    assert.ok(shipped.startsWith(path.join(modules, platform, 'runtime')), shipped);
    assert.match(path.basename(shipped), /^libonnxruntime\.so\.1\.(3[1-9]|[4-9]\d)/);
    assert.equal(whisper.model, 'base');
  });

  test("has the workspace's version, as its platform package and the engine do", () => {
    const cargo = readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8');
    const workspace = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(cargo)[1];
    assert.equal(stt.version, workspace);
    const manifest = (name) => JSON.parse(readFileSync(path.join(project, 'node_modules', name, 'package.json'), 'utf8'));
    assert.equal(manifest('stt-node').version, workspace);
    assert.equal(manifest(`stt-node-linux-${process.arch}-gnu`).version, workspace);
  });

  test('lists and pulls models in the shared cache', async () => {
    const installed = Object.fromEntries(stt.listModels().map((model) => [model.name, model]));
    assert.equal(installed.base.kind, 'whisper');
    assert.equal(installed['silero-vad'].kind, 'vad');
    assert.equal(path.dirname(installed.base.dir), path.join(stt.sttHome(), 'models'));
    assert.equal(await stt.pullModel('base'), installed.base.dir); // already there: nothing to do
    await assert.rejects(stt.pullModel('large-v9'), { code: 'model_not_found', message: /no recipe/ });
  });

  test('imports a model the user already has', async () => {
    const shared = stt.sttHome();
    const home = mkdtempSync(path.join(tmpdir(), 'stt-import-'));
    const saved = { STT_HOME: process.env.STT_HOME, STT_PYTHON: process.env.STT_PYTHON };
    process.env.STT_PYTHON = path.join(shared, 'venv', 'bin', 'python');
    process.env.STT_HOME = home; // the engine reads it at each call
    try {
      const source = path.join(shared, 'ct2', 'tiny.en');
      const dir = await stt.importModel(source, { name: 'tiny-copy', precision: 'int8' });
      assert.equal(dir, path.join(home, 'models', 'tiny-copy'));
      assert.deepEqual(stt.listModels().map((model) => [model.name, model.kind]), [['tiny-copy', 'whisper']]);
      const graph = path.join('onnx', 'decoder_model_merged_quantized.onnx');
      assert.ok(readFileSync(path.join(dir, graph)).equals(readFileSync(path.join(shared, 'models', 'tiny.en', graph))));
      await assert.rejects(stt.importModel(source, { precision: 'float8' }), { code: 'invalid_option' });
      await assert.rejects(stt.importModel(source, { name: 'tiny-copy' }), { code: 'invalid_model', message: /already installed/ });
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test("the READMEs' TypeScript examples compile with tsc --strict, and the first runs", () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const node = /\n## Node\n([\s\S]*?)(\n## |$)/.exec(readme)?.[1] ?? '';
    const blocks = (text) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    const examples = blocks(node);
    assert.ok(examples.length > 0, 'README.md has a ```ts block under "## Node"');
    // The package's own README (shipped in the tarball): compiled, not run.
    examples.push(...blocks(readFileSync(path.join(PACKAGE_DIR, 'README.md'), 'utf8')));
    const files = examples.map((example, i) => {
      const name = i === 0 ? 'example.mts' : `example${i + 1}.mts`;
      writeFileSync(path.join(project, name), example);
      return name;
    });
    copyFileSync(fixture('en_librispeech_1272-141231-0002.mp3'), path.join(project, 'audio.mp3'));
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          typeRoots: [path.join(PACKAGE_DIR, 'node_modules', '@types')],
          types: ['node'],
          skipLibCheck: false,
        },
        files,
      }),
    );
    execFileSync(path.join(PACKAGE_DIR, 'node_modules', '.bin', 'tsc'), ['-p', project], { stdio: 'inherit' });
    const output = execFileSync(process.execPath, [path.join(project, 'example.mjs')], { cwd: project, encoding: 'utf8' });
    for (const word of ['chest', 'blood', 'spectators']) assert.ok(words(output).includes(word), output);
    assert.match(output, /^1\n00:00:\d\d,\d{3} --> /m);
  });
});

describe('transcribe', () => {
  test('jfk: the reference text, words, and the same JSON as the CLI', async () => {
    const transcript = await whisper.transcribe(fixture('jfk.flac'), { wordTimestamps: true });
    assert.equal(transcript.text, JFK);
    assert.equal(transcript.language, 'en');
    assert.ok(transcript.languageProbability > 0.5);
    assert.ok(Math.abs(transcript.duration - 11) < 0.01);
    assert.equal(transcript.model, 'base');
    const all = transcript.segments.flatMap((segment) => segment.words);
    assert.deepEqual(all.slice(0, 3).map((w) => w.word.trim()), ['And', 'so,', 'my']);
    for (const segment of transcript.segments) {
      assert.ok(segment.start < segment.end && segment.end <= transcript.duration + 0.01);
      assert.ok(segment.avgLogprob < 0 && segment.noSpeechProb >= 0 && segment.tokens.length > 0);
      for (const word of segment.words) assert.ok(segment.start <= word.start && word.start <= word.end);
    }
    const cli = execFileSync(path.join(REPO, 'target', 'release', 'stt'), ['transcribe', fixture('jfk.flac')], {
      encoding: 'utf8',
    });
    const plain = await whisper.transcribe(fixture('jfk.flac'));
    assert.deepEqual(JSON.parse(stt.toJson(plain)), JSON.parse(cli));
    assert.match(stt.toSrt(plain), /^1\n00:00:00,000 --> 00:00:0\d,\d{3}\nAnd so, my fellow Americans/);
    assert.match(stt.toVtt(plain), /^WEBVTT\n\n00:00:00\.000 --> /);
    assert.equal(stt.toText(plain), `${JFK}\n`);
  });

  for (const extension of ['flac', 'ogg', 'm4a', 'webm', 'aac', 'aiff']) {
    test(`reads ${extension}`, async () => {
      const transcript = await whisper.transcribe(fixture(`en_librivox_sonnet001_first9s.${extension}`), { beamSize: 1 });
      for (const word of SONNET) assert.ok(words(transcript.text).includes(word), `${extension}: ${transcript.text}`);
    });
  }

  test('reads mp3, wav and opus, and translates', async () => {
    const mp3 = await whisper.transcribe(fixture('en_librispeech_1272-141231-0002.mp3'));
    for (const word of ['chest', 'blood', 'spectators']) assert.ok(words(mp3.text).includes(word), mp3.text);
    assert.ok((await whisper.transcribe(fixture('en_ljspeech_LJ001-0002.wav'))).text.length > 20);
    const opus = await whisper.transcribe(fixture('es_mls_13697_11991_000000.opus'), { beamSize: 1 });
    assert.equal(opus.language, 'es');
    const english = await whisper.transcribe(fixture('de_picovoice_test_de.wav'), { task: 'translate' });
    assert.equal(english.language, 'de');
    assert.ok(words(english.text).length > 3 && /^[\x20-\x7e]+$/.test(english.text.trim()), english.text);
  });

  test('a path, a Buffer, a Uint8Array, an ArrayBuffer and a Float32Array agree', async () => {
    const name = 'en_librispeech_1995-1837-0001.wav';
    const expected = (await whisper.transcribe(fixture(name))).text;
    assert.ok(words(expected).includes('sorrow'), expected);
    const bytes = readFileSync(fixture(name));
    assert.equal((await whisper.transcribe(bytes)).text, expected);
    assert.equal((await whisper.transcribe(new Uint8Array(bytes))).text, expected);
    const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    assert.equal((await whisper.transcribe(arrayBuffer)).text, expected);
    const samples = wavSamples(name);
    const fromSamples = await whisper.transcribe(samples);
    assert.equal(fromSamples.text, expected);
    assert.ok(Math.abs(fromSamples.duration - samples.length / 16000) < 1e-6);
  });

  test('labels speakers with diarize, by voice or by channel', async () => {
    const call = await whisper.transcribe(fixture('2spk_pyannote_sample.wav'), { diarize: true, beamSize: 1 });
    assert.deepEqual(call.speakers, ['Speaker 1', 'Speaker 2']);
    assert.equal(call.segments[0].speaker, 'Speaker 1');
    assert.deepEqual(new Set(call.segments.map((s) => s.speaker)), new Set(['Speaker 1', 'Speaker 2']));
    assert.ok(call.segments.every((s) => s.words.every((w) => w.speaker === s.speaker)));
    assert.match(stt.toSrt(call), /Speaker 2: /);
    // By channel alone implies diarize (the engine's rule, not restated in the SDK).
    const stereo = await whisper.transcribe(fixture('2spk_faster_whisper_stereo_diarization.wav'), {
      diarizeByChannel: true,
      speakers: 2,
    });
    assert.deepEqual(stereo.speakers, ['Speaker 1', 'Speaker 2']);
    assert.match(stereo.segments.filter((s) => s.speaker === 'Speaker 2').map((s) => s.text).join(' '), /horizon/);
    assert.deepEqual((await whisper.transcribe(fixture('jfk.flac'))).speakers, []);
    const mono = fixture('en_librispeech_1089-134691-0000.flac');
    await assert.rejects(whisper.transcribe(mono, { diarizeByChannel: true, diarize: true }), (error) => {
      assert.equal(error.code, 'invalid_option');
      assert.match(error.message, /channels/);
      return true;
    });
  });

  test('options in camelCase reach the engine', async () => {
    const timeless = await whisper.transcribe(fixture('jfk.flac'), { withoutTimestamps: true, temperature: 0 });
    assert.equal(timeless.segments.length, 1);
    const clipped = await whisper.transcribe(fixture('jfk.flac'), {
      vadFilter: false,
      clipTimestamps: [0, 4],
      language: 'en',
    });
    assert.ok(clipped.segments.every((segment) => segment.end <= 4.5), JSON.stringify(clipped.segments));
    assert.ok(!words(clipped.text).includes('country'), clipped.text);
    const vad = await whisper.transcribe(fixture('jfk.flac'), { vadParameters: { minSilenceDurationMs: 500 } });
    assert.deepEqual(words(vad.text), words(JFK));
  });

  test('detects the language, with every probability', async () => {
    for (const [name, language] of [
      ['de_picovoice_test_de.wav', 'de'],
      ['fr_picovoice_test_fr.wav', 'fr'],
      ['jfk.flac', 'en'],
    ]) {
      const detection = await whisper.detectLanguage(fixture(name));
      assert.equal(detection.language, language);
      assert.equal(detection.ranked.length, 99);
      assert.equal(detection.ranked[0].language, language);
      const total = detection.ranked.reduce((sum, entry) => sum + entry.probability, 0);
      assert.ok(Math.abs(total - 1) < 1e-3, `${total}`);
    }
  });
});

describe('streaming and control', () => {
  test('segments() yields the transcript segments in order as they are decoded', async () => {
    const whole = await whisper.transcribe(fixture(LONG), { beamSize: 1 });
    const seen = [];
    const progress = [];
    for await (const segment of whisper.segments(fixture(LONG), {
      beamSize: 1,
      onProgress: (done, total) => progress.push([done, total, seen.length]),
    })) {
      seen.push(segment);
    }
    assert.deepEqual(seen, whole.segments);
    assert.ok(progress.length >= 4, JSON.stringify(progress));
    // Segments arrive window by window, not all at the end.
    assert.ok(progress.some(([done, total, count]) => done < total && count > 0), JSON.stringify(progress));

    const stream = whisper.transcribeStream(fixture('jfk.flac'));
    const streamed = [];
    for await (const segment of stream) streamed.push(segment.text);
    assert.equal(streamed.join('').trim(), JFK);
    assert.equal((await stream.transcript).text, JFK);
  });

  test('stream() turns live PCM of any chunk size into partial and final events', async () => {
    const name = 'en_librispeech_1995-1837-0001.wav';
    const samples = wavSamples(name);
    const pcm = Buffer.alloc(samples.length * 2);
    samples.forEach((sample, i) => pcm.writeInt16LE(Math.round(sample * 32768), 2 * i));
    // An async source of odd-sized Buffers, as a socket or a pipe gives them.
    async function* pieces() {
      for (let i = 0; i < pcm.length; i += 3201) yield pcm.subarray(i, i + 3201);
    }
    const events = [];
    for await (const event of whisper.stream(pieces(), { language: 'en' })) events.push(event);
    const finals = events.filter((event) => event.type === 'final');
    assert.ok(events.some((event) => event.type === 'partial' && event.text), JSON.stringify(events));
    const text = finals.map((event) => event.text).join(' ');
    const offline = words((await whisper.transcribe(samples)).text);
    const symmetric = new Set([...words(text), ...offline].filter((w) => !words(text).includes(w) || !offline.includes(w)));
    assert.ok(symmetric.size <= 3, `${text} | ${offline.join(' ')}`);
    let previousEnd = 0;
    for (const final of finals) {
      assert.ok(final.start >= previousEnd - 0.2 && final.start <= final.end && final.end <= 8.8, JSON.stringify(final));
      assert.ok(final.words.length > 0 && typeof final.words[0].probability === 'number');
      previousEnd = final.end;
    }
    // Samples as Int16Array or Float32Array pieces give the same finals.
    const floatPieces = [];
    for (let i = 0; i < samples.length; i += 1600) floatPieces.push(samples.subarray(i, i + 1600));
    const finalTexts = async (chunks) => {
      const texts = [];
      for await (const event of whisper.stream(chunks, { language: 'en' })) if (event.type === 'final') texts.push(event.text);
      return texts;
    };
    assert.deepEqual(await finalTexts(floatPieces), finals.map((event) => event.text));
    const intPieces = floatPieces.map((piece) => Int16Array.from(piece, (x) => Math.round(x * 32768)));
    assert.deepEqual(await finalTexts(intPieces), finals.map((event) => event.text));
    await assert.rejects(finalTexts(['text']), {
      code: 'invalid_option',
      message: /cannot stream audio from string/,
    });
    await assert.rejects(
      (async () => {
        for await (const _ of whisper.stream([pcm], { beamSize: 0 })) void _;
      })(),
      { code: 'invalid_option', message: /beamSize/ },
    );
  });

  test('leaving the loop early stops the work', async () => {
    const started = Date.now();
    for await (const segment of whisper.segments(fixture(LONG), { beamSize: 1 })) {
      assert.ok(segment.text);
      break;
    }
    const next = await whisper.transcribe(fixture('jfk.flac'));
    assert.equal(next.text, JFK);
    const whole = Date.now() - started;
    // Without the stop the rest of the 106 s file would be decoded before jfk could start.
    const full = Date.now();
    await whisper.transcribe(fixture(LONG), { beamSize: 1 });
    assert.ok(whole < Date.now() - full, `${whole} ms`);
  });

  test('an AbortSignal stops a running call, a waiting one, and one not started', async () => {
    const controller = new AbortController();
    let reports = 0;
    const running = whisper.transcribe(fixture(LONG), {
      beamSize: 1,
      signal: controller.signal,
      onProgress: () => {
        reports += 1;
        controller.abort();
      },
    });
    const waiting = new AbortController();
    const queued = whisper.transcribe(fixture('jfk.flac'), { signal: waiting.signal });
    waiting.abort();
    await assert.rejects(queued, (error) => error.name === 'AbortError' && error.code === 'cancelled');
    await assert.rejects(running, (error) => {
      assert.ok(error instanceof stt.SttError);
      assert.equal(error.code, 'cancelled');
      assert.equal(error.name, 'AbortError');
      return true;
    });
    assert.ok(reports <= 2, `${reports} progress reports after the abort`);
    await assert.rejects(whisper.detectLanguage(fixture('jfk.flac'), { signal: AbortSignal.abort() }), {
      code: 'cancelled',
    });
    assert.equal((await whisper.transcribe(fixture('jfk.flac'))).text, JFK);
  });

  test('an error thrown by onProgress stops the call and is what it rejects with', async () => {
    const mine = new Error('stop here');
    await assert.rejects(
      whisper.transcribe(fixture(LONG), {
        onProgress: () => {
          throw mine;
        },
      }),
      (error) => error === mine,
    );
    assert.equal((await whisper.transcribe(fixture('jfk.flac'))).text, JFK);
  });

  test('the event loop stays responsive during a long transcription', async () => {
    let ticks = 0;
    let longestGap = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks += 1;
    }, 20);
    const started = Date.now();
    try {
      await whisper.transcribe(fixture(LONG), { beamSize: 1 });
    } finally {
      clearInterval(timer);
    }
    const elapsed = Date.now() - started;
    assert.ok(ticks >= elapsed / 20 / 2, `${ticks} ticks in ${elapsed} ms`);
    assert.ok(longestGap < 1000, `the timer waited ${longestGap} ms`);
  });
});

describe('errors', () => {
  test('carry the engine error kind as code', async () => {
    const reject = (promise, code, pattern) =>
      assert.rejects(promise, (error) => {
        assert.ok(error instanceof stt.SttError, String(error));
        assert.equal(error.code, code, error.message);
        if (pattern) assert.match(error.message, pattern);
        return true;
      });
    await reject(whisper.transcribe('/nonexistent/audio.wav'), 'io', /nonexistent/);
    await reject(whisper.transcribe(Buffer.from('RIFF garbage')), 'unsupported_format', /not a format/);
    await reject(whisper.transcribe(Buffer.alloc(0)), 'empty_audio');
    await reject(whisper.transcribe(new Float64Array(16000)), 'invalid_option', /Float64Array/);
    await reject(whisper.transcribe(42), 'invalid_option', /number/);
    await reject(whisper.transcribe(fixture('jfk.flac'), { beamSise: 2 }), 'invalid_option', /beamSise.*beamSize/);
    await reject(whisper.transcribe(fixture('jfk.flac'), { beamSize: 0 }), 'invalid_option', /beamSize/);
    await reject(whisper.transcribe(fixture('jfk.flac'), { temperature: Number.NaN }), 'invalid_option', /NaN/);
    await reject(new stt.Whisper({ model: 'no-such-model' }).ready(), 'model_not_found', /no-such-model/);
    assert.throws(() => new stt.Whisper({ device: 'tpu' }), { code: 'invalid_option', message: /tpu/ });
    // This machine's ONNX Runtime has no CUDA: asking for it fails clearly, auto takes the CPU.
    await reject(new stt.Whisper({ device: 'cuda' }).ready(), 'runtime', /CUDA.*onnxruntime-gpu/);
    assert.equal(whisper.device, 'cpu');
    assert.throws(() => new stt.Whisper({ threads: -1 }), { code: 'invalid_option' });
    assert.throws(() => new stt.Whisper({ computeType: 'float64' }), (error) => {
      assert.ok(error instanceof stt.SttError && error.code === 'invalid_option', String(error));
      return /float64/.test(error.message);
    });
    const broken = await whisper.transcribe(fixture('en_librivox_sonnet001_first9s_badlastframe.flac'));
    assert.ok(broken.warnings.length > 0 && broken.text.length > 0, JSON.stringify(broken));
  });
});

describe('client', () => {
  let server;
  before(async () => {
    server = await startServer(['--model', 'base', '--workers', '1', '--allow-private-urls']);
  });
  after(() => server?.stop());

  test('transcribes on a real server like the local engine', async () => {
    const client = new stt.Client({ baseUrl: `${server.base}/v1`, apiKey: server.key });
    const remote = await client.transcribe(fixture('jfk.flac'), { wordTimestamps: true });
    assert.equal(remote.text, JFK);
    assert.equal(remote.language, 'en');
    assert.equal(remote.model, 'base');
    assert.deepEqual(remote.segments[0].words.slice(0, 3).map((w) => w.word), ['And', 'so,', 'my']);
    assert.match(stt.toSrt(remote), /^1\n00:00:00,000 --> /);
    const german = await client.transcribe(readFileSync(fixture('de_picovoice_test_de.wav')), { language: 'de' });
    assert.equal(german.language, 'de');
    const samples = wavSamples('en_librispeech_1995-1837-0001.wav');
    assert.equal((await client.transcribe(samples)).text, (await whisper.transcribe(samples)).text);
  });

  test('submits jobs by upload and by url, and waits for them', async () => {
    const files = http.createServer((request, response) => {
      const name = decodeURIComponent(request.url.slice(1));
      if (!/^[\w.-]+$/.test(name) || !existsSync(path.join(FIXTURES, name))) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      createReadStream(path.join(FIXTURES, name)).pipe(response);
    });
    await new Promise((resolve) => files.listen(0, '127.0.0.1', resolve));
    const fixtures = `http://127.0.0.1:${files.address().port}`;
    try {
      const client = new stt.Client({ baseUrl: server.base, apiKey: server.key });
      for (const source of [fixture('jfk.flac'), { url: `${fixtures}/jfk.flac` }]) {
        const id = await client.submit(source);
        const transcript = await client.wait(id, { timeoutMs: 300_000, pollIntervalMs: 300 });
        assert.equal(transcript.text, JFK);
        assert.ok(transcript.segments.length > 0 && transcript.segments[0].words.length > 0);
        assert.ok(Math.abs(transcript.duration - 11) < 0.01);
        assert.equal((await client.job(id)).status, 'completed');
      }
      const broken = await client.submit({ url: `${fixtures}/does-not-exist.mp3` });
      await assert.rejects(client.wait(broken, { timeoutMs: 120_000, pollIntervalMs: 300 }), (error) => {
        assert.equal(error.code, 'job_failed');
        assert.equal(error.jobId, broken);
        return true;
      });
      const long = await client.submit(fixture(LONG));
      assert.ok(['waiting', 'active'].includes((await client.job(long)).status));
      assert.equal((await client.cancel(long)).status, 'failed');
      await assert.rejects(client.wait(long, { timeoutMs: 10_000, pollIntervalMs: 200 }), /cancelled by its creator/);
      await assert.rejects(client.cancel(long), { code: 'server', status: 409 });
    } finally {
      files.close();
    }
  });

  test('errors carry the HTTP status', async () => {
    const wrongKey = new stt.Client({ baseUrl: server.base, apiKey: 'stt_wrong' });
    // A large upload answered before it is read is still reported by its status.
    await assert.rejects(wrongKey.transcribe(fixture(LONG)), { code: 'server', status: 401 });
    const client = new stt.Client({ baseUrl: server.base, apiKey: server.key });
    await assert.rejects(client.transcribe(Buffer.from('RIFF garbage')), { code: 'server', status: 400 });
    await assert.rejects(client.wait('no-such-job', { timeoutMs: 5000 }), { code: 'server', status: 404 });
    const nobody = new stt.Client({ baseUrl: 'http://127.0.0.1:9', apiKey: 'x', timeoutMs: 5000 });
    await assert.rejects(nobody.transcribe(Buffer.from('x')), { code: 'server', status: 0 });
    await assert.rejects(client.transcribe(fixture('jfk.flac'), { signal: AbortSignal.abort() }), { code: 'cancelled' });
  });

  test('the workspace: stored transcripts, exports, usage, account and keys', async () => {
    // The key's account already holds the transcripts of the tests above.
    const client = new stt.Client({ baseUrl: server.base, apiKey: server.key });
    const before = (await client.transcripts.list()).count;
    const spoken = await client.transcribe(fixture('jfk.flac'));
    await client.transcribe(fixture('en_librispeech_1089-134691-0000.flac'), { store: false });
    const page = await client.transcripts.list({ pageSize: 100 });
    assert.equal(page.count, before + 1);
    const [stored] = page.results;
    assert.deepEqual([stored.status, stored.source, stored.fileName, stored.language], ['completed', 'transcribe', 'jfk.flac', 'en']);
    assert.equal(stored.textPreview, spoken.text.slice(0, 200));
    assert.ok(stored.created instanceof Date && Date.now() - stored.created.getTime() < 600_000, String(stored.created));
    const found = await client.transcripts.list({ status: 'completed', search: 'ASK NOT what', createdAfter: stored.created });
    assert.ok(found.results.some((s) => s.id === stored.id));
    assert.ok(found.results.every((s) => s.status === 'completed' && /ask not what/i.test(s.textPreview)));
    assert.equal((await client.transcripts.list({ createdBefore: '2000-01-01' })).count, 0);
    await assert.rejects(client.transcripts.list({ page: 1000 }), { code: 'server', status: 404 });
    const all = [];
    for await (const summary of client.transcripts.iterate({ pageSize: 2 })) all.push(summary.id);
    assert.equal(all.length, page.count);
    assert.deepEqual(new Set(all), new Set(page.results.map((s) => s.id)));

    const whole = await client.transcripts.get(stored.id);
    assert.match(whole.transcript.text, /ask not what your country/);
    assert.equal(whole.transcript.text, spoken.text);
    assert.equal(whole.created.getTime(), stored.created.getTime());
    assert.match((await client.transcripts.export(stored.id, 'srt')).toString(), /-->/);
    assert.equal((await client.transcripts.export(stored.id, 'docx')).subarray(0, 2).toString(), 'PK');
    await assert.rejects(client.transcripts.export(stored.id, 'doc'), { code: 'invalid_option', message: /docx/ });

    const usage = await client.usage({ days: 3 });
    assert.equal(usage.days.length, 3);
    assert.equal(usage.days[2].date, new Date().toISOString().slice(0, 10));
    assert.ok(usage.days[2].requests >= 1 && usage.total.minutes >= 0.18, JSON.stringify(usage));
    assert.equal(usage.total.requests, usage.days.reduce((sum, day) => sum + day.requests, 0));
    const account = await client.account();
    assert.equal(account.plan, 'paid');
    const updated = await client.updateAccount({ name: 'Node', email: 'node@example.com', emailPreferences: { usageAlerts: false } });
    assert.deepEqual([updated.id, updated.name, updated.email], [account.id, 'Node', 'node@example.com']);
    assert.deepEqual(updated.emailPreferences, { ...account.emailPreferences, usageAlerts: false });
    assert.equal((await client.updateAccount({ email: null })).email, null);
    await assert.rejects(new stt.Client({ baseUrl: server.base, apiKey: '' }).account(), { code: 'server', status: 401 });

    const laptop = await client.keys.create({ name: 'laptop' });
    assert.ok(laptop.key.startsWith('stt_') && laptop.prefix === laptop.key.slice(0, 8));
    const keys = await client.keys.list();
    assert.equal(keys.length, 2);
    assert.deepEqual(keys.find((key) => key.id === laptop.id), { id: laptop.id, name: 'laptop', prefix: laptop.prefix, created: laptop.created });
    const withLaptop = new stt.Client({ baseUrl: server.base, apiKey: laptop.key });
    assert.equal((await withLaptop.transcripts.get(stored.id)).id, stored.id);
    await client.keys.delete(laptop.id);
    const [remaining] = await client.keys.list();
    assert.notEqual(remaining.id, laptop.id);
    await assert.rejects(withLaptop.account(), { code: 'server', status: 401 });
    await assert.rejects(client.keys.delete(remaining.id), { code: 'server', status: 409 });

    await client.transcripts.delete(stored.id);
    await assert.rejects(client.transcripts.get(stored.id), (error) => {
      assert.ok(error instanceof stt.SttError);
      assert.equal(error.status, 404);
      return true;
    });
  });
});
