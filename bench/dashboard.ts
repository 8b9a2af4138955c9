/**
 * `npm run bench:dashboard`: how soon the dashboard paints the jobs table with 1,000 jobs stored, beside the same
 * page for a key with no jobs (the baseline: what loading the page itself costs). Each run opens the page in a
 * fresh headless Chromium profile (cold cache) and reads the browser's own paint timings: first contentful paint,
 * and the Element Timing entry of the table's first rows (`elementtiming="jobs-table"`). Medians of RUNS runs.
 * Target (issue 14): the table well under a second. The scheduler is not started: the jobs stay as stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../emulator/app';
import { dashboardDir } from '../emulator/http/dashboard';
import { openStore, organizationIdForKey, projectIdForKey } from '../emulator/store/index';
import { BUILTIN_MODEL, ModelRegistry } from '../emulator/worker/models';
import { Scheduler } from '../emulator/worker/scheduler';
import { builtinModelDir } from '../native/index';
import { chromiumPath, launchChromium, NO_CHROMIUM_MESSAGE } from '../test/web/chromium';

const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FULL_KEY = 'bench-full';
const EMPTY_KEY = 'bench-empty';

interface Paint {
  fcp: number;
  table: number;
}

async function main(): Promise<void> {
  const executable = chromiumPath();
  if (!executable) throw new Error(NO_CHROMIUM_MESSAGE);
  if (!dashboardDir()) throw new Error('dist/web is missing: run `npm run build` first');
  const dataDir = mkdtempSync(join(tmpdir(), 'tunekit-bench-dashboard-'));
  const store = openStore(dataDir);
  seedJobs(store, JOBS);
  const models = new ModelRegistry({ store, builtinDir: builtinModelDir() });
  const app = await buildApp({ store, jobs: new Scheduler({ store, models }), models });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    console.log(
      `dashboard first paint, ${RUNS} runs each, fresh profile per run (${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(1)}; shared machine)`,
    );
    const empty: Paint[] = [];
    const full: Paint[] = [];
    // Alternate, so a change in the machine's load hits both alike.
    for (let run = 0; run < RUNS; run += 1) {
      empty.push(await measure(executable, origin, EMPTY_KEY, 0));
      full.push(await measure(executable, origin, FULL_KEY, JOBS));
    }
    report('first contentful paint', empty, full, (paint) => paint.fcp);
    report('jobs table painted', empty, full, (paint) => paint.table);
  } finally {
    await app.close();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function seedJobs(store: ReturnType<typeof openStore>, count: number): void {
  const projectId = projectIdForKey(FULL_KEY);
  const file = store.files.createFromBuffer(projectId, {
    filename: 'train.jsonl',
    purpose: 'fine-tune',
    data: Buffer.from(
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n',
    ),
  });
  store.transaction(() => {
    for (let i = 0; i < count; i += 1) {
      store.jobs.create(projectId, {
        params: { model: BUILTIN_MODEL, training_file: file.id, metadata: { index: String(i) } },
        organizationId: organizationIdForKey(FULL_KEY),
      });
    }
  });
}

/** One cold page load: the browser's paint times, in ms from navigation start. */
async function measure(executable: string, origin: string, key: string, jobs: number): Promise<Paint> {
  const browser = await launchChromium(executable);
  try {
    const page = browser.page;
    await page.goto(`${origin}/?key=${key}`);
    const table = page.getByRole('table', { name: 'Fine-tuning jobs' });
    const expectedRows = 1 + Math.max(1, Math.min(jobs, 20));
    await table
      .getByRole('row')
      .nth(expectedRows - 1)
      .waitFor({ timeout: 30_000 });
    if ((await table.getByRole('row').count()) !== expectedRows) throw new Error('unexpected table rows');
    return await page.evaluate(
      () =>
        new Promise<{ fcp: number; table: number }>((resolve, reject) => {
          setTimeout(() => reject(new Error('no Element Timing entry for the jobs table')), 10_000);
          const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN;
          new PerformanceObserver((list) => {
            const times = list
              .getEntries()
              .filter(
                (entry) => (entry as PerformanceEntry & { identifier: string }).identifier === 'jobs-table',
              )
              .map((entry) => (entry as PerformanceEntry & { renderTime: number }).renderTime);
            if (times.length) resolve({ fcp, table: Math.min(...times) });
          }).observe({ type: 'element', buffered: true });
        }),
    );
  } finally {
    await browser.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function report(title: string, empty: Paint[], full: Paint[], pick: (paint: Paint) => number): void {
  const base = median(empty.map(pick));
  const loaded = median(full.map(pick));
  console.log(
    `${title.padEnd(24)} no jobs ${base.toFixed(0).padStart(5)} ms   ${JOBS} jobs ${loaded.toFixed(0).padStart(5)} ms   ratio ${(loaded / base).toFixed(2)}` +
      `   (runs: ${full.map((paint) => pick(paint).toFixed(0)).join(', ')} ms)`,
  );
}

await main();
