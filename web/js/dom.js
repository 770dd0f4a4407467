// dom.js — how the pages build their elements. el(tag, props, ...children): props
// become attributes ("text" the text content; null, undefined and false are left out,
// true is an empty attribute); children are nodes or strings, and null, undefined and
// false among them are skipped, so a part that does not apply can be written inline.
// The catalogue (catalogue.js) keeps its own to stay within its request budget, and
// the offer page sets DOM properties through its own.

export function byId(id) {
  return document.getElementById(id);
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
