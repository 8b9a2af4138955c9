/**
 * Issue 14: the dashboard in a real headless Chromium against a real emulator training the built-in model. The
 * page is found by role and name only, as a screen reader would. Screenshots of the main views go to
 * test-output/dashboard/ (not committed) for a reviewer.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardDir } from '../../emulator/http/dashboard';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import Tunekit, { toFile } from '../../src/index';
import { qaDataset } from '../e2e/helpers';
import { type Browser, chromiumPath, launchChromium, NO_CHROMIUM_MESSAGE } from './chromium';

const executable = chromiumPath();
if (!executable) console.warn(NO_CHROMIUM_MESSAGE);

export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/dashboard/', import.meta.url));
const KEY = 'dashboard-key';
const OTHER_KEY = 'dashboard-other-key';
/** 20 examples, batches of 2: 10 steps an epoch. */
const STEPS = 80;
/** Generous: the machine is shared, and validation plus training of the tiny model take seconds. */
const DEADLINE_MS = 90_000;

let emulator: RunningEmulator;
let browser: Browser;
let page: Page;
let origin: string;
let client: Tunekit;
let dataDir: string;
let downloads: string;
/** Every URL the page asked for: all must be the emulator's own. */
const requested: string[] = [];

/**
 * The loss chart's canvas pixels in its first series' colour (#2f7ee6): how many, and the right-most one's column
 * — whether a curve is really drawn, and how far along the steps it reaches.
 */
function curvePixels(target: Page): Promise<{ count: number; right: number }> {
  return target.getByRole('img', { name: /loss/i }).evaluate((chart) => {
    const canvas = chart.querySelector('canvas')!;
    const { data, width } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    let right = -1;
    for (let i = 0; i < data.length; i += 4) {
      const near = Math.abs(data[i]! - 47) + Math.abs(data[i + 1]! - 126) + Math.abs(data[i + 2]! - 230) < 60;
      if (near && data[i + 3]! > 200) {
        count += 1;
        right = Math.max(right, (i / 4) % width);
      }
    }
    return { count, right };
  });
}

