// Pictures load through the API client, so they fail over between nodes
// like every API call (a signed URL works on any node: the signing key is
// shared), instead of pointing an <img> at one node that may die. Each
// picture is fetched once, kept as an object URL, and retried while no
// node answers; only a 404 or 410 from a server means it was removed.
// @ts-check
import { ApiError, Unreachable, backoff, jitter } from './client.js';
import { keep, kept } from './offline.js';
import { t } from './i18n.js';

/** @typedef {import('./client.js').Client} Client */
/** @typedef {import('./slide.js').Slide} Slide */

/**
 * @typedef {object} Entry one picture: loading, loaded or failed
 * @property {Promise<string>} promise its object URL
 * @property {boolean} retrying no node gave it on the first try
 * @property {Set<() => void>} listeners told when it starts retrying
 */

export class PictureError extends Error {
  /** @param {boolean} removed a server said the picture is gone */
  constructor(removed) {
    super(t(removed ? 'slide.picture_removed' : 'slide.picture_unavailable'));
    this.removed = removed;
  }
}

/** @param {number} ms */
function sleep(ms) { return new Promise((resolve) => { setTimeout(resolve, ms); }); }

export class Pictures {
  /**
   * opts.offline: also keep each picture in the browser's cache, for a
   * board that must show its lesson with every node down.
   * @param {Client} client
   * @param {{ offline?: boolean }} [opts]
   */
  constructor(client, { offline = false } = {}) {
    this.client = client;
    this.offline = offline;
    /** @type {Map<string, Entry>} by media id */
    this.entries = new Map();
  }

  /**
   * load resolves to an object URL of the slide's picture; onRetry is
   * called (once) when the picture is still coming but no node gave it yet.
   * @param {Slide} slide
   * @param {() => void} [onRetry]
   * @returns {Promise<string>}
   */
  load(slide, onRetry) {
    const id = slide.media_id;
    let e = id ? this.entries.get(id) : undefined;
    if (!e) {
      if (!id || !slide.src) return Promise.reject(new PictureError(true));
      /** @type {Entry} */
      const fresh = { retrying: false, listeners: new Set(), promise: Promise.resolve('') };
      fresh.promise = this.fetch(id, slide.src, fresh);
      this.entries.set(id, fresh);
      // A failed load is tried afresh next time (unless a new one began).
      fresh.promise.catch(() => { if (this.entries.get(id) === fresh) this.entries.delete(id); });
      e = fresh;
    }
    if (onRetry) {
      if (e.retrying) onRetry();
      else e.listeners.add(onRetry);
    }
    return e.promise;
  }

  /**
   * preload starts loading every picture of slides, so a node's death
   * during the lesson costs nothing on screen.
   * @param {Slide[]} slides
   */
  preload(slides) {
    for (const s of slides) if (s.media_id && s.src) this.load(s).catch(() => {});
  }

  /**
   * retain frees the pictures no longer among slides.
   * @param {Slide[]} slides
   */
  retain(slides) {
    const ids = new Set(slides.map((s) => s.media_id));
    for (const [id, e] of this.entries) {
      if (ids.has(id)) continue;
      this.entries.delete(id);
      e.promise.then((url) => URL.revokeObjectURL(url), () => {});
    }
  }

  /**
   * @param {string} id
   * @param {string} src
   * @param {Entry} e
   * @returns {Promise<string>}
   */
  async fetch(id, src, e) {
    if (this.offline) {
      // A media id names one upload for ever: a kept copy is the picture.
      const blob = await kept('media/' + id, { blob: true }).catch(() => null);
      if (blob) return URL.createObjectURL(blob);
    }
    for (let round = 0; ; round++) {
      // A picture no longer wanted (another lesson) stops retrying.
      if (round > 0 && this.entries.get(id) !== e) throw new PictureError(false);
      try {
        const blob = await this.client.request('GET', src, { auth: false, raw: true });
        if (this.offline) keep('media/' + id, blob).catch(() => {});
        return URL.createObjectURL(blob);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 404 || err.status === 410)) throw new PictureError(true);
        if (err instanceof ApiError && err.status < 500 && err.status !== 408 && err.status !== 429) throw new PictureError(false);
        if (!e.retrying) {
          e.retrying = true;
          for (const fn of e.listeners) fn();
          e.listeners.clear();
        }
        await sleep(err instanceof Unreachable && err.retryAfterMs ? jitter(err.retryAfterMs) : backoff(round, 500, 10000));
      }
    }
  }
}
