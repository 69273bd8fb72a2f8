// What can be done to a whole lesson, from the list and from the editor:
// duplicate it, and delete it after a question that says what that does to
// the boards showing it.
// @ts-check
import { t } from '../i18n.js';
import { ask } from './dialog.js';

/** @typedef {import('../client.js').Client} Client */

/**
 * boardsShowing names the teacher's boards that show lesson id now; null
 * when there are too many boards to ask each (a school's shared account)
 * or no server answers.
 * @param {Client} client
 * @param {string} id
 * @returns {Promise<string[] | null>}
 */
async function boardsShowing(client, id) {
  try {
    const page = await client.request('GET', '/api/v1/boards?limit=20');
    if (page.next_cursor) return null;
    /** @type {{ board_id: string, name: string }[]} */
    const boards = page.items;
    const states = await Promise.all(boards.map((b) =>
      client.request('GET', `/api/v1/boards/${encodeURIComponent(b.board_id)}/state`).catch(() => null)));
    return boards.filter((b, i) => states[i] && states[i].lesson_id === id).map((b) => b.name);
  } catch {
    return null;
  }
}

/**
 * copyLesson stores a copy of a lesson's content as a new lesson, titled
 * "Copy of ...", and returns it. It is an ordinary create: the server's
 * checks and the teacher's limits apply.
 * @param {Client} client
 * @param {{ title: string, slides: object[] }} lesson
 */
export function copyLesson(client, lesson) {
  const title = t('editor.copy_title', { title: lesson.title.trim() || t('editor.untitled') }).slice(0, 200);
  return client.request('POST', '/api/v1/lessons', { body: { title, slides: lesson.slides }, idempotencyKey: true, retry: true });
}

/**
 * deleteLesson asks, naming the boards that show the lesson, and deletes
 * it; false when the teacher cancels. A lesson already gone counts as
 * deleted. Other errors are thrown.
 * @param {Client} client
 * @param {{ id: string, title: string }} lesson
 * @returns {Promise<boolean>}
 */
export async function deleteLesson(client, { id, title }) {
  const shown = await boardsShowing(client, id);
  const boards = shown === null ? t('editor.delete_boards_unknown')
    : shown.length === 0 ? t('editor.delete_boards_none')
      : t('editor.delete_boards', { boards: shown.join(', ') });
  const sure = await ask({ id: 'lesson-delete', title: t('editor.delete_title', { title: title.trim() || t('editor.untitled') }),
    body: [t('editor.delete_what'), boards, t('editor.delete_pictures')], confirm: t('editor.delete_confirm'), danger: true });
  if (!sure) return false;
  try {
    await client.request('DELETE', `/api/v1/lessons/${encodeURIComponent(id)}`, { retry: true });
  } catch (err) {
    if (/** @type {any} */ (err).status !== 404) throw err;
  }
  return true;
}
