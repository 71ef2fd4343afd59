// The language model and the voice on an opened transcript: a summary, questions answered
// from it (stored transcripts only: the server finds the passages), and either read aloud.
// Each panel shows only when the server has its models (GET /v1/capabilities).

import { request, streamJson } from './api.js';
import { plainText } from './transcript.js';

const $ = (id) => document.getElementById(id);
/** What one speech request reads at most (the server's limit). */
const MAX_SPEECH_CHARS = 4096;

let run = null;
let capabilities = () => ({});
let opened = null; // { transcriptId, sessionId, controller }

/** Shows the panels that work for the transcript just opened. */
export function showAssist(transcriptId) {
  opened?.controller.abort();
  opened = { transcriptId, sessionId: null, controller: new AbortController() };
  const can = capabilities();
  $('summary-panel').hidden = !can.summary;
  $('chat-panel').hidden = !(can.chat && transcriptId);
  $('assist').hidden = $('summary-panel').hidden && $('chat-panel').hidden;
  $('summary').textContent = '';
  $('summary-speak').hidden = true;
  $('chat-log').replaceChildren();
  $('speech-box').replaceChildren();
}

async function summarize() {
  const output = $('summary');
  output.textContent = '';
  $('summary-speak').hidden = true;
  output.setAttribute('aria-busy', 'true');
  try {
    const body = { text: plainText(false), style: $('summary-style').value };
    const answer = await streamJson('/v1/summarize', body, (piece) => output.append(piece), opened.controller.signal);
    output.textContent = answer.summary;
    $('summary-speak').hidden = !capabilities().speech;
  } finally {
    output.removeAttribute('aria-busy');
  }
}

function speakButton(text) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'speak';
  button.textContent = 'Read aloud';
  button.addEventListener('click', () => run(() => speak(text())));
  return button;
}

async function ask() {
  const input = $('chat-question');
  const question = input.value.trim();
  if (!question) throw new Error('Type a question first.');
  const entry = document.createElement('li');
  const asked = document.createElement('p');
  asked.className = 'question';
  asked.textContent = question;
  const answer = document.createElement('p');
  answer.className = 'answer';
  answer.setAttribute('aria-live', 'polite');
  entry.append(asked, answer);
  $('chat-log').append(entry);
  input.value = '';
  const body = { question, ...(opened.sessionId && { session_id: opened.sessionId }) };
  const path = `/api/v1/transcripts/${opened.transcriptId}/chat`;
  try {
    const done = await streamJson(path, body, (piece) => answer.append(piece), opened.controller.signal);
    opened.sessionId = done.session_id;
    answer.textContent = done.answer;
    const sources = document.createElement('p');
    sources.className = 'sources';
    sources.textContent = `From: ${done.sources.map((source) => `“${source.text}”`).join(' ')}`;
    entry.append(sources);
    if (capabilities().speech) entry.append(speakButton(() => done.answer));
  } catch (error) {
    entry.remove();
    input.value = question;
    throw error;
  }
}

/** Reads `text` aloud with the server's voice, in a player under the panels. */
async function speak(text) {
  const form = new FormData();
  form.append('text', text.slice(0, MAX_SPEECH_CHARS));
  const response = await request('/v1/tts', { method: 'POST', body: form, signal: opened.controller.signal });
  const box = $('speech-box');
  if (box.firstChild?.src) URL.revokeObjectURL(box.firstChild.src);
  const player = document.createElement('audio');
  player.id = 'speech';
  player.controls = true;
  player.setAttribute('aria-label', 'Spoken answer');
  player.src = URL.createObjectURL(await response.blob());
  box.replaceChildren(player);
  await player.play().catch(() => {}); // a browser may ask for a click first: the controls are there
}

/** Wires the panels; `run(task)` reports errors, `current()` is the server's capabilities. */
export function initAssist(runTask, current) {
  run = runTask;
  capabilities = current;
  $('summary-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run(summarize);
  });
  $('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run(ask);
  });
  $('summary-speak').addEventListener('click', () => run(() => speak($('summary').textContent)));
}
