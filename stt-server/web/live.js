// Live captions: the microphone through an AudioWorklet as 16 kHz PCM to /v1/stream; partials
// in grey, finals in black; stop flushes the last words, and the result can be saved.

import { apiKey, explain, saveBlob } from './api.js';

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
    finals.push({ text: message.text.trim(), start: message.start, end: message.end });
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

function save() {
  const text = finals.map((final) => final.text).join('\n');
  const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
  saveBlob(new Blob([`${text}\n`], { type: 'text/plain' }), `live-${stamp}.txt`);
}

export function initLive(run) {
  $('live-start').addEventListener('click', () => run((report) => start(report)));
  $('live-stop').addEventListener('click', stop);
  $('live-save').addEventListener('click', save);
}
