// The lesson editor: title, slides (add, reorder, delete), picture upload
// with progress (a text slide may have a picture too, beside or above its
// text), speaker notes, a preview rendered by the server exactly as the
// board renders it, export as one file, and a clear choice when a save
// conflicts with another edit.
import { h, clear, showError } from '../dom.js';
import { renderSlide, FIT_EVENT } from '../slide.js';
import { Pictures } from '../pictures.js';
import { t } from '../i18n.js';

const KINDS = { text: 'Text', image: 'Picture', link: 'Link' };
const FIELDS = {
  text: ['title', 'body', 'media_id', 'layout', 'notes'],
  image: ['media_id', 'caption', 'notes'],
  link: ['title', 'url', 'notes'],
};
const LAYOUTS = [['beside', 'Picture beside the text'], ['below', 'Picture above the text']];

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
// its kind (lesson.go's Slide.validate), so the preview does not send a
// request bound to fail while a new slide is being filled in.
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
  if (slide.kind === 'image') return slide.caption || (slide.media_id ? 'Picture' : 'No picture yet');
  return slide.title || (slide.body || '').split('\n')[0] || 'Empty';
}

function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

export async function editorView(ctx, id) {
  const st = { id, revision: 0, title: '', slides: [], selected: 0, dirty: false };
  const srcs = new Map(); // media id -> signed URL path, from the server
  const remember = (slides) => { for (const s of slides) if (s.src) srcs.set(s.media_id, s.src); };
  if (id) {
    const l = await ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(id)}`);
    Object.assign(st, { title: l.title, slides: l.slides, revision: l.revision });
    remember(l.slides);
  }
  // Pictures load through the client, failing over like every API call.
  const pictures = new Pictures(ctx.client);
  const withSrc = (slide) => (slide.src || !slide.media_id ? slide : { ...slide, src: srcs.get(slide.media_id) });

  const title = h('input', { id: 'lesson-title', name: 'title', value: st.title, placeholder: 'Lesson title', 'aria-label': 'Lesson title' });
  const status = h('span', { class: 'muted', id: 'save-status', role: 'status' });
  const save = h('button', { class: 'save', id: 'save-lesson' }, 'Save');
  const exportButton = h('button', { id: 'export-lesson', title: 'Download this lesson as one file, to keep or to give to a colleague' }, 'Export');
  const errorBox = h('div', { class: 'form-error', role: 'alert' });
  const conflict = h('div', { class: 'conflict', id: 'conflict', hidden: true });
  const list = h('ol', { class: 'slide-list', id: 'slide-list' });
  const fields = h('div', { class: 'slide-fields', id: 'slide-fields' });
  const preview = h('div', { class: 'lesson-preview', id: 'preview' });
  // The preview is fitted as the board fits it: a slide whose text does
  // not fit at the smallest readable size is cut off on the board too.
  const tooMuch = h('p', { id: 'too-much-text', class: 'form-error', role: 'status', hidden: true }, t('editor.too_much_text'));
  preview.addEventListener(FIT_EVENT, (e) => { tooMuch.hidden = e.detail.fits; });
  new MutationObserver(() => { if (!preview.querySelector('.slide')) tooMuch.hidden = true; }).observe(preview, { childList: true });
  const form = h('div', { class: 'editor' },
    h('div', { class: 'editor-head' }, title, save, exportButton, status),
    errorBox, conflict,
    h('div', { class: 'editor-main' },
      h('div', { class: 'editor-slides' }, list,
        h('div', { class: 'add-slide row' }, 'Add:',
          Object.entries(KINDS).map(([k, label]) => h('button', { id: `add-${k}`, onclick: () => add(k) }, `+ ${label}`)))),
      h('div', { class: 'editor-slide' }, fields, h('h2', {}, 'Preview'), preview, tooMuch)));

  function changed() {
    st.dirty = true;
    status.textContent = 'Unsaved changes';
  }
  title.addEventListener('input', () => { st.title = title.value; changed(); });

  function add(kind) {
    st.slides.push({ kind });
    st.selected = st.slides.length - 1;
    changed();
    renderList();
    renderFields();
  }
  function move(i, by) {
    const j = i + by;
    if (j < 0 || j >= st.slides.length) return;
    [st.slides[i], st.slides[j]] = [st.slides[j], st.slides[i]];
    if (st.selected === i) st.selected = j;
    else if (st.selected === j) st.selected = i;
    changed();
    renderList();
  }
  function remove(i) {
    st.slides.splice(i, 1);
    st.selected = Math.min(st.selected, st.slides.length - 1);
    changed();
    renderList();
    renderFields();
  }

  function renderList() {
    clear(list);
    st.slides.forEach((s, i) => {
      list.append(h('li', { class: 'slide-item' + (i === st.selected ? ' selected' : '') },
        h('button', { class: 'slide-pick', 'aria-current': i === st.selected ? 'true' : null, onclick: () => { st.selected = i; renderList(); renderFields(); } },
          h('span', { class: 'slide-no' }, String(i + 1)), h('span', { class: 'slide-kind' }, KINDS[s.kind] || s.kind),
          h('span', { class: 'slide-sum' }, summary(s))),
        h('button', { class: 'icon', title: 'Move up', 'aria-label': `Move slide ${i + 1} up`, disabled: i === 0, onclick: () => move(i, -1) }, '↑'),
        h('button', { class: 'icon', title: 'Move down', 'aria-label': `Move slide ${i + 1} down`, disabled: i === st.slides.length - 1, onclick: () => move(i, 1) }, '↓'),
        h('button', { class: 'icon danger', title: 'Delete slide', 'aria-label': `Delete slide ${i + 1}`, onclick: () => remove(i) }, '✕')));
    });
    if (st.slides.length === 0) list.append(h('li', { class: 'muted empty' }, 'No slides yet: add one below.'));
  }

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

  function uploader(slide, optional = false) {
    const file = h('input', { type: 'file', id: 'slide-file', accept: 'image/png,image/jpeg,image/gif,image/webp' });
    const bar = h('progress', { id: 'upload-progress', max: '1', value: '0', hidden: true });
    const note = h('span', { class: 'muted', id: 'upload-status' });
    file.addEventListener('change', async () => {
      const f = file.files[0];
      if (!f) return;
      bar.hidden = false;
      bar.value = 0;
      note.textContent = `Uploading ${f.name}…`;
      try {
        const m = await ctx.client.request('POST', '/api/v1/media', {
          body: f, contentType: f.type || 'application/octet-stream', idempotencyKey: true,
          onProgress: (p) => { bar.value = p; },
        });
        srcs.set(m.id, m.url);
        slide.media_id = m.id;
        if (slide.kind === 'text' && !slide.layout) slide.layout = 'beside';
        delete slide.src;
        note.textContent = 'Uploaded.';
        changed();
        renderList();
        renderFields();
      } catch (err) {
        note.textContent = err.message;
      } finally {
        bar.hidden = true;
      }
    });
    const label = slide.media_id ? 'Replace the picture' : optional ? 'Add a picture (optional)' : 'Choose a picture';
    return h('div', { class: 'uploader' }, h('label', {}, label, file), bar, note);
  }

  // pictureFields lets a text slide have a picture and say where it goes.
  function pictureFields(slide) {
    const out = [uploader(slide, true)];
    if (slide.media_id) {
      const layout = h('select', { name: 'layout', id: 'slide-layout' },
        LAYOUTS.map(([v, label]) => h('option', { value: v, selected: (slide.layout || 'beside') === v }, label)));
      layout.addEventListener('change', () => { slide.layout = layout.value; changed(); refreshPreview(0); });
      out.push(h('div', { class: 'row' }, h('label', {}, 'Layout', layout),
        h('button', { id: 'remove-picture', class: 'link', onclick: () => {
          delete slide.media_id; delete slide.layout; delete slide.src;
          changed(); renderFields();
        } }, 'Remove the picture')));
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
      fields.append(input(slide, 'title', 'Title'),
        input(slide, 'body', 'Text (blank line: new paragraph; *emphasis*; lines starting with - make a list; [words](https://…) make a link, and a link on a line of its own gets a QR code on the board)', 'textarea', { rows: 8 }),
        ...pictureFields(slide));
    } else if (slide.kind === 'image') {
      fields.append(uploader(slide), input(slide, 'caption', 'Caption (optional)'));
    } else if (slide.kind === 'link') {
      fields.append(input(slide, 'title', 'Title'), input(slide, 'url', 'Address (https://…)', 'input', { type: 'url' }));
    }
    fields.append(input(slide, 'notes', 'Speaker notes (only you see them, while presenting)', 'textarea', { rows: 3 }));
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
        clear(preview).append(h('div', { class: 'lesson-preview-empty muted' }, 'Fill in the slide to see it here.'));
        return;
      }
      let node;
      try {
        const rendered = await ctx.client.request('POST', '/api/v1/lessons/preview', { body: forAPI(slide) });
        node = renderSlide(withSrc(rendered), { pictures });
      } catch (err) {
        node = h('div', { class: 'lesson-preview-empty muted' }, err.status === 400 ? 'Fill in the slide to see it here.' : err.message);
      }
      if (mine === seq) clear(preview).append(node);
    }, delay);
  }

  function showConflict(current) {
    clear(conflict).append(
      h('p', {}, h('strong', {}, 'This lesson was changed somewhere else '), `(now "${current.title}", ${current.slides.length} slides) since you opened it.`),
      h('div', { class: 'row' },
        h('button', { id: 'conflict-reload', onclick: () => {
          Object.assign(st, { title: current.title, slides: current.slides, revision: current.revision, selected: 0, dirty: false });
          remember(current.slides);
          title.value = st.title;
          conflict.hidden = true;
          status.textContent = 'Loaded the other version.';
          renderList();
          renderFields();
        } }, 'Load that version (lose my changes)'),
        h('button', { id: 'conflict-overwrite', class: 'danger', onclick: () => {
          st.revision = current.revision;
          conflict.hidden = true;
          doSave();
        } }, 'Keep my version (overwrite theirs)')));
    conflict.hidden = false;
  }

  async function doSave() {
    const body = { title: st.title.trim(), slides: st.slides.map(forAPI) };
    save.disabled = true;
    status.textContent = 'Saving…';
    showError(form, null);
    try {
      const l = st.id
        ? await ctx.client.request('PUT', `/api/v1/lessons/${encodeURIComponent(st.id)}`, { body, headers: { 'If-Match': String(st.revision) } })
        : await ctx.client.request('POST', '/api/v1/lessons', { body, idempotencyKey: true });
      st.id = l.id;
      st.revision = l.revision;
      st.dirty = false;
      remember(l.slides);
      history.replaceState(null, '', `#/lessons/${encodeURIComponent(l.id)}`);
      status.textContent = 'Saved.';
    } catch (err) {
      status.textContent = '';
      if (err.code === 'revision_mismatch' && err.current) {
        // A retry after a failover whose first attempt went through: the
        // server has exactly what we sent.
        if (same({ title: err.current.title, slides: err.current.slides.map(forAPI) }, body)) {
          st.revision = err.current.revision;
          st.dirty = false;
          status.textContent = 'Saved.';
        } else {
          showConflict(err.current);
        }
      } else {
        showSlideErrors(err);
      }
    } finally {
      save.disabled = false;
    }
  }

  // Per-field reasons name slides like "slides[2].url": show them on top,
  // numbered as the teacher sees them.
  function showSlideErrors(err) {
    const lines = Object.entries(err.fields || {}).map(([f, why]) => {
      const m = f.match(/^slides\[(\d+)\]\.(\w+)$/);
      return m ? `Slide ${Number(m[1]) + 1}, ${m[2].replace('_', ' ')}: ${why}.` : `${f.replace('_', ' ')}: ${why}.`;
    });
    errorBox.textContent = [err.message, ...lines].join(' ');
  }
  save.addEventListener('click', doSave);

  async function doExport() {
    if (!st.id || st.dirty) {
      status.textContent = 'Save the lesson first, then export it.';
      return;
    }
    exportButton.disabled = true;
    status.textContent = 'Preparing the file…';
    try {
      const blob = await ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(st.id)}/export`, { raw: true });
      download(blob, `${(st.title || 'lesson').replace(/[\\/:*?"<>|]+/g, '-')}.classboard.zip`);
      status.textContent = 'Exported.';
    } catch (err) {
      status.textContent = err.message;
    } finally {
      exportButton.disabled = false;
    }
  }
  exportButton.addEventListener('click', doExport);

  renderList();
  renderFields();
  return h('section', { class: 'card' }, h('p', {}, h('a', { href: '#/lessons' }, '← All lessons')), form);
}
