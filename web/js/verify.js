// verify.js — the public verification page (/verify/{id}): asks the registry for the
// credential's status (the same address, as JSON) and says valid, revoked or unknown,
// with the issuer, title, dates and the learner's name — nothing else of the learner;
// for a credential mcx sealed itself, whether its sealed file still matches the eSeal.

import { el } from './dom.js';
import { initPage } from './header.js';
import { countryName, formatDate, onLangChange, t } from './i18n.js';

const box = document.getElementById('verdict');
let result = null;

function fact(label, value) {
  return value ? el('div', {}, el('dt', { text: t(label) }), el('dd', { text: value })) : null;
}

// "Vytautas Magnus University (VATLT-100002513)" from the eSeal's subject (RFC 2253),
// else the subject as it is.
function sealer(subject) {
  const part = (name) => {
    const m = new RegExp(`(?:^|,)${name}=((?:[^,\\\\]|\\\\.)*)`).exec(subject || '');
    return m ? m[1].replace(/\\(.)/g, '$1') : '';
  };
  const org = part('O');
  const id = part('organizationIdentifier') || part('2\\.5\\.4\\.97');
  return org ? (id ? `${org} (${id})` : org) : subject;
}

function seal(s) {
  if (!s) return '';
  return s.valid ? t('verify.seal_ok', { by: sealer(s.sealed_by) }) : t('verify.seal_bad');
}

function render() {
  box.removeAttribute('aria-busy');
  if (!result) return;
  if (result.kind === 'error') {
    box.replaceChildren(el('p', { class: 'verdict verdict-error', role: 'alert', text: t('verify.error') }));
    return;
  }
  const v = result.doc;
  const status = v.status === 'valid' || v.status === 'revoked' ? v.status : 'unknown';
  const issuer = v.issuer ? [v.issuer.name, countryName(v.issuer.country)].filter(Boolean).join(' · ') : '';
  box.replaceChildren(
    el('p', { class: `verdict verdict-${status}`, id: 'status', 'data-status': status, text: t(`verify.${status}`) }),
    status === 'unknown' ? null : el('dl', { class: 'facts-grid' },
      fact('verify.learner', v.learner),
      fact('verify.course', v.title),
      fact('verify.issuer', issuer),
      fact('verify.issued', formatDate(v.issued)),
      fact('verify.revoked_at', v.revoked_at ? formatDate(v.revoked_at) : ''),
      fact('verify.reason', v.revoke_reason),
      fact('verify.seal', seal(v.seal))),
  );
}

async function load() {
  try {
    const r = await fetch(location.pathname, { headers: { Accept: 'application/json' } });
    if (r.status !== 200 && r.status !== 404) throw new Error(String(r.status));
    result = { kind: 'ok', doc: await r.json() };
  } catch {
    result = { kind: 'error' };
  }
  render();
}

initPage();
load();
onLangChange(render);
