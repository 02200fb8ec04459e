/**
 * Medplum 5.x and `node:sqlite` need Node >= 22; the project pins Node 24 as a devDependency so that
 * `npm start`/`npm test` run on it. Someone running `dist/cli/main.js` with an older system Node gets
 * a clear message instead of a cryptic `WebSocket is not defined` deep inside a dependency.
 */
export function assertSupportedNode(version: string = process.versions.node): void {
  const major = Number.parseInt(version.split('.')[0] ?? '0', 10);
  if (major < 22) {
    throw new Error(
      `recovery-twin needs Node.js >= 22 (found ${version}). Run it through npm (npm start, npm run twin -- ...), ` +
        'which uses the Node 24 installed in node_modules/.bin, or put node_modules/.bin first on your PATH.'
    );
  }
}
