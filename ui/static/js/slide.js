// renderSlide builds one slide as the board shows it. The teacher's editor
// preview and the board app both call it, so the preview is the board.
//
// slide: a slide as the API returns it (text slides carry `html`, the
// server's sanitized rendering of the Markdown body, and `qr` when the body
// is about one link; link slides carry `qr`, a data: URL of a PNG; image
// slides and text slides with a picture carry `src`, a signed URL relative
// to the API origin, absent when the picture was deleted). A text slide
// with a picture shows it beside the text or above it (`layout`).
// opts.pictures: a Pictures (pictures.js) that loads pictures with
// failover; opts.board: size for a full screen instead of a preview, and
// links shown as text (nobody clicks a board), not as links that open in a
// new tab as on the teacher's screens.
//
// Every slide is a 16:9 box whose sizes are in container units, and its
// text is fitted to it (fitSlide): the same slide looks the same at every
// size, so the editor's preview, the present view and the board agree.
// @ts-check
import { h } from './dom.js';
import { t } from './i18n.js';

/**
 * The readability rule (docs/architecture.md, "The board's readability
 * rule"): the smallest text on a slide must be readable from 8 times the
 * screen's height. Its capital letters (about 0.7 of the font size) then
 * subtend 10 minutes of arc, twice the letters of the 6/6 (20/20) line of
 * an eye chart: 0.7 * size >= 8 * height * tan(10') gives size >= height
 * / 30. The slide's body text is 3% of its width, 1/18.75 of its height,
 * so text shrinks to fit down to 0.625 of its size (1/30 of the height)
 * and no further: what does not fit then is too much for one slide.
 */
export const MIN_FIT = 0.625;

/**
 * The event a slide sends (it bubbles) each time it is fitted:
 * detail.fits says whether everything is on the slide at no less than
 * MIN_FIT; detail.scale is the factor used.
 */
export const FIT_EVENT = 'slidefit';

/**
 * A slide as the API returns it (docs/api.md).
 * @typedef {object} Slide
 * @property {'text' | 'image' | 'link' | string} kind
 * @property {string} [title]
 * @property {string} [html] text: the sanitized body
 * @property {string} [media_id] image, or a text slide's picture
 * @property {'beside' | 'below' | string} [layout] text with a picture
 * @property {string} [caption] image
 * @property {string} [src] image or text with a picture: a signed URL relative to the API origin
 * @property {string} [url] link
 * @property {string} [qr] link, or text about one link: a data: URL of a PNG
 * @property {string} [notes] speaker notes (the teacher's copy only)
 */

/**
 * @typedef {object} RenderOptions
 * @property {import('./pictures.js').Pictures} [pictures] loads the pictures (required for a slide with one)
 * @property {boolean} [board]
 * @property {() => void} [onPicture] called when a picture is on screen (it loads after the slide is drawn)
 */

// The only elements a text slide's body may contain. The server sanitizes
// already; the copy below keeps nothing else either, and never assigns
// server text to innerHTML.
const BODY_TAGS = new Set(['P', 'EM', 'STRONG', 'UL', 'OL', 'LI', 'BR']);

// httpURL returns href when it is an absolute http or https URL, else ''.
/** @param {string} href */
function httpURL(href) {
  try {
    const u = new URL(href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : '';
  } catch {
    return '';
  }
}

/**
 * @param {Node} from
 * @param {Element} to
 * @param {boolean | undefined} board
 */
function copyAllowed(from, to, board) {
  for (const n of from.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) {
      to.append(document.createTextNode(n.textContent || ''));
    } else if (n instanceof Element) {
      const href = n.tagName === 'A' ? httpURL(n.getAttribute('href') || '') : '';
      if (BODY_TAGS.has(n.tagName)) {
        const el = document.createElement(n.tagName.toLowerCase());
        copyAllowed(n, el, board);
        to.append(el);
      } else if (href && !board) {
        const a = h('a', { href, target: '_blank', rel: 'noopener noreferrer' });
        copyAllowed(n, a, board);
        to.append(a);
      } else if (href) {
        const el = h('span', { class: 'slide-linktext' });
        copyAllowed(n, el, board);
        to.append(el);
      } else {
        copyAllowed(n, to, board); // keep the text of anything else
      }
    }
  }
}

/**
 * @param {string | undefined} html
 * @param {boolean | undefined} board
 */
function body(html, board) {
  const el = h('div', { class: 'slide-body' });
  // DOMParser documents run no scripts and load nothing.
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  copyAllowed(doc.body, el, board);
  return el;
}

/** @param {string} text */
function placeholder(text) {
  return h('div', { class: 'slide-placeholder', role: 'img', 'aria-label': text }, text);
}

/**
 * picture shows a picture that opts.pictures (pictures.js) loads with
 * failover: it says so while it retries, and "removed" only when a server
 * said so.
 * @param {Slide} slide
 * @param {RenderOptions} opts
 */
