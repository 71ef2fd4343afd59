// Usage: node scripts/npm_packages.mjs STAGING PLATFORM...   (scripts/package.sh runs it)
//
// Writes the npm packages of a release into STAGING, in the napi-rs convention: `stt-node`
// (the JavaScript and the types of stt-node/dist, platform-neutral) names one optional
// dependency per platform, `stt-node-PLATFORM` (its `stt.PLATFORM.node` and `runtime/`, which
// package.sh put in STAGING/stt-node-PLATFORM), so that npm installs only the one that fits.
// Every package gets the version of stt-node/package.json.

import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const [staging, ...platforms] = process.argv.slice(2);
if (!staging || platforms.length === 0) throw new Error('usage: npm_packages.mjs STAGING PLATFORM...');
const source = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'stt-node');
const main = JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8'));

// linux-x64-gnu → os linux, cpu x64, libc glibc.
const parts = (platform) => {
  const [os, cpu, abi] = platform.split('-');
  return { os, cpu, libc: abi === 'gnu' ? 'glibc' : abi === 'musl' ? 'musl' : undefined };
};
const common = { version: main.version, license: main.license, engines: main.engines };

for (const platform of platforms) {
  const { os, cpu, libc } = parts(platform);
  const dir = path.join(staging, `${main.name}-${platform}`);
  const binary = `${main.napi.binaryName}.${platform}.node`;
  const manifest = {
    name: `${main.name}-${platform}`,
    ...common,
    description: `The native addon and ONNX Runtime of ${main.name} for ${platform}`,
    os: [os],
    cpu: [cpu],
    ...(libc ? { libc: [libc] } : {}),
    main: binary,
    files: [binary, 'runtime/'],
  };
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    path.join(dir, 'README.md'),
    `# ${manifest.name}\n\n${manifest.description}. Install \`${main.name}\`, which depends on it.\n`,
  );
}

const dir = path.join(staging, main.name);
mkdirSync(path.join(dir, 'dist'), { recursive: true });
for (const name of readdirSync(path.join(source, 'dist'))) {
  if (name.endsWith('.js') || name.endsWith('.d.ts')) {
    copyFileSync(path.join(source, 'dist', name), path.join(dir, 'dist', name));
  }
}
copyFileSync(path.join(source, 'README.md'), path.join(dir, 'README.md'));
const { devDependencies, scripts, files, cpu, ...published } = main;
const manifest = {
  ...published,
  os: [...new Set(platforms.map((platform) => parts(platform).os))],
  cpu: [...new Set(platforms.map((platform) => parts(platform).cpu))],
  files: ['dist/*.js', 'dist/*.d.ts', 'README.md'],
  optionalDependencies: Object.fromEntries(platforms.map((platform) => [`${main.name}-${platform}`, main.version])),
};
writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
