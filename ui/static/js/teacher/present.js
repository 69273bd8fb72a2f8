// The present view: pick a lesson for a board and steer it. Every write
// is absolute ("slide 7", never "next") and carries the revision it
// replaces; changes from the teacher's other devices arrive live. On a
// phone it is a compact clicker; on a laptop the arrow keys and B work.
import { h, clear } from '../dom.js';
import { ApiError } from '../client.js';
import { Live } from '../live.js';
import { renderSlide } from '../slide.js';
import { activityPanel } from './activity.js';

const ONLINE_POLL_MS = 15000;

export async function presentView(ctx, match) {
  const id = match[1];
  const path = `/api/v1/boards/${encodeURIComponent(id)}`;
  const req = (method, p, opts) => ctx.client.request(method, path + p, opts);
  const [board, first, lessons] = await Promise.all([
    req('GET', ''), req('GET', '/state'),
    // Without lessons the board can still be blanked and given a timer.
    ctx.client.request('GET', '/api/v1/lessons?order=title&limit=200').catch(() => ({ items: [] })),
  ]);

  let state = first;
  let lesson = null;
  let busy = false;

  const title = h('h1', { id: 'present-title' }, board.name);
  const online = h('span', { id: 'online', class: 'badge' });
  const link = h('span', { id: 'link', class: 'badge' });
  const now = h('p', { id: 'now', class: 'now' });
  const note = h('p', { id: 'present-note', class: 'form-error', role: 'status' });
  const preview = h('div', { id: 'preview', class: 'preview' });
  const strip = h('div', { id: 'strip', class: 'strip' });
  const picker = h('select', { id: 'lesson', 'aria-label': 'Lesson' },
    h('option', { value: '' }, '— no lesson —'),
    ...lessons.items.map((l) => h('option', { value: l.id }, `${l.title} (${l.slide_count})`)));
  const prev = h('button', { id: 'prev', class: 'big', onclick: () => go(state.slide - 1), 'aria-label': 'Previous slide' }, '◀ Prev');
  const next = h('button', { id: 'next', class: 'big primary-big', onclick: () => go(state.slide + 1), 'aria-label': 'Next slide' }, 'Next ▶');
  const blank = h('button', { id: 'blank-toggle', onclick: () => write({ blank: !state.blank }) }, 'Blank (B)');
  const timerSel = h('select', { id: 'timer-minutes', 'aria-label': 'Timer minutes' },
    ...[1, 2, 3, 5, 10, 15, 20, 30].map((m) => h('option', { value: m }, `${m} min`)));
  const timerStart = h('button', { id: 'timer-start', onclick: () => write({ timer: { ends_at: new Date(liveConn.serverNow() + timerSel.value * 60000).toISOString() } }) }, 'Start timer');
  const timerStop = h('button', { id: 'timer-stop', onclick: () => write({ timer: null }) }, 'Stop timer');
  const activity = activityPanel(req, () => state.slide);
  const forget = h('button', { id: 'forget', class: 'danger', onclick: forgetBoard }, 'Forget this board');

  // write sends the whole state, changed by patch, with If-Match.
  async function write(patch) {
    if (busy) return;
    busy = true;
    note.textContent = '';
    const body = { lesson_id: state.lesson_id, slide: state.slide, blank: state.blank, timer: state.timer, ...patch };
    try {
      adopt(await req('PUT', '/state', { body, headers: { 'If-Match': `"${state.revision}"` }, retry: true }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 412 && err.current) {
        adopt(err.current);
        // A retry after a failover finds its own write done: the current
        // state is what was sent (the contract's rule). Otherwise another
        // device steered meanwhile: show what the board shows.
        if (!sameState(err.current, body)) note.textContent = 'The board changed meanwhile; this is what it shows now.';
      } else {
        note.textContent = err.message;
      }
    } finally {
      busy = false;
    }
  }

  function sameState(cur, sent) {
    const endsAt = (t) => (t ? Date.parse(t.ends_at) : null);
    return (cur.lesson_id || '') === (sent.lesson_id || '') && cur.slide === sent.slide &&
      Boolean(cur.blank) === Boolean(sent.blank) && endsAt(cur.timer) === endsAt(sent.timer);
  }

  function go(slide) {
    if (!lesson || slide < 0 || slide >= lesson.slides.length || slide === state.slide) return;
    write({ slide, blank: false });
  }

  async function pickLesson() {
    await write({ lesson_id: picker.value, slide: 0, blank: false });
  }
  picker.addEventListener('change', pickLesson);

  // adopt shows a state newer than the one shown. The live echo of this
  // device's own write carries the revision its PUT answered already, so
  // it is not drawn a second time.
  async function adopt(s) {
    if (s.revision <= state.revision) return;
    await show(s);
  }

  async function show(s) {
    state = s;
    if ((lesson && lesson.id) !== (s.lesson_id || undefined)) {
      lesson = null;
      if (s.lesson_id) {
        try { lesson = await req('GET', '/lesson'); } catch (err) { note.textContent = err.message; }
      }
      renderStrip();
    }
    render();
  }

  function renderStrip() {
    clear(strip);
    if (!lesson) return;
    lesson.slides.forEach((sl, i) => strip.append(h('button', {
      class: 'thumb', dataset: { slide: i }, onclick: () => go(i), title: sl.title || sl.caption || sl.kind,
    }, h('span', { class: 'num' }, String(i + 1)), h('span', { class: 'label' }, sl.title || sl.caption || sl.kind))));
  }

  function render() {
    picker.value = state.lesson_id || '';
    const count = lesson ? lesson.slides.length : 0;
    now.textContent = !lesson ? 'No lesson on the board.'
      : `${state.blank ? 'Blank · ' : ''}Slide ${state.slide + 1} of ${count}`;
    now.dataset.slide = String(state.slide);
    prev.disabled = !lesson || state.slide <= 0;
    next.disabled = !lesson || state.slide >= count - 1;
    blank.classList.toggle('active', state.blank);
    blank.setAttribute('aria-pressed', String(state.blank));
    timerStop.hidden = !state.timer;
    for (const b of strip.children) b.classList.toggle('current', Number(b.dataset.slide) === state.slide);
    clear(preview);
    if (lesson && lesson.slides[state.slide]) {
      const sl = lesson.slides[state.slide];
      preview.append(renderSlide(sl, { mediaURL: () => sl.src }));
    }
  }

  function showOnline(isOnline) {
    online.textContent = isOnline ? 'Board online' : 'Board offline';
    online.className = `badge ${isOnline ? 'ok' : 'off'}`;
  }
  showOnline(board.online);

  // Forgetting asks once more in place (a dialog would block the page).
  const confirmForget = h('button', { id: 'forget-confirm', class: 'danger', hidden: true, onclick: reallyForget },
    'Yes, forget it: the board shows a new code');
  function forgetBoard() {
    forget.hidden = true;
    confirmForget.hidden = false;
  }
  async function reallyForget() {
    try {
      await req('DELETE', '');
      ctx.go('#/boards');
    } catch (err) {
      note.textContent = err.message;
    }
  }

  // Live: changes from the teacher's other devices, and whether this view
  // is connected.
  const liveConn = new Live(ctx.client, {
    boardId: id,
    token: ctx.client.token,
    onStatus: (s) => { link.textContent = s === 'live' ? 'Live' : 'Reconnecting…'; link.className = `badge ${s === 'live' ? 'ok' : 'off'}`; },
    onMessage: (msg) => {
      if (msg.type === 'state') adopt(msg.state);
      if (msg.type === 'activity') activity.show(msg.activity);
      if (msg.type === 'unpaired') ctx.go('#/boards');
    },
    onAuthLost: () => ctx.go('#/boards'),
  });
  liveConn.start();
  const poll = setInterval(async () => {
    try { showOnline((await req('GET', '')).online); } catch { /* the banner tells */ }
  }, ONLINE_POLL_MS);

  function onKey(e) {
    if (e.target.closest && e.target.closest('input, select, textarea')) return;
    if (e.key === 'ArrowRight' || e.key === 'PageDown') { e.preventDefault(); go(state.slide + 1); }
    if (e.key === 'ArrowLeft' || e.key === 'PageUp') { e.preventDefault(); go(state.slide - 1); }
    if (e.key === 'b' || e.key === 'B') { e.preventDefault(); write({ blank: !state.blank }); }
  }
  document.addEventListener('keydown', onKey);
  // Leaving the view ends its live connection, poll and keys.
  window.addEventListener('hashchange', () => {
    liveConn.stop();
    clearInterval(poll);
    document.removeEventListener('keydown', onKey);
  }, { once: true });

  await show(first);
  activity.load();
  renderStrip();
  render();
  return h('section', { class: 'present' },
    h('div', { class: 'row present-head' }, title, online, link),
    h('div', { class: 'row' }, h('label', { class: 'inline' }, 'Lesson ', picker)),
    now,
    h('div', { class: 'clicker' }, prev, next),
    h('div', { class: 'row tools' }, blank, timerSel, timerStart, timerStop),
    note,
    preview,
    activity.el,
    strip,
    h('div', { class: 'row' }, h('span', { class: 'spacer' }), forget, confirmForget));
}
