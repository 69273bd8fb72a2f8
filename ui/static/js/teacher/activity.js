// The present view's activity panel: start a tap-on-the-picture, poll or
// short-answer activity on the current slide, see who joined and the
// class's answers live, approve short answers before the board shows them,
// remove a pupil, lock, reveal, end and delete the results, and choose how
// the board shows the answers (dots or a heat map, a list or a word
// cloud). Writes carry the activity's revision (If-Match), like board
// state.
// @ts-check
import { h, clear } from '../dom.js';
import { ApiError } from '../client.js';
import { t, errorText } from '../i18n.js';

const KINDS = ['markers', 'poll', 'answer'];
/** @type {Record<string, string[]>} the board's displays per kind, the default first */
const DISPLAYS = { markers: ['dots', 'heatmap'], answer: ['list', 'cloud'] };

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
  /** @type {any} the press made while another was on its way */
  let queued = null;

  // A press while the one before is on its way goes after it, with the
  // revision that one leaves: the live frame can show the first press's
  // outcome (and the next button) before its answer arrives, and a
  // teacher who presses End then must not be ignored. The same press
  // twice (a double click) goes once.
  /** @param {any} body */
  async function put(body) {
    if (busy) { queued = body; return; }
    busy = true;
    try {
      for (let sent = body; sent;) {
        note.textContent = '';
        try {
          show(await req('PUT', '/activity', { body: sent, headers: { 'If-Match': `"${act.revision}"` }, retry: true }));
        } catch (err) {
          if (err instanceof ApiError && err.status === 412 && err.current) show(err.current);
          else note.textContent = errorText(err);
        }
        const next = queued;
        queued = null;
        sent = next && JSON.stringify(next) !== JSON.stringify(sent) ? next : null;
      }
    } finally {
      busy = false;
    }
  }

  // An update carries the whole activity: what it leaves out takes its
  // default.
  /** @param {any} change */
  const update = (change) => put({
    kind: act.kind, slide: act.slide, options: act.options, hide_results: act.hide_results, anonymous: act.anonymous,
    max_markers: act.max_markers, display: act.display, status: act.status, ...change,
  });
  /** @param {{ name: string, pupil_id: string }} p */
  const nameOf = (p) => p.name || t('activity.pupil_n', { n: p.pupil_id });

  /** @param {string} method @param {string} path @param {any} [opts] */
  async function call(method, path, opts) {
    note.textContent = '';
    try { await req(method, path, opts); } catch (err) { note.textContent = errorText(err); }
    try { show(await req('GET', '/activity')); } catch { /* the live frame follows */ }
  }

  /**
   * displaySelect picks how the board shows a kind's answers.
   * @param {string} kind @param {string} value @param {string} id
   */
  function displaySelect(kind, value, id) {
    return /** @type {HTMLSelectElement} */ (h('select', { id, 'aria-label': t('activity.display') },
      ...(DISPLAYS[kind] || []).map((d) => h('option', { value: d, selected: d === value }, t(`activity.display_${d}`)))));
  }

  function startForm() {
    const kind = /** @type {HTMLSelectElement} */ (h('select', { id: 'activity-kind', 'aria-label': t('activity.kind') },
      ...KINDS.map((k) => h('option', { value: k }, t(`activity.kind_${k}`)))));
    const options = /** @type {HTMLInputElement} */ (h('input', { id: 'activity-options', placeholder: t('activity.options_placeholder') }));
    const hide = /** @type {HTMLInputElement} */ (h('input', { id: 'activity-hide', type: 'checkbox' }));
    const anon = /** @type {HTMLInputElement} */ (h('input', { id: 'activity-anonymous', type: 'checkbox' }));
    const many = /** @type {HTMLSelectElement} */ (h('select', { id: 'activity-max-markers' },
      ...[1, 2, 3, 4, 5].map((n) => h('option', { value: String(n) }, String(n)))));
    const optRow = h('label', {}, t('activity.options'), options);
    const manyRow = h('label', {}, t('activity.max_markers'), many);
    const displayRow = h('label', {}, t('activity.display'));
    /** @type {HTMLSelectElement | null} */
    let display = null;
    // display, not hidden: the app's CSS makes every label a block.
    const sync = () => {
      optRow.style.display = kind.value === 'poll' ? '' : 'none';
      manyRow.style.display = kind.value === 'markers' ? '' : 'none';
      displayRow.style.display = DISPLAYS[kind.value] ? '' : 'none';
      if (display) display.remove();
      display = DISPLAYS[kind.value] ? displaySelect(kind.value, DISPLAYS[kind.value][0], 'activity-display') : null;
      if (display) displayRow.append(display);
    };
    kind.addEventListener('change', sync);
    sync();
    const start = h('button', { id: 'activity-start', class: 'primary', onclick: () => {
      let opts;
      if (kind.value === 'poll') {
        opts = options.value.split(',').map((o) => o.trim()).filter(Boolean);
        if (opts.length === 0) opts = ['', '', '', ''];
      }
      put({
        kind: kind.value, slide: currentSlide(), options: opts, hide_results: hide.checked, anonymous: anon.checked,
        max_markers: kind.value === 'markers' ? Number(many.value) : undefined, display: display ? display.value : undefined, status: 'open',
      });
    } }, t('activity.start'));
    return [h('div', { class: 'row' }, kind), optRow, manyRow, displayRow,
      h('label', { class: 'inline check' }, hide, ' ', t('activity.hide')),
      h('label', { class: 'inline check' }, anon, ' ', t('activity.anonymous')), start];
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
    clear(el).append(h('h2', {}, t('activity.title')));
    if (a.status === 'none') {
      el.append(...startForm(), note);
      return;
    }
    el.append(h('p', { id: 'activity-status' },
      t('activity.summary', { kind: t(`activity.kind_${a.kind}`), slide: a.slide + 1, status: t(`activity.status_${a.status}`) }),
      a.join_code ? ` · ${t('activity.code', { code: a.join_code })}` : '',
      ` · ${t('activity.answered_of', { answers: agg.answers, pupils: agg.pupils })}`));
    if (a.kind === 'poll') {
      el.append(h('p', { id: 'activity-counts' }, (a.options || []).map((/** @type {string} */ o, /** @type {number} */ i) =>
        `${'ABCDEF'[i]}${o ? ' ' + o : ''}: ${(agg.counts || [])[i] || 0}`).join(' · ')));
    }
    if (DISPLAYS[a.kind] && a.status !== 'ended') {
      const d = displaySelect(a.kind, a.display || DISPLAYS[a.kind][0], 'activity-show-as');
      d.addEventListener('change', () => update({ display: d.value }));
      el.append(h('label', {}, t('activity.display'), d));
    }
    const buttons = h('div', { class: 'row tools' });
    if (a.status === 'open') buttons.append(h('button', { id: 'activity-lock', onclick: () => update({ status: 'locked' }) }, t('activity.lock')));
    if (a.status === 'locked') buttons.append(h('button', { id: 'activity-reopen', onclick: () => update({ status: 'open' }) }, t('activity.reopen')));
    if (a.status !== 'revealed' && a.status !== 'ended') buttons.append(h('button', { id: 'activity-reveal', onclick: () => update({ status: 'revealed' }) }, t('activity.reveal')));
    if (a.status !== 'ended') buttons.append(h('button', { id: 'activity-end', onclick: () => update({ status: 'ended' }) }, t('activity.end')));
    buttons.append(h('button', { id: 'activity-delete', class: 'danger', onclick: () => call('DELETE', '/activity') }, t('activity.delete')));
    el.append(buttons);
    if (a.pending && a.pending.length) {
      el.append(h('h3', {}, t('activity.pending')), h('ul', { id: 'pending', class: 'pending' }, a.pending.map((/** @type {any} */ p) =>
        h('li', {}, h('span', {}, `${nameOf(p)}: `, h('q', {}, p.text)),
          h('button', { class: 'approve', dataset: { pupil: p.pupil_id }, onclick: () => call('PUT', `/activity/answers/${encodeURIComponent(p.pupil_id)}`, { body: { approved: true } }) }, t('activity.approve'))))));
    }
    if (agg.approved && agg.approved.length) {
      el.append(h('p', { id: 'approved-list' }, `${t('activity.on_board')} `, agg.approved.join(' · ')));
    }
    if (a.pupil_list && a.pupil_list.length) {
      el.append(h('h3', {}, t('activity.pupils')), h('ul', { id: 'pupils', class: 'pupils' }, a.pupil_list.map((/** @type {any} */ p) =>
        h('li', { dataset: { answered: p.answered } }, `${nameOf(p)}${p.answered ? ' ✓' : ''} `,
          h('button', { class: 'link remove', 'aria-label': t('activity.remove_label', { name: nameOf(p) }), onclick: () => call('DELETE', `/activity/pupils/${encodeURIComponent(p.pupil_id)}`) }, t('activity.remove'))))));
    }
    // Another question keeps the pupils in the room; after End a new
    // activity gets a new code.
    el.append(h('h3', {}, a.status === 'ended' ? t('activity.new') : t('activity.next')), ...startForm());
    el.append(note);
  }

  return {
    el,
    async load() {
      try { show(await req('GET', '/activity')); } catch (err) { note.textContent = errorText(err); }
    },
    show,
  };
}
