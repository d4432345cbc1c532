// Bundles the extension (dist/extension.js) with esbuild; with --tests also the unit tests
// (test-dist/unit/*.test.js, run by `node --test`) and the e2e extension-host suite
// (test-dist/e2e/suite.js). `vscode` is provided by the editor at run time.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'], sourcemap: true, logLevel: 'warning', absWorkingDir: root };
const production = !process.argv.includes('--dev');

await build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', minify: production, sourcemap: !production });

if (process.argv.includes('--tests')) {
  const unit = readdirSync(join(root, 'test/unit')).filter((f) => f.endsWith('.test.ts')).map((f) => `test/unit/${f}`);
  await build({ ...common, entryPoints: unit, outdir: 'test-dist/unit' });
  await build({ ...common, entryPoints: ['test/e2e/suite/index.ts'], outfile: 'test-dist/e2e/suite.js' });
}
