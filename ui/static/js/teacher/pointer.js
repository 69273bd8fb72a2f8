// The presenter's pointer: while the teacher drags on the current slide (a
// mouse button held, or a finger), its place on the slide (0..1 across and
// down) goes to the board, which draws a dot there. Moves are never queued:
// the newest replaces one not yet sent, at most one is in flight, and a
// lost one is replaced by the next. Nothing of it is stored (docs/api.md,
// POST /boards/{id}/pointer).
// @ts-check

// At most one move per SEND_MS (20 a second; the server takes 30 a second
// per board); while the teacher holds still the place is repeated every
// HOLD_MS, since the board hides a dot that has not moved for a while (in
// case the move that hid it was lost).
const SEND_MS = 50;
const HOLD_MS = 4000;

/** @typedef {{ x: number, y: number } | { hidden: true }} Move */

/**
 * pointerPad makes surface a pointer pad.
 * @param {object} o
 * @param {HTMLElement} o.surface where the teacher drags
 * @param {() => Element} o.slide the slide drawn in it (places are shares of its box)
 * @param {HTMLElement} o.dot shown where the teacher points
 * @param {() => boolean} o.enabled whether there is a slide on the board to point at
 * @param {(move: Move) => Promise<unknown>} o.send sends one move (a hidden one even as the view closes)
 * @returns {{ off: () => void, stop: () => void }} off hides the pointer (a new slide); stop ends it all
 */
export function pointerPad({ surface, slide, dot, enabled, send }) {
  /** @type {Move | null} */
  let want = null; // the move to send next
  let busy = false;
  let last = 0;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let wait = null;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let hold;
  /** @type {number | null} */
  let pointing = null; // the pointer id being dragged
  /** @type {{ x: number, y: number } | null} */
  let at = null;
  let stopped = false;

  /** @param {Move} m */
  function queue(m) {
    want = m;
    pump();
  }

  async function pump() {
    if (busy || !want || wait) return;
    const left = SEND_MS - (performance.now() - last);
    if (left > 0) {
      wait = setTimeout(() => { wait = null; pump(); }, left);
      return;
    }
    const body = want;
    want = null;
    busy = true;
    last = performance.now();
    try {
      await send(body);
    } catch {
      // Refused (too many, a node down): the next move goes anyway.
    } finally {
      busy = false;
    }
    pump();
  }

  /** @param {PointerEvent} e */
  function place(e) {
    const r = slide().getBoundingClientRect();
    /** @param {number} v */
    const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
    return { x: clamp((e.clientX - r.left) / r.width), y: clamp((e.clientY - r.top) / r.height) };
  }

  /** @param {PointerEvent} e */
  function move(e) {
    if (pointing !== e.pointerId) return;
    e.preventDefault();
    at = place(e);
    dot.style.left = `${at.x * 100}%`;
    dot.style.top = `${at.y * 100}%`;
    dot.hidden = false;
    queue(at);
  }

  function off() {
    clearInterval(hold);
    dot.hidden = true;
    if (pointing === null && !at) return;
    pointing = null;
    at = null;
    queue({ hidden: true });
  }

  surface.addEventListener('pointerdown', (e) => {
    if (stopped || !enabled() || (e.pointerType === 'mouse' && e.button !== 0)) return;
    pointing = e.pointerId;
    surface.setPointerCapture(e.pointerId);
    move(e);
    clearInterval(hold);
    hold = setInterval(() => { if (at) queue(at); }, HOLD_MS);
  });
  surface.addEventListener('pointermove', move);
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) {
    surface.addEventListener(type, (e) => { if (pointing === /** @type {PointerEvent} */ (e).pointerId) off(); });
  }

  return {
    off,
    // stop hides the pointer on the board, that move going out at once
    // (or right after the one in flight), and takes no more.
    stop() {
      stopped = true;
      off();
      if (wait) clearTimeout(wait);
      wait = null;
      last = 0;
      pump();
    },
  };
}
