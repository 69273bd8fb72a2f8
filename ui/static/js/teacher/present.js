// The present view: pick a lesson for a board and steer it, as a
// presenter view does: the current slide, the next one, speaker notes, a
// timer (pause, +1 min, any length), a black or white blank screen, and a
// pointer (drag on the current slide and a dot follows on the board). Every
// write is absolute ("slide 7", never "next") and carries the revision it
// replaces; changes from the teacher's other devices arrive live. On a
// phone the current slide sits above two big buttons; on a laptop the
// arrow keys, B and W work.
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
import { pointerPad } from './pointer.js';
import { t, errorText } from '../i18n.js';

// After this long without reaching a node the teacher is told so plainly.
const STUCK_MS = 30000;
// A board whose connection dropped is "reconnecting" (boards come back by
// themselves) until this long has passed, then "offline".
const BOARD_GONE_MS = 30000;
// The lengths the timer field suggests; any other from 1 to 1440 may be typed.
const TIMER_PRESETS = [1, 2, 3, 5, 10, 15, 20, 30];
// The timer's unit, in milliseconds.
const MINUTE = 60000;

export async function presentView(ctx, match) {
  const id = match[1];
  const path = `/api/v1/boards/${encodeURIComponent(id)}`;
  const req = (method, p, opts) => ctx.client.request(method, path + p, opts);
  const [board, first, lessons] = await Promise.all([
    req('GET', ''), req('GET', '/state'),
    // Without lessons the board can still be blanked and given a timer.
    ctx.client.request('GET', '/api/v1/lessons?order=title&limit=200').catch(() => ({ items: [] })),
  ]);
  // A touch screen has no keys to press: its buttons leave the hints out.
  const touch = window.matchMedia('(hover: none) and (pointer: coarse)').matches;

  let state = first; // the newest state a server confirmed
  let lesson = null;
  // The teacher's intent, waiting to be written: the absolute state they
  // pressed to, and base, the state they saw when pressing (its revision
  // goes in If-Match, so another device's change meanwhile is noticed).
  let target = null;
  let base = null;
  let sending = false;
  let stuckTimer = null;
  let stuckNote = ''; // what the teacher was told when no server answered
  const leave = new AbortController();
  const pictures = new Pictures(ctx.client);

  const title = h('h1', { id: 'present-title' }, board.name);
  const online = h('span', { id: 'online', class: 'badge' });
  const link = h('span', { id: 'link', class: 'badge', hidden: true });
  const now = h('p', { id: 'now', class: 'now' });
  const note = h('p', { id: 'present-note', class: 'form-error', role: 'status' });
  const pending = h('p', { id: 'pending', class: 'muted pending', role: 'status' });
  // The current slide, and over it the pointer: the teacher drags on it.
  const preview = h('div', { id: 'preview', class: 'preview' });
  const dot = h('span', { id: 'pointer-here', class: 'pointer-dot', hidden: true });
  const current = h('div', { id: 'current', class: 'current-slide', title: t('present.pointer_hint') }, preview, dot);
  const nextPreview = h('div', { id: 'next-preview', class: 'next-preview' });
  // Speaker notes come from the teacher's own copy of the lesson: the
  // board's copy never has them.
  const notesBox = h('p', { id: 'speaker-notes', class: 'speaker-notes', hidden: true });
  const noNotes = h('p', { class: 'muted no-notes' }, t('present.no_notes'));
  let notes = [];
  const strip = h('div', { id: 'strip', class: 'strip' });
  const picker = h('select', { id: 'lesson', 'aria-label': t('present.lesson') },
    h('option', { value: '' }, t('present.no_lesson_option')),
    ...lessons.items.map((l) => h('option', { value: l.id }, `${l.title} (${l.slide_count})`)));
  const prev = h('button', { id: 'prev', class: 'big', onclick: () => go(-1), 'aria-label': t('present.prev_label') }, t('present.prev'));
  const next = h('button', { id: 'next', class: 'big primary-big', onclick: () => go(1), 'aria-label': t('present.next_label') }, t('present.next'));
  const blank = h('button', { id: 'blank-toggle', onclick: () => toggleBlank(''), title: t('present.blank_title') },
    t(touch ? 'present.blank' : 'present.blank_key'));
  const white = h('button', { id: 'blank-white', onclick: () => toggleBlank('white'), title: t('present.white_title') },
    t(touch ? 'present.white' : 'present.white_key'));
  // The timer: any length in minutes (the list offers the usual ones).
  const timerShow = h('span', { id: 'timer-left', class: 'timer-left', role: 'timer' });
  const timerMinutes = h('input', {
    id: 'timer-minutes', type: 'number', min: '1', max: '1440', step: '1', value: '5', inputmode: 'numeric',
    list: 'timer-presets', 'aria-label': t('present.timer_minutes'),
  });
  timerMinutes.addEventListener('keydown', (e) => { if (e.key === 'Enter') startTimer(); });
  const presets = h('datalist', { id: 'timer-presets' }, ...TIMER_PRESETS.map((m) => h('option', { value: m })));
  const timerStart = h('button', { id: 'timer-start', onclick: startTimer }, t('present.timer_start'));
  const timerPause = h('button', { id: 'timer-pause', onclick: pauseTimer }, t('present.timer_pause'));
  const timerAdd = h('button', { id: 'timer-add', onclick: addMinute }, t('present.timer_add'));
  const timerStop = h('button', { id: 'timer-stop', onclick: () => write({ timer: null }) }, t('present.timer_stop'));
  const timerRunning = h('div', { class: 'row', hidden: true }, timerPause, timerAdd, timerStop);
  const activity = activityPanel(req, () => state.slide);
  const forget = h('button', { id: 'forget', class: 'danger', onclick: forgetBoard }, t('present.forget'));

  // The pointer: the teacher drags on the current slide, a dot follows
  // on the board (pointer.js).
  const pointer = pointerPad({
    surface: current,
    slide: () => preview.querySelector('.slide') || preview,
    dot,
    enabled: () => Boolean(lesson) && !want().blank,
    // Hiding outlives the view: the board must not keep the dot.
    send: (body) => req('POST', '/pointer', { body, idempotent: true, signal: 'hidden' in body ? undefined : leave.signal }),
  });

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
    const f = { lesson_id: s.lesson_id, slide: s.slide, blank: s.blank, timer: s.timer };
    if (s.blank && s.blank_color) f.blank_color = s.blank_color;
    return f;
  }

  // The parts of a state a press changes, comparable with ===.
  function parts(s) {
    return {
      where: `${s.lesson_id || ''}/${s.slide}`,
      blank: s.blank ? s.blank_color || 'black' : '',
      timer: timerKey(s.timer),
    };
  }

  function timerKey(tm) {
    if (!tm) return '';
    return tm.paused ? `paused ${tm.remaining_ms}` : `ends ${Date.parse(tm.ends_at)}`;
  }

  function sameState(cur, sent) {
    const [a, b] = [parts(cur), parts(sent)];
    return a.where === b.where && a.blank === b.blank && a.timer === b.timer;
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
        note.textContent = t('present.not_applied', { reason: errorText(err), shows: describe(state) });
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
    const [was, theirs, mine] = [parts(base), parts(cur), parts(target)];
    const clash = Object.keys(was).some((k) => theirs[k] !== was[k] && mine[k] !== was[k]);
    const pressed = target;
    base = cur;
    await adopt(cur);
    if (clash) {
      target = null;
      note.textContent = cur.updated_by
        ? t('present.changed_on_device', { device: cur.updated_by, shows: describe(cur) })
        : t('present.changed_elsewhere', { shows: describe(cur) });
      return;
    }
    const merged = fields(cur);
    if (mine.where !== was.where) Object.assign(merged, { lesson_id: pressed.lesson_id, slide: pressed.slide });
    if (mine.blank !== was.blank) {
      merged.blank = pressed.blank;
      delete merged.blank_color;
      if (pressed.blank_color) merged.blank_color = pressed.blank_color;
    }
    if (mine.timer !== was.timer) merged.timer = pressed.timer;
    target = merged;
  }

  function describe(s) {
    if (!s.lesson_id) return t('present.shows_no_lesson');
    if (!s.blank) return t('present.shows_slide', { n: s.slide + 1 });
    return t(s.blank_color === 'white' ? 'present.shows_white' : 'present.shows_blank', { n: s.slide + 1 });
  }

  // armStuck tells the teacher plainly when their press has not reached a
  // node for a while; the press is still kept and sent when one answers.
  function armStuck() {
    if (stuckTimer) return;
    stuckTimer = setTimeout(() => {
      stuckNote = t('present.stuck', { seconds: STUCK_MS / 1000, shows: describe(state) });
      note.textContent = stuckNote;
    }, STUCK_MS);
  }

  // reached ends the wait for a server: one answered.
  function reached() {
    clearTimeout(stuckTimer);
    stuckTimer = null;
    // Only that message goes: news told since (the board is back) stays.
    if (stuckNote && note.textContent === stuckNote) note.textContent = '';
    stuckNote = '';
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

  // toggleBlank blanks the board in a colour ('' is black), or shows the
  // slide again when it is blank in that colour already.
  function toggleBlank(color) {
    const w = want();
    if (w.blank && (w.blank_color || '') === color) {
      write({ blank: false, blank_color: undefined });
      return;
    }
    write({ blank: true, blank_color: color || undefined });
  }

  // The timer counts against the server's clock. Paused, it keeps the
  // milliseconds it had left; +1 min adds to a running, paused or finished
  // timer alike.
  function timeLeft(tm) {
    if (!tm) return 0;
    if (tm.paused) return tm.remaining_ms;
    return Math.max(0, Date.parse(tm.ends_at) - liveConn.serverNow());
  }

  function startTimer() {
    const minutes = Number(timerMinutes.value);
    if (!Number.isFinite(minutes) || minutes < 1 || minutes > 1440) {
      note.textContent = t('present.timer_invalid');
      timerMinutes.focus();
      return;
    }
    write({ timer: { ends_at: new Date(liveConn.serverNow() + Math.round(minutes * MINUTE)).toISOString() } });
  }

  function pauseTimer() {
    const tm = want().timer;
    if (!tm) return;
    if (tm.paused) {
      write({ timer: { ends_at: new Date(liveConn.serverNow() + tm.remaining_ms).toISOString() } });
      return;
    }
    const left = timeLeft(tm);
    if (left > 0) write({ timer: { paused: true, remaining_ms: Math.round(left) } });
  }

  function addMinute() {
    const tm = want().timer;
    if (tm && tm.paused) {
      write({ timer: { paused: true, remaining_ms: tm.remaining_ms + MINUTE } });
      return;
    }
    write({ timer: { ends_at: new Date(liveConn.serverNow() + timeLeft(tm) + MINUTE).toISOString() } });
  }

  let clockTimer = null;
  function showTimer(tm) {
    clearInterval(clockTimer);
    const tick = () => {
      const left = Math.ceil(timeLeft(tm) / 1000);
      timerShow.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
      timerShow.classList.toggle('done', !tm.paused && left === 0);
    };
    timerShow.classList.toggle('paused', Boolean(tm && tm.paused));
    timerShow.classList.toggle('none', !tm);
    if (!tm) {
      timerShow.textContent = t('present.timer_none');
      timerShow.classList.remove('done');
      return;
    }
    tick();
    if (!tm.paused) clockTimer = setInterval(tick, 250);
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
    const lid = state.lesson_id || '';
    if ((lesson ? lesson.id : '') !== lid) {
      lesson = null;
      if (lid) {
        let l;
        let n;
        try {
          [l, n] = await Promise.all([
            req('GET', '/lesson', { retry: true, signal: leave.signal }),
            // Speaker notes come from the teacher's own copy of the lesson:
            // the board's copy never has them. Without them the view works.
            ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(lid)}`, { signal: leave.signal })
              .then((tl) => tl.slides.map((x) => x.notes || ''), () => []),
          ]);
        } catch (err) {
          if (!leave.signal.aborted) note.textContent = errorText(err);
          return;
        }
        if ((state.lesson_id || '') !== lid) return; // a newer state took over
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

  // showIn draws slide i of the lesson into box, unless it shows it already.
  function showIn(box, i) {
    const sl = lesson && lesson.slides[i];
    const key = sl ? `${lesson.id}/${i}` : '';
    if (box.dataset.shows === key) return;
    clear(box);
    box.dataset.shows = key;
    if (sl) box.append(renderSlide(sl, { pictures }));
  }

  // render shows what the teacher wants on the board (the target at once),
  // and, while a write is on its way, what the board shows meanwhile. A
  // lesson being switched to shows once it has loaded.
  function render() {
    const w = lesson && (want().lesson_id || '') !== lesson.id ? state : want();
    picker.value = want().lesson_id || '';
    const count = lesson ? lesson.slides.length : 0;
    now.textContent = !lesson ? t('present.now_no_lesson')
      : t(!w.blank ? 'present.now_slide' : w.blank_color === 'white' ? 'present.now_white' : 'present.now_blank', { n: w.slide + 1, count });
    if (target) now.append(h('span', { class: 'sending' }, t('present.sending_mark')));
    now.dataset.slide = String(w.slide);
    now.dataset.board = String(state.slide);
    now.classList.toggle('waiting', Boolean(target));
    pending.textContent = target ? t('present.pending', { shows: describe(state) }) : '';
    prev.disabled = !lesson || w.slide <= 0;
    next.disabled = !lesson || w.slide >= count - 1;
    const color = w.blank ? w.blank_color || 'black' : '';
    blank.classList.toggle('active', color === 'black');
    blank.setAttribute('aria-pressed', String(color === 'black'));
    white.classList.toggle('active', color === 'white');
    white.setAttribute('aria-pressed', String(color === 'white'));
    current.dataset.blank = color;
    const tm = w.timer;
    timerStart.textContent = t(tm ? 'present.timer_restart' : 'present.timer_start');
    timerRunning.hidden = !tm;
    timerPause.textContent = t(tm && tm.paused ? 'present.timer_resume' : 'present.timer_pause');
    if (timerKey(tm) !== timerShow.dataset.timer) {
      timerShow.dataset.timer = timerKey(tm);
      showTimer(tm);
    }
    for (const b of strip.children) b.classList.toggle('current', Number(b.dataset.slide) === w.slide);
    showIn(preview, w.slide);
    showIn(nextPreview, w.slide + 1);
    if (lesson && !nextPreview.firstChild) nextPreview.append(h('p', { class: 'muted last' }, t('present.last_slide')));
    nextPreview.dataset.last = String(Boolean(lesson) && w.slide >= count - 1);
    notesBox.textContent = (lesson && notes[w.slide]) || '';
    notesBox.hidden = !notesBox.textContent;
    noNotes.hidden = !notesBox.hidden;
    if (current.dataset.slide !== String(w.slide)) {
      current.dataset.slide = String(w.slide);
      pointer.off(); // a new slide: the dot was on the old one
    }
  }

  // The board's presence comes over this view's live connection; while
  // that connection is down, the board's presence is not known.
  let boardOnline = board.online;
  let linkLive = false;
  let everLive = false; // a first connection is not a lost one
  let goneTimer = null;
  let droppedAt = null;
  function showOnline() {
    let text = t('present.board_online');
    let cls = 'ok';
    // While this view's own connection is down the board's presence is
    // not known: one badge says the view is reconnecting (the link badge
    // hides meanwhile).
    if (!linkLive) [text, cls] = [t(everLive ? 'present.reconnecting' : 'present.connecting'), 'off'];
    else if (!boardOnline) {
      text = t(droppedAt && Date.now() - droppedAt < BOARD_GONE_MS ? 'present.board_reconnecting' : 'present.board_offline');
      cls = 'off';
    }
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
        note.textContent = t('present.board_back', { seconds: away, shows: describe(state) });
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
    t('present.forget_confirm'));
  function forgetBoard() {
    forget.hidden = true;
    confirmForget.hidden = false;
  }
  async function reallyForget() {
    try {
      await req('DELETE', '');
      ctx.go('#/boards');
    } catch (err) {
      note.textContent = errorText(err);
    }
  }

  // Live: changes from the teacher's other devices, and whether this view
  // is connected.
  const liveConn = new Live(ctx.client, {
    boardId: id,
    token: ctx.client.token,
    onStatus: (s) => {
      link.textContent = t('present.live');
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
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'ArrowRight' || e.key === 'PageDown') { e.preventDefault(); go(1); }
    if (e.key === 'ArrowLeft' || e.key === 'PageUp') { e.preventDefault(); go(-1); }
    if (e.key === 'b' || e.key === 'B') { e.preventDefault(); toggleBlank(''); }
    if (e.key === 'w' || e.key === 'W') { e.preventDefault(); toggleBlank('white'); }
  }
  document.addEventListener('keydown', onKey);
  // Leaving the view ends its live connection, writes, timers and keys.
  window.addEventListener('hashchange', () => {
    pointer.stop();
    liveConn.stop();
    leave.abort();
    clearTimeout(stuckTimer);
    clearTimeout(goneTimer);
    clearInterval(clockTimer);
    pictures.retain([]);
    document.removeEventListener('keydown', onKey);
  }, { once: true });

  await showLesson();
  activity.load();
  return h('section', { class: 'present' },
    h('div', { class: 'row present-head' }, title, online, link),
    h('div', { class: 'row present-lesson' }, h('label', { class: 'inline' }, t('present.lesson'), ' ', picker)),
    now,
    h('div', { class: 'present-grid' },
      h('div', { class: 'present-main' },
        current,
        h('p', { class: 'muted pointer-hint' }, t(touch ? 'present.pointer_hint_touch' : 'present.pointer_hint')),
        h('div', { class: 'clicker' }, prev, next),
        pending,
        note),
      h('div', { class: 'present-side' },
        h('div', { class: 'card tool-card' },
          h('h2', {}, t('present.blank_heading')),
          h('div', { class: 'row' }, blank, white)),
        h('div', { class: 'card tool-card timer-card' },
          h('h2', {}, t('present.timer'), ' ', timerShow),
          h('div', { class: 'row' },
            h('label', { class: 'inline timer-length' }, timerMinutes, ' ', t('present.minutes')), presets, timerStart),
          timerRunning),
        h('div', { class: 'next-part' }, h('h2', { class: 'side-head' }, t('present.next_heading')), nextPreview),
        h('div', { class: 'notes-part' }, h('h2', { class: 'side-head' }, t('present.notes_heading')), notesBox, noNotes))),
    activity.el,
    strip,
    h('div', { class: 'row' }, h('span', { class: 'spacer' }), forget, confirmForget));
}
