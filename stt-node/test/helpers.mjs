// What the Node SDK tests share: the packed tarball installed into a fresh project, the audio
// fixtures, and `stt serve` processes on loopback.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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

/** The tarball `npm pack` made in the package directory (scripts/test_node_sdk.sh makes it). */
export function tarball() {
  const packed = readdirSync(PACKAGE_DIR).filter((name) => /^stt-node-.*\.tgz$/.test(name));
  if (packed.length !== 1) {
    throw new Error(`expected one stt-node-*.tgz in ${PACKAGE_DIR} (run scripts/test_node_sdk.sh), found ${packed}`);
  }
  return path.join(PACKAGE_DIR, packed[0]);
}

let installed;

/** A new project with the packed package installed by `npm install`, as a user would: one
 * per test process, which every test module shares. */
export function installedProject() {
  installed ??= newProject();
  return installed;
}

function newProject() {
  const project = mkdtempSync(path.join(tmpdir(), 'stt-node-user-'));
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball()], {
    cwd: project,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
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
