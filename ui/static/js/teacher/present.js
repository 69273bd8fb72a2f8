// The present view: pick a lesson for a board and steer it. Every write
// is absolute ("slide 7", never "next") and carries the revision it
// replaces; changes from the teacher's other devices arrive live. On a
// phone it is a compact clicker; on a laptop the arrow keys and B work.
//
// A press is never lost: it moves the view's target at once, and the
// newest target is sent as soon as the write before it completes, so quick
// presses become one or two writes that end where the teacher pressed to.
// A target waits through an outage and is sent when a node answers.
import { h, clear } from '../dom.js';
import { ApiError } from '../client.js';
import { Live } from '../live.js';
import { renderSlide } from '../slide.js';
import { Pictures } from '../pictures.js';
import { activityPanel } from './activity.js';

// After this long without reaching a node the teacher is told so plainly.
const STUCK_MS = 30000;
// A board whose connection dropped is "reconnecting" (boards come back by
// themselves) until this long has passed, then "offline".
const BOARD_GONE_MS = 30000;

export async function presentView(ctx, match) {
  const id = match[1];
  const path = `/api/v1/boards/${encodeURIComponent(id)}`;
  const req = (method, p, opts) => ctx.client.request(method, path + p, opts);
  const [board, first, lessons] = await Promise.all([
    req('GET', ''), req('GET', '/state'),
    // Without lessons the board can still be blanked and given a timer.
    ctx.client.request('GET', '/api/v1/lessons?order=title&limit=200').catch(() => ({ items: [] })),
  ]);

  let state = first; // the newest state a server confirmed
  let lesson = null;
  // The teacher's intent, waiting to be written: the absolute state they
  // pressed to, and base, the state they saw when pressing (its revision
  // goes in If-Match, so another device's change meanwhile is noticed).
  let target = null;
  let base = null;
  let sending = false;
  let stuckTimer = null;
  const leave = new AbortController();
  const pictures = new Pictures(ctx.client);

  const title = h('h1', { id: 'present-title' }, board.name);
  const online = h('span', { id: 'online', class: 'badge' });
  const link = h('span', { id: 'link', class: 'badge', hidden: true });
  const now = h('p', { id: 'now', class: 'now' });
  const note = h('p', { id: 'present-note', class: 'form-error', role: 'status' });
  const pending = h('p', { id: 'pending', class: 'muted pending', role: 'status' });
  const preview = h('div', { id: 'preview', class: 'preview' });
  // Speaker notes come from the teacher's own copy of the lesson: the
  // board's copy never has them.
  const notesBox = h('p', { id: 'speaker-notes', class: 'speaker-notes', hidden: true });
  let notes = [];
  const strip = h('div', { id: 'strip', class: 'strip' });
  const picker = h('select', { id: 'lesson', 'aria-label': 'Lesson' },
    h('option', { value: '' }, '— no lesson —'),
    ...lessons.items.map((l) => h('option', { value: l.id }, `${l.title} (${l.slide_count})`)));
  const prev = h('button', { id: 'prev', class: 'big', onclick: () => go(-1), 'aria-label': 'Previous slide' }, '◀ Previous');
  const next = h('button', { id: 'next', class: 'big primary-big', onclick: () => go(1), 'aria-label': 'Next slide' }, 'Next ▶');
  const blank = h('button', { id: 'blank-toggle', onclick: () => write({ blank: !want().blank }) }, 'Blank (B)');
  const timerSel = h('select', { id: 'timer-minutes', 'aria-label': 'Timer minutes' },
    ...[1, 2, 3, 5, 10, 15, 20, 30].map((m) => h('option', { value: m }, `${m} min`)));
  const timerStart = h('button', { id: 'timer-start', onclick: () => write({ timer: { ends_at: new Date(liveConn.serverNow() + timerSel.value * 60000).toISOString() } }) }, 'Start timer');
  const timerStop = h('button', { id: 'timer-stop', onclick: () => write({ timer: null }) }, 'Stop timer');
  const activity = activityPanel(req, () => state.slide);
  const forget = h('button', { id: 'forget', class: 'danger', onclick: forgetBoard }, 'Forget this board');

  // want is what the teacher wants on the board: the target while one
  // waits, else the confirmed state.
  function want() { return target || state; }

  // write changes the target by patch (at once, on screen) and sends it.
  function write(patch) {
    if (!target) base = state;
    target = { ...fields(want()), ...patch };
    note.textContent = '';
    note.classList.remove('info');
    render();
    send();
  }

  function fields(s) {
    return { lesson_id: s.lesson_id, slide: s.slide, blank: s.blank, timer: s.timer };
  }

  function sameState(cur, sent) {
    const endsAt = (t) => (t ? Date.parse(t.ends_at) : null);
    return (cur.lesson_id || '') === (sent.lesson_id || '') && cur.slide === sent.slide &&
      Boolean(cur.blank) === Boolean(sent.blank) && endsAt(cur.timer) === endsAt(sent.timer);
  }

  // send writes the newest target once the write before it completed. A
  // write waits through an outage (the client retries until a node
  // answers); presses meanwhile only move the target.
  async function send() {
    if (sending || !target) return;
    if (sameState(target, base) && base.revision === state.revision) { // pressed there and back
      settle();
      return;
    }
    sending = true;
    armStuck();
    const body = fields(target);
    try {
      const s = await req('PUT', '/state', { body, headers: { 'If-Match': `"${base.revision}"` }, retry: true, signal: leave.signal });
      reached();
      base = s;
      if (sameState(target, s)) target = null;
      await adopt(s);
    } catch (err) {
      if (leave.signal.aborted) return;
      if (err instanceof ApiError && err.status === 412 && err.current) {
        reached();
        await conflict(err.current, body);
      } else {
        // Refused (the lesson changed under the target, the board was
        // forgotten): the board keeps what it shows.
        target = null;
        note.textContent = `Not applied: ${err.message} The board shows ${describe(state)}.`;
      }
    } finally {
      sending = false;
    }
    if (target) send();
    else settle();
  }

  // conflict resolves a 412. A retry after a failover that finds its own
  // write done is no conflict (the contract's rule). Otherwise another
  // device steered meanwhile: what the teacher pressed is applied on top
  // only when it touches nothing the other device changed (then relative
  // and absolute agree); else the other device's state stands, and the
  // teacher sees who changed it.
  async function conflict(cur, sent) {
    if (sameState(cur, sent)) {
      base = cur;
      if (sameState(target, cur)) target = null;
      await adopt(cur);
      return;
    }
    const parts = (s) => ({ where: `${s.lesson_id || ''}/${s.slide}`, blank: Boolean(s.blank), timer: s.timer ? Date.parse(s.timer.ends_at) : null });
    const [was, theirs, mine] = [parts(base), parts(cur), parts(target)];
    const clash = Object.keys(was).some((k) => theirs[k] !== was[k] && mine[k] !== was[k]);
    const pressed = target;
    base = cur;
    await adopt(cur);
    if (clash) {
      target = null;
      note.textContent = `Changed meanwhile on ${cur.updated_by ? `your ${cur.updated_by}` : 'another device'}: the board shows ${describe(cur)}. Your press was not applied.`;
      return;
    }
    const merged = fields(cur);
    if (mine.where !== was.where) Object.assign(merged, { lesson_id: pressed.lesson_id, slide: pressed.slide });
    if (mine.blank !== was.blank) merged.blank = pressed.blank;
    if (mine.timer !== was.timer) merged.timer = pressed.timer;
    target = merged;
  }

  function describe(s) {
    if (!s.lesson_id) return 'no lesson';
    return `${s.blank ? 'a blank screen on ' : ''}slide ${s.slide + 1}`;
  }

  // armStuck tells the teacher plainly when their press has not reached a
  // node for a while; the press is still kept and sent when one answers.
  function armStuck() {
    if (stuckTimer) return;
    stuckTimer = setTimeout(() => {
      note.textContent = `Not on the board yet: no server has answered for ${STUCK_MS / 1000} s. ` +
        `Last we heard, the board shows ${describe(state)}. Your press is kept and goes through when a server answers.`;
    }, STUCK_MS);
  }

  // reached ends the wait for a server: one answered.
  function reached() {
    clearTimeout(stuckTimer);
    stuckTimer = null;
    if (note.textContent.startsWith('Not on the board yet')) note.textContent = '';
  }

  function settle() {
    target = null;
    reached();
    render();
  }

  function go(delta) {
    const w = want();
    const slide = w.slide + delta;
    if (!lesson || slide < 0 || slide >= lesson.slides.length) return;
    write({ slide, blank: false });
  }

  function goTo(slide) {
    if (!lesson || slide === want().slide) return;
    write({ slide, blank: false });
  }

  picker.addEventListener('change', () => write({ lesson_id: picker.value, slide: 0, blank: false }));

  // adopt takes a newer state a server confirmed. The live echo of this
  // device's own write carries the revision its PUT answered already, so
  // it is not drawn a second time.
  async function adopt(s) {
    if (s.revision <= state.revision) return;
    state = s;
    await showLesson();
  }

  // showLesson loads the lesson the board shows when it changed, then
  // renders.
  async function showLesson() {
    const id = state.lesson_id || '';
    if ((lesson ? lesson.id : '') !== id) {
      lesson = null;
      if (id) {
        let l;
        let n;
        try {
          [l, n] = await Promise.all([
            req('GET', '/lesson', { retry: true, signal: leave.signal }),
            // Speaker notes come from the teacher's own copy of the lesson:
            // the board's copy never has them. Without them the view works.
            ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(id)}`, { signal: leave.signal })
              .then((tl) => tl.slides.map((x) => x.notes || ''), () => []),
          ]);
        } catch (err) {
          if (!leave.signal.aborted) note.textContent = err.message;
          return;
        }
        if ((state.lesson_id || '') !== id) return; // a newer state took over
        lesson = l;
        notes = n;
        pictures.retain(lesson.slides);
        pictures.preload(lesson.slides);
      }
      renderStrip();
    }
    render();
  }

  function renderStrip() {
    clear(strip);
    if (!lesson) return;
    lesson.slides.forEach((sl, i) => strip.append(h('button', {
      class: 'thumb', dataset: { slide: i }, onclick: () => goTo(i), title: sl.title || sl.caption || sl.kind,
    }, h('span', { class: 'num' }, String(i + 1)), h('span', { class: 'label' }, sl.title || sl.caption || sl.kind))));
  }

  // render shows what the teacher wants on the board (the target at once),
  // and, while a write is on its way, what the board shows meanwhile. A
  // lesson being switched to shows once it has loaded.
  function render() {
    const w = lesson && (want().lesson_id || '') !== lesson.id ? state : want();
    picker.value = want().lesson_id || '';
    const count = lesson ? lesson.slides.length : 0;
    now.textContent = !lesson ? 'No lesson on the board.'
      : `${w.blank ? 'Blank · ' : ''}Slide ${w.slide + 1} of ${count}`;
    now.dataset.slide = String(w.slide);
    now.dataset.board = String(state.slide);
    now.classList.toggle('waiting', Boolean(target));
    pending.textContent = target ? `Sending… the board shows ${describe(state)} until then.` : '';
    prev.disabled = !lesson || w.slide <= 0;
    next.disabled = !lesson || w.slide >= count - 1;
    blank.classList.toggle('active', w.blank);
    blank.setAttribute('aria-pressed', String(w.blank));
    timerStop.hidden = !w.timer;
    for (const b of strip.children) b.classList.toggle('current', Number(b.dataset.slide) === w.slide);
    const sl = lesson && lesson.slides[w.slide];
    if (preview.dataset.shows !== (sl ? `${lesson.id}/${w.slide}` : '')) {
      clear(preview);
      preview.dataset.shows = sl ? `${lesson.id}/${w.slide}` : '';
      if (sl) preview.append(renderSlide(sl, { pictures }));
    }
    notesBox.textContent = (lesson && notes[w.slide]) || '';
    notesBox.hidden = !notesBox.textContent;
  }

  // The board's presence comes over this view's live connection; while
  // that connection is down, the board's presence is not known.
  let boardOnline = board.online;
  let linkLive = false;
  let everLive = false; // a first connection is not a lost one
  let goneTimer = null;
  let droppedAt = null;
  function showOnline() {
    let text = 'Board online';
    let cls = 'ok';
    // While this view's own connection is down the board's presence is
    // not known: one badge says the view is reconnecting (the link badge
    // hides meanwhile).
    if (!linkLive) [text, cls] = [everLive ? 'Reconnecting…' : 'Connecting…', 'off'];
    else if (!boardOnline) [text, cls] = droppedAt && Date.now() - droppedAt < BOARD_GONE_MS ? ['Board reconnecting…', 'off'] : ['Board offline', 'off'];
    online.textContent = text;
    online.className = `badge ${cls}`;
  }
  // lostAt is when this view last lost sight of the board: its presence
  // went false, or this view's own connection dropped (during a full
  // outage both happen, and only the latter is seen).
  let lostAt = null;
  function presence(isOnline) {
    clearTimeout(goneTimer);
    if (!isOnline && boardOnline) {
      droppedAt = Date.now();
      goneTimer = setTimeout(showOnline, BOARD_GONE_MS);
    }
    if (!isOnline && !lostAt) lostAt = Date.now();
    if (isOnline && lostAt) {
      // A board without a server can be stepped by hand; it cannot tell
      // what it showed, only that the server's state is on it again.
      const away = Math.round((Date.now() - lostAt) / 1000);
      if (away >= 10) {
        note.textContent = `The board was out of touch for ${away} s and may have been stepped by hand meanwhile; it shows ${describe(state)} again.`;
        note.classList.add('info'); // news, not a failure
      }
      lostAt = null;
    }
    if (isOnline) droppedAt = null;
    boardOnline = isOnline;
    showOnline();
  }
  showOnline();

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
    onStatus: (s) => {
      link.textContent = 'Live';
      link.className = 'badge ok';
      link.hidden = s !== 'live';
      linkLive = s === 'live';
      if (!linkLive && everLive && !lostAt) lostAt = Date.now();
      everLive = everLive || linkLive;
      showOnline();
    },
    onMessage: (msg) => {
      if (msg.type === 'state') adopt(msg.state);
      if (msg.type === 'presence') presence(Boolean(msg.online));
      if (msg.type === 'activity') activity.show(msg.activity);
      // Unpaired here, by the teacher's own Forget, only after they confirmed.
      if (msg.type === 'unpaired') { if (confirmForget.hidden) ctx.boardGone(board.name); else ctx.go('#/boards'); }
    },
    // 404: the board went while this view was not connected; 401: the
    // teacher's session ended, and the boards page sends them to log in.
    onAuthLost: (err) => { if (err.status === 404) ctx.boardGone(board.name); else ctx.go('#/boards'); },
  });
  liveConn.start();

  function onKey(e) {
    if (e.target.closest && e.target.closest('input, select, textarea')) return;
    if (e.key === 'ArrowRight' || e.key === 'PageDown') { e.preventDefault(); go(1); }
    if (e.key === 'ArrowLeft' || e.key === 'PageUp') { e.preventDefault(); go(-1); }
    if (e.key === 'b' || e.key === 'B') { e.preventDefault(); write({ blank: !want().blank }); }
  }
  document.addEventListener('keydown', onKey);
  // Leaving the view ends its live connection, writes, timers and keys.
  window.addEventListener('hashchange', () => {
    liveConn.stop();
    leave.abort();
    clearTimeout(stuckTimer);
    clearTimeout(goneTimer);
    pictures.retain([]);
    document.removeEventListener('keydown', onKey);
  }, { once: true });

  await showLesson();
  activity.load();
  return h('section', { class: 'present' },
    h('div', { class: 'row present-head' }, title, online, link),
    h('div', { class: 'row' }, h('label', { class: 'inline' }, 'Lesson ', picker)),
    now,
    h('div', { class: 'clicker' }, prev, next),
    pending,
    h('div', { class: 'row tools' }, blank, timerSel, timerStart, timerStop),
    note,
    preview,
    notesBox,
    activity.el,
    strip,
    h('div', { class: 'row' }, h('span', { class: 'spacer' }), forget, confirmForget));
}
