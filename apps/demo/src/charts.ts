// Chart builders shared by the static report (report.html) and the live web page: Chart.js line charts and
// chartjs-chart-matrix heatmaps, plus the token view (HTML spans coloured by expert). Browser-only.
import { Chart, type ChartDataset, registerables } from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';

Chart.register(...registerables, MatrixController, MatrixElement);
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

/** One colour per run preset; experts get a palette of 16. */
export const RUN_COLOURS: Record<string, string> = {
  switch: '#1f77b4',
  glam: '#2ca02c',
  deepseekmoe: '#d62728',
  dense: '#7f7f7f',
};

const EXPERT_PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#1b9e77',
  '#d95f02',
  '#7570b3',
  '#e7298a',
  '#66a61e',
  '#e6ab02',
];

export const expertColour = (e: number): string =>
  e < 0 ? '#dddddd' : (EXPERT_PALETTE[e % EXPERT_PALETTE.length] as string);

/** Exponential moving average (for noisy per-step losses). */
export function smooth(values: readonly number[], beta = 0.9): number[] {
  let m = values[0] ?? 0;
  return values.map((v, i) => {
    m = i === 0 ? v : beta * m + (1 - beta) * v;
    return m;
  });
}

export interface Series {
  label: string;
  values: readonly number[];
  colour?: string;
}

/** Loss curves: one smoothed line per run over the steps. */
export function lossChart(canvas: HTMLCanvasElement, series: readonly Series[]): Chart<'line'> {
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: series.map((s) => ({
        label: s.label,
        data: smooth(s.values).map((y, i) => ({ x: i + 1, y })),
        borderColor: s.colour ?? RUN_COLOURS[s.label] ?? '#333',
        backgroundColor: s.colour ?? RUN_COLOURS[s.label] ?? '#333',
        pointRadius: 0,
        borderWidth: 2,
      })),
    },
    options: {
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'step' } },
        y: { title: { display: true, text: 'train cross-entropy (nats, smoothed)' } },
      },
    },
  });
}

/** Replaces a line chart's series (the live page calls it after every step). */
export function updateLossChart(chart: Chart<'line'>, series: readonly Series[]): void {
  series.forEach((s, i) => {
    const data = smooth(s.values).map((y, j) => ({ x: j + 1, y }));
    const dataset = chart.data.datasets[i];
    if (dataset) dataset.data = data;
    else {
      chart.data.datasets.push({
        label: s.label,
        data,
        borderColor: s.colour ?? RUN_COLOURS[s.label] ?? '#333',
        pointRadius: 0,
        borderWidth: 2,
      });
    }
  });
  chart.update('none');
}

interface Cell {
  x: number;
  y: number;
  v: number;
}

/** A heatmap over integer x (columns) and y (rows) with values `v`, coloured white -> `colour` up to `max`. */
function heatmap(
  canvas: HTMLCanvasElement,
  cells: Cell[],
  axes: {
    /** The x range and the width of one cell, in x units. */
    x: { min: number; max: number; cell: number };
    rows: number;
    xTitle: string;
    yLabels: readonly string[];
    max: number;
    label: string;
  },
): Chart<'matrix', Cell[]> {
  const { rows, max } = axes;
  const span = axes.x.max - axes.x.min;
  const dataset: ChartDataset<'matrix', Cell[]> = {
    label: axes.label,
    data: cells,
    backgroundColor: (ctx) => {
      const v = ((ctx.raw as Cell | undefined)?.v ?? 0) / Math.max(max, 1e-9);
      const t = Math.min(1, Math.max(0, v));
      return `rgba(214, 39, 40, ${t.toFixed(3)})`;
    },
    borderWidth: 0,
    width: ({ chart }) => ((chart.chartArea?.width ?? 0) * axes.x.cell) / span,
    height: ({ chart }) => (chart.chartArea?.height ?? 0) / rows,
  };
  return new Chart<'matrix', Cell[]>(canvas, {
    type: 'matrix',
    data: { datasets: [dataset] },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: () => '',
            label: (ctx) => {
              const c = ctx.raw as Cell;
              return `${axes.xTitle} ${c.x}, ${axes.yLabels[c.y] ?? c.y}: ${c.v.toFixed(2)}`;
            },
          },
        },
      },
      scales: {
        x: {
          type: 'linear',
          offset: false,
          min: axes.x.min,
          max: axes.x.max,
          title: { display: true, text: axes.xTitle },
          grid: { display: false },
        },
        y: {
          type: 'linear',
          reverse: true,
          min: -0.5,
          max: rows - 0.5,
          grid: { display: false },
          afterBuildTicks: (scale) => {
            scale.ticks = Array.from({ length: rows }, (_, value) => ({ value }));
          },
          ticks: { autoSkip: false, callback: (v) => axes.yLabels[Number(v)] ?? '' },
        },
      },
    },
  });
}

