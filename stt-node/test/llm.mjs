// The text features as a user gets them: the local `Llm` on a real GGUF model
// (qwen2.5-coder-0.5b) and the sentence embedder (minilm-l6), then the client's text calls
// against a real `stt serve` with a language model. `sdk.test.mjs` imports this module, so
// scripts/test_node_sdk.sh runs it; `node --test test/llm.mjs` runs it alone. The texts are
// short: every call runs the model on the CPU.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fixture, installedProject, startServer } from './helpers.mjs';

const MODEL = 'qwen2.5-coder-0.5b';
const MEETING =
  'Alice: The launch went well and customers love the new dashboard. Bob: Great, I will send the report to Carol by Friday.';
const FACT = 'Water boils at 100 degrees Celsius at sea level.';
// Short options make a short quiz: each option is a sentence of the text's kind.
const QUIZ_TEXT = 'Tom is 7 years old.';
const ANALYSIS_TYPES = /sentiment, topics, entities, action_items, questions, pii_redact/;

const dot = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);

describe('text features', () => {
  let stt;
  let llm;
  before(async () => {
    ({ stt } = await installedProject());
    llm = await stt.Llm.load({ model: MODEL });
  });

  describe('local Llm', () => {
    test('loads by name, summarizes with streamed pieces, and stops on abort', async () => {
      assert.equal(llm.model, MODEL);
      assert.equal(llm.onGpu, false);
      const pieces = [];
      const summary = await llm.summarize(MEETING, { onText: (piece) => pieces.push(piece) });
      assert.ok(typeof summary === 'string' && summary.length > 10, summary);
      assert.ok(pieces.length > 1);
      assert.equal(pieces.join('').trim(), summary);

      const controller = new AbortController();
      const stopped = llm.summarize(MEETING, { style: 'detailed', signal: controller.signal, onText: () => controller.abort() });
      await assert.rejects(stopped, { name: 'AbortError', code: 'cancelled' });
      await assert.rejects(llm.summarize(MEETING, { style: 'short' }), { code: 'invalid_option', message: /brief, detailed/ });
      await assert.rejects(stt.Llm.load({ model: 'no-such-llm' }), { code: 'model_not_found', message: /no-such-llm/ });
      assert.throws(() => new stt.Llm({ device: 'tpu' }), { code: 'invalid_option', message: /tpu/ });
      assert.throws(() => new stt.Llm({ threads: -1 }), { code: 'invalid_option' });
    });

    test('analyzes sentiment, and names the valid types for a bad one', async () => {
      const sentiment = await llm.analyze('I love this phone, it works great!', 'sentiment');
      assert.ok(['positive', 'negative', 'neutral'].includes(sentiment.label), JSON.stringify(sentiment));
      assert.equal(typeof sentiment.reason, 'string');
      await assert.rejects(llm.analyze(MEETING, 'mood'), (error) => {
        assert.ok(error instanceof stt.SttError, String(error));
        assert.equal(error.code, 'invalid_option');
        assert.match(error.message, ANALYSIS_TYPES);
        return true;
      });
    });

    test('generates a quiz: four options and the index of the right one', async () => {
      const quiz = await llm.generate(QUIZ_TEXT, 'quiz');
      assert.equal(quiz.content, undefined);
      assert.ok(quiz.result.questions.length >= 1, JSON.stringify(quiz));
      for (const question of quiz.result.questions) {
        assert.ok(question.question.length > 0);
        assert.equal(question.options.length, 4);
        assert.ok(Number.isInteger(question.answer) && question.answer >= 0 && question.answer <= 3, JSON.stringify(question));
      }
      await assert.rejects(llm.generate(FACT, 'poem'), { code: 'invalid_option', message: /blog_post.*chapter_markers/ });
    });

    test('translates, and names the supported languages for another', async () => {
      const spanish = await llm.translate('Good morning, my friend.', 'es');
      assert.ok(spanish.length > 0 && spanish !== 'Good morning, my friend.', spanish);
      await assert.rejects(llm.translate('Good morning.', 'xx'), {
        code: 'invalid_option',
        message: /"xx".*supported: en, zh, es/,
      });
    });

    test('embeds texts as 384-d unit vectors, a paraphrase nearest', async () => {
      const [cat, kitten, markets] = await llm.embed([
        'The cat sits on the mat.',
        'A kitten is sitting on a rug.',
        'Stock markets fell sharply today.',
      ]);
      for (const vector of [cat, kitten, markets]) {
        assert.equal(vector.length, 384);
        assert.ok(Math.abs(dot(vector, vector) - 1) < 1e-4);
      }
      assert.ok(dot(cat, kitten) > dot(cat, markets) + 0.3, `${dot(cat, kitten)} vs ${dot(cat, markets)}`);
      assert.deepEqual(await llm.embed([]), []);
      await assert.rejects(llm.embed(['x'], { signal: AbortSignal.abort() }), { code: 'cancelled' });
      await assert.rejects(llm.embed('text'), { code: 'invalid_option' });
    });
  });

  describe('client', () => {
    let server;
    let client;
    before(async () => {
      server = await startServer(['--model', 'base', '--workers', '1', '--llm-model', MODEL]);
      client = new stt.Client({ baseUrl: server.base, apiKey: server.key });
    });
    after(() => server?.stop());

    test('summarizes, redacts PII and generates on the server', async () => {
      const summary = await client.summarize(MEETING);
      assert.ok(summary.summary.length > 10, summary.summary);
      assert.deepEqual([summary.style, summary.model], ['brief', MODEL]);

      const redaction = await client.analyze('Please write to jane.doe@example.com about the invoice.', 'pii_redact');
      assert.deepEqual([redaction.type, redaction.model], ['pii_redact', MODEL]);
      assert.match(redaction.result.redactedText, /\[EMAIL\]/);
      assert.ok(!redaction.result.redactedText.includes('jane.doe@example.com'));
      const email = redaction.result.entities.find((entity) => entity.type === 'email');
      assert.deepEqual(email && [email.text, email.source], ['jane.doe@example.com', 'pattern']);

      const quotes = await client.generate(FACT, 'key_quotes');
      assert.deepEqual([quotes.type, quotes.model, quotes.content], ['key_quotes', MODEL, undefined]);
      assert.ok(quotes.result.quotes.length >= 1 && quotes.result.quotes.every((q) => typeof q === 'string'));

      await assert.rejects(client.analyze(MEETING, 'mood'), (error) => {
        assert.deepEqual([error.code, error.status], ['server', 400]);
        assert.match(error.message, ANALYSIS_TYPES);
        return true;
      });
    });

    test('translates one text and a batch, and embeds like the local embedder', async () => {
      const one = await client.translate('Thank you very much.', 'es');
      assert.ok(one.translatedText.length > 0, one.translatedText);
      assert.deepEqual([one.sourceLanguage, one.targetLanguage, one.model], ['en', 'es', MODEL]);
      const batch = await client.translate(['Good night.', 'See you tomorrow.'], 'es', { source: 'en' });
      assert.equal(batch.length, 2);
      for (const translation of batch) {
        assert.ok(translation.translatedText.length > 0);
        assert.deepEqual([translation.sourceLanguage, translation.targetLanguage], ['en', 'es']);
      }
      await assert.rejects(client.translate('Hello.', 'xx'), { code: 'server', status: 400, message: /supported/ });

      const texts = ['The cat sits on the mat.', 'Stock markets fell sharply today.'];
      const remote = await client.embed(texts);
      assert.equal(remote.dimensions, 384);
      const local = await llm.embed(texts);
      remote.embeddings.forEach((vector, i) => {
        assert.equal(vector.length, 384);
        assert.ok(vector.every((x, j) => Math.abs(x - local[i][j]) < 1e-3));
      });
    });

    test('answers questions about a transcript, with its sources', async () => {
      await client.transcribe(fixture('jfk.flac'));
      const [stored] = (await client.transcripts.list()).results;
      assert.equal(stored.fileName, 'jfk.flac');
      const reply = await client.transcripts.chat(stored.id, 'What should Americans ask?');
      assert.ok(reply.answer.length > 0, reply.answer);
      assert.ok(reply.sources.length >= 1, JSON.stringify(reply));
      const [source] = reply.sources;
      assert.ok(Number.isInteger(source.segmentOrder) && typeof source.score === 'number', JSON.stringify(source));
      assert.match(source.text, /country/);
      assert.ok(typeof reply.sessionId === 'string' && reply.sessionId.length > 0);
      assert.equal(reply.model, MODEL);

      // The transcript's analyses and content answer as `analyze` and `generate` do (above).
      await assert.rejects(client.transcripts.analyze(stored.id, 'mood'), { code: 'server', status: 400, message: ANALYSIS_TYPES });
      await assert.rejects(client.transcripts.generate(stored.id, 'poem'), { code: 'server', status: 400, message: /quiz/ });
      await assert.rejects(client.transcripts.chat('no-such-transcript', 'Why?'), { code: 'server', status: 404 });
    });
  });
});
