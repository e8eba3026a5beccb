// report.html: one self-contained file (no network): the report as JSON, the comparison table as HTML, and
// the chart script (report-page.ts with Chart.js) bundled inline by esbuild.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { comparisonTable } from './comparison-table.js';
import type { DemoReport } from './report.js';

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The markdown comparison table as an HTML table. */
function tableHtml(report: DemoReport): string {
  const lines = comparisonTable(report.runs).split('\n');
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split('|')
      .map((c) => escapeHtml(c.trim()));
  const [head = '', , ...body] = lines;
  return [
    '<table>',
    `<thead><tr>${cells(head)
      .map((c) => `<th>${c}</th>`)
      .join('')}</tr></thead>`,
    '<tbody>',
    ...body.map(
      (l) =>
        `<tr>${cells(l)
          .map((c) => `<td>${c}</td>`)
          .join('')}</tr>`,
    ),
    '</tbody></table>',
  ].join('\n');
}

/** Bundles the page script (and Chart.js) into one IIFE. */
async function pageScript(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./report-page.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    conditions: ['@switchyard/source'],
    logLevel: 'silent',
  });
  return (result.outputFiles[0] as { text: string }).text;
}

/** The whole report page. JSON is embedded with `<` escaped so no string can close the script tag. */
export async function renderReportHtml(report: DemoReport): Promise<string> {
  const s = report.settings;
  const data = JSON.stringify(report).replace(/</g, '\\u003c');
  const script = (await pageScript()).replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchyard demo report</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { position: relative; width: 100%; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1rem; }
.caption { font-size: 12px; color: #555; }
.tokens { font-family: ui-monospace, monospace; line-height: 1.9; word-break: break-all; }
code { background: #f3f3f3; padding: 0 3px; }
</style>
</head>
<body>
<h1>Switchyard: sparse versus dense at equal compute</h1>
<p>Backend: <code>${escapeHtml(report.backendDescription)}</code>. Every model trained ${s.steps} steps of
${s.batchSize}×${s.seqLen} tokens from the same seeded batches (seed ${s.seed}), AdamW with a cosine schedule
peaking at ${s.lr}, balance-loss coefficient ${s.balanceCoefficient}. Domains: ${report.domains.map(escapeHtml).join(', ')}.
Written ${escapeHtml(report.createdAt)}.</p>
${tableHtml(report)}
<ul>
${report.runs.map((r) => `<li><b>${escapeHtml(r.preset)}</b>: tiny ${escapeHtml(r.from)}; ${escapeHtml(r.changes)}.</li>`).join('\n')}
</ul>
<div id="charts"></div>
<script id="report-data" type="application/json">${data}</script>
<script>${script}</script>
</body>
</html>
`;
}
