// queue.js — the registrar's queue (/queue, issue 11): the recognition requests that
// target the registrar's institution (GET /api/v1/recognition-requests, ?status= in
// the address), one request with its proposal, appeal, audit trail and the decision
// form (/queue?id=…, POST …/decision), and the institution's agreements with a
// hash-approval action (POST /api/v1/agreements/{id}/approve). docs/recognition.md §8
// holds the rules; the server enforces them, the page only explains them.

import { api, institutions } from './api.js';
import { byId as $, el } from './dom.js';
import { initPage, institutionName, isRegistrar, showStaffGate } from './header.js';
import { formatDate, formatDateTime, formatNumber, onLangChange, t } from './i18n.js';

const STATUSES = ['proposed', 'appealed', 'decided'];

const params = new URLSearchParams(location.search);
const requestId = params.get('id') || '';
let status = STATUSES.includes(params.get('status')) ? params.get('status') : '';
// partner (the credential's issuer) and programme: the values come with the list
const filters = { partner: params.get('partner') || '', programme: params.get('programme') || '' };
let choices = { partners: [], programmes: [] };

let user = null;
let insts = new Map();
let requests = null; // the list's last answer
let agreements = null;
let current = null; // the request of the detail view

function instName(id) {
  return id ? institutionName(insts.get(id), id) : '';
}

function outcomeName(o) { return o ? t(`outcome.${o}`) : t('queue.none'); }
function statusName(s) { return t(`status.${s}`); }

function studentName(r) {
  return r.student_name || r.student_email || r.student || '';
}

function fact(dl, label, value, wide = false) {
  const empty = value === undefined || value === null || value === '';
  dl.append(el('div', { class: wide ? 'fact-wide' : null }, el('dt', { text: label }),
    el('dd', { class: empty ? 'not-stated' : null, text: empty ? t('not_stated') : String(value) })));
}

// ---- the gate: signed out, or not a registrar ----

function showGate(signedIn) {
  showStaffGate('queue', signedIn);
}

// ---- the list ----

function reasonCodes(r) {
  const reasons = (r.proposal && r.proposal.reasons) || [];
  if (!reasons.length) return el('span', { class: 'muted', text: '—' });
  return el('ul', { class: 'codes' }, ...reasons.map((x) =>
    el('li', {}, el('code', { title: x.message || null, text: x.code }))));
}

function renderList() {
  const table = $('requests');
  const body = table.querySelector('tbody');
  if (!requests) return;
  table.removeAttribute('aria-busy');
  body.replaceChildren(...requests.map((r) => {
    const c = r.credential || {};
    const issuer = (c.issuer && (c.issuer.name || c.issuer.id)) || r.issuer || '';
    const p = r.proposal || {};
    return el('tr', { 'data-id': r.id, 'data-status': r.status },
      el('th', { scope: 'row' }, el('a', { href: `/queue?id=${encodeURIComponent(r.id)}`, text: c.title || r.id })),
      el('td', {}, el('span', { class: `pill status-${r.status}`, text: statusName(r.status) })),
      el('td', { class: 'student', title: r.student || null, text: studentName(r) }),
      el('td', { text: issuer }),
      el('td', { text: typeof c.ects === 'number' ? formatNumber(c.ects) : '—' }),
      el('td', { text: outcomeName(p.outcome) }),
      el('td', {}, reasonCodes(r)));
  }));
  $('queue-empty').hidden = requests.length > 0;
}

// The filter selects: "all" and the values the last answer named (a chosen value
// stays listed even when no request has it any more).
function renderFilters() {
  const fill = (select, all, values, current) => {
    const known = values.some((v) => v.id === current);
    select.replaceChildren(new Option(all, ''),
      ...values.map((v) => new Option(v.name, v.id, false, v.id === current)),
      ...(current && !known ? [new Option(current, current, false, true)] : []));
  };
  fill($('partner-filter'), t('queue.partner_all'),
    choices.partners.map((p) => ({ id: p.id, name: insts.has(p.id) ? instName(p.id) : (p.name || p.id) })),
    filters.partner);
  fill($('programme-filter'), t('queue.programme_all'),
    choices.programmes.map((p) => ({ id: p, name: p })), filters.programme);
}

