// Benchmark entry: `npm run bench -- <name> [options]`. Each benchmark prints its figures, with the reference it is
// compared against measured in the same run; nothing here runs in the test suite.
import { runStoreBench } from './storeBench';

const BENCHES: Record<string, (args: string[]) => Promise<void>> = {
  store: runStoreBench,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const bench = name ? BENCHES[name] : undefined;
  if (!bench) {
    console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]`);
    process.exitCode = 2;
    return;
  }
  await bench(args);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
