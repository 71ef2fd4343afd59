// Talking to this server: the key, requests with it, and errors explained in words.

const KEY = 'stt-key';

export function apiKey() {
  return localStorage.getItem(KEY) || '';
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** What a refused request means to a person, with the server's own words after it. */
export function explain(status, serverMessage, retryAfter) {
  const said = serverMessage ? ` (${serverMessage})` : '';
  switch (status) {
    case 0:
      return 'The server cannot be reached. Check that it is running and try again.';
    case 401:
      return `The server did not accept the API key. Enter a valid key above, or ask the operator for one${said}.`;
    case 402:
      return `Your account has no minutes left for this${said}. Wait for next month or ask the operator for more.`;
    case 413:
      return `The file is too large or too long for this server${said}.`;
    case 429:
      return `Too many requests at once${retryAfter ? `: try again in ${retryAfter} s` : ': try again shortly'}${said}.`;
    case 503:
      return `The server is busy or its engine is unavailable; try again in a moment${said}.`;
    default:
      return serverMessage || `The request failed (HTTP ${status}).`;
  }
}

export class ApiError extends Error {
  constructor(status, serverMessage, retryAfter) {
    super(explain(status, serverMessage, retryAfter));
    this.status = status;
    this.serverMessage = serverMessage;
  }
}

/** The error of a failed response: its JSON `error`, explained. */
export async function errorOf(response) {
  let message = '';
  try {
    message = (await response.json()).error || '';
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, message, response.headers.get('Retry-After'));
}

/** A request with the key; resolves to the response, rejects with an `ApiError`. */
export async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, '');
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

export function postJson(path, body, options = {}) {
  return request(path, {
    ...options,
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** POSTs `body` asking for a streamed answer and calls `onText` with each piece as it comes
 * (the server's `delta` events); resolves to the `done` event's whole answer. */
export async function streamJson(path, body, onText, signal) {
  const response = await postJson(path, { ...body, stream: true }, { signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('The answer stopped before it was complete; try again.');
    buffer += value.replaceAll('\r\n', '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim();
      const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5)).join('\n');
      if (!data) continue; // a keep-alive
      const payload = JSON.parse(data);
      if (event === 'delta') onText(payload.text);
      else if (event === 'done') return payload;
      else if (event === 'error') throw new ApiError(payload.status, payload.error);
    }
  }
}

/** Uploads `form` with progress (fetch cannot report it): resolves to the JSON answer and
 * the id the workspace keeps the transcript under (`X-Transcript-Id`), if any. */
export function upload(path, form, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // keep the status
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ body, transcriptId: xhr.getResponseHeader('X-Transcript-Id') });
      else reject(new ApiError(xhr.status, body.error || '', xhr.getResponseHeader('Retry-After')));
    };
    xhr.onerror = () => reject(new ApiError(0, ''));
    xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

/** Saves `blob` as a download named `name`. */
export function saveBlob(blob, name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