function listQuery() {
  const q = new URLSearchParams();
  if (status) q.set('status', status);
  if (filters.partner) q.set('partner', filters.partner);
  if (filters.programme) q.set('programme', filters.programme);
  return q.toString();
}

async function loadList() {
  $('queue-error').textContent = '';
  $('requests').setAttribute('aria-busy', 'true');
  try {
    const q = listQuery();
    const r = await api(`/recognition-requests${q ? `?${q}` : ''}`);
    requests = r.items || [];
    choices = { partners: r.partners || [], programmes: r.programmes || [] };
    renderFilters();
  } catch (err) {
    $('requests').removeAttribute('aria-busy');
    if (err.status === 401) return showGate(false);
    if (err.status === 403) return showGate(true);
    $('queue-error').textContent = t('queue.error');
    return;
  }
  renderList();
}

// ---- agreements ----

function renderAgreements() {
  if (!agreements) return;
  const body = $('agreements').querySelector('tbody');
  body.replaceChildren(...agreements.map((a) => {
    const approvals = (a.approvals || []).filter((x) => x.current);
    const action = el('td');
    if (a.status === 'draft') {
      const short = `${a.hash.slice(0, 12)}…`;
      const btn = el('button', {
        type: 'button', class: 'secondary approve', 'data-hash': a.hash, title: a.hash,
        'aria-label': t('queue.approve_label', { hash: short, title: a.title }),
        text: t('queue.approve', { hash: short }),
      });
      btn.addEventListener('click', () => approve(a, btn));
      action.append(btn);
    }
    return el('tr', { 'data-id': a.id, 'data-status': a.status },
      el('th', { scope: 'row', text: a.title }),
      el('td', { text: (a.parties || []).map(instName).join(', ') }),
      el('td', {}, el('span', { class: `pill ag-${a.status}`, text: t(`ag.${a.status}`) })),
      el('td', { text: approvals.map((x) => instName(x.institution)).join(', ') || '—' }),
      action);
  }));
  $('agreements-empty').hidden = agreements.length > 0;
}

async function loadAgreements() {
  try {
    const r = await api(`/agreements?institution=${encodeURIComponent(user.institution || '')}`);
    agreements = r.items || [];
  } catch (err) {
    $('approve-error').textContent = err.message;
    return;
  }
  renderAgreements();
}

async function approve(a, btn) {
  $('approve-result').textContent = '';
  $('approve-error').textContent = '';
  btn.disabled = true;
  try {
    const done = await api(`/agreements/${encodeURIComponent(a.id)}/approve`,
      { method: 'POST', body: { hash: a.hash } });
    $('approve-result').textContent = `${done.title}: ${t('queue.approved', { status: t(`ag.${done.status}`) })}`;
    agreements = agreements.map((x) => (x.id === done.id ? done : x));
    renderAgreements();
  } catch (err) {
    btn.disabled = false;
    $('approve-error').textContent = err.message; // a stale hash: the 409 names the current one
    // the agreement changed since the page read it: show its current hash to approve
    if (err.status === 409) await loadAgreements();
  }
}

// ---- one request ----

function renderCredential(r) {
  const c = r.credential || {};
  const dl = $('cred-facts');
  dl.replaceChildren();
  const issuer = c.issuer || {};
  fact(dl, t('queue.issuer'), [issuer.name || issuer.id, issuer.country].filter(Boolean).join(', '));
  fact(dl, t('queue.ects'), typeof c.ects === 'number' ? formatNumber(c.ects) : '');
  fact(dl, t('queue.eqf'), c.eqf);
  fact(dl, t('queue.grade_sent'), c.grade);
  fact(dl, t('queue.awarded'), c.awarded_on ? formatDate(c.awarded_on) : '');
  fact(dl, t('queue.col_student'), studentName(r));
  const tg = r.target || {};
  fact(dl, t('queue.target'), [instName(tg.institution), tg.programme, tg.course].filter(Boolean).join(' — '));
  fact(dl, t('queue.submitted'), formatDateTime(r.created_at));
}

