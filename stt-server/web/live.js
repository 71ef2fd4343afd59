// Live captions: the microphone through an AudioWorklet as 16 kHz PCM to /v1/stream; partials
// in grey, finals in black; stop flushes the last words, and the result can be downloaded or
// kept in the library as a transcript.

import { apiKey, explain, postJson, saveBlob } from './api.js';

const $ = (id) => document.getElementById(id);

let session = null; // { socket, context, stream }
let finals = []; // { text, start, end }

function status(text) {
  $('live-status').textContent = text;
}

function buttons(live) {
  $('live-start').disabled = live;
  $('live-stop').disabled = !live;
  $('live-save').disabled = live || finals.length === 0;
  $('live-keep').disabled = live || finals.length === 0;
}

function streamUrl() {
  const url = new URL('/v1/stream', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (apiKey()) url.searchParams.set('token', apiKey());
  return url;
}

async function startMicrophone(socket) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  // The context resamples the microphone to the 16 kHz the stream takes.
  const context = new AudioContext({ sampleRate: 16000 });
  await context.audioWorklet.addModule('/live-worklet.js');
  const worklet = new AudioWorkletNode(context, 'pcm16');
  worklet.port.onmessage = (event) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
  };
  context.createMediaStreamSource(stream).connect(worklet);
  return { context, stream };
}

function stopMicrophone() {
  session?.stream?.getTracks().forEach((track) => track.stop());
  session?.context?.close();
}

function onMessage(event, report) {
  const message = JSON.parse(event.data);
  if (message.error) {
    report(new Error(`Live captions stopped: ${message.error}`));
  } else if (message.status === 'ready') {
    status('Listening…');
  } else if (message.partial !== undefined) {
    $('live-partial').textContent = message.partial;
  } else if (message.text !== undefined) {
    // Times are optional in the protocol: a final without them follows the one before.
    const start = message.start ?? finals.at(-1)?.end ?? 0;
    finals.push({ text: message.text.trim(), start, end: message.end ?? start });
    $('live-finals').textContent = finals.map((final) => final.text).join(' ');
    $('live-partial').textContent = '';
  } else if (message.is_final) {
    status('Stopped.');
  }
}

async function start(report) {
  finals = [];
  $('live-finals').textContent = '';
  $('live-partial').textContent = '';
  buttons(true);
  status('Connecting…');
  const socket = new WebSocket(streamUrl());
  socket.binaryType = 'arraybuffer';
  session = { socket };
  socket.onmessage = (event) => onMessage(event, report);
  socket.onclose = (event) => {
    stopMicrophone();
    session = null;
    buttons(false);
    if (event.code !== 1000 && !$('live-status').textContent.startsWith('Stopped')) {
      status(event.reason ? `Closed: ${event.reason}` : 'The connection closed.');
    }
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(explain(0, '')));
  });
  const language = $('live-language').value;
  socket.send(JSON.stringify(language === 'auto' ? {} : { language }));
  try {
    Object.assign(session, await startMicrophone(socket));
  } catch (error) {
    socket.close();
    throw new Error(`The microphone is not available: ${error.message}`);
  }
}

function stop() {
  if (!session) return;
  status('Finishing…');
  stopMicrophone();
  if (session.socket.readyState === WebSocket.OPEN) session.socket.send(JSON.stringify({ action: 'stop' }));
}

function sessionName() {
  return `Live captions ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`;
}

function save() {
  const text = finals.map((final) => final.text).join('\n');
  saveBlob(new Blob([`${text}\n`], { type: 'text/plain' }), `${sessionName().replaceAll(/[ :]/g, '-')}.txt`);
}

/** Keeps the finals as a transcript in the library (`POST /api/v1/transcripts/`). */
async function keep(report) {
  const language = $('live-language').value;
  const body = {
    file_name: sessionName(),
    segments: finals.map(({ text, start, end }) => ({ text, start, end })),
    ...(language !== 'auto' && { language }),
  };
  const kept = await (await postJson('/api/v1/transcripts/', body)).json();
  $('live-keep').disabled = true;
  report(`Saved to your library as “${kept.file_name}”.`);
}

export function initLive(run) {
  $('live-start').addEventListener('click', () => run((report) => start(report)));
  $('live-stop').addEventListener('click', stop);
  $('live-save').addEventListener('click', save);
  $('live-keep').addEventListener('click', () => run(keep));
}
