import * as fs from 'node:fs';
import type { Figure } from './charts';

let plotlySource: string | undefined;

/** plotly.js (the minified bundle from plotly.js-dist-min), read once per process. */
export function plotlyJs(): string {
  plotlySource ??= fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'), 'utf8');
  return plotlySource;
}

/** Text safe inside an inline <script>: no sequence can close the script element. */
export function scriptSafe(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A value as a table cell: numbers with sensible precision, null as an em dash. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1000 ? value.toFixed(2) : value.toPrecision(4);
  }
  return escapeHtml(String(value));
}

/** A two-column key/value table. */
export function keyValueTable(rows: Array<[string, unknown]>): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${formatValue(v)}</td></tr>`).join('')}</table>`;
}

/** A table of records (columns from the first record's keys). */
export function recordsTable(records: Array<Record<string, unknown>>, limit = 50): string {
  if (records.length === 0) return '<p><em>none</em></p>';
  const columns = Object.keys(records[0]);
  const head = `<tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = records
    .slice(0, limit)
    .map((r) => `<tr>${columns.map((c) => `<td>${formatValue(r[c])}</td>`).join('')}</tr>`)
    .join('');
  const more = records.length > limit ? `<p><em>${records.length - limit} more rows not shown</em></p>` : '';
  return `<table class="records">${head}${body}</table>${more}`;
}

export type ReportSection = { title: string; html?: string; figures?: Figure[] };

/**
 * A self-contained HTML report: plotly.js is inlined, so the file opens offline from any folder
 * (no CDN, no server).
 */
export function renderHtmlReport(title: string, sections: ReportSection[]): string {
  const figures: Array<{ id: string; figure: Figure }> = [];
  const body = sections
    .map((section) => {
      const plots = (section.figures ?? [])
        .map((figure) => {
          const id = `chart-${figures.length}`;
          figures.push({ id, figure });
          return `<div class="chart" id="${id}"></div>`;
        })
        .join('');
      return `<section><h2>${escapeHtml(section.title)}</h2>${section.html ?? ''}${plots}</section>`;
    })
    .join('\n');
  const figureJson = scriptSafe(JSON.stringify(figures));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #1a202c; padding: 0 16px; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #e2e8f0; padding-bottom: 4px; margin-top: 32px; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 8px 0; }
th, td { border: 1px solid #e2e8f0; padding: 3px 8px; text-align: right; }
th { background: #f7fafc; text-align: left; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 16px; }
.chart { min-height: 360px; }
pre { background: #f7fafc; padding: 8px; overflow: auto; font-size: 0.8rem; }
.warning { color: #c05621; }
.alert { background: #fff5f5; border: 2px solid #c53030; color: #742a2a; padding: 10px 14px; margin: 12px 0; border-radius: 4px; font-size: 1rem; }
</style>
<script>${scriptSafe(plotlyJs())}</script>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
<script>
(function () {
  var figures = ${figureJson};
  for (var i = 0; i < figures.length; i++) {
    Plotly.newPlot(figures[i].id, figures[i].figure.data, figures[i].figure.layout, { responsive: true, displaylogo: false });
  }
  document.body.setAttribute('data-charts-rendered', String(figures.length));
})();
</script>
</body>
</html>
`;
}
