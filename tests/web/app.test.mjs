// The web app of `stt serve` in Debian's Chromium, driven by Playwright: an upload of jfk to its
// transcript and exports, an address the server fetches, a click on a word moving the player, a bad file's error, live
// captions from Chromium's fake microphone kept in the library, a stored transcript's summary,
// questions and speech, axe-core's accessibility scan, and nothing loaded from another origin. Screenshots of every screen at phone and desktop width go to
// benches/out/web/.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = process.env.STT_FIXTURES ?? path.resolve(REPO, '../shared/fixtures/audio');
const STT = path.join(REPO, 'target/release/stt');
const SHOTS = path.join(REPO, 'benches/out/web');
const JFK = path.join(FIXTURES, 'jfk.flac');
const LIVE_WAV = path.join(FIXTURES, 'en_ljspeech_LJ001-0001.wav'); // "Printing, in the only sense..."
const AXE = readFileSync(path.join(REPO, 'tests/web/node_modules/axe-core/axe.min.js'), 'utf8');
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };

let server;
let base;
let key;
let browser;
let scratch;
const foreign = []; // requests to any other origin

function startServer(dataDir) {
  // (private addresses allowed: the recording given by address is served on loopback)
  const child = spawn(STT, ['serve', '--port', '0', '--data-dir', dataDir, '--anonymous', '--allow-private-urls'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(/listening on (http:\/\/\S+)/);
      if (match) resolve({ child, base: match[1].replace(/\/$/, '') });
    });
    child.on('exit', (code) => reject(new Error(`stt serve exited with ${code}`)));
  });
}

async function newPage(viewport = VIEWPORTS.desktop, { withKey = true } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  await context.grantPermissions(['microphone', 'clipboard-read', 'clipboard-write'], { origin: base });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === base || url.protocol === 'blob:' || url.protocol === 'data:') return route.continue();
    foreign.push(url.href);
    return route.abort();
  });
  if (withKey) await context.addInitScript((value) => localStorage.setItem('stt-key', value), key);
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function shoot(page, name) {
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

async function seriousViolations(page) {
  await page.evaluate(AXE); // (through DevTools: the page's policy refuses inline scripts)
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((violation) => ['serious', 'critical'].includes(violation.impact))
    .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

async function transcribe(page, file) {
  await page.setInputFiles('#file', file);
  await page.click('#transcribe');
  await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 240_000 });
}

/** Waits for `selector`, or for an error, which fails the test with its words. */
async function settle(page, selector, timeout = 120_000) {
  await page.waitForSelector(`${selector}, #error:not([hidden])`, { timeout });
  assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
}