function renderProposal(r) {
  const p = r.proposal || {};
  const dl = $('proposal-facts');
  dl.replaceChildren();
  fact(dl, t('queue.outcome'), outcomeName(p.outcome));
  fact(dl, t('queue.credits'), typeof p.credits === 'number' ? formatNumber(p.credits) : '');
  fact(dl, t('queue.grade'), p.grade);
  const ag = p.agreement && agreements && agreements.find((a) => a.id === p.agreement);
  fact(dl, t('queue.agreement'), ag ? ag.title : p.agreement);
  if (p.as) fact(dl, t('queue.rule'), [p.as, p.course].filter(Boolean).join(': '));
  const reasons = p.reasons || [];
  $('proposal-reasons').replaceChildren(...(reasons.length
    ? reasons.map((x) => el('li', { 'data-code': x.code }, el('code', { text: x.code }), ` ${x.message || ''}`))
    : [el('li', { class: 'muted', text: t('queue.no_reasons') })]));
}

function renderAppeal(r) {
  const a = r.appeal;
  $('appeal-section').hidden = !a;
  if (!a) return;
  $('appeal-text').textContent = a.text || '';
  $('appeal-at').textContent = formatDateTime(a.at);
}

function renderDecision(r) {
  const d = r.decision;
  $('decision-section').hidden = !d;
  if (!d) return;
  const summary = $('decision-summary');
  summary.textContent = t('queue.decided', { outcome: outcomeName(d.outcome) });
  summary.className = `verdict ${d.outcome === 'not_recognised' ? 'verdict-revoked' : 'verdict-valid'}`;
  const dl = $('decision-facts');
  dl.replaceChildren();
  fact(dl, t('queue.credits'), typeof d.credits === 'number' ? formatNumber(d.credits) : '');
  fact(dl, t('queue.grade'), d.grade);
  fact(dl, t('queue.reasons'), d.reasons, true);
  fact(dl, t('queue.decision'),
    t('queue.decided_at', { d: formatDateTime(d.at) }) + (d.after_appeal ? ` (${t('queue.after_appeal')})` : ''));
}

// A step's details as "key: value" lines (nested values as compact JSON).
function auditDetails(d) {
  if (!d || typeof d !== 'object') return document.createTextNode(d ? String(d) : '');
  const entries = Object.entries(d).filter(([, v]) => v !== null && v !== '');
  if (!entries.length) return document.createTextNode('');
  return el('dl', { class: 'audit-details' }, ...entries.flatMap(([k, v]) => [
    el('dt', { text: k.replace(/_/g, ' ') }),
    el('dd', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) }),
  ]));
}

function renderAudit(r) {
  const rows = Array.isArray(r.audit) ? r.audit : null;
  $('audit-section').hidden = !rows || rows.length === 0;
  if (!rows) return;
  $('audit').querySelector('tbody').replaceChildren(...rows.map((e) => {
    return el('tr', {},
      el('th', { scope: 'row', text: formatDateTime(e.at) }),
      el('td', { text: e.actor_email || e.actor || '' }),
      el('td', { text: e.action || '' }),
      el('td', { class: 'details' }, auditDetails(e.details)));
  }));
}

// Whether the form's decision is exactly a recognised proposal (no reasons needed).
function isAsProposed() {
  const p = (current && current.proposal) || {};
  const f = $('decide-form');
  if (p.outcome !== 'recognised' || f.elements.outcome.value !== 'recognised') return false;
  const credits = f.elements.credits.value === '' ? null : Number(f.elements.credits.value);
  const grade = f.elements.grade.value.trim() || null;
  return credits === (p.credits ?? null) && grade === (p.grade || null);
}

function updateReasonsHint() {
  const needed = !isAsProposed();
  const reasons = $('reasons');
  if (needed) reasons.setAttribute('aria-required', 'true');
  else reasons.removeAttribute('aria-required');
  $('reasons-hint').textContent = t('queue.decide_hint');
  $('reasons-hint').classList.toggle('is-required', needed);
}

