// The transcript a person works with: turns by speaker with their times, a player whose
// current word is highlighted and which a click on a word moves, search, renamed speakers,
// copy and downloads in every export format.

import { request, saveBlob } from './api.js';
import { showAssist } from './assist.js';

const $ = (id) => document.getElementById(id);

/** "1:05" or "1:02:05". */
export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const two = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

let shown = null; // { transcript, exportPath, fileName, names: Map, words: [] }

/** Shows `transcript` (the API's JSON shape). `exportPath`: where its exports are
 * (`/v1/stt/{id}/export` or `/api/v1/transcripts/{id}/export`); `media`: a File to play;
 * `transcriptId`: where the workspace keeps it, if it does (chat needs it). */
export function showTranscript(transcript, { exportPath, fileName, media, formats, transcriptId }) {
  shown = { transcript, exportPath, fileName, names: new Map(), words: [] };
  $('result-title').textContent = fileName || 'Transcript';
  const facts = [clock(transcript.duration), transcript.language && `language ${transcript.language}`,
    transcript.model && `model ${transcript.model}`];
  $('result-meta').textContent = facts.filter(Boolean).join(' · ');
  showPlayer(media);
  $('export-format').replaceChildren(...formats.map((format) => new Option(format.toUpperCase(), format)));
  $('search').value = '';
  $('search-count').textContent = '';
  renderSpeakerFields();
  renderTurns();
  showAssist(transcriptId);
  $('result').hidden = false;
}

function showPlayer(media) {
  const box = $('player-box');
  if (box.firstChild?.src) URL.revokeObjectURL(box.firstChild.src);
  box.replaceChildren();
  if (!media) return;
  const player = document.createElement(media.type.startsWith('video/') ? 'video' : 'audio');
  player.id = 'player';
  player.controls = true;
  player.preload = 'metadata';
  player.src = URL.createObjectURL(media);
  player.setAttribute('aria-label', 'Recording');
  player.addEventListener('timeupdate', () => highlight(player.currentTime));
  box.append(player);
}

function speakerName(label) {
  return (label && shown.names.get(label)) || label || '';
}

/** Consecutive segments of one speaker, as one turn. */
function turns(segments) {
  const grouped = [];
  for (const segment of segments) {
    const last = grouped.at(-1);
    if (last && last.speaker === (segment.speaker ?? null)) last.segments.push(segment);
    else grouped.push({ speaker: segment.speaker ?? null, segments: [segment] });
  }
  return grouped;
}

function renderTurns() {
  const container = $('transcript');
  shown.words = [];
  const blocks = turns(shown.transcript.segments).map((turn) => {
    const block = document.createElement('section');
    block.className = 'turn';
    const heading = document.createElement('h3');
    const time = document.createElement('button');
    time.type = 'button';
    time.className = 'time';
    time.dataset.start = turn.segments[0].start;
    time.textContent = clock(turn.segments[0].start);
    time.setAttribute('aria-label', `Play from ${clock(turn.segments[0].start)}`);
    heading.append(time);
    if (turn.speaker) {
      const name = document.createElement('span');
      name.className = 'speaker';
      name.dataset.label = turn.speaker;
      name.textContent = speakerName(turn.speaker);
      heading.append(' ', name);
    }
    const text = document.createElement('p');
    for (const segment of turn.segments) {
      const words = segment.words?.length ? segment.words : [{ word: segment.text, start: segment.start, end: segment.end }];
      for (const word of words) {
        const span = document.createElement('span');
        span.className = 'word';
        span.dataset.start = word.start;
        span.textContent = word.word;
        shown.words.push({ start: word.start, end: word.end, span });
        text.append(span, ' ');
      }
    }
    block.append(heading, text);
    return block;
  });
  container.replaceChildren(...blocks);
}

function renderSpeakerFields() {
  const labels = shown.transcript.speakers || [];
  $('speaker-names').hidden = labels.length === 0;
  $('speaker-fields').replaceChildren(...labels.map((label, index) => {
    const field = document.createElement('p');
    field.className = 'field';
    const id = `speaker-name-${index}`;
    const caption = document.createElement('label');
    caption.htmlFor = id;
    caption.textContent = `Name for ${label}`;
    const input = document.createElement('input');
    input.id = id;
    input.maxLength = 100;
    input.placeholder = label;
    input.addEventListener('input', () => {
      const name = input.value.trim();
      if (name) shown.names.set(label, name);
      else shown.names.delete(label);
      for (const span of document.querySelectorAll('#transcript .speaker')) {
        if (span.dataset.label === label) span.textContent = speakerName(label);
      }
    });
    field.append(caption, input);
    return field;
  }));
}

let current = null;

/** Marks the word being played (the last one that started by `time`). */
function highlight(time) {
  const words = shown?.words || [];
  let low = 0;
  let high = words.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (words[middle].start <= time) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  const word = found >= 0 && time < words[found].end + 1 ? words[found].span : null;
  if (word === current) return;
  current?.classList.remove('current');
  word?.classList.add('current');
  current = word;
}

function seek(seconds) {
  const player = $('player');
  if (!player) return;
  player.currentTime = seconds;
  highlight(seconds);
}

function search() {
  const query = $('search').value.trim().toLowerCase();
  let count = 0;
  for (const { span } of shown.words) {
    const hit = query !== '' && span.textContent.toLowerCase().includes(query);
    span.classList.toggle('match', hit);
    count += hit;
  }
  $('search-count').textContent = query ? `${count} ${count === 1 ? 'match' : 'matches'}` : '';
  document.querySelector('#transcript .match')?.scrollIntoView({ block: 'center', behavior: 'smooth' });
}

/** The text with each turn's speaker (as named), and its time when `timed`. */
export function plainText(timed = true) {
  return turns(shown.transcript.segments).map((turn) => {
    const text = turn.segments.map((segment) => segment.text.trim()).join(' ');
    const who = turn.speaker ? speakerName(turn.speaker) : '';
    if (!timed) return who ? `${who}: ${text}` : text;
    return `${who ? `${who} ` : ''}[${clock(turn.segments[0].start)}]\n${text}`;
  }).join('\n\n');
}

async function copy(report) {
  await navigator.clipboard.writeText(plainText());
  report('The transcript was copied.');
}

async function download(report) {
  const format = $('export-format').value;
  const names = Object.fromEntries(shown.names);
  const query = Object.keys(names).length ? `?speaker_names=${encodeURIComponent(JSON.stringify(names))}` : '';
  const response = await request(`${shown.exportPath}/${format}${query}`);
  const stem = (shown.fileName || 'transcript').replace(/\.[^.]+$/, '');
  saveBlob(await response.blob(), `${stem}.${format}`);
  report(`Downloaded ${stem}.${format}.`);
}

/** Wires the view's controls; `run(task)` reports a task's errors. */
export function initTranscriptView(run) {
  $('transcript').addEventListener('click', (event) => {
    const target = event.target.closest('.word, .time');
    if (target) seek(Number(target.dataset.start));
  });
  $('search').addEventListener('input', search);
  $('copy').addEventListener('click', () => run(copy));
  $('download').addEventListener('click', () => run(download));
}