before(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'stt-web-'));
  mkdirSync(SHOTS, { recursive: true });
  ({ child: server, base } = await startServer(path.join(scratch, 'data')));
  key = JSON.parse(execFileSync(STT, ['keys', 'create', '--data-dir', path.join(scratch, 'data'), '--plan', 'paid'],
    { encoding: 'utf8' })).key;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${LIVE_WAV}`,
      '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGINT');
  rmSync(scratch, { recursive: true, force: true });
});

describe('the web app', () => {
  test('is served from the binary with a same-origin policy', async () => {
    const response = await fetch(base);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /text\/html/);
    assert.match(response.headers.get('content-security-policy'), /default-src 'self'/);
    for (const file of ['/app.js', '/app.css', '/live-worklet.js']) {
      assert.equal((await fetch(base + file)).status, 200, file);
    }
  });

  test('an upload of jfk shows its text, speakers and a working export', async () => {
    const page = await newPage();
    await shoot(page, 'upload');
    await transcribe(page, JFK);
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    const text = await page.textContent('#transcript');
    assert.match(text, /ask not what your country can do for you/i);
    assert.equal(await page.textContent('#transcript .speaker'), 'Speaker 1');
    assert.equal(await page.textContent('#result-title'), 'jfk.flac');

    // A renamed speaker shows at once and carries into the export.
    await page.click('#speaker-names summary');
    await page.fill('#speaker-name-0', 'John F. Kennedy');
    assert.equal(await page.textContent('#transcript .speaker'), 'John F. Kennedy');
    await page.selectOption('#export-format', 'srt');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), 'jfk.srt');
    const subtitles = readFileSync(await download.path(), 'utf8');
    assert.match(subtitles, /00:00:0\d,\d{3} --> /);
    assert.match(subtitles, /John F\. Kennedy/);
    assert.match(subtitles, /country/);

    await page.click('#copy');
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^John F\. Kennedy \[0:00\]\nAnd so/);

    await page.fill('#search', 'country');
    assert.equal(await page.textContent('#search-count'), '2 matches');
    await shoot(page, 'transcript');
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('an address is fetched by the server and transcribed', async () => {
    const files = createServer((request, response) => {
      response.writeHead(200, { 'Content-Type': 'audio/flac' });
      response.end(readFileSync(JFK));
    });
    await new Promise((resolve) => files.listen(0, '127.0.0.1', resolve));
    const page = await newPage();
    await page.fill('#url', `http://127.0.0.1:${files.address().port}/speeches/jfk.flac`);
    await page.click('#transcribe');
    await settle(page, '#result:not([hidden])', 240_000);
    assert.match(await page.textContent('#transcript'), /ask not what your country/i);
    assert.equal(await page.textContent('#result-title'), 'jfk.flac');
    files.close();
    await page.context().close();
  });

  test('clicking a word moves the player to its start', async () => {
    const page = await newPage();
    await transcribe(page, JFK);
    await page.waitForFunction(() => document.getElementById('player')?.readyState >= 1);
    const word = page.locator('#transcript .word', { hasText: 'Americans' }).first();
    const start = Number(await word.getAttribute('data-start'));
    assert.ok(start > 1 && start < 5, `Americans starts at ${start}`);
    await word.click();
    const time = await page.evaluate(() => document.getElementById('player').currentTime);
    assert.ok(Math.abs(time - start) < 0.01, `currentTime ${time}, word at ${start}`);
    assert.equal(await word.evaluate((node) => node.classList.contains('current')), true);
    await page.context().close();
  });

  test('a bad file shows the server\'s error', async () => {
    const page = await newPage();
    const bad = path.join(scratch, 'not-audio.wav');
    writeFileSync(bad, 'this is not a recording at all\n'.repeat(20));
    await transcribe(page, bad);
    const error = await page.textContent('#error');
    assert.match(error, /The transcription failed: .*(audio|decode|format)/i);
    await shoot(page, 'error');
    await page.context().close();
  });

  test('a wrong key is explained in words', async () => {
    const page = await newPage();
    await page.fill('#key', 'stt_not_a_real_key');
    await page.click('#key-form button');
    await transcribe(page, JFK);
    assert.match(await page.textContent('#error'), /did not accept the API key/);
    await page.context().close();
  });

  test('without a key the server\'s anonymous allowance is used and no library is offered', async () => {
    const page = await newPage(VIEWPORTS.desktop, { withKey: false });
    assert.match(await page.textContent('#notice'), /Without a key, transcripts are not kept/);
    assert.equal(await page.isHidden('#tab-library'), true);
    await page.context().close();
  });

  test('the live page shows partials, then finals with the microphone\'s words', async () => {
    const page = await newPage();
    await page.click('#tab-live');
    await page.click('#live-start');
    await page.waitForFunction(() => document.getElementById('live-partial').textContent.trim() !== '',
      null, { timeout: 60_000 });
    await page.waitForFunction(() => /printing/i.test(document.getElementById('live-finals').textContent),
      null, { timeout: 90_000 });
    assert.equal(await page.evaluate(() => getComputedStyle(document.getElementById('live-partial')).color)
      !== await page.evaluate(() => getComputedStyle(document.getElementById('live-finals')).color), true);
    await shoot(page, 'live');
    await page.click('#live-stop');
    await page.waitForFunction(() => document.getElementById('live-status').textContent === 'Stopped.',
      null, { timeout: 60_000 });
    assert.equal(await page.isEnabled('#live-save'), true);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#live-save')]);
    assert.match(readFileSync(await download.path(), 'utf8'), /printing/i);
    await page.click('#live-keep');
    await page.waitForFunction(() => /Saved to your library/.test(document.getElementById('notice').textContent));
    assert.equal(await page.isDisabled('#live-keep'), true);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('the library lists, opens and deletes the key\'s transcripts', async () => {
    const page = await newPage(VIEWPORTS.phone);
    await page.click('#tab-library');
    await page.waitForSelector('#library-list li');
    assert.match(await page.textContent('#library-list'), /jfk\.flac/);
    await shoot(page, 'library');
    await page.locator('#library-list li', { hasText: 'Live captions' }).getByRole('button', { name: /^Open/ }).click();
    await settle(page, '#result:not([hidden])');
    assert.match(await page.textContent('#transcript'), /printing/i);
    assert.deepEqual(await seriousViolations(page), []);
    await page.locator('#library-list li', { hasText: 'jfk.flac' }).first().getByRole('button', { name: /^Open/ }).click();
    await page.waitForFunction(() => /ask not/.test(document.getElementById('transcript').textContent));

    // A stored transcript's summary, a question answered from it with its sources, read aloud.
    await page.click('#summary-form button');
    await settle(page, '#summary-speak:not([hidden])');
    assert.match(await page.textContent('#summary'), /\w+ \w+ \w+/);
    await page.fill('#chat-question', 'What should you ask?');
    await page.click('#chat-form button');
    await settle(page, '#chat-log .sources');
    assert.match(await page.textContent('#chat-log .sources'), /country/);
    assert.notEqual((await page.textContent('#chat-log .answer')).trim(), '');
    await page.click('#chat-log .speak');
    await page.waitForFunction(() => document.getElementById('speech')?.duration > 0.5, null, { timeout: 60_000 });
    await shoot(page, 'assist');
    assert.deepEqual(await seriousViolations(page), []);
    const before = await page.locator('#library-list li').count();
    page.once('dialog', (dialog) => dialog.accept());
    await page.locator('#library-list li').first().getByRole('button', { name: /^Delete/ }).click();
    await page.waitForFunction((count) => document.querySelectorAll('#library-list li').length === count - 1, before);
    await page.context().close();
  });

  test('nothing was loaded from another origin', () => {
    assert.deepEqual(foreign, []);
  });
});
