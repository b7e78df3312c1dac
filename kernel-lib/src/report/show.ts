import { randomBytes } from 'node:crypto';
import type { Frame } from '../frame/frame';
import { isoTime } from '../frame/frame';
import type { Figure } from './charts';
import { escapeHtml, formatValue, keyValueTable, plotlyJs, recordsTable, scriptSafe } from './html-report';
import { notebookDisplay } from './notebook-display';

/**
 * Show things in a notebook cell (tslab); outside a notebook, print a text form to stdout.
 * Charts go out as a plotly MIME bundle (rendered natively by JupyterLab and VS Code) with an HTML
 * fallback that draws with the plotly.js `initCharts()` put on the page — as Python's plotly offline does.
 */

/** Put plotly.js on the notebook page once (offline, no CDN), for the HTML rendering of charts. */
export function initCharts(): void {
  const display = notebookDisplay();
  if (!display) return;
  display.bundle({
    'text/html': `<script>${scriptSafe(plotlyJs())}</script><div><em>candlelab: plotly.js loaded for charts</em></div>`,
    'text/plain': 'candlelab: plotly.js loaded',
  });
}

/** Show a plotly figure. */
export function showChart(figure: Figure): void {
  const display = notebookDisplay();
  const title = String((figure.layout.title as { text?: string } | undefined)?.text ?? 'chart');
  if (!display) {
    console.log(`[chart: ${title}, ${figure.data.length} trace(s)]`);
    return;
  }
  const id = `candlelab-${randomBytes(6).toString('hex')}`;
  const json = scriptSafe(JSON.stringify(figure));
  display.bundle({
    'application/vnd.plotly.v1+json': { data: figure.data, layout: figure.layout, config: { displaylogo: false } },
    'text/html':
      `<div id="${id}" style="min-height:360px"></div><script>(function(){var f=${json};` +
      `if(window.Plotly){Plotly.newPlot('${id}',f.data,f.layout,{responsive:true,displaylogo:false});}` +
      `else{document.getElementById('${id}').innerText='Run initCharts() first to load plotly.js (offline) for charts.';}})();</script>`,
    'text/plain': `[chart: ${title}]`,
  });
}

/** Show the first rows of a frame (time as ISO) as a table. */
export function showFrame(frame: Frame, rows = 10): void {
  const records = frame.rows(0, rows).map((row) => {
    const { time, ...rest } = row as Record<string, number>;
    return { time: isoTime(time), ...rest };
  });
  showRecords(records, `${frame.meta.symbol} ${frame.meta.timeframe}: ${frame.length} rows × ${frame.names.length} columns`);
}

/** Show records (objects) as a table, with an optional caption. */
export function showRecords(records: Array<Record<string, unknown>>, caption?: string, limit = 50): void {
  const display = notebookDisplay();
  if (!display) {
    if (caption) console.log(caption);
    console.table(records.slice(0, limit));
    return;
  }
  const text = records.slice(0, limit).map((r) => Object.values(r).map((v) => (typeof v === 'number' ? formatValue(v) : String(v))).join('\t')).join('\n');
  display.bundle({
    'text/html': `${caption ? `<p><strong>${escapeHtml(caption)}</strong></p>` : ''}${recordsTable(records, limit)}`,
    'text/plain': `${caption ? caption + '\n' : ''}${text}`,
  });
}

/** Show named values (metrics) as a two-column table. */
export function showValues(values: Record<string, unknown>, caption?: string): void {
  const display = notebookDisplay();
  const rows = Object.entries(values).filter(([, v]) => v === null || typeof v !== 'object');
  if (!display) {
    if (caption) console.log(caption);
    for (const [key, value] of rows) console.log(`  ${key}: ${formatValue(value)}`);
    return;
  }
  display.bundle({
    'text/html': `${caption ? `<p><strong>${escapeHtml(caption)}</strong></p>` : ''}${keyValueTable(rows)}`,
    'text/plain': `${caption ? caption + '\n' : ''}${rows.map(([k, v]) => `${k}: ${formatValue(v)}`).join('\n')}`,
  });
}
