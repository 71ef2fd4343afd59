// What the Node SDK tests share: the packed tarball installed into a fresh project, the audio
// fixtures, and `stt serve` processes on loopback.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.dirname(PACKAGE_DIR);
export const FIXTURES = process.env.STT_FIXTURES ?? path.join(REPO, '..', 'shared', 'fixtures', 'audio');
export const JFK =
  'And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

export function fixture(name) {
  const file = path.join(FIXTURES, name);
  if (!existsSync(file)) throw new Error(`audio fixture ${file} is missing (set STT_FIXTURES)`);
  return file;
}

/** The release's npm packages (scripts/package.sh makes them in dist/). */
export const DIST = process.env.STT_DIST ?? path.join(REPO, 'dist');

/**
 * A loopback npm registry that serves the packages in `DIST` and knows no other: npm sees
 * `stt-node` and its platform packages as it would on npmjs.com, and picks the one for this
 * machine through the main package's optionalDependencies.
 */
async function startRegistry() {
  const packages = new Map();
  for (const file of readdirSync(DIST).filter((name) => name.endsWith('.tgz'))) {
    const tarball = path.join(DIST, file);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    const bytes = readFileSync(tarball);
    packages.set(manifest.name, { manifest, file, bytes });
  }
  if (!packages.has('stt-node')) throw new Error(`no stt-node-*.tgz in ${DIST}: run scripts/package.sh`);
  const server = createServer((request, response) => {
    const name = decodeURIComponent(request.url.slice(1));
    const byFile = [...packages.values()].find((entry) => request.url === `/-/${entry.file}`);
    if (byFile) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      return response.end(byFile.bytes);
    }
    const entry = packages.get(name);
    if (!entry) {
      response.writeHead(404, { 'content-type': 'application/json' });
      return response.end('{"error":"not found"}');
    }
    const { version } = entry.manifest;
    const integrity = `sha512-${createHash('sha512').update(entry.bytes).digest('base64')}`;
    const tarball = `http://${request.headers.host}/-/${entry.file}`;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        name,
        'dist-tags': { latest: version },
        versions: { [version]: { ...entry.manifest, dist: { tarball, integrity } } },
      }),
    );
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

let installed;

/** A new project with `stt-node` installed by `npm install` from the release's packages, as a
 * user would: one per test process, which every test module shares. */
export function installedProject() {
  installed ??= newProject();
  return installed;
}

async function newProject() {
  const project = mkdtempSync(path.join(tmpdir(), 'stt-node-user-'));
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true }));
  const registry = await startRegistry();
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--registry', registry.url,
      '--cache', path.join(project, '.npm-cache'), 'stt-node'], { cwd: project, stdio: ['ignore', 'inherit', 'inherit'] });
  } finally {
    registry.close();
  }
  const require = createRequire(path.join(project, 'index.js'));
  return { project, stt: require('stt-node') };
}

/** Lower-case words, for comparing texts without punctuation. */
export const words = (text) => text.toLowerCase().match(/[a-z']+/g) ?? [];

/** One `stt serve` on a free loopback port with its own data directory, and an API key. */
export async function startServer(flags) {
  const stt = path.join(REPO, 'target', 'release', 'stt');
  if (!existsSync(stt)) throw new Error(`${stt} is missing: run scripts/setup.sh`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'stt-node-server-'));
  const created = execFileSync(stt, ['keys', 'create', '--data-dir', dataDir, '--plan', 'paid'], { encoding: 'utf8' });
  const key = JSON.parse(created.trim().split('\n').pop()).key;
  const child = spawn(stt, ['serve', '--port', '0', '--data-dir', dataDir, ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error('stt serve did not listen within 120 s')), 120_000);
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/, ''));
      }
    });
    child.on('exit', (code) => reject(new Error(`stt serve exited with status ${code}`)));
  });
  child.stdout.resume();
  return { base, key, stop: () => child.kill('SIGTERM') };
}
