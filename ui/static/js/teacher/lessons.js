// The teacher's lessons: the list, and routes to the editor.
import { h, clear } from '../dom.js';
import { editorView } from './editor.js';

const ORDERS = [['updated_at', 'Recently changed'], ['title', 'Title']];

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

async function listView(ctx) {
  const list = h('ul', { class: 'lesson-list', id: 'lesson-list' });
  const more = h('button', { class: 'more', hidden: true }, 'Show more');
  const order = h('select', { id: 'lesson-order', 'aria-label': 'Order' },
    ORDERS.map(([v, label]) => h('option', { value: v }, label)));
  let cursor = '';

  async function load(reset) {
    if (reset) { clear(list); cursor = ''; }
    const q = `?limit=50&order=${encodeURIComponent(order.value)}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`;
    const page = await ctx.client.request('GET', '/api/v1/lessons' + q);
    for (const l of page.items) {
      list.append(h('li', {},
        h('a', { href: `#/lessons/${encodeURIComponent(l.id)}`, class: 'lesson-link' },
          h('span', { class: 'lesson-name' }, l.title),
          h('span', { class: 'muted' }, `${l.slide_count} slide${l.slide_count === 1 ? '' : 's'} · changed ${when(l.updated_at)}`))));
    }
    if (reset && page.items.length === 0) list.append(h('li', { class: 'muted empty' }, 'No lessons yet. Make your first one.'));
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
  }
  order.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  await load(true);
  return h('section', { class: 'card' },
    h('div', { class: 'row' },
      h('h1', {}, 'Lessons'), h('span', { class: 'spacer' }), order,
      h('a', { class: 'button primary-link', href: '#/lessons/new', id: 'new-lesson' }, 'New lesson')),
    list, more);
}

function homeSection() {
  return h('p', {}, h('a', { href: '#/lessons', id: 'home-lessons' }, 'Your lessons'), ' — prepare what the board shows.');
}

// register adds the lesson routes, the nav item and a line on the home page.
export function register(ctx) {
  ctx.addRoute(/^#\/lessons$/, listView);
  // Routes added later are tried first: "new" before the id pattern.
  ctx.addRoute(/^#\/lessons\/([A-Za-z0-9_-]+)$/, (c, m) => editorView(c, m[1]));
  ctx.addRoute(/^#\/lessons\/new$/, (c) => editorView(c, null));
  (ctx.navItems = ctx.navItems || []).push({ href: '#/lessons', label: 'Lessons' });
  (ctx.homeSections = ctx.homeSections || []).push(homeSection);
}
