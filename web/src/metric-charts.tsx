/**
 * The job's metrics per step, drawn by uPlot from its `metrics` events: every loss the events carry (train,
 * validation, and the preference/RL losses of other methods) on one chart, and any other per-step metric
 * (accuracies, reward margins, rewards, KL, …) on a second. Each chart is an image with an accessible name and
 * its number of points as `data-points`, and grows as events arrive.
 */
import { useEffect, useMemo, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { JobEvent } from './api';
import { formatMetric } from './format';

/** Keys of a metrics event that are bookkeeping, not curves. */
const NOT_PLOTTED = new Set(['step', 'total_steps', 'tokens', 'learning_rate']);
const PALETTE = ['#2f7ee6', '#e8772e', '#2ea65a', '#d64545', '#9b59d0', '#1aa3a3', '#b58900', '#d3368d'];
const HEIGHT = 260;

export interface MetricSeries {
  steps: number[];
  /** Per key, one value per step (null where that step did not report it). */
  values: Map<string, (number | null)[]>;
}

/** Metrics events → aligned columns, one row per step (a step reported twice, e.g. after a resume, keeps the last). */
export function collectMetrics(events: readonly JobEvent[]): MetricSeries {
  const byStep = new Map<number, Record<string, unknown>>();
  const keys = new Set<string>();
  for (const event of events) {
    const data = event.type === 'metrics' ? event.data : null;
    if (!data || typeof data.step !== 'number') continue;
    byStep.set(data.step, data);
    for (const [key, value] of Object.entries(data)) {
      if (!NOT_PLOTTED.has(key) && typeof value === 'number' && Number.isFinite(value)) keys.add(key);
    }
  }
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  const values = new Map<string, (number | null)[]>();
  for (const key of [...keys].sort(byImportance)) {
    values.set(
      key,
      steps.map((step) => {
        const value = byStep.get(step)![key];
        return typeof value === 'number' && Number.isFinite(value) ? value : null;
      }),
    );
  }
  return { steps, values };
}

/** Training loss first, then validation, then the rest alphabetically. */
function byImportance(a: string, b: string): number {
  const rank = (key: string) => (key === 'train_loss' ? 0 : key.startsWith('valid') ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}

export function MetricCharts({ events }: { events: readonly JobEvent[] }) {
  const metrics = useMemo(() => collectMetrics(events), [events]);
  const lossKeys = [...metrics.values.keys()].filter((key) => /loss/i.test(key));
  const otherKeys = [...metrics.values.keys()].filter((key) => !/loss/i.test(key));
  return (
    <div class="charts">
      <MetricChart
        title="Training loss"
        metrics={metrics}
        keys={lossKeys.length ? lossKeys : ['train_loss']}
      />
      {otherKeys.length > 0 && <MetricChart title="Other metrics" metrics={metrics} keys={otherKeys} />}
    </div>
  );
}

function MetricChart({ title, metrics, keys }: { title: string; metrics: MetricSeries; keys: string[] }) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const seriesKey = keys.join('\n');
  const data: uPlot.AlignedData = [metrics.steps, ...keys.map((key) => metrics.values.get(key) ?? [])];
  // The latest columns, for a chart rebuilt outside a render (the colour scheme changed).
  const latestData = useRef(data);
  latestData.current = data;

  // A new set of series (validation loss appears at the first evaluation) builds a new chart.
  useEffect(() => {
    const element = host.current!;
    const dark = matchMedia('(prefers-color-scheme: dark)');
    const build = () => {
      chart.current?.destroy();
      chart.current = new uPlot(chartOptions(element, keys), latestData.current, element);
    };
    build();
    const resize = new ResizeObserver(() =>
      chart.current?.setSize({ width: widthOf(element), height: HEIGHT }),
    );
    resize.observe(element);
    dark.addEventListener('change', build);
    return () => {
      resize.disconnect();
      dark.removeEventListener('change', build);
      chart.current?.destroy();
      chart.current = null;
    };
  }, [seriesKey]);

  useEffect(() => {
    chart.current?.setData(data);
  });

  const points = metrics.steps.length;
  const latest = keys
    .map((key) => [key, metrics.values.get(key)?.findLast((value) => value !== null)] as const)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key} ${formatMetric(value)}`)
    .join(', ');
  const label = `${title} chart: ${points} ${points === 1 ? 'point' : 'points'}${
    points ? `, up to step ${metrics.steps.at(-1)}; latest ${latest}` : ''
  }`;
  return (
    <figure class="chart" role="img" aria-label={label} data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={host} />
    </figure>
  );
}

function widthOf(element: HTMLElement): number {
  return Math.max(240, element.clientWidth);
}

function chartOptions(element: HTMLElement, keys: string[]): uPlot.Options {
  const ink = getComputedStyle(element).color;
  const grid = { stroke: 'rgba(128, 128, 128, 0.2)', width: 1 };
  const axis = { stroke: ink, grid, ticks: grid };
  return {
    width: widthOf(element),
    height: HEIGHT,
    scales: { x: { time: false } },
    axes: [
      { ...axis, label: 'step' },
      { ...axis, size: 60 },
    ],
    series: [
      { label: 'step' },
      ...keys.map((key, i) => ({
        label: key,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        spanGaps: true,
        points: { show: key !== 'train_loss' },
        value: (_self: uPlot, value: number | null) => (value === null ? '—' : formatMetric(value)),
      })),
    ],
  };
}
