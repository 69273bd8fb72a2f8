// renderSlide builds one slide as the board shows it. The teacher's editor
// preview and the board app both call it, so the preview is the board.
//
// slide: a slide as the API returns it (text slides carry `html`, the
// server's sanitized rendering of the Markdown body; link slides carry
// `qr`, a data: URL of a PNG; image slides carry `src`, a signed URL
// relative to the API origin, absent when the picture was deleted).
// opts.mediaURL(mediaId, slide) -> absolute URL of an image slide's picture
// ('' for none); opts.board: size for a full screen instead of a preview.
// @ts-check
import { h } from './dom.js';

/**
 * A slide as the API returns it (docs/api.md).
 * @typedef {object} Slide
 * @property {'text' | 'image' | 'link' | string} kind
 * @property {string} [title]
 * @property {string} [html] text: the sanitized body
 * @property {string} [media_id] image
 * @property {string} [caption] image
 * @property {string} [src] image: a signed URL relative to the API origin
 * @property {string} [url] link
 * @property {string} [qr] link: a data: URL of a PNG
 */

/**
 * @typedef {object} RenderOptions
 * @property {(mediaId: string | undefined, slide: Slide) => string} [mediaURL]
 * @property {boolean} [board]
 */

// The only elements a text slide's body may contain. The server sanitizes
// already; the copy below keeps nothing else either, and never assigns
// server text to innerHTML.
const BODY_TAGS = new Set(['P', 'EM', 'STRONG', 'UL', 'OL', 'LI', 'BR']);

/**
 * @param {Node} from
 * @param {Element} to
 */
function copyAllowed(from, to) {
  for (const n of from.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) {
      to.append(document.createTextNode(n.textContent || ''));
    } else if (n instanceof Element) {
      if (BODY_TAGS.has(n.tagName)) {
        const el = document.createElement(n.tagName.toLowerCase());
        copyAllowed(n, el);
        to.append(el);
      } else {
        copyAllowed(n, to); // keep the text of anything else
      }
    }
  }
}

/** @param {string | undefined} html */
function body(html) {
  const el = h('div', { class: 'slide-body' });
  // DOMParser documents run no scripts and load nothing.
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  copyAllowed(doc.body, el);
  return el;
}

/** @param {string} text */
function placeholder(text) {
  return h('div', { class: 'slide-placeholder', role: 'img', 'aria-label': text }, text);
}

/**
 * @param {Slide} slide
 * @param {RenderOptions} opts
 */
function picture(slide, opts) {
  const url = opts.mediaURL ? opts.mediaURL(slide.media_id, slide) : slide.src;
  const frame = h('div', { class: 'slide-picture' });
  if (!url) {
    frame.append(placeholder('Picture removed'));
    return frame;
  }
  const img = h('img', { src: url, alt: slide.caption || '' });
  img.addEventListener('error', () => img.replaceWith(placeholder('Picture removed')), { once: true });
  frame.append(img);
  return frame;
}

/**
 * @param {Slide} slide
 * @param {RenderOptions} [opts]
 * @returns {HTMLElement}
 */
export function renderSlide(slide, opts = {}) {
  const cls = `slide slide-${slide.kind}${opts.board ? ' slide-board' : ''}`;
  switch (slide.kind) {
    case 'text':
      return h('section', { class: cls },
        slide.title ? h('h2', { class: 'slide-title' }, slide.title) : null,
        body(slide.html));
    case 'image':
      return h('section', { class: cls },
        picture(slide, opts),
        slide.caption ? h('p', { class: 'slide-caption' }, slide.caption) : null);
    case 'link':
      return h('section', { class: cls },
        h('h2', { class: 'slide-title' }, slide.title),
        h('div', { class: 'slide-link' },
          slide.qr ? h('img', { class: 'slide-qr', src: slide.qr, alt: 'QR code of the link' }) : null,
          h('p', { class: 'slide-url' }, slide.url)));
  }
  return h('section', { class: cls }, placeholder('This slide cannot be shown'));
}
