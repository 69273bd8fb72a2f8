// The picture library: the teacher's uploaded pictures, newest first, a
// page at a time, in a modal dialog. Pick one for the slide being edited,
// or delete one; deleting a picture that lessons use says how many, since
// their slides then show a placeholder (the server counts the lessons
// using each picture without reading them: docs/api.md, Media).
// @ts-check
import { h, clear } from '../dom.js';
import { t, errorText } from '../i18n.js';
import { ask } from './dialog.js';

const PAGE = 24;

/** @param {number} bytes */
function mib(bytes) {
  // A few small pictures are not "0.0 MiB".
  const m = Math.max(bytes / (1 << 20), bytes > 0 ? 0.1 : 0);
  return m.toFixed(m < 10 ? 1 : 0);
}

/**
 * deleteWarning says what deleting a picture does to the lessons using it.
 * @param {{ lessons?: number }} m
 */
function deleteWarning(m) {
  if (m.lessons === undefined) return t('editor.library_delete_unknown');
  if (m.lessons === 0) return t('editor.library_delete_unused');
  return t(m.lessons === 1 ? 'editor.library_delete_used_one' : 'editor.library_delete_used', { n: m.lessons });
}

/**
 * openLibrary shows the library and resolves to the picked picture
 * ({id, url}), or null when the teacher closes it. pictures loads the
 * thumbnails through the API client (failing over like every call).
 * @param {import('../client.js').Client} client
 * @param {import('../pictures.js').Pictures} pictures
 * @returns {Promise<{ id: string, url: string } | null>}
 */
export function openLibrary(client, pictures) {
  return new Promise((resolve) => {
    const grid = h('ul', { class: 'library-grid', id: 'library-grid' });
    const status = h('p', { class: 'muted', id: 'library-status', role: 'status' });
    const more = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', id: 'library-more', hidden: true }, t('editor.library_more')));
    const close = h('button', { type: 'button', id: 'library-close' }, t('editor.library_close'));
    const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'library', id: 'library', 'aria-labelledby': 'library-title' },
      h('div', { class: 'row' }, h('h2', { id: 'library-title' }, t('editor.library_title')), h('span', { class: 'spacer' }), close),
      status, grid, more));
    /** @type {{ id: string, url: string } | null} */
    let picked = null;
    let cursor = '';

    /** @param {any} m a media item */
    function tile(m) {
      const img = h('img', { alt: '', loading: 'lazy' });
      pictures.load({ kind: 'image', media_id: m.id, src: m.url }).then((url) => { img.setAttribute('src', url); }, () => {
        img.replaceWith(h('span', { class: 'library-missing muted' }, t('editor.library_unavailable')));
      });
      const used = m.lessons === undefined ? '' : m.lessons === 0 ? t('editor.library_unused')
        : t(m.lessons === 1 ? 'editor.library_used_one' : 'editor.library_used', { n: m.lessons });
      const li = h('li', { class: 'library-item', dataset: { id: m.id } },
        h('button', { type: 'button', class: 'library-pick', 'aria-label': t('editor.library_pick_label', { n: `${m.width}×${m.height}` }),
          onclick: () => { picked = { id: m.id, url: m.url }; dlg.close(); } }, img),
        h('div', { class: 'library-meta' },
          h('span', { class: 'muted' }, `${m.width}×${m.height}`, used ? ` · ${used}` : ''),
          h('button', { type: 'button', class: 'link danger library-delete', 'aria-label': t('editor.library_delete_label'),
            onclick: () => remove(m, li) }, t('editor.library_delete'))));
      return li;
    }

    /**
     * @param {any} m
     * @param {HTMLElement} li
     */
    async function remove(m, li) {
      const sure = await ask({ id: 'picture-delete', title: t('editor.library_delete_title'), body: [deleteWarning(m)],
        confirm: t('editor.library_delete_confirm'), danger: true });
      if (!sure) return;
      try {
        await client.request('DELETE', `/api/v1/media/${encodeURIComponent(m.id)}`);
        li.remove();
        status.textContent = t('editor.library_deleted');
      } catch (err) {
        status.textContent = errorText(err);
      }
    }

    async function load() {
      more.disabled = true;
      try {
        const page = await client.request('GET', `/api/v1/media?limit=${PAGE}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
        if (!cursor && page.items.length === 0) grid.append(h('li', { class: 'muted empty' }, t('editor.library_empty')));
        for (const m of page.items) grid.append(tile(m));
        status.textContent = t('editor.library_usage', { used: mib(page.used), quota: mib(page.quota) });
        cursor = page.next_cursor || '';
        more.hidden = !cursor;
      } catch (err) {
        status.textContent = errorText(err);
      } finally {
        more.disabled = false;
      }
    }
    more.addEventListener('click', load);
    close.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); clear(grid); resolve(picked); });
    document.body.append(dlg);
    dlg.showModal();
    load();
  });
}
