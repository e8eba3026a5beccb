// The script of report.html (bundled into the page by report-html.ts): reads the embedded report and draws
// its charts.
import { capacityChart, domainHeatmap, expertLegend, loadHeatmap, lossChart, tokenView } from './charts.js';
import type { DemoReport } from './report.js';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  parent: HTMLElement,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  parent.append(el);
  return el;
}

/** A fixed-height box holding one canvas (Chart.js sizes itself to its parent). */
function canvasIn(parent: HTMLElement, height: number): HTMLCanvasElement {
  const box = element('div', parent);
  box.className = 'chart';
  box.style.height = `${height}px`;
  return element('canvas', box);
}

function render(report: DemoReport): void {
  const root = document.getElementById('charts') as HTMLElement;
  const sparse = report.runs.filter((r) => r.layers.length > 0);

  element('h2', root, 'Loss curves');
  lossChart(
    canvasIn(root, 320),
    report.runs.map((r) => ({ label: r.preset, values: r.losses })),
  );

  element('h2', root, 'Expert load over training (per MoE layer; 1 = balanced)');
  for (const run of sparse) {
    element('h3', root, `${run.preset} (${run.from})`);
    const grid = element('div', root);
    grid.className = 'grid';
    run.layers.forEach((layer, l) => {
      const cell = element('div', grid);
      element('div', cell, `layer ${layer.layer}`).className = 'caption';
      loadHeatmap(
        canvasIn(cell, 180),
        run.expertLoad.map((step) => step[l] ?? []),
      );
    });
  }

  element('h2', root, 'Tokens coloured by their top expert (last MoE layer, held-out text)');
  for (const run of sparse) {
    element('h3', root, run.preset);
    const last = run.layers.length - 1;
    expertLegend(element('div', root), run.layers[last]?.numExperts ?? 0);
    for (const row of run.tokens) {
      const p = element('p', root);
      p.className = 'tokens';
      tokenView(p, row, last, report.domains);
    }
  }

  element('h2', root, 'Expert usage by data domain (share of each domain’s assignments)');
  for (const run of sparse) {
    element('h3', root, run.preset);
    const grid = element('div', root);
    grid.className = 'grid';
    run.domainUsage.forEach((usage) => {
      const cell = element('div', grid);
      element('div', cell, `layer ${usage.layer}`).className = 'caption';
      domainHeatmap(canvasIn(cell, 160), usage.counts, report.domains);
    });
  }

  element('h2', root, 'Dropped assignments versus capacity factor (held-out)');
  capacityChart(
    canvasIn(root, 300),
    sparse.map((r) => ({ label: r.preset, points: r.capacity })),
  );
}

render(JSON.parse((document.getElementById('report-data') as HTMLElement).textContent ?? '{}') as DemoReport);
