// The present view's activity panel: start a tap-on-the-picture, poll or
// short-answer activity on the current slide, see who joined and the
// class's answers live, approve short answers before the board shows them,
// remove a pupil, lock, reveal, end and delete the results. Writes carry
// the activity's revision (If-Match), like board state.
// @ts-check
import { h, clear } from '../dom.js';
import { ApiError } from '../client.js';

/** @type {Record<string, string>} */
const KINDS = { markers: 'Tap on the picture', poll: 'Quick poll', answer: 'Short answer' };

/**
 * @param {(method: string, path: string, opts?: any) => Promise<any>} req a request under /boards/{id}
 * @param {() => number} currentSlide
 */
export function activityPanel(req, currentSlide) {
  const el = h('section', { id: 'activity-panel', class: 'card activity-panel' });
  const note = h('p', { id: 'activity-note', class: 'form-error', role: 'status' });
  /** @type {any} */
  let act = { status: 'none', revision: 0 };
  let busy = false;

  /** @param {any} body */
  async function put(body) {
    if (busy) return;
    busy = true;
    note.textContent = '';
    try {
      show(await req('PUT', '/activity', { body, headers: { 'If-Match': `"${act.revision}"` }, retry: true }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 412 && err.current) show(err.current);
      else note.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      busy = false;
    }
  }

  /** @param {string} status */
  const setStatus = (status) => put({ kind: act.kind, slide: act.slide, options: act.options, hide_results: act.hide_results, anonymous: act.anonymous, status });
  /** @param {{ name: string, pupil_id: string }} p */
  const nameOf = (p) => p.name || `Pupil ${p.pupil_id}`;

  /** @param {string} method @param {string} path @param {any} [opts] */
  async function call(method, path, opts) {
    note.textContent = '';
    try { await req(method, path, opts); } catch (err) { note.textContent = err instanceof Error ? err.message : String(err); }
    try { show(await req('GET', '/activity')); } catch { /* the live frame follows */ }
  }

  function startForm() {
    const kind = /** @type {HTMLSelectElement} */ (h('select', { id: 'activity-kind', 'aria-label': 'Activity' },
      ...Object.entries(KINDS).map(([k, label]) => h('option', { value: k }, label))));
    const options = /** @type {HTMLInputElement} */ (h('input', { id: 'activity-options', placeholder: 'Options, comma-separated (empty: A–D)' }));
    const hide = /** @type {HTMLInputElement} */ (h('input', { id: 'activity-hide', type: 'checkbox' }));
    const anon = /** @type {HTMLInputElement} */ (h('input', { id: 'activity-anonymous', type: 'checkbox' }));
    const optRow = h('label', {}, 'Poll options', options);
    // display, not hidden: the app's CSS makes every label a block.
    const sync = () => { optRow.style.display = kind.value === 'poll' ? '' : 'none'; };
    kind.addEventListener('change', sync);
    sync();
    const start = h('button', { id: 'activity-start', class: 'primary', onclick: () => {
      let opts;
      if (kind.value === 'poll') {
        opts = options.value.split(',').map((o) => o.trim()).filter(Boolean);
        if (opts.length === 0) opts = ['', '', '', ''];
      }
      put({ kind: kind.value, slide: currentSlide(), options: opts, hide_results: hide.checked, anonymous: anon.checked, status: 'open' });
    } }, 'Start on this slide');
    return [h('div', { class: 'row' }, kind), optRow,
      h('label', { class: 'inline check' }, hide, ' Hide results until I reveal them'),
      h('label', { class: 'inline check' }, anon, ' Pupils may join without a name'), start];
  }

  let shownJSON = '';
  /** @param {any} a */
  function show(a) {
    if (a.status !== 'none' && act.status !== 'none' && a.revision < act.revision) return;
    // The same activity again (a frame and a read of it) is not drawn
    // anew: a button about to be tapped stays where it is.
    const json = JSON.stringify(a);
    if (json === shownJSON) return;
    shownJSON = json;
    act = a;
    el.dataset.status = a.status;
    const agg = { pupils: 0, answers: 0, ...a };
    clear(el).append(h('h2', {}, 'Class activity'));
    if (a.status === 'none') {
      el.append(...startForm(), note);
      return;
    }
    el.append(h('p', { id: 'activity-status' },
      `${KINDS[a.kind] || a.kind} on slide ${a.slide + 1} · ${a.status}`,
      a.join_code ? ` · code ${a.join_code}` : '',
      ` · ${agg.answers} of ${agg.pupils} answered`));
    if (a.kind === 'poll') {
      el.append(h('p', { id: 'activity-counts' }, (a.options || []).map((/** @type {string} */ o, /** @type {number} */ i) =>
        `${'ABCDEF'[i]}${o ? ' ' + o : ''}: ${(agg.counts || [])[i] || 0}`).join(' · ')));
    }
    const buttons = h('div', { class: 'row tools' });
    if (a.status === 'open') buttons.append(h('button', { id: 'activity-lock', onclick: () => setStatus('locked') }, 'Lock'));
    if (a.status === 'locked') buttons.append(h('button', { id: 'activity-reopen', onclick: () => setStatus('open') }, 'Reopen'));
    if (a.status !== 'revealed' && a.status !== 'ended') buttons.append(h('button', { id: 'activity-reveal', onclick: () => setStatus('revealed') }, 'Reveal'));
    if (a.status !== 'ended') buttons.append(h('button', { id: 'activity-end', onclick: () => setStatus('ended') }, 'End'));
    buttons.append(h('button', { id: 'activity-delete', class: 'danger', onclick: () => call('DELETE', '/activity') }, 'Delete results'));
    el.append(buttons);
    if (a.pending && a.pending.length) {
      el.append(h('h3', {}, 'Waiting for your approval'), h('ul', { id: 'pending', class: 'pending' }, a.pending.map((/** @type {any} */ p) =>
        h('li', {}, h('span', {}, `${nameOf(p)}: `, h('q', {}, p.text)),
          h('button', { class: 'approve', dataset: { pupil: p.pupil_id }, onclick: () => call('PUT', `/activity/answers/${encodeURIComponent(p.pupil_id)}`, { body: { approved: true } }) }, 'Show on board')))));
    }
    if (agg.approved && agg.approved.length) {
      el.append(h('p', { id: 'approved-list' }, 'On the board: ', agg.approved.join(' · ')));
    }
    if (a.pupil_list && a.pupil_list.length) {
      el.append(h('h3', {}, 'Pupils'), h('ul', { id: 'pupils', class: 'pupils' }, a.pupil_list.map((/** @type {any} */ p) =>
        h('li', { dataset: { answered: p.answered } }, `${nameOf(p)}${p.answered ? ' ✓' : ''} `,
          h('button', { class: 'link remove', 'aria-label': `Remove ${nameOf(p)}`, onclick: () => call('DELETE', `/activity/pupils/${encodeURIComponent(p.pupil_id)}`) }, 'remove')))));
    }
    // Another question keeps the pupils in the room; after End a new
    // activity gets a new code.
    el.append(h('h3', {}, a.status === 'ended' ? 'New activity' : 'Next question'), ...startForm());
    el.append(note);
  }

  return {
    el,
    async load() {
      try { show(await req('GET', '/activity')); } catch (err) { note.textContent = err instanceof Error ? err.message : String(err); }
    },
    show,
  };
}
