// me.js — "My applications" (/me): the courses the signed-in student applied to,
// newest first, each linked to its offer page.

import { api, institutions } from './api.js';
import { initPage, providerName } from './header.js';
import { countryName, formatDate, lang, onLangChange, pick, t } from './i18n.js';

const box = document.getElementById('apps');
let view = { kind: 'loading' };
let insts = new Map();

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter(Boolean));
  return node;
}

function item(app) {
  const o = app.offer || {};
  const title = pick(o.title);
  const inst = o.institution || {};
  const provider = [providerName(o, insts), countryName(inst.country)]
    .filter(Boolean).join(' · ');
  const heading = o.deleted
    ? el('h2', { text: title.text || o.external_id })
    : el('h2', {}, el('a', {
      href: `/offers/${encodeURIComponent(o.id)}`,
      text: title.text || o.external_id,
      lang: title.lang && title.lang !== lang() ? title.lang : undefined,
    }));
  return el('li', {}, el('article', { class: 'card' },
    heading,
    el('p', { class: 'meta', text: provider }),
    el('p', { class: 'meta', text: t('me.applied', { d: formatDate(app.applied_at) }) }),
    o.deleted ? el('p', { class: 'meta', text: t('me.withdrawn') }) : null));
}

function render() {
  box.classList.remove('loading-block');
  box.setAttribute('aria-busy', 'false');
  switch (view.kind) {
    case 'signed_out':
      box.replaceChildren(el('div', { class: 'panel state-box' },
        el('p', { text: t('me.signed_out') }),
        el('a', { class: 'button', href: '/login?next=/me', text: t('me.login') })));
      break;
    case 'error':
      box.replaceChildren(el('div', { role: 'alert', class: 'alert', text: view.message }));
      break;
    case 'list': {
      const who = view.user.name || view.user.email;
      const intro = el('p', { class: 'muted', text: t('me.signed_in_as', { who }) });
      if (!view.items.length) {
        box.replaceChildren(intro, el('div', { class: 'panel state-box' },
          el('p', { text: t('me.empty') }),
          el('a', { class: 'button', href: '/', text: t('me.find') })));
      } else {
        box.replaceChildren(intro, el('ol', { class: 'apps' }, ...view.items.map(item)));
      }
      break;
    }
    default:
      break;
  }
}

const s = await initPage();
if (!s) {
  view = { kind: 'signed_out' };
} else {
  try {
    const [r, m] = await Promise.all([api('/me/applications'), institutions()]);
    insts = m;
    view = { kind: 'list', items: r.items || [], user: s.user };
  } catch (err) {
    view = err.status === 401 ? { kind: 'signed_out' } : { kind: 'error', message: err.message };
  }
}
render();
onLangChange(render);
