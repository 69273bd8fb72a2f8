// The lesson editor: title, slides (add, duplicate, reorder by dragging or
// by keyboard, delete), pictures (upload with progress, or pick one from
// the picture library; a text slide may have one too, beside or above its
// text), speaker notes, a preview rendered by the server exactly as the
// board renders it, export as one file, duplicate and delete the lesson.
// Every change is saved by itself (saver.js) and kept on this device until
// the server has it; a save that meets another edit asks which to keep.
import { h, clear } from '../dom.js';
import { t, has, errorText, reasonText } from '../i18n.js';
import { renderSlide, FIT_EVENT } from '../slide.js';
import { Pictures } from '../pictures.js';
import { Saver, readDraft, dropDraft } from './saver.js';
import { openLibrary } from './library.js';
import { ask } from './dialog.js';
import { copyLesson, deleteLesson } from './lessonactions.js';

const KINDS = ['text', 'image', 'link'];
const FIELDS = {
  text: ['title', 'body', 'media_id', 'layout', 'notes'],
  image: ['media_id', 'caption', 'notes'],
  link: ['title', 'url', 'notes'],
};
const LAYOUTS = ['beside', 'below'];

// forAPI keeps the fields a slide of its kind has: what the server renders
// (html, qr, src) is not sent back; a layout only goes with a picture.
function forAPI(slide) {
  const out = { kind: slide.kind };
  for (const f of FIELDS[slide.kind] || []) if (slide[f]) out[f] = slide[f];
  if (!out.media_id) delete out.layout;
  return out;
}

// download saves a Blob under a file name.
function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// unfinished says whether a slide still lacks what the server requires of
// its kind (lesson.go's Slide.validate), so the preview and autosave do
// not send a request bound to fail while a new slide is being filled in.
function unfinished(slide) {
  const filled = (v) => Boolean(v && v.trim());
  switch (slide.kind) {
    case 'text': return !filled(slide.title) && !filled(slide.body);
    case 'image': return !slide.media_id;
    case 'link': return !filled(slide.title) || !/^https?:\/\/[^\s/]/i.test(slide.url || '');
    default: return true;
  }
}

function summary(slide) {
  if (slide.kind === 'image') return slide.caption || t(slide.media_id ? 'editor.kind_image' : 'editor.summary_no_picture');
  return slide.title || (slide.body || '').split('\n')[0] || t('editor.summary_empty');
}

// fieldName names a field the server refused the way the teacher knows it.
function fieldName(f) {
  return has(`editor.name_${f}`) ? t(`editor.name_${f}`) : f.replace('_', ' ');
}

function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

// Sortable (vendored SortableJS) is loaded when the editor first opens:
// only the editor needs it, and without it the keyboard and the arrow
// buttons still reorder.
let sortable = null;
function loadSortable() {
  sortable = sortable || import('../../vendor/sortablejs/Sortable.min.js').then(() => self.Sortable);
  return sortable;
}