function fillForm(r) {
  const p = r.proposal || {};
  const f = $('decide-form');
  f.elements.outcome.value = p.outcome === 'recognised' ? 'recognised' : f.elements.outcome.value;
  f.elements.credits.value = typeof p.credits === 'number' ? String(p.credits) : '';
  f.elements.grade.value = p.grade || '';
  updateReasonsHint();
}

function renderDetail() {
  const r = current;
  if (!r) return;
  $('detail').hidden = false;
  $('detail-title').textContent = (r.credential && r.credential.title) || r.id;
  $('detail-status').replaceChildren(
    el('span', { class: `pill status-${r.status}`, id: 'request-status', text: statusName(r.status) }));
  renderCredential(r);
  renderProposal(r);
  renderAppeal(r);
  renderDecision(r);
  renderAudit(r);
  $('decide-section').hidden = !['proposed', 'appealed'].includes(r.status);
  updateReasonsHint();
}

async function loadDetail() {
  try {
    current = await api(`/recognition-requests/${encodeURIComponent(requestId)}`);
  } catch (err) {
    if (err.status === 401) return showGate(false);
    $('detail-error').textContent = err.status === 404 || err.status === 403
      ? t('queue.not_found') : err.message;
    return;
  }
  fillForm(current);
  renderDetail();
}

async function decide(e) {
  e.preventDefault();
  const f = $('decide-form');
  const btn = f.querySelector('button[type="submit"]');
  const box = $('decide-error');
  box.textContent = '';
  const body = { outcome: f.elements.outcome.value };
  if (f.elements.credits.value !== '') body.credits = Number(f.elements.credits.value);
  if (f.elements.grade.value.trim()) body.grade = f.elements.grade.value.trim();
  if (f.elements.reasons.value.trim()) body.reasons = f.elements.reasons.value.trim();
  // The page says when reasons are needed but lets the server judge (it holds the
  // rule and its message), so a refusal reads the same here as in the API.
  btn.disabled = true;
  btn.textContent = t('queue.saving');
  try {
    const decided = await api(`/recognition-requests/${encodeURIComponent(current.id)}/decision`,
      { method: 'POST', body });
    // read it again: the request's own address also gives the audit trail
    current = await api(`/recognition-requests/${encodeURIComponent(decided.id)}`)
      .catch(() => decided);
    renderDetail();
  } catch (err) {
    box.textContent = err.message;
    if (err.status === 422 && /reasons/.test(err.message)) {
      $('reasons').setAttribute('aria-invalid', 'true');
    }
  } finally {
    btn.disabled = false;
    btn.textContent = t('queue.submit');
  }
}

// ---- start ----

function renderAll() {
  if (user && user.institution) {
    $('queue-lead').textContent = t('queue.lead', { inst: instName(user.institution) });
  }
  renderList();
  renderAgreements();
  renderDetail();
  if (!requestId) renderFilters();
}

async function start() {
  const s = await initPage();
  if (!s) return showGate(false);
  if (!isRegistrar(s)) return showGate(true);
  user = s.user;
  $('queue-loading').hidden = true;
  $('app').hidden = false;
  insts = await institutions();
  onLangChange(renderAll);
  if (requestId) {
    $('detail-view').hidden = false;
    const f = $('decide-form');
    f.addEventListener('submit', decide);
    f.addEventListener('input', updateReasonsHint);
    f.addEventListener('change', updateReasonsHint);
    $('reasons').addEventListener('input', () => $('reasons').removeAttribute('aria-invalid'));
    await loadAgreements(); // names the proposal's agreement
    await loadDetail();
    return;
  }
  $('list-view').hidden = false;
  const select = $('status-filter');
  select.value = status;
  const changed = () => {
    status = select.value;
    filters.partner = $('partner-filter').value;
    filters.programme = $('programme-filter').value;
    const url = new URL(location.href);
    url.search = listQuery();
    history.replaceState(history.state, '', url);
    loadList();
  };
  for (const id of ['status-filter', 'partner-filter', 'programme-filter']) {
    $(id).addEventListener('change', changed);
  }
  renderAll();
  await Promise.all([loadList(), loadAgreements()]);
}

start();
