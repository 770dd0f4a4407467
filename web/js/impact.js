// impact.js — the public impact dashboard (/impact, issue 11): the network's four
// figures over a period (GET /api/v1/stats/impact, docs/impact.md), a line chart of
// the monthly series (Chart.js, vendored: window.Chart) with the same numbers in a
// table for screen readers, the series as CSV, and — when the API gives it to staff —
// the figures per institution. The period lives in the address (?from=&to=).

import { api, institutions } from './api.js';
import { el } from './dom.js';
import { initPage, institutionName } from './header.js';
import { formatDate, formatNumber, lang, onLangChange, t } from './i18n.js';

const FIGURES = ['exposed', 'applied', 'issued', 'mobilities'];
// Line colours with at least 3:1 contrast on white (WCAG 2.2, 1.4.11), told apart
// by dash pattern and point shape too, not by colour alone.
const STYLE = {
  exposed: { color: '#1d4ed8', dash: [], point: 'circle' },
  applied: { color: '#b45309', dash: [6, 4], point: 'rect' },
  issued: { color: '#15803d', dash: [2, 3], point: 'triangle' },
  mobilities: { color: '#a21caf', dash: [10, 4, 2, 4], point: 'rectRot' },
};

const form = document.getElementById('period');
const fromInput = document.getElementById('from');
const toInput = document.getElementById('to');
const errorBox = document.getElementById('impact-error');
const figuresList = document.querySelector('.figures');
const periodText = document.getElementById('period-text');
const seriesBody = document.querySelector('#series tbody');
const csvLink = document.getElementById('csv');
const instSection = document.getElementById('institutions');
const instBody = instSection.querySelector('tbody');

let stats = null; // the last answer
let insts = new Map();
let chart = null;
let csvUrl = null; // the Blob URL of the current period's CSV, once fetched

function query() {
  const p = new URLSearchParams();
  if (fromInput.value) p.set('from', fromInput.value);
  if (toInput.value) p.set('to', toInput.value);
  return p.toString();
}

// "2026-03" as "Mar 2026" / "2026 m. kovo" in the interface language.
function monthName(month) {
  const d = new Date(`${month}-15T12:00:00Z`);
  if (Number.isNaN(d.getTime())) return month;
  return new Intl.DateTimeFormat(lang() === 'lt' ? 'lt-LT' : 'en-GB', {
    year: 'numeric', month: 'short', timeZone: 'UTC',
  }).format(d);
}

function renderFigures() {
  for (const f of FIGURES) document.getElementById(f).textContent = formatNumber(stats[f]);
  figuresList.removeAttribute('aria-busy');
  periodText.textContent = t('impact.period', { from: formatDate(stats.from), to: formatDate(stats.to) });
}

function renderTable() {
  seriesBody.replaceChildren(...stats.series.map((m) => el('tr', { 'data-month': m.month },
    el('th', { scope: 'row', text: monthName(m.month) }),
    ...FIGURES.map((f) => el('td', { text: formatNumber(m[f]) })))));
}

function renderChart() {
  if (!window.Chart) return; // the vendored script failed to load: the table still holds the numbers
  const data = {
    labels: stats.series.map((m) => monthName(m.month)),
    datasets: FIGURES.map((f) => ({
      label: t(`impact.${f}`),
      data: stats.series.map((m) => m[f]),
      borderColor: STYLE[f].color,
      backgroundColor: STYLE[f].color,
      borderDash: STYLE[f].dash,
      pointStyle: STYLE[f].point,
      pointRadius: 3,
      borderWidth: 2,
      tension: 0,
    })),
  };
  if (chart) {
    chart.data = data;
    chart.update();
    return;
  }
  const { Chart } = window;
  Chart.defaults.color = '#4b5563';
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  chart = new Chart(document.getElementById('chart'), {
    type: 'line',
    data,
    options: {
      animation: false, // figures, not a show; also steady screenshots
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: 'bottom', labels: { usePointStyle: true, boxHeight: 8 } } },
    },
  });
}

function renderInstitutions() {
  const by = stats && stats.by_institution;
  instSection.hidden = !by;
  if (!by) return;
  const rows = Object.entries(by).map(([id, f]) => ({ id, name: institutionName(insts.get(id), id), f }));
  rows.sort((a, b) => a.name.localeCompare(b.name, lang()));
  instBody.replaceChildren(...rows.map((r) => el('tr', { 'data-institution': r.id },
    el('th', { scope: 'row', text: r.name }),
    ...FIGURES.map((f) => el('td', { text: formatNumber(r.f[f]) })))));
}

function render() {
  if (!stats) return;
  renderFigures();
  renderTable();
  renderChart();
  renderInstitutions();
}

function resetCsv() {
  if (csvUrl) URL.revokeObjectURL(csvUrl);
  csvUrl = null;
  const q = query();
  csvLink.href = `/api/v1/stats/impact${q ? `?${q}` : ''}`;
  csvLink.setAttribute('download', `mcx-impact-${fromInput.value}-${toInput.value}.csv`);
}

// The API answers CSV only to "Accept: text/csv", which a link cannot send: the first
// click fetches it and points the link at a Blob of the answer, then clicks it again.
csvLink.addEventListener('click', async (e) => {
  if (csvUrl) return; // the Blob of this period: let the browser save it
  e.preventDefault();
  try {
    const r = await fetch(csvLink.href, { headers: { Accept: 'text/csv' } });
    if (!r.ok) throw new Error(String(r.status));
    const type = r.headers.get('Content-Type') || 'text/csv';
    const blob = new Blob([await r.text()], { type });
    csvUrl = URL.createObjectURL(blob);
    csvLink.href = csvUrl;
    csvLink.click();
  } catch {
    errorBox.textContent = t('impact.error');
  }
});

async function load() {
  errorBox.textContent = '';
  figuresList.setAttribute('aria-busy', 'true');
  try {
    const q = query();
    stats = await api(`/stats/impact${q ? `?${q}` : ''}`);
  } catch (err) {
    figuresList.removeAttribute('aria-busy');
    errorBox.textContent = err.status === 400 ? err.message : t('impact.error');
    return;
  }
  // the period the API counted (its defaults fill what was left empty)
  fromInput.value = stats.from;
  toInput.value = stats.to;
  resetCsv();
  render();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const url = new URL(location.href);
  for (const [k, v] of [['from', fromInput.value], ['to', toInput.value]]) {
    if (v) url.searchParams.set(k, v);
    else url.searchParams.delete(k);
  }
  history.replaceState(history.state, '', url);
  load();
});

const params = new URLSearchParams(location.search);
fromInput.value = params.get('from') || '';
toInput.value = params.get('to') || '';
initPage();
institutions().then((m) => { insts = m; renderInstitutions(); });
load();
onLangChange(render);
