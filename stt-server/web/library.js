// The account's stored transcripts: search, open and delete.

import { getJson, request } from './api.js';
import { clock, showTranscript } from './transcript.js';

const $ = (id) => document.getElementById(id);

function item(record, run, formats) {
  const entry = document.createElement('li');
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = record.file_name || `Transcript ${record.id.slice(0, 8)}`;
  const facts = document.createElement('span');
  facts.className = 'hint';
  const when = new Date(record.created).toLocaleString();
  facts.textContent = [when, record.duration != null && clock(record.duration), record.status !== 'completed' && record.status]
    .filter(Boolean).join(' · ');
  const open = document.createElement('button');
  open.type = 'button';
  open.textContent = 'Open';
  open.setAttribute('aria-label', `Open ${title.textContent}`);
  open.disabled = record.status !== 'completed';
  open.addEventListener('click', () => run(async () => {
    const exportPath = `/api/v1/transcripts/${record.id}/export`;
    const transcript = await getJson(`${exportPath}/json`);
    showTranscript(transcript, {
      exportPath, fileName: record.file_name, media: null, formats: formats(), transcriptId: record.id,
    });
    $('result').scrollIntoView({ block: 'start' });
  }));
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'Delete';
  remove.setAttribute('aria-label', `Delete ${title.textContent}`);
  remove.addEventListener('click', () => run(async (report) => {
    if (!window.confirm(`Delete ${title.textContent}? This cannot be undone.`)) return;
    await request(`/api/v1/transcripts/${record.id}`, { method: 'DELETE' });
    entry.remove();
    report(`Deleted ${title.textContent}.`);
  }));
  entry.append(title, facts, open, remove);
  return entry;
}

export async function loadLibrary(run, formats) {
  const search = $('library-search').value.trim();
  const query = new URLSearchParams({ page_size: '50', ...(search && { search }) });
  $('library-status').textContent = 'Loading…';
  const page = await getJson(`/api/v1/transcripts/?${query}`);
  $('library-list').replaceChildren(...page.results.map((record) => item(record, run, formats)));
  $('library-status').textContent = page.count
    ? `${page.count} transcript${page.count === 1 ? '' : 's'}${page.count > page.results.length ? `, the newest ${page.results.length} shown` : ''}`
    : 'No transcripts yet.';
}

export function initLibrary(run, formats) {
  $('library-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run(() => loadLibrary(run, formats));
  });
}
