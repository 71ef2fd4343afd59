// Transcribing a file or an address: the upload with its progress, then the job's, then the
// transcript; cancel stops whichever is under way.

import { getJson, postJson, request, upload } from './api.js';
import { showTranscript } from './transcript.js';

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let running = null; // { controller, jobId }

function options() {
  const fields = {
    model: $('model').value,
    diarize: String($('diarize').checked),
  };
  if ($('language').value !== 'auto') fields.language = $('language').value;
  if ($('translate').checked) fields.task = 'translate';
  const speakers = Number($('speakers').value);
  if ($('diarize').checked && speakers > 0) fields.speakers = String(speakers);
  return fields;
}

function stage(label, fraction, status) {
  $('job-stage').textContent = label;
  const bar = $('job-progress');
  if (fraction === null) bar.removeAttribute('value');
  else bar.value = fraction;
  $('job-status').textContent = status;
}

async function createJob(file, url, signal) {
  if (file) {
    const form = new FormData();
    for (const [name, value] of Object.entries(options())) form.append(name, value);
    form.append('audio', file, file.name);
    stage('Uploading', 0, `Sending ${file.name}`);
    const { body, transcriptId } = await upload('/v1/stt/create', form, (fraction) => {
      stage('Uploading', fraction, `${Math.round(fraction * 100)}% of ${file.name} sent`);
    }, signal);
    return { jobId: body.generation_id, transcriptId };
  }
  stage('Fetching', null, `The server is fetching ${url}`);
  const fields = options();
  const body = { url, ...fields, diarize: fields.diarize === 'true' };
  if (fields.speakers) body.speakers = Number(fields.speakers);
  const response = await postJson('/v1/stt/create', body, { signal });
  return { jobId: (await response.json()).generation_id, transcriptId: response.headers.get('X-Transcript-Id') };
}

async function waitForJob(jobId, signal) {
  for (;;) {
    const job = await getJson(`/v1/stt/${jobId}`, { signal });
    if (job.status === 'completed') return;
    if (job.status === 'failed') throw new Error(`The transcription failed: ${job.error}`);
    if (job.status === 'waiting') stage('Waiting', null, 'Waiting for a free worker');
    else stage('Transcribing', job.progress ?? 0, `${Math.round((job.progress ?? 0) * 100)}% transcribed`);
    await sleep(500);
  }
}

async function transcribe(formats) {
  const file = $('file').files[0];
  const url = $('url').value.trim();
  if (!file && !url) throw new Error('Choose a file or give the address of a recording first.');
  const controller = new AbortController();
  running = { controller, jobId: null };
  $('job').hidden = false;
  $('transcribe').disabled = true;
  $('result').hidden = true;
  try {
    const { jobId, transcriptId } = await createJob(file, file ? null : url, controller.signal);
    running.jobId = jobId;
    await waitForJob(running.jobId, controller.signal);
    stage('Done', 1, 'Transcribed');
    const exportPath = `/v1/stt/${running.jobId}/export`;
    const transcript = await getJson(`${exportPath}/json`, { signal: controller.signal });
    const fileName = file ? file.name : decodeURIComponent(url.split('/').pop() || url);
    showTranscript(transcript, { exportPath, fileName, media: file, formats, transcriptId });
    $('result').scrollIntoView({ block: 'start' });
  } finally {
    running = null;
    $('job').hidden = true;
    $('transcribe').disabled = false;
  }
}

async function cancel() {
  if (!running) return;
  const { controller, jobId } = running;
  controller.abort();
  if (jobId) await request(`/v1/stt/${jobId}`, { method: 'DELETE' }).catch(() => {});
}

/** Wires the form; `run(task)` reports errors, `formats()` lists the export formats. */
export function initUpload(run, formats) {
  const input = $('file');
  const drop = $('drop');
  const chosen = () => {
    const file = input.files[0];
    $('file-name').textContent = file ? `Chosen: ${file.name}` : '';
    if (file) $('url').value = '';
  };
  input.addEventListener('change', chosen);
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      chosen();
    }
  });
  $('upload-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run(() => transcribe(formats()));
  });
  $('cancel').addEventListener('click', () => run(async (report) => {
    await cancel();
    report('Cancelled.');
  }));
}
