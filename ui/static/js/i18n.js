// The apps' language: every string a teacher, a pupil or the class reads
// comes from the catalogues in i18n/ (Dutch and English), looked up by key.
// The language follows the browser's unless the user picked one; the pick is
// remembered on this device. API error codes map to messages here too
// (`error.<code>`); the API's own English `message` is for developers.
// @ts-check
import en from './i18n/en.js';
import nl from './i18n/nl.js';

const LANG_KEY = 'classboard.lang';

/** @type {Record<string, Record<string, string>>} */
const catalogues = { en, nl };

/** The languages the apps speak, in the order the switch shows them. */
export const languages = /** @type {const} */ (['nl', 'en']);

/** @returns {string} */
function pick() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && saved in catalogues) return saved;
  } catch { /* storage blocked: follow the browser */ }
  for (const l of navigator.languages || [navigator.language || '']) {
    const base = l.toLowerCase().split('-')[0];
    if (base in catalogues) return base;
  }
  // Dutch schools first, but a browser that asks for neither gets English,
  // the language most people without Dutch can read.
  return 'en';
}

/** The language in use. */
export const lang = pick();
document.documentElement.lang = lang;

/**
 * t gives the message for key in the language in use, with {name}
 * placeholders filled from vars. A key missing from the catalogue shows
 * itself (a test keeps that from happening).
 * @param {string} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function t(key, vars) {
  const text = catalogues[lang][key] ?? catalogues.en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/**
 * has says whether the catalogue has key: for codes from the server that an
 * older app may not know yet.
 * @param {string} key
 */
export function has(key) {
  return key in catalogues.en;
}

/**
 * setLang remembers the user's language on this device and reloads, so
 * every view is drawn again in it.
 * @param {string} l
 */
export function setLang(l) {
  if (!(l in catalogues) || l === lang) return;
  try { localStorage.setItem(LANG_KEY, l); } catch { /* not remembered */ }
  location.reload();
}

/**
 * formatDate writes a date (and time) the way the language in use does.
 * @param {Date | string | number} d
 * @param {Intl.DateTimeFormatOptions} [opts]
 */
export function formatDate(d, opts = { dateStyle: 'medium', timeStyle: 'short' }) {
  return new Intl.DateTimeFormat(lang === 'nl' ? 'nl-NL' : 'en-GB', opts).format(new Date(d));
}

/**
 * errorText is what the apps say about a failed request: the message for
 * its code (`error.<code>`, every code of the server's error.go and the
 * client's own), in the language in use. The API's `message` is English,
 * for developers; it shows only for a code this app does not know yet.
 * @param {unknown} err an ApiError, an Unreachable, or anything thrown
 * @returns {string}
 */
export function errorText(err) {
  const e = /** @type {{ code?: unknown, status?: unknown, message?: unknown } | null} */ (err && typeof err === 'object' ? err : null);
  const code = e && typeof e.code === 'string' ? e.code : '';
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  if (code.startsWith('http_')) return t('error.http', { status: String(e && e.status) });
  if (e && typeof e.message === 'string' && e.message) return e.message;
  return t('error.internal');
}

/**
 * reasonKey is the catalogue key of a field reason the server sent
 * ("is longer than 100 characters"): its words, every number as n
 * (reason.is_longer_than_n_characters). ui's tests find every reason in
 * the server's code and make the same key.
 * @param {string} why
 */
export function reasonKey(why) {
  return 'reason.' + why.replace(/[0-9]+/g, 'n').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

/**
 * reasonText says why a field was refused, in the language in use, with
 * the reason's numbers in their places ({0}, {1}).
 * @param {string} why the reason as the server sent it
 */
export function reasonText(why) {
  const key = reasonKey(why);
  if (!has(key)) return lang === 'en' ? why : t('reason.unknown');
  /** @type {Record<string, string>} */
  const vars = {};
  for (const [i, n] of (why.match(/[0-9]+/g) || []).entries()) vars[i] = n;
  return t(key, vars);
}
