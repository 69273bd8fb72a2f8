// Autosave for the lesson editor: every change is kept on this device at
// once (a draft in localStorage) and sent to the server a moment after the
// teacher stops typing, with If-Match, so a reload, a closed tab or a
// server that is down for a while loses nothing. A draft is the teacher's
// own work that the server does not have yet; it is removed as soon as the
// server has it, and when the teacher logs out.
// @ts-check
import { Unreachable, randomKey, backoff } from '../client.js';

const DRAFT_PREFIX = 'classboard.draft.';
// Long enough that a word typed is one request, short enough that a
// reload right after typing rarely needs the draft.
const DELAY_MS = 800;

/**
 * A lesson's content as the API takes it.
 * @typedef {{ title: string, slides: object[] }} Body
 */

/**
 * A draft: the content, the revision it was based on, and the key that
 * makes creating a new lesson happen once however often it is retried.
 * @typedef {Body & { base: number, key?: string }} Draft
 */

/**
 * @param {string} teacherID
 * @param {string | null} lessonID null for a lesson not created yet
 */
function draftKey(teacherID, lessonID) {
  return `${DRAFT_PREFIX}${teacherID}.${lessonID || 'new'}`;
}

/**
 * readDraft returns the draft of a lesson on this device, or null.
 * @param {string} teacherID
 * @param {string | null} lessonID
 * @returns {Draft | null}
 */
export function readDraft(teacherID, lessonID) {
  try {
    const d = JSON.parse(localStorage.getItem(draftKey(teacherID, lessonID)) || 'null');
    return d && typeof d.title === 'string' && Array.isArray(d.slides) ? d : null;
  } catch {
    return null;
  }
}

/**
 * dropDraft removes a lesson's draft (deleted, or discarded for the
 * server's version).
 * @param {string} teacherID
 * @param {string | null} lessonID
 */
export function dropDraft(teacherID, lessonID) {
  try { localStorage.removeItem(draftKey(teacherID, lessonID)); } catch { /* nothing kept */ }
}

/** forgetDrafts removes every draft on this device (logging out). */
export function forgetDrafts() {
  try {
    for (const k of Object.keys(localStorage)) if (k.startsWith(DRAFT_PREFIX)) localStorage.removeItem(k);
  } catch { /* storage blocked: there are none */ }
}

/**
 * What the saver reports: saved (the server has everything), dirty (a
 * save is coming), saving, offline (no server answers; retrying), blocked
 * (the lesson cannot be saved as it is: detail says why), error (the
 * server refused: detail is the error), conflict (changed elsewhere).
 * @typedef {'saved' | 'dirty' | 'saving' | 'offline' | 'blocked' | 'error' | 'conflict'} SaveState
 */

/**
 * @typedef {object} SaverOptions
 * @property {import('../client.js').Client} client
 * @property {string} teacherID
 * @property {string | null} id the lesson, null until created
 * @property {number} revision
 * @property {() => Body} body what to save now
 * @property {() => string} blocker why the lesson cannot be saved yet, or ''
 * @property {(a: Body, b: Body) => boolean} same
 * @property {(lesson: any) => void} onSaved the server's answer (id, revision, rendered slides)
 * @property {(current: any) => void} onConflict the lesson was changed elsewhere
 * @property {(state: SaveState, detail?: any) => void} onState
 */

export class Saver {
  /** @param {SaverOptions} o */
  constructor(o) {
    this.o = o;
    this.id = o.id;
    this.revision = o.revision;
    /** Bumped by every change; savedVersion is the one the server has. */
    this.version = 0;
    this.savedVersion = 0;
    this.failures = 0;
    this.conflicted = false;
    this.stopped = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {Promise<boolean> | null} */
    this.inFlight = null;
    /** A key for creating the lesson, the same for every retry. */
    this.createKey = randomKey();
    /** @type {{ version: number, body: Body } | null} the create being tried */
    this.creating = null;
  }

  /** pending says whether the server lacks some of the teacher's changes. */
  pending() { return this.version !== this.savedVersion; }

  /**
   * changed records an edit: kept on this device now, saved soon.
   * @param {number} [delay]
   */
  changed(delay = DELAY_MS) {
    this.version++;
    this.keepDraft();
    if (this.conflicted) return;
    this.o.onState('dirty');
    this.schedule(delay);
  }

