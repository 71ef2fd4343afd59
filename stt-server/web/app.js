// The page: tabs, the key, what the server offers (GET /v1/capabilities), and one place where
// every task's errors are shown in words.

import { apiKey, getJson, setApiKey } from './api.js';
import { initAssist } from './assist.js';
import { initLibrary, loadLibrary } from './library.js';
import { initLive } from './live.js';
import { initTranscriptView } from './transcript.js';
import { initUpload } from './upload.js';

const $ = (id) => document.getElementById(id);
let capabilities = { export_formats: ['txt', 'srt', 'vtt', 'json'] };

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

function notice(message) {
  $('notice').textContent = message;
  $('notice').hidden = !message;
}

/** Runs `task(report)`: clears the last error, shows the new one; a cancelled task is quiet. */
async function run(task) {
  showError('');
  try {
    await task((message) => (message instanceof Error ? showError(message.message) : notice(message)));
  } catch (error) {
    if (error.name !== 'AbortError') showError(error.message);
  }
}

function selectTab(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute('aria-selected', String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute('aria-controls')).hidden = !selected;
  }
  if (tab.id === 'tab-library') run(() => loadLibrary(run, formats));
}

function initTabs() {
  const tabs = () => [...document.querySelectorAll('[role="tab"]:not([hidden])')];
  for (const tab of tabs()) {
    tab.addEventListener('click', () => selectTab(tab));
    // Arrow keys move between tabs, as the ARIA tabs pattern has it.
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const shown = tabs();
      const next = shown[(shown.indexOf(tab) + step + shown.length) % shown.length];
      next.focus();
      selectTab(next);
    });
  }
}

function formats() {
  return capabilities.export_formats;
}

/** Shows only what works here, and says when a key is needed. */
function applyCapabilities() {
  $('tab-live').hidden = !capabilities.streaming;
  $('diarize').closest('p').hidden = !capabilities.diarization;
  $('speakers').closest('p').hidden = !capabilities.diarization;
  $('tab-library').hidden = !apiKey();
  $('live-keep').hidden = !apiKey();
  if (!apiKey() && !capabilities.anonymous) {
    notice('This server needs an API key: enter yours above.');
  } else if (!apiKey()) {
    notice(`Without a key, transcripts are not kept and uploads are limited to ${capabilities.anonymous_max_upload_mb} MB.`);
  } else {
    notice('');
  }
}

async function loadChoices() {
  const { models } = await getJson('/v1/models');
  $('model').replaceChildren(...models.map((model) => {
    const option = new Option(`${model.name} (${model.speed.replaceAll('_', ' ')})`, model.id);
    option.selected = model.default;
    return option;
  }));
  const { languages } = await getJson('/v1/languages');
  for (const select of [$('language'), $('live-language')]) {
    select.append(...languages.map((language) => new Option(
      language.name.charAt(0).toUpperCase() + language.name.slice(1), language.code)));
  }
}

function initKey() {
  $('key').value = apiKey();
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setApiKey($('key').value.trim());
    applyCapabilities();
    showError('');
  });
}

async function start() {
  initTabs();
  initKey();
  initTranscriptView(run);
  initAssist(run, () => capabilities);
  initUpload(run, formats);
  initLive(run);
  initLibrary(run, formats);
  await run(async () => {
    capabilities = await getJson('/v1/capabilities');
    applyCapabilities();
    await loadChoices();
  });
  document.body.dataset.ready = 'true';
}

start();
