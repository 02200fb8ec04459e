// The `node:fs` a bundled bot sees (scripts/bots/buildBots.ts substitutes it for the engine's own modules): a
// read-only file system holding exactly the files embedded at build time (fhir-profiles/), because a Medplum bot
// runtime has no disk of ours. Only the calls the engine makes are here; any other fails loudly.
'use strict';
// eslint-disable-next-line no-undef -- replaced at build time by the embedded files
const FILES = __EMBEDDED_FILES__;

function normal(p) {
  return String(p).replace(/\/+$/, '');
}
function isDir(p) {
  const prefix = normal(p) + '/';
  return Object.keys(FILES).some((f) => f.startsWith(prefix));
}
function enoent(p) {
  const err = new Error(`ENOENT: no such file or directory (embedded), '${p}'`);
  err.code = 'ENOENT';
  return err;
}
function existsSync(p) {
  return Object.prototype.hasOwnProperty.call(FILES, normal(p)) || isDir(p);
}
function statSync(p) {
  if (Object.prototype.hasOwnProperty.call(FILES, normal(p))) {
    return { isFile: () => true, isDirectory: () => false };
  }
  if (isDir(p)) {
    return { isFile: () => false, isDirectory: () => true };
  }
  throw enoent(p);
}
function readFileSync(p) {
  const key = normal(p);
  if (!Object.prototype.hasOwnProperty.call(FILES, key)) {
    throw enoent(p);
  }
  return FILES[key];
}
function readdirSync(p, options) {
  const prefix = normal(p) + '/';
  const recursive = typeof options === 'object' && options !== null && options.recursive === true;
  const names = new Set();
  for (const f of Object.keys(FILES)) {
    if (!f.startsWith(prefix)) continue;
    const rest = f.slice(prefix.length);
    if (recursive) {
      const parts = rest.split('/');
      for (let i = 1; i <= parts.length; i++) names.add(parts.slice(0, i).join('/'));
    } else {
      names.add(rest.split('/')[0]);
    }
  }
  if (names.size === 0 && !isDir(p)) {
    throw enoent(p);
  }
  return [...names].sort();
}
module.exports = { existsSync, statSync, readFileSync, readdirSync };