function picture(slide, opts) {
  const frame = h('div', { class: 'slide-picture' }, placeholder(t('slide.picture_loading')));
  if (!opts.pictures) {
    frame.replaceChildren(placeholder(t('slide.picture_unavailable')));
    return frame;
  }
  opts.pictures.load(slide, () => frame.replaceChildren(placeholder(t('slide.picture_retrying'))))
    .then((url) => {
      frame.replaceChildren(h('img', { src: url, alt: slide.caption || '' }));
      if (opts.onPicture) opts.onPicture();
    })
    .catch((/** @type {Error} */ err) => frame.replaceChildren(placeholder(err.message)));
  return frame;
}

/**
 * frame is a slide's box: the section is the 16:9 container its sizes are
 * relative to (1cqw is 1% of the slide's width, margins included), and
 * the content inside keeps the margins free.
 * @param {string} cls
 * @param {...(import('./dom.js').Child | import('./dom.js').Child[])} children
 */
function frame(cls, ...children) {
  return h('section', { class: cls }, h('div', { class: 'slide-content' }, ...children));
}

/**
 * @param {Slide} slide
 * @param {RenderOptions} opts
 * @param {string} cls
 */
function textSlide(slide, opts, cls) {
  const title = slide.title ? h('h2', { class: 'slide-title' }, slide.title) : null;
  const text = body(slide.html, opts.board);
  if (slide.media_id) {
    const layout = slide.layout === 'below' ? 'below' : 'beside';
    const pic = picture(slide, opts);
    return frame(`${cls} slide-with-picture slide-${layout}`,
      title, h('div', { class: 'slide-columns' }, layout === 'below' ? [pic, text] : [text, pic]));
  }
  return frame(cls, title,
    slide.qr ? h('div', { class: 'slide-columns slide-featured' }, text,
      h('img', { class: 'slide-qr', src: slide.qr, alt: t('slide.qr_alt') })) : text);
}

/**
 * renderSlide builds the slide; once it is on screen (and whenever its
 * size changes) its text is fitted to it, and FIT_EVENT says whether it
 * fits.
 * @param {Slide} slide
 * @param {RenderOptions} [opts]
 * @returns {HTMLElement}
 */
export function renderSlide(slide, opts = {}) {
  const el = build(slide, opts, `slide slide-${slide.kind}${opts.board ? ' slide-board' : ''}`);
  // A slide not on screen has no size to fit to; the observer calls back
  // as soon as it is laid out, and again after each resize. Fitting
  // changes only the font sizes, never the slide's own size, so it does
  // not call itself again.
  const watch = new ResizeObserver(() => {
    if (!el.isConnected) { watch.disconnect(); return; }
    fitSlide(el);
  });
  watch.observe(el);
  return el;
}

/**
 * @param {Slide} slide
 * @param {RenderOptions} opts
 * @param {string} cls
 * @returns {HTMLElement}
 */
function build(slide, opts, cls) {
  switch (slide.kind) {
    case 'text':
      return textSlide(slide, opts, cls);
    case 'image':
      // The caption is the column's second row: below the picture, which
      // takes what is left, never under it.
      return frame(cls,
        picture(slide, opts),
        slide.caption ? h('p', { class: 'slide-caption' }, slide.caption) : null);
    case 'link':
      return frame(cls,
        h('h2', { class: 'slide-title' }, slide.title),
        h('div', { class: 'slide-link' },
          slide.qr ? h('img', { class: 'slide-qr', src: slide.qr, alt: t('slide.qr_alt') }) : null,
          h('p', { class: 'slide-url' }, slide.url)));
  }
  return frame(cls, placeholder(t('slide.cannot_show')));
}

/**
 * overflows says whether any of the slide's text is cut off: the slide
 * itself or one of its text boxes holds more than it shows.
 * @param {HTMLElement} el
 */
function overflows(el) {
  for (const box of el.querySelectorAll('.slide-content, .slide-title, .slide-body, .slide-caption, .slide-url')) {
    if (box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1) return true;
  }
  return false;
}

/**
 * fitSlide sizes the text of a slide on screen to the largest factor (at
 * most 1, at least MIN_FIT) at which nothing is cut off, marks the slide
 * (data-fit="fits" or "overflows") and sends FIT_EVENT. It returns
 * whether the slide fits, or null for a slide that is not laid out.
 * renderSlide calls it by itself.
 * @param {HTMLElement} el a slide from renderSlide
 * @returns {boolean | null}
 */
export function fitSlide(el) {
  if (!el.isConnected || el.clientHeight === 0) return null;
  /** @param {number} f */
  const set = (f) => el.style.setProperty('--fit', String(f));
  let scale = 1;
  set(scale);
  let fits = !overflows(el);
  if (!fits) {
    // The largest factor that fits, to within 1% of the size: six halvings.
    let lo = MIN_FIT;
    let hi = 1;
    set(lo);
    fits = !overflows(el);
    if (fits) {
      for (let i = 0; i < 6; i++) {
        const mid = (lo + hi) / 2;
        set(mid);
        if (overflows(el)) hi = mid;
        else lo = mid;
      }
      set(lo);
    }
    scale = lo;
  }
  el.dataset.fit = fits ? 'fits' : 'overflows';
  el.dispatchEvent(new CustomEvent(FIT_EVENT, { bubbles: true, detail: { fits, scale } }));
  return fits;
}
