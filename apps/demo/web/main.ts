// The web demo: the CLI's training run (DemoRun) stepped in the page on WebGPU (the CPU backend when the
// browser has no adapter, said on screen), with live charts and the settings in the URL.
import { createCpuBackend, createWebGPUBackend, setBackend } from '@switchyard/tensor';
import { Chart } from 'chart.js';
import { expertLegend, loadHeatmap, lossChart, tokenView, updateLossChart } from '../src/charts.js';
import { demoData } from '../src/demo-data.js';
import { DEMO_PRESETS, demoModels, ROUTERS, withRouting } from '../src/demo-models.js';
import { DemoRun } from '../src/demo-run.js';
import { type PageState, readState, writeState } from './url-state.js';

/** What the end-to-end test reads. */
interface PageProbe {
  backend: string;
  step: number;
  lossPoints: number;
  error: string | null;
  playing: boolean;
}

declare global {
  interface Window {
    switchyardDemo: PageProbe;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const probe: PageProbe = { backend: '', step: 0, lossPoints: 0, error: null, playing: false };
window.switchyardDemo = probe;

let state: PageState;
let run: DemoRun | null = null;
let playing = false;
let loss: Chart<'line'> | null = null;
let bars: Chart<'bar' | 'line', (number | null)[], string>[] = [];
let heatmaps: Chart[] = [];

function showError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  probe.error = message;
  $('error').textContent = message;
}

function fillControls(): void {
  const select = (name: string, options: readonly string[]) => {
    const el = form.elements.namedItem(name) as HTMLSelectElement;
    el.replaceChildren(...options.map((o) => new Option(o, o)));
  };
  select('preset', DEMO_PRESETS);
  select('router', ROUTERS);
  for (const [key, value] of Object.entries(state)) {
    const el = form.elements.namedItem(key) as HTMLInputElement | HTMLSelectElement | null;
    if (el) el.value = String(value);
  }
  const dense = state.preset === 'dense';
  for (const name of ['router', 'topK', 'capacityFactor', 'balanceCoefficient', 'zLoss']) {
    (form.elements.namedItem(name) as HTMLInputElement).disabled = dense;
  }
}

function readControls(): PageState {
  const search = new URLSearchParams();
  for (const el of Array.from(form.elements) as HTMLInputElement[]) {
    if (el.name && !el.disabled) search.set(el.name, el.value);
  }
  const { state: next, ignored } = readState(`?${search}`);
  if (ignored.length > 0) showError(`ignored invalid settings: ${ignored.join(', ')}`);
  return next;
}

async function selectBackend(): Promise<void> {
  try {
    const gpu = await createWebGPUBackend();
    setBackend(gpu);
    probe.backend = gpu.describe();
    $('backend').textContent = `Training on WebGPU: ${gpu.info.adapter}`;
  } catch (err) {
    setBackend(createCpuBackend());
    probe.backend = 'cpu';
    $('backend').textContent =
      `WebGPU is unavailable here (${err instanceof Error ? err.message : String(err)}); training on the CPU backend instead.`;
  }
}

function resetCharts(): void {
  loss?.destroy();
  for (const c of [...bars, ...heatmaps]) c.destroy();
  bars = [];
  heatmaps = [];
  $('load-bars').replaceChildren();
  $('heatmaps').replaceChildren();
  $('tokens').replaceChildren();
  loss = lossChart($<HTMLCanvasElement>('loss-chart'), [{ label: state.preset, values: [] }]);
}

function canvasIn(parent: HTMLElement, caption: string, height: number): HTMLCanvasElement {
  const cell = document.createElement('div');
  const label = document.createElement('div');
  label.className = 'caption';
  label.textContent = caption;
  const box = document.createElement('div');
  box.className = 'chart';
  box.style.height = `${height}px`;
  const canvas = document.createElement('canvas');
  box.append(canvas);
  cell.append(label, box);
  parent.append(cell);
  return canvas;
}

/** Builds a fresh run from the current settings (disposing the previous one). */
function reset(): void {
  playing = false;
  run?.dispose();
  run = null;
  probe.step = 0;
  probe.lossPoints = 0;
  probe.error = null;
  $('error').textContent = '';
  history.replaceState(null, '', `${location.pathname}${writeState(state)}`);
  fillControls();
  resetCharts();
  try {
    const data = demoData({ samples: 1500, seqLen: state.seqLen, seed: state.seed });
    const base = demoModels({
      vocabSize: data.tokenizer.vocabSize,
      seqLen: state.seqLen,
      balanceCoefficient: state.balanceCoefficient,
    })[state.preset];
    run = new DemoRun(withRouting(base, state), data, {
      steps: state.steps,
      batchSize: state.batchSize,
      lr: state.lr,
      warmupSteps: Math.max(1, Math.round(state.steps / 20)),
      seed: state.seed,
      evalBatches: 1,
    });
  } catch (err) {
    showError(err);
  }
  $('step-total').textContent = String(state.steps);
  $('step-count').textContent = '0';
  updateButtons();
}

function updateButtons(): void {
  const ready = run !== null && !run.done;
  $<HTMLButtonElement>('play').disabled = playing || !ready;
  $<HTMLButtonElement>('step').disabled = playing || !ready;
  $<HTMLButtonElement>('pause').disabled = !playing;
  probe.playing = playing;
}

function drawLoad(current: DemoRun): void {
  const last = current.logs.at(-1);
  if (!last) return;
  const moe = current.spec.config.moe;
  last.routing.forEach((layer, l) => {
    const tokens = state.batchSize * state.seqLen;
    const e = layer.tokensPerExpert.length;
    const capacity = moe?.capacity ? Math.ceil(((tokens * moe.topK) / e) * moe.capacity.train) : null;
    let chart = bars[l];
    if (!chart) {
      chart = new Chart(canvasIn($('load-bars'), `layer ${layer.layer}`, 180), {
        type: 'bar',
        data: {
          labels: layer.tokensPerExpert.map((_, i) => String(i)),
          datasets: [
            { label: 'assignments', data: [], backgroundColor: '#4e79a7' },
            {
              label: 'capacity',
              type: 'line' as 'bar',
              data: [],
              borderColor: '#d62728',
              pointRadius: 0,
            } as never,
          ],
        },
        options: { scales: { x: { title: { display: true, text: 'expert' } }, y: { beginAtZero: true } } },
      });
      bars[l] = chart;
    }
    const [assignments, limit] = chart.data.datasets;
    if (assignments) assignments.data = layer.tokensPerExpert;
    if (limit) limit.data = layer.tokensPerExpert.map(() => capacity);
    chart.update('none');
  });
}

function drawHeatmaps(current: DemoRun): void {
  for (const c of heatmaps) c.destroy();
  heatmaps = [];
  $('heatmaps').replaceChildren();
  const layers = current.logs[0]?.routing ?? [];
  layers.forEach((layer, l) => {
    const load = current.logs.map((log) => log.routing[l]?.tokensPerExpert ?? []);
    heatmaps.push(loadHeatmap(canvasIn($('heatmaps'), `layer ${layer.layer}`, 170), load));
  });
}

async function drawTokens(current: DemoRun): Promise<void> {
  const { tokens } = await current.analyse(1);
  const row = tokens[0];
  const layers = row?.topExpert.length ?? 0;
  if (!row || layers === 0) {
    $('tokens').textContent = 'The dense model has no experts.';
    return;
  }
  expertLegend($('legend'), current.spec.config.moe?.numExperts ?? 0);
  tokenView($('tokens'), row, layers - 1, current.domains);
}

async function stepOnce(): Promise<void> {
  const current = run;
  if (!current || current.done) return;
  const log = await current.step();
  probe.step = log.step;
  const losses = current.logs.map((l) => l.loss.task);
  probe.lossPoints = losses.length;
  if (loss) updateLossChart(loss, [{ label: state.preset, values: losses }]);
  $('step-count').textContent = String(log.step);
  $('loss').textContent = log.loss.task.toFixed(3);
  const tokens = current.logs.reduce((s, l) => s + l.tokens, 0);
  $('speed').textContent = Math.round(tokens / Math.max(current.seconds, 1e-9)).toLocaleString('en-US');
  drawLoad(current);
  if (log.step % 5 === 0 || current.done || !playing) drawHeatmaps(current);
  if (log.step % 10 === 0 || current.done || !playing) await drawTokens(current);
}

async function play(): Promise<void> {
  playing = true;
  updateButtons();
  try {
    while (playing && run && !run.done) {
      await stepOnce();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } catch (err) {
    showError(err);
  } finally {
    playing = false;
    updateButtons();
  }
}

$('play').addEventListener('click', () => void play());
$('pause').addEventListener('click', () => {
  playing = false;
  updateButtons();
});
$('step').addEventListener('click', () => {
  $<HTMLButtonElement>('step').disabled = true;
  stepOnce().catch(showError).finally(updateButtons);
});
$('reset').addEventListener('click', () => {
  state = readControls();
  reset();
});
form.addEventListener('change', () => {
  state = readControls();
  reset();
});

const initial = readState(location.search);
state = initial.state;
await selectBackend();
reset();
if (initial.ignored.length > 0) showError(`ignored invalid URL settings: ${initial.ignored.join(', ')}`);
if (new URLSearchParams(location.search).get('autoplay') === '1') void play();