/**
 * Expert load over training: column = a bin of steps, row = expert, value = the expert's share of the
 * bin's assignments times E (1 = perfectly balanced, E = every assignment on this expert).
 */
export function loadHeatmap(
  canvas: HTMLCanvasElement,
  load: readonly (readonly number[])[],
  options: { bins?: number } = {},
): Chart<'matrix', Cell[]> {
  const e = load[0]?.length ?? 0;
  const bins = Math.max(1, Math.min(options.bins ?? 60, load.length));
  const per = load.length / bins;
  const cells: Cell[] = [];
  for (let b = 0; b < bins; b++) {
    const steps = load.slice(
      Math.floor(b * per),
      Math.max(Math.floor((b + 1) * per), Math.floor(b * per) + 1),
    );
    const sums = Array<number>(e).fill(0);
    for (const s of steps) {
      s.forEach((v, i) => {
        sums[i] = (sums[i] ?? 0) + v;
      });
    }
    const total = sums.reduce((a, v) => a + v, 0) || 1;
    sums.forEach((v, i) => {
      cells.push({ x: (b + 0.5) * per + 0.5, y: i, v: (v / total) * e });
    });
  }
  return heatmap(canvas, cells, {
    x: { min: 0.5, max: load.length + 0.5, cell: per },
    rows: e,
    xTitle: 'step',
    yLabels: Array.from({ length: e }, (_, i) => `expert ${i}`),
    max: 2,
    label: 'load / mean',
  });
}

/** Expert usage by domain: row = domain, column = expert, value = the share of the domain's assignments. */
export function domainHeatmap(
  canvas: HTMLCanvasElement,
  counts: readonly (readonly number[])[],
  domains: readonly string[],
): Chart<'matrix', Cell[]> {
  const e = counts[0]?.length ?? 0;
  const cells: Cell[] = [];
  counts.forEach((row, d) => {
    const total = row.reduce((a, v) => a + v, 0) || 1;
    row.forEach((v, x) => {
      cells.push({ x, y: d, v: v / total });
    });
  });
  const chart = heatmap(canvas, cells, {
    x: { min: -0.5, max: e - 0.5, cell: 1 },
    rows: counts.length,
    xTitle: 'expert',
    yLabels: domains,
    max: Math.min(1, 4 / Math.max(e, 1)),
    label: 'share of the domain',
  });
  const x = chart.options.scales?.x;
  if (x) {
    x.afterBuildTicks = (scale) => {
      scale.ticks = Array.from({ length: e }, (_, value) => ({ value }));
    };
  }
  chart.update();
  return chart;
}

/** Dropped fraction (solid) across capacity factors, one line per run. */
export function capacityChart(
  canvas: HTMLCanvasElement,
  series: readonly {
    label: string;
    points: readonly { capacityFactor: number; droppedFraction: number }[];
  }[],
): Chart<'line'> {
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: series.map((s) => ({
        label: s.label,
        data: s.points.map((p) => ({ x: p.capacityFactor, y: 100 * p.droppedFraction })),
        borderColor: RUN_COLOURS[s.label] ?? '#333',
        backgroundColor: RUN_COLOURS[s.label] ?? '#333',
      })),
    },
    options: {
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'capacity factor' } },
        y: { min: 0, title: { display: true, text: 'held-out assignments dropped (%)' } },
      },
    },
  });
}

/** Tokens as spans coloured by their top expert in one layer; the tooltip names the expert and domain. */
export function tokenView(
  container: HTMLElement,
  row: { text: readonly string[]; domains: readonly number[]; topExpert: readonly (readonly number[])[] },
  layer: number,
  domains: readonly string[],
): void {
  container.replaceChildren();
  const experts = row.topExpert[layer] ?? [];
  row.text.forEach((piece, t) => {
    const span = document.createElement('span');
    const e = experts[t] ?? -1;
    span.textContent = piece === '\n' ? '⏎' : piece;
    span.style.background = expertColour(e);
    span.style.color = '#111';
    span.style.whiteSpace = 'pre';
    span.title = `expert ${e < 0 ? 'none' : e} · ${domains[row.domains[t] ?? -1] ?? 'padding'}`;
    container.append(span);
  });
}

/** A legend of expert colours. */
export function expertLegend(container: HTMLElement, experts: number): void {
  container.replaceChildren(
    ...Array.from({ length: experts }, (_, e) => {
      const span = document.createElement('span');
      span.textContent = ` ${e} `;
      span.style.background = expertColour(e);
      span.style.marginRight = '4px';
      return span;
    }),
  );
}
