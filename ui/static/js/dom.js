// Small helpers for building the apps' DOM without innerHTML, so that text
// from the server is never parsed as HTML.
// @ts-check
import { t, lang, languages, setLang, errorText, reasonText } from './i18n.js';

/**
 * What h appends: nodes and text (anything else is made a string); null,
 * undefined and false are left out. A child may be a list of these.
 * @typedef {Node | string | number | boolean | null | undefined} Child
 */

/**
 * h creates an element: h('p', {class: 'x', onclick: fn}, 'text', child).
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs] on*: listeners; dataset: an object; true: a bare attribute
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * @template {Element} E
 * @param {E} el
 * @returns {E}
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/**
 * showError shows an API error next to a form: per-field reasons under the
 * fields, the message on top, both in the language in use (the API's
 * English message is for developers).
 * @param {HTMLElement} form
 * @param {{ code?: string, message: string, fields?: Record<string, string> } | null} err
 */
export function showError(form, err) {
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    describe(el, (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => !id.endsWith('-error')));
  }
  const box = form.querySelector('.form-error');
  if (box) box.textContent = err ? errorText(err) : '';
  if (!err || !err.fields) return;
  for (const [name, why] of Object.entries(err.fields)) {
    const input = /** @type {HTMLInputElement | null} */ (form.querySelector(`[name="${CSS.escape(name)}"]`));
    if (!input) continue;
    const id = `${input.id || name}-error`;
    input.after(h('div', { class: 'field-error', id }, `${label(input)} ${reasonText(why)}.`));
    input.setAttribute('aria-invalid', 'true');
    describe(input, [...(input.getAttribute('aria-describedby') || '').split(' '), id]);
  }
}

/**
 * describe points an element's aria-describedby at the elements with ids.
 * @param {Element} el
 * @param {string[]} ids
 */
function describe(el, ids) {
  const list = ids.filter(Boolean).join(' ');
  if (list) el.setAttribute('aria-describedby', list);
  else el.removeAttribute('aria-describedby');
}

/** @param {HTMLInputElement} input */
function label(input) {
  const l = input.closest('label');
  const text = l && l.firstChild && l.firstChild.textContent;
  return (text || input.name).trim();
}

/**
 * languageSwitch is a button that switches the app to the other language
 * (the apps speak two), named in that language, and remembers the choice
 * on this device.
 * @returns {HTMLElement}
 */
export function languageSwitch() {
  const other = languages.find((l) => l !== lang) || lang;
  return h('button', { type: 'button', class: 'link lang-switch', id: 'lang-switch', lang: other, title: t('lang.switch'), onclick: () => setLang(other) },
    t(`lang.${other}`));
}
