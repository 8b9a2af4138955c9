/**
 * Writes openapi.yaml from the contract (emulator/contract). With `--check`, regenerates in memory and
 * exits 1 when the committed file differs, so CI catches a contract change without a regenerated document.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderOpenApiYaml } from '../emulator/contract/openapi';

const target = new URL('../openapi.yaml', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const generated = renderOpenApiYaml(pkg.version);

if (process.argv.includes('--check')) {
  let committed: string;
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    console.error('openapi.yaml is missing: run `npm run gen:openapi` and commit it.');
    process.exit(1);
  }
  if (committed !== generated) {
    const a = committed.split('\n');
    const b = generated.split('\n');
    let line = 0;
    while (line < Math.max(a.length, b.length) && a[line] === b[line]) line += 1;
    console.error(
      `openapi.yaml is out of date with emulator/contract (first difference at line ${line + 1}):\n` +
        `  committed: ${a[line] ?? '<end of file>'}\n  generated: ${b[line] ?? '<end of file>'}\n` +
        'Run `npm run gen:openapi` and commit openapi.yaml.',
    );
    process.exit(1);
  }
  console.log('openapi.yaml is up to date.');
} else {
  writeFileSync(target, generated);
  console.log(`Wrote openapi.yaml (${generated.length} bytes).`);
}