describe.skipIf(!executable)('dashboard in headless Chromium', () => {
  let trainingFile: string;
  let jobId: string;
  let fineTunedModel: string;

  beforeAll(async () => {
    if (!dashboardDir()) throw new Error('dist/web is missing: run `npm run build` (npm ci does) first');
    dataDir = mkdtempSync(join(tmpdir(), 'tunekit-dashboard-'));
    downloads = mkdtempSync(join(tmpdir(), 'tunekit-dashboard-downloads-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    emulator = await startEmulator({ port: 0, dataDir });
    origin = new URL(emulator.url).origin;
    client = new Tunekit({ apiKey: KEY, baseURL: emulator.url });
    browser = await launchChromium(executable!, { downloadsPath: downloads });
    browser.context.on('request', (request) => requested.push(request.url()));
    page = browser.page;
    const file = await client.files.create({
      file: await toFile(Buffer.from(qaDataset()), 'qa.jsonl'),
      purpose: 'fine-tune',
    });
    trainingFile = file.id;
  });

  afterAll(async () => {
    await browser?.close();
    await emulator?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(downloads, { recursive: true, force: true });
  });

  it('lists the key’s jobs live: a job created elsewhere appears in the table', async () => {
    await page.goto(`${origin}/?key=${KEY}`);
    await expect.poll(() => page.getByRole('textbox', { name: 'API key' }).inputValue()).toBe(KEY);
    const table = page.getByRole('table', { name: 'Fine-tuning jobs' });
    await table.getByRole('cell', { name: 'No jobs for this key yet.' }).waitFor();
    expect(new URL(page.url()).searchParams.has('key')).toBe(false);

    // STEPS steps of 0.1-0.2 s: long enough to watch the curve grow.
    const job = await client.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: trainingFile,
      suffix: 'dash',
      seed: 7,
      method: {
        type: 'supervised',
        supervised: { hyperparameters: { n_epochs: STEPS / 10, batch_size: 2 } },
      },
    });
    jobId = job.id;
    const row = table.getByRole('row', { name: new RegExp(jobId) });
    await row.waitFor({ timeout: DEADLINE_MS });
    await expect.poll(() => row.textContent()).toContain(BUILTIN_MODEL);
    expect(await row.textContent()).toContain('supervised');
  });

  it('opens the job: the loss chart and the events grow while it runs, resuming the stream after a drop', async () => {
    const isEventStream = (url: URL) =>
      url.pathname === `/v1/fine_tuning/jobs/${jobId}/events` && url.searchParams.get('stream') === 'true';
    // The first event stream is cut after two events (a dropped connection); the page must reconnect with
    // Last-Event-ID and show every event once.
    const streamRequests: { lastEventId: string | undefined }[] = [];
    let firstIds: string[] = [];
    await page.route(isEventStream, async (route) => {
      streamRequests.push({ lastEventId: route.request().headers()['last-event-id'] });
      if (streamRequests.length > 1) return route.continue();
      const oldestFirst = (await client.fineTuning.jobs.listEvents(jobId, { limit: 100 })).data.reverse();
      const cut = oldestFirst.slice(0, 2);
      firstIds = cut.map((event) => event.id);
      await route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: cut.map((event) => `id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`).join(''),
      });
    });

    await page.getByRole('link', { name: jobId }).click();
    await page.getByRole('heading', { name: jobId }).waitFor();
    const chart = page.getByRole('img', { name: /loss/i });
    const log = page.getByRole('log', { name: /Events/ });
    const points = async () => Number(await chart.getAttribute('data-points'));
    const logLines = () => log.getByRole('listitem').count();

    // Two different point counts seen, then the job still not finished: the chart grew while it ran.
    await expect.poll(points, { timeout: DEADLINE_MS }).toBeGreaterThan(0);
    const first = await points();
    const firstLines = await logLines();
    await expect.poll(points, { timeout: DEADLINE_MS }).toBeGreaterThan(first);
    await expect.poll(logLines, { timeout: DEADLINE_MS }).toBeGreaterThan(firstLines);
    expect((await client.fineTuning.jobs.retrieve(jobId)).status).toBe('running');
    await expect(chart.getAttribute('aria-label')).resolves.toMatch(/train_loss \d/);
    // What a running job allows.
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).waitFor();
    expect(await page.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'job-running.png'), fullPage: true });

    expect(streamRequests.length).toBeGreaterThanOrEqual(2);
    expect(streamRequests[0]!.lastEventId).toBeUndefined();
    expect(streamRequests[1]!.lastEventId).toBe(firstIds[1]);
    await page.unroute(isEventStream);
    expect(await log.getByText(`Created fine-tuning job: ${jobId}`).count()).toBe(1);
  });

  it('shows the finished job: succeeded, every step plotted, the result model, checkpoints with a tar download', async () => {
    const summary = page.getByRole('definition').filter({ hasText: 'succeeded' });
    await summary.first().waitFor({ timeout: DEADLINE_MS });
    const job = await client.fineTuning.jobs.retrieve(jobId);
    expect(job.status).toBe('succeeded');
    fineTunedModel = job.fine_tuned_model!;
    await page.getByText(fineTunedModel, { exact: true }).first().waitFor();
    const chart = page.getByRole('img', { name: /loss/i });
    await expect.poll(() => chart.getAttribute('data-points')).toBe(String(STEPS));
    await expect.poll(async () => (await curvePixels(page)).count).toBeGreaterThan(200);
    await page
      .getByRole('log', { name: /Events/ })
      .getByText('The job has successfully completed')
      .waitFor();
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);

    const checkpoints = page.getByRole('table', { name: 'Checkpoints' });
    await checkpoints.getByRole('row', { name: new RegExp(`^${STEPS} `) }).waitFor();
    const link = page.getByRole('link', { name: `Download adapter at step ${STEPS}` });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^adapter-\w+\.tar$/);
    const tar = readFileSync((await download.path())!);
    expect(tar.subarray(257, 262).toString()).toBe('ustar');
    expect(tar.toString('latin1')).toContain('adapter_config.json');
    expect(tar.toString('latin1')).toContain('adapter_model.safetensors');
    await page.screenshot({ path: join(SCREENSHOTS, 'job.png'), fullPage: true });
  });

  it('chats with the fine-tuned model: the answer streams in', async () => {
    await page.getByRole('link', { name: 'Open in playground' }).click();
    const picker = page.getByRole('combobox', { name: 'Model' });
    await expect.poll(() => picker.inputValue()).toBe(fineTunedModel);
    await expect.poll(() => picker.getByRole('option', { name: BUILTIN_MODEL, exact: true }).count()).toBe(1);
    await page.getByRole('textbox', { name: 'Message' }).fill('Code word for item 3?');
    const streamed = page.waitForResponse((response: Response) =>
      response.url().endsWith('/v1/chat/completions'),
    );
    await page.getByRole('button', { name: 'Send' }).click();
    const response = await streamed;
    expect(response.headers()['content-type']).toContain('text/event-stream');
    const body = await response.text();
    const deltas = body.split('\n').filter((line) => line.startsWith('data: {'));
    expect(deltas.length).toBeGreaterThan(2);
    expect(JSON.parse(response.request().postData()!)).toMatchObject({ model: fineTunedModel, stream: true });

    const answer = page.getByRole('list', { name: 'Conversation' }).getByRole('listitem').last();
    await expect.poll(() => answer.getAttribute('aria-busy')).toBe('false');
    const text = (await answer.getByRole('paragraph').textContent())!.trim();
    expect(text.length).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground.png'), fullPage: true });
  });

  it('pauses, resumes and cancels a job from the page', async () => {
    const job = await client.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: trainingFile,
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 20, batch_size: 1 } } },
    });
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('link', { name: job.id }).click();
    await page.getByRole('button', { name: 'Pause' }).click({ timeout: DEADLINE_MS });
    await page.getByRole('button', { name: 'Resume' }).waitFor({ timeout: DEADLINE_MS });
    expect((await client.fineTuning.jobs.retrieve(job.id)).status).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('definition').filter({ hasText: 'cancelled' }).first().waitFor();
    expect((await client.fineTuning.jobs.retrieve(job.id)).status).toBe('cancelled');
    expect(await page.getByRole('button', { name: /Cancel|Pause|Resume/ }).count()).toBe(0);
  });

  it('lists files and uploads by picker and by drag-and-drop; a refused upload shows its reason', async () => {
    await page.getByRole('link', { name: 'Files' }).click();
    const table = page.getByRole('table', { name: 'Files' });
    await table.getByRole('row', { name: /qa\.jsonl/ }).waitFor();
    expect(await table.getByRole('row', { name: /qa\.jsonl/ }).textContent()).toMatch(/fine-tune.*processed/);

    await page.getByLabel('Choose files').setInputFiles({
      name: 'broken.jsonl',
      mimeType: 'application/jsonl',
      buffer: Buffer.from('this is not json\n'),
    });
    const rejected = table.getByRole('row', { name: /broken\.jsonl/ });
    await expect.poll(() => rejected.textContent()).toMatch(/rejected.*line 1 is not JSON/);

    await page.getByRole('region', { name: 'Drop files to upload' }).evaluate((zone, text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], 'dropped.jsonl'));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, qaDataset());
    await expect
      .poll(() => table.getByRole('row', { name: /dropped\.jsonl/ }).textContent())
      .toMatch(/processed/);
    const files = (await client.files.list()).data.map((file) => file.filename);
    expect(files).toContain('dropped.jsonl');
    expect(files).not.toContain('broken.jsonl');
    await page.screenshot({ path: join(SCREENSHOTS, 'files.png'), fullPage: true });
  });

  it('another key sees none of the first key’s jobs, files or models', async () => {
    const keyBox = page.getByRole('textbox', { name: 'API key' });
    await keyBox.fill(OTHER_KEY);
    await keyBox.press('Enter');
    const files = page.getByRole('table', { name: 'Files' });
    await files.getByRole('cell', { name: 'No files for this key yet.' }).waitFor();
    await page.getByRole('link', { name: 'Jobs' }).click();
    const jobs = page.getByRole('table', { name: 'Fine-tuning jobs' });
    await jobs.getByRole('cell', { name: 'No jobs for this key yet.' }).waitFor();
    expect(await page.getByText(jobId).count()).toBe(0);
    await page.getByRole('link', { name: 'Playground' }).click();
    const picker = page.getByRole('combobox', { name: 'Model' });
    await expect.poll(() => picker.inputValue()).toBe(BUILTIN_MODEL);
    expect(await picker.getByRole('option', { name: fineTunedModel }).count()).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem('tunekit.apiKey'))).toBe(OTHER_KEY);
  });

  it('fits a phone-width window, follows the dark setting, and fetched nothing from elsewhere', async () => {
    await page.getByRole('textbox', { name: 'API key' }).fill(KEY);
    await page.getByRole('textbox', { name: 'API key' }).press('Enter');
    await page.goto(`${origin}/#/jobs/${jobId}`);
    await page.getByRole('img', { name: /loss/i }).waitFor();
    await expect
      .poll(() => page.getByRole('img', { name: /loss/i }).getAttribute('data-points'))
      .toBe(String(STEPS));
    await expect.poll(async () => (await curvePixels(page)).count).toBeGreaterThan(200);
    const light = await curvePixels(page);
    await page.emulateMedia({ colorScheme: 'dark' });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(15, 19, 24)');
    // The chart is rebuilt in the dark colours, with its whole curve.
    await expect.poll(async () => (await curvePixels(page)).right).toBe(light.right);
    await page.screenshot({ path: join(SCREENSHOTS, 'job-dark.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'light' });
    await expect
      .poll(() => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth))
      .toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'job-phone.png'), fullPage: true });

    const foreign = requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('blob:'));
    expect(foreign).toEqual([]);
  });
});