  /**
   * restored starts from a draft found on this device: it is saved like
   * a fresh edit.
   * @param {Draft} d
   */
  restored(d) {
    if (d.key) this.createKey = d.key;
    this.changed(0);
  }

  keepDraft() {
    /** @type {Draft} */
    const d = { ...this.o.body(), base: this.revision, key: this.id ? undefined : this.createKey };
    try {
      localStorage.setItem(draftKey(this.o.teacherID, this.id), JSON.stringify(d));
    } catch { /* full or blocked: the server copy is all there is */ }
  }

  /** @param {number} ms */
  schedule(ms) {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => { this.save(); }, ms);
  }

  /**
   * save sends the lesson now, unless the server has it already. It
   * resolves to true when the server has every change made so far.
   * @returns {Promise<boolean>}
   */
  async save() {
    clearTimeout(this.timer);
    if (this.inFlight) {
      await this.inFlight;
      return this.pending() ? this.save() : true;
    }
    if (this.stopped || this.conflicted) return !this.pending();
    if (!this.pending()) {
      this.o.onState('saved');
      return true;
    }
    const why = this.o.blocker();
    if (why) {
      this.o.onState('blocked', why);
      return false;
    }
    this.inFlight = this.send();
    try {
      return await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  async send() {
    let version = this.version;
    let body = this.o.body();
    if (!this.id) {
      // Creating is retried with the key and the body of its first try:
      // that try may have created the lesson without the answer reaching
      // us, and the same key with another body is refused (422). Later
      // edits follow as a PUT once the lesson exists.
      if (this.creating) ({ version, body } = this.creating);
      else this.creating = { version, body };
    }
    const { client } = this.o;
    this.o.onState('saving');
    try {
      const created = !this.id;
      const l = this.id
        ? await client.request('PUT', `/api/v1/lessons/${encodeURIComponent(this.id)}`, { body, headers: { 'If-Match': String(this.revision) } })
        : await client.request('POST', '/api/v1/lessons', { body, idempotencyKey: this.createKey });
      if (created) {
        dropDraft(this.o.teacherID, null);
        this.creating = null;
      }
      this.accepted(l.id, l.revision, version);
      this.o.onSaved(l);
    } catch (e) {
      const err = /** @type {any} */ (e);
      if (err.code === 'revision_mismatch' && err.current) {
        // A retry whose first attempt went through (the node died before
        // answering): the server has exactly what we sent.
        if (this.o.same(err.current, body)) {
          this.accepted(this.id, err.current.revision, version);
          this.o.onSaved(err.current);
        } else {
          this.conflicted = true;
          this.o.onState('conflict');
          this.o.onConflict(err.current);
          return false;
        }
      } else if (err instanceof Unreachable || err.status === 503) {
        this.o.onState('offline');
        this.schedule(err.retryAfterMs || backoff(this.failures++, 1000, 30000));
        return false;
      } else {
        if (!this.id) {
          // Refused, so nothing was created: the next try is a new one.
          this.creating = null;
          this.createKey = randomKey();
        }
        this.o.onState('error', err);
        return false;
      }
    }
    if (this.pending()) {
      this.keepDraft(); // under the lesson's id now, with the new base
      this.schedule(DELAY_MS);
      this.o.onState('dirty');
      return false;
    }
    this.o.onState('saved');
    return true;
  }

  /**
   * @param {string | null} id
   * @param {number} revision
   * @param {number} version the change the server now has
   */
  accepted(id, revision, version) {
    this.id = id;
    this.revision = revision;
    this.savedVersion = version;
    this.failures = 0;
    if (!this.pending()) dropDraft(this.o.teacherID, this.id);
  }

  /**
   * resolved ends a conflict. keepMine: overwrite the other version
   * (revision is theirs); otherwise the editor took theirs and nothing of
   * the teacher's is left to save.
   * @param {boolean} keepMine
   * @param {number} revision
   */
  resolved(keepMine, revision) {
    this.conflicted = false;
    this.revision = revision;
    if (keepMine) {
      this.save();
      return;
    }
    this.savedVersion = this.version;
    dropDraft(this.o.teacherID, this.id);
    this.o.onState('saved');
  }

  /** stop ends autosaving (the editor was left); the draft stays. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** discard stops and forgets the draft (the lesson was deleted). */
  discard() {
    this.stop();
    dropDraft(this.o.teacherID, this.id);
  }
}