export async function editorView(ctx, id) {
  const st = { id, revision: 0, title: '', slides: [], selected: 0 };
  const srcs = new Map(); // media id -> signed URL path, from the server
  const remember = (slides) => { for (const s of slides) if (s.src) srcs.set(s.media_id, s.src); };
  let server = null;
  if (id) {
    server = await ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(id)}`);
    Object.assign(st, { title: server.title, slides: server.slides, revision: server.revision });
    remember(server.slides);
  }
  const teacherID = ctx.teacher.id;
  let draft = readDraft(teacherID, id);
  if (draft && server && same({ title: server.title, slides: server.slides.map(forAPI) }, { title: draft.title, slides: draft.slides })) {
    // Saved after all (the page went away while the save was on its way).
    dropDraft(teacherID, id);
    draft = null;
  }
  if (draft) Object.assign(st, { title: draft.title, slides: draft.slides.map((s) => ({ ...s })) });
  // Pictures load through the client, failing over like every API call.
  const pictures = new Pictures(ctx.client);
  const withSrc = (slide) => (slide.src || !slide.media_id ? slide : { ...slide, src: srcs.get(slide.media_id) });

  const title = h('input', { id: 'lesson-title', name: 'title', value: st.title, placeholder: t('editor.title_placeholder'), 'aria-label': t('editor.title_label') });
  const status = h('span', { class: 'save-status', id: 'save-status', role: 'status' });
  const save = h('button', { class: 'save', id: 'save-lesson' }, t('editor.save'));
  const exportButton = h('button', { id: 'export-lesson', title: t('editor.export_hint') }, t('editor.export'));
  const duplicateButton = h('button', { id: 'duplicate-lesson', title: t('editor.duplicate_hint') }, t('editor.duplicate'));
  const deleteButton = h('button', { id: 'delete-lesson', class: 'danger' }, t('editor.delete'));
  const errorBox = h('div', { class: 'form-error', role: 'alert' });
  const conflict = h('div', { class: 'conflict', id: 'conflict', hidden: true });
  const list = h('ol', { class: 'slide-list', id: 'slide-list' });
  const moved = h('span', { class: 'visually-hidden', id: 'slide-moved', 'aria-live': 'polite' });
  const fields = h('div', { class: 'slide-fields', id: 'slide-fields' });
  const preview = h('div', { class: 'lesson-preview', id: 'preview' });
  // The preview is fitted as the board fits it: a slide whose text does
  // not fit at the smallest readable size is cut off on the board too.
  const tooMuch = h('p', { id: 'too-much-text', class: 'form-error', role: 'status', hidden: true }, t('editor.too_much_text'));
  preview.addEventListener(FIT_EVENT, (e) => { tooMuch.hidden = e.detail.fits; });
  new MutationObserver(() => { if (!preview.querySelector('.slide')) tooMuch.hidden = true; }).observe(preview, { childList: true });
  // The view's heading (its tab title too); the title field shows it.
  const heading = h('h1', { class: 'visually-hidden', id: 'editor-heading' });
  const retitle = () => { heading.textContent = st.title.trim() ? t('editor.heading', { title: st.title.trim() }) : t('editor.heading_new'); };
  retitle();
  const form = h('div', { class: 'editor' },
    heading,
    h('div', { class: 'editor-head' }, title, status),
    h('div', { class: 'row editor-actions' }, save, exportButton, duplicateButton, deleteButton),
    errorBox, conflict,
    h('div', { class: 'editor-main' },
      h('div', { class: 'editor-slides' }, list, moved,
        h('div', { class: 'add-slide row' }, t('editor.add'),
          KINDS.map((k) => h('button', { id: `add-${k}`, onclick: () => add(k) }, `+ ${t(`editor.kind_${k}`)}`)))),
      h('div', { class: 'editor-slide' }, fields, h('h2', {}, t('editor.preview')), preview, tooMuch)));

  const saver = new Saver({
    client: ctx.client, teacherID, id: st.id, revision: st.revision,
    body: () => ({ title: st.title.trim(), slides: st.slides.map(forAPI) }),
    blocker: () => {
      if (!st.title.trim()) return t('editor.blocked_title');
      const i = st.slides.findIndex(unfinished);
      return i < 0 ? '' : t('editor.blocked_slide', { n: i + 1 });
    },
    same: (cur, body) => same({ title: cur.title, slides: cur.slides.map(forAPI) }, body),
    onSaved: (l) => {
      const created = !st.id;
      st.id = l.id;
      st.revision = l.revision;
      remember(l.slides);
      if (created) history.replaceState(null, '', `#/lessons/${encodeURIComponent(l.id)}`);
    },
    onConflict: showConflict,
    onState: showState,
  });

  // showState says where the teacher's work is, in words: on the server,
  // on its way, or kept on this device while no server answers.
  function showState(state, detail) {
    status.dataset.state = state;
    errorBox.textContent = '';
    switch (state) {
      case 'saved': status.textContent = t('editor.status_saved'); break;
      case 'dirty': status.textContent = t('editor.status_dirty'); break;
      case 'saving': status.textContent = t('editor.status_saving'); break;
      case 'offline': status.textContent = t('editor.status_offline'); break;
      case 'blocked': status.textContent = t('editor.status_blocked', { why: detail }); break;
      case 'conflict': status.textContent = t('editor.status_conflict'); break;
      default:
        status.textContent = t('editor.status_error');
        showSlideErrors(detail);
    }
  }

  function changed() {
    saver.changed();
  }
  title.addEventListener('input', () => { st.title = title.value; retitle(); changed(); });

  function add(kind) {
    st.slides.push({ kind });
    st.selected = st.slides.length - 1;
    changed();
    renderList();
    renderFields();
  }
  // moveTo moves slide i to position j, keeping the selection on the
  // slide it was on.
  function moveTo(i, j) {
    if (i === j || j < 0 || j >= st.slides.length) return;
    const chosen = st.slides[st.selected];
    const [s] = st.slides.splice(i, 1);
    st.slides.splice(j, 0, s);
    st.selected = st.slides.indexOf(chosen);
    changed();
    renderList();
    // Said to screen readers: the list changed under the focus.
    moved.textContent = t('editor.moved', { n: j + 1 });
  }
  function duplicateSlide(i) {
    st.slides.splice(i + 1, 0, structuredClone(st.slides[i]));
    st.selected = i + 1;
    changed();
    renderList();
    renderFields();
  }
  function remove(i) {
    st.slides.splice(i, 1);
    st.selected = Math.min(st.selected, st.slides.length - 1);
    changed();
    renderList();
    renderFields();
  }

  // The arrow buttons move a slide and keep the focus on the same button
  // of the moved slide, so pressing Enter again moves it further.
  function moveButton(i, by, label, symbol) {
    return h('button', { class: `icon move-${by < 0 ? 'up' : 'down'}`, title: t(label, { n: i + 1 }), 'aria-label': t(label, { n: i + 1 }),
      disabled: by < 0 ? i === 0 : i === st.slides.length - 1,
      onclick: () => {
        moveTo(i, i + by);
        const btn = list.children[i + by]?.querySelector(`.move-${by < 0 ? 'up' : 'down'}`);
        (btn && !btn.disabled ? btn : list.children[i + by]?.querySelector('.slide-pick'))?.focus();
      } }, symbol);
  }

  // Alt+arrow on a slide moves it, the focus going with it.
  function pickKey(e, i) {
    const by = { ArrowUp: -1, ArrowDown: 1 }[e.key];
    if (!e.altKey || !by) return;
    e.preventDefault();
    moveTo(i, i + by);
    list.children[Math.max(0, Math.min(st.slides.length - 1, i + by))]?.querySelector('.slide-pick')?.focus();
  }

  function renderList() {
    clear(list);
    st.slides.forEach((s, i) => {
      list.append(h('li', { class: 'slide-item' + (i === st.selected ? ' selected' : '') },
        h('span', { class: 'slide-drag', title: t('editor.drag'), 'aria-hidden': 'true' }, '⠿'),
        h('button', { class: 'slide-pick', 'aria-current': i === st.selected ? 'true' : null, 'aria-keyshortcuts': 'Alt+ArrowUp Alt+ArrowDown',
          title: t('editor.pick_hint'), onclick: () => { st.selected = i; renderList(); renderFields(); }, onkeydown: (e) => pickKey(e, i) },
          h('span', { class: 'slide-no' }, String(i + 1)), h('span', { class: 'slide-kind' }, t(`editor.kind_${s.kind}`)),
          h('span', { class: 'slide-sum' }, summary(s))),
        moveButton(i, -1, 'editor.move_up', '↑'),
        moveButton(i, 1, 'editor.move_down', '↓'),
        h('button', { class: 'icon slide-duplicate', title: t('editor.duplicate_slide', { n: i + 1 }), 'aria-label': t('editor.duplicate_slide', { n: i + 1 }), onclick: () => duplicateSlide(i) }, h('span', { class: 'icon-copy', 'aria-hidden': 'true' })),
        h('button', { class: 'icon danger slide-delete', title: t('editor.delete_slide', { n: i + 1 }), 'aria-label': t('editor.delete_slide', { n: i + 1 }), onclick: () => remove(i) }, '✕')));
    });
    if (st.slides.length === 0) list.append(h('li', { class: 'muted empty' }, t('editor.no_slides')));
  }

  // Dragging a slide by its handle reorders (SortableJS; its own pointer
  // handling rather than the browser's drag and drop, so touch screens and
  // mice behave alike). The list is drawn afresh from st after each drop.
  loadSortable().then((Sortable) => {
    Sortable.create(list, {
      handle: '.slide-drag', draggable: '.slide-item', animation: 150, forceFallback: true,
      onEnd: (e) => moveTo(e.oldIndex, e.newIndex),
    });
  }, () => { /* no drag; the buttons still reorder */ });

  function input(slide, name, label, tag = 'input', extra = {}) {
    const el = h(tag, { name, id: `slide-${name}`, ...extra });
    el.value = slide[name] || '';
    el.addEventListener('input', () => {
      slide[name] = el.value;
      changed();
      const li = list.children[st.selected];
      if (li) li.querySelector('.slide-sum').textContent = summary(slide);
      refreshPreview();
    });
    return h('label', {}, label, el);
  }

  // usePicture puts a picture (uploaded or picked) on the slide.
  function usePicture(slide, m) {
    srcs.set(m.id, m.url);
    slide.media_id = m.id;
    if (slide.kind === 'text' && !slide.layout) slide.layout = 'beside';
    delete slide.src;
    changed();
    renderList();
    renderFields();
  }

  function uploader(slide, optional = false) {
    const file = h('input', { type: 'file', id: 'slide-file', accept: 'image/png,image/jpeg,image/gif,image/webp' });
    const bar = h('progress', { id: 'upload-progress', max: '1', value: '0', hidden: true });
    const note = h('span', { class: 'muted', id: 'upload-status', role: 'status' });
    file.addEventListener('change', async () => {
      const f = file.files[0];
      if (!f) return;
      bar.hidden = false;
      bar.value = 0;
      note.textContent = t('editor.uploading', { name: f.name });
      try {
        const m = await ctx.client.request('POST', '/api/v1/media', {
          body: f, contentType: f.type || 'application/octet-stream', idempotencyKey: true,
          onProgress: (p) => { bar.value = p; },
        });
        usePicture(slide, m);
      } catch (err) {
        note.textContent = errorText(err);
      } finally {
        bar.hidden = true;
      }
    });
    const label = slide.media_id ? t('editor.picture_replace') : optional ? t('editor.picture_add_optional') : t('editor.picture_choose');
    const library = h('button', { type: 'button', id: 'open-library', onclick: async () => {
      const m = await openLibrary(ctx.client, pictures);
      if (m) usePicture(slide, m);
    } }, t('editor.library_open'));
    return h('div', { class: 'uploader' }, h('label', {}, label, file), h('div', { class: 'row' }, library, note), bar);
  }

  // pictureFields lets a text slide have a picture and say where it goes.
  function pictureFields(slide) {
    const out = [uploader(slide, true)];
    if (slide.media_id) {
      const layout = h('select', { name: 'layout', id: 'slide-layout' },
        LAYOUTS.map((v) => h('option', { value: v, selected: (slide.layout || 'beside') === v }, t(`editor.layout_${v}`))));
      layout.addEventListener('change', () => { slide.layout = layout.value; changed(); refreshPreview(0); });
      out.push(h('div', { class: 'row' }, h('label', {}, t('editor.layout'), layout),
        h('button', { id: 'remove-picture', class: 'link', onclick: () => {
          delete slide.media_id; delete slide.layout; delete slide.src;
          changed(); renderFields();
        } }, t('editor.picture_remove'))));
    }
    return out;
  }

  function renderFields() {
    clear(fields);
    const slide = st.slides[st.selected];
    if (!slide) {
      clear(preview);
      return;
    }
    if (slide.kind === 'text') {
      fields.append(input(slide, 'title', t('editor.field_title')),
        input(slide, 'body', t('editor.field_body'), 'textarea', { rows: 8 }),
        ...pictureFields(slide));
    } else if (slide.kind === 'image') {
      fields.append(uploader(slide), input(slide, 'caption', t('editor.field_caption')));
    } else if (slide.kind === 'link') {
      fields.append(input(slide, 'title', t('editor.field_title')), input(slide, 'url', t('editor.field_url'), 'input', { type: 'url' }));
    }
    fields.append(input(slide, 'notes', t('editor.field_notes'), 'textarea', { rows: 3 }));
    refreshPreview(0);
  }

  // The preview asks the server to render the slide: the same rendering
  // the board gets, so what the teacher sees is what the class sees.
  let timer = null;
  let seq = 0;
  function refreshPreview(delay = 300) {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const slide = st.slides[st.selected];
      if (!slide) return;
      const mine = ++seq;
      if (unfinished(slide)) {
        clear(preview).append(h('div', { class: 'lesson-preview-empty muted' }, t('editor.preview_fill')));
        return;
      }
      let node;
      try {
        const rendered = await ctx.client.request('POST', '/api/v1/lessons/preview', { body: forAPI(slide) });
        node = renderSlide(withSrc(rendered), { pictures });
      } catch (err) {
        node = h('div', { class: 'lesson-preview-empty muted' }, err.status === 400 ? t('editor.preview_fill') : errorText(err));
      }
      if (mine === seq) clear(preview).append(node);
    }, delay);
  }

  function showConflict(current) {
    clear(conflict).append(
      h('p', {}, h('strong', {}, t('editor.conflict_title')), ' ',
        t(current.slides.length === 1 ? 'editor.conflict_detail_one' : 'editor.conflict_detail', { title: current.title, n: current.slides.length })),
      h('div', { class: 'row' },
        h('button', { id: 'conflict-reload', onclick: () => {
          Object.assign(st, { title: current.title, slides: current.slides, revision: current.revision, selected: 0 });
          remember(current.slides);
          title.value = st.title;
          retitle();
          conflict.hidden = true;
          saver.resolved(false, current.revision);
          status.textContent = t('editor.status_loaded_other');
          renderList();
          renderFields();
        } }, t('editor.conflict_load')),
        h('button', { id: 'conflict-overwrite', class: 'danger', onclick: () => {
          conflict.hidden = true;
          saver.resolved(true, current.revision);
        } }, t('editor.conflict_keep'))));
    conflict.hidden = false;
  }

  // Per-field reasons name slides like "slides[2].url": show them on top,
  // numbered as the teacher sees them.
  function showSlideErrors(err) {
    const lines = Object.entries(err.fields || {}).map(([f, why]) => {
      const m = f.match(/^slides\[(\d+)\]\.(\w+)$/);
      return m ? t('editor.error_slide_field', { n: Number(m[1]) + 1, field: fieldName(m[2]), why: reasonText(why) })
        : t('editor.error_field', { field: fieldName(f), why: reasonText(why) });
    });
    errorBox.textContent = [errorText(err), ...lines].join(' ');
  }
  save.addEventListener('click', async () => {
    save.disabled = true;
    try { await saver.save(); } finally { save.disabled = false; }
  });

  async function doExport() {
    if (!(await saver.save())) {
      status.textContent = t('editor.export_save_first');
      return;
    }
    exportButton.disabled = true;
    status.textContent = t('editor.export_preparing');
    try {
      const blob = await ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(st.id)}/export`, { raw: true });
      download(blob, `${(st.title || 'lesson').replace(/[\\/:*?"<>|]+/g, '-')}.classboard.zip`);
      status.textContent = t('editor.exported');
    } catch (err) {
      status.textContent = errorText(err);
    } finally {
      exportButton.disabled = false;
    }
  }
  exportButton.addEventListener('click', doExport);

  // Duplicating copies what is on screen into a new lesson (a POST like
  // any other: the server's checks and per-teacher limits apply) and opens
  // the copy; the original keeps saving as usual.
  duplicateButton.addEventListener('click', async () => {
    duplicateButton.disabled = true;
    try {
      const l = await copyLesson(ctx.client, { title: st.title, slides: st.slides.map(forAPI) });
      await saver.save();
      ctx.go(`#/lessons/${encodeURIComponent(l.id)}`);
    } catch (err) {
      showSlideErrors(err);
    } finally {
      duplicateButton.disabled = false;
    }
  });

  deleteButton.addEventListener('click', async () => {
    if (!st.id) {
      // Never saved: nothing on the server to delete.
      saver.discard();
      ctx.leaveGuard = null;
      ctx.go('#/lessons');
      return;
    }
    try {
      if (!(await deleteLesson(ctx.client, { id: st.id, title: st.title }))) return;
    } catch (err) {
      errorBox.textContent = errorText(err);
      return;
    }
    saver.discard();
    ctx.leaveGuard = null;
    ctx.go('#/lessons');
  });

  // Leaving the editor (another view, logging out) first saves what is
  // not saved yet; when that cannot be done, the teacher decides.
  ctx.leaveGuard = async (why) => {
    if (await saver.save()) {
      saver.stop();
      return true;
    }
    const sure = await ask({ id: 'leave', title: t('editor.leave_title'),
      body: [why === 'logout' ? t('editor.leave_logout') : t('editor.leave_kept')],
      confirm: why === 'logout' ? t('editor.leave_logout_confirm') : t('editor.leave_confirm'), cancel: t('editor.leave_stay'),
      danger: why === 'logout' });
    if (sure) saver.stop();
    return sure;
  };
  // Closing the tab or reloading cannot wait for a save: the browser asks.
  const onUnload = (e) => {
    if (!saver.pending() || saver.stopped) return;
    e.preventDefault();
    e.returnValue = '';
  };
  window.addEventListener('beforeunload', onUnload);
  ctx.onLeave(() => { saver.stop(); window.removeEventListener('beforeunload', onUnload); });

  renderList();
  renderFields();
  if (draft && server && draft.base !== server.revision) {
    // Work kept on this device, but the lesson was changed elsewhere since.
    st.revision = draft.base;
    saver.revision = draft.base;
    saver.version++;
    showConflict(server);
    saver.conflicted = true;
    showState('conflict');
  } else if (draft) {
    saver.restored(draft);
    status.textContent = t('editor.status_restored');
  } else if (st.id) {
    showState('saved');
  }
  return h('section', { class: 'card' }, h('p', {}, h('a', { href: '#/lessons' }, t('editor.back'))), form);
}
