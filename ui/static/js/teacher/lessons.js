// The teacher's lessons: the list, import (PDF, PowerPoint, a lesson
// file), and routes to the editor.
import { h, clear } from '../dom.js';
import { t, formatDate, errorText } from '../i18n.js';
import { editorView } from './editor.js';
import { importPDF, ImportError } from './pdfimport.js';
import { copyLesson, deleteLesson } from './lessonactions.js';
import { dropDraft } from './saver.js';

const PPTX = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';

// importer is the "Import" control: a file picker, progress and cancel.
// A PDF is drawn page by page here; a .pptx or a lesson file goes to the
// server whole. Every way ends in the new lesson's editor.
function importer(ctx) {
  const file = h('input', { type: 'file', id: 'import-file', class: 'visually-hidden',
    accept: '.pdf,.pptx,.zip,application/pdf,application/zip,' + PPTX });
  const pick = h('label', { class: 'button', for: 'import-file', id: 'import-pick' }, t('lessons.import'));
  const status = h('span', { id: 'import-status', role: 'status' });
  const bar = h('progress', { id: 'import-progress', max: '1', value: '0' });
  const cancel = h('button', { id: 'import-cancel', type: 'button' }, t('common.cancel'));
  const panel = h('div', { class: 'import-panel', id: 'import-panel', hidden: true }, status, bar, cancel);
  let ctl = null;

  function show(text, { busy = false, value = null } = {}) {
    panel.hidden = false;
    status.textContent = text;
    bar.hidden = value === null;
    if (value !== null) bar.value = value;
    cancel.hidden = !busy;
  }
  cancel.addEventListener('click', () => {
    if (ctl) ctl.abort();
    show(t('lessons.import_cancelling'));
  });

  file.addEventListener('change', async () => {
    const f = file.files[0];
    file.value = '';
    if (!f || ctl) return;
    const name = f.name.toLowerCase();
    ctl = new AbortController();
    pick.classList.add('disabled');
    try {
      let lesson;
      if (name.endsWith('.pdf') || f.type === 'application/pdf') {
        show(t('lessons.import_reading', { name: f.name }), { busy: true });
        lesson = await importPDF(ctx.client, f, {
          signal: ctl.signal,
          onProgress: (done, total) => show(t('lessons.import_page', { n: Math.min(done + 1, total), total }), { busy: true, value: done / total }),
        });
      } else if (name.endsWith('.pptx') || name.endsWith('.zip')) {
        const pptx = name.endsWith('.pptx');
        show(t('lessons.import_uploading', { name: f.name }), { value: 0 });
        const title = pptx ? `?title=${encodeURIComponent(f.name.replace(/\.pptx$/i, '').slice(0, 200))}` : '';
        lesson = await ctx.client.request('POST', '/api/v1/lessons/import' + title, {
          body: f, contentType: pptx ? PPTX : 'application/zip', idempotencyKey: true,
          onProgress: (p) => show(p < 1 ? t('lessons.import_uploading', { name: f.name }) : t('lessons.import_reading_slides'), { value: p }),
        });
      } else {
        show(t('lessons.import_choose'));
        return;
      }
      show(t(lesson.slides.length === 1 ? 'lessons.imported_one' : 'lessons.imported', { n: lesson.slides.length }));
      ctx.go(`#/lessons/${encodeURIComponent(lesson.id)}`);
    } catch (err) {
      if (ctl.signal.aborted) show(t('lessons.import_cancelled'));
      else if (err instanceof ImportError) show(err.message);
      else show(t('lessons.import_failed', { why: errorText(err) }));
    } finally {
      ctl = null;
      pick.classList.remove('disabled');
    }
  });
  return { controls: [file, pick], panel };
}

const ORDERS = ['updated_at', 'title'];

async function listView(ctx) {
  const list = h('ul', { class: 'lesson-list', id: 'lesson-list' });
  const more = h('button', { class: 'more', hidden: true }, t('lessons.more'));
  const note = h('p', { class: 'muted', id: 'lessons-status', role: 'status' });
  const order = h('select', { id: 'lesson-order', 'aria-label': t('lessons.order') },
    ORDERS.map((v) => h('option', { value: v }, t(`lessons.order_${v}`))));
  let cursor = '';

  async function load(reset) {
    if (reset) { clear(list); cursor = ''; }
    const q = `?limit=50&order=${encodeURIComponent(order.value)}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`;
    const page = await ctx.client.request('GET', '/api/v1/lessons' + q);
    for (const l of page.items) list.append(row(l));
    if (reset && page.items.length === 0) list.append(h('li', { class: 'muted empty' }, t('lessons.none')));
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
  }
  // row is one lesson: open it, duplicate it (the copy opens) or delete it.
  function row(l) {
    const li = h('li', { class: 'lesson-row', dataset: { id: l.id } },
      h('a', { href: `#/lessons/${encodeURIComponent(l.id)}`, class: 'lesson-link' },
        h('span', { class: 'lesson-name' }, l.title),
        h('span', { class: 'muted' }, t(l.slide_count === 1 ? 'lessons.row_one' : 'lessons.row', { n: l.slide_count, when: formatDate(l.updated_at) }))),
      h('div', { class: 'lesson-actions' },
        h('button', { type: 'button', class: 'link lesson-duplicate', 'aria-label': t('lessons.duplicate_label', { title: l.title }), onclick: () => act(async () => {
          const full = await ctx.client.request('GET', `/api/v1/lessons/${encodeURIComponent(l.id)}`);
          const copy = await copyLesson(ctx.client, full);
          ctx.go(`#/lessons/${encodeURIComponent(copy.id)}`);
        }) }, t('editor.duplicate')),
        h('button', { type: 'button', class: 'link danger lesson-delete', 'aria-label': t('lessons.delete_label', { title: l.title }), onclick: () => act(async () => {
          if (!(await deleteLesson(ctx.client, l))) return;
          dropDraft(ctx.teacher.id, l.id);
          li.remove();
          note.textContent = t('lessons.deleted', { title: l.title });
        }) }, t('lessons.delete'))));
    return li;
  }
  async function act(fn) {
    note.textContent = '';
    try {
      await fn();
    } catch (err) {
      note.textContent = errorText(err);
    }
  }
  order.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  await load(true);
  const imp = importer(ctx);
  return h('section', { class: 'card' },
    h('div', { class: 'row' },
      h('h1', {}, t('lessons.title')), h('span', { class: 'spacer' }), order, imp.controls,
      h('a', { class: 'button primary-link', href: '#/lessons/new', id: 'new-lesson' }, t('lessons.new'))),
    imp.panel, note, list, more);
}

function homeSection() {
  return h('p', {}, h('a', { href: '#/lessons', id: 'home-lessons' }, t('lessons.home_link')), ' · ', t('lessons.home_text'));
}

// register adds the lesson routes, the nav item and a line on the home page.
export function register(ctx) {
  ctx.addRoute(/^#\/lessons$/, listView);
  // Routes added later are tried first: "new" before the id pattern.
  ctx.addRoute(/^#\/lessons\/([A-Za-z0-9_-]+)$/, (c, m) => editorView(c, m[1]));
  ctx.addRoute(/^#\/lessons\/new$/, (c) => editorView(c, null));
  (ctx.navItems = ctx.navItems || []).push({ href: '#/lessons', label: t('lessons.nav') });
  (ctx.homeSections = ctx.homeSections || []).push(homeSection);
}
