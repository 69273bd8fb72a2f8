// ask shows a modal question (a <dialog>: focus stays inside, Escape
// cancels, the page behind is inert) and resolves to true when the teacher
// picks the confirming choice. The confirming button says what happens
// ("Delete the lesson"), never just "OK".
// @ts-check
import { h } from '../dom.js';
import { t } from '../i18n.js';

/**
 * @param {{ title: string, body: (string | Node)[], confirm: string, cancel?: string, danger?: boolean, id?: string }} opts
 * @returns {Promise<boolean>}
 */
export function ask({ title, body, confirm, cancel = t('common.cancel'), danger = false, id = 'ask' }) {
  return new Promise((resolve) => {
    const no = h('button', { type: 'button', id: `${id}-cancel` }, cancel);
    const yes = h('button', { type: 'button', id: `${id}-confirm`, class: danger ? 'danger' : 'save' }, confirm);
    const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'ask', id, 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title` }, title),
      body.map((b) => (typeof b === 'string' ? h('p', {}, b) : b)),
      h('div', { class: 'row ask-choices' }, no, yes)));
    let answer = false;
    no.addEventListener('click', () => dlg.close());
    yes.addEventListener('click', () => { answer = true; dlg.close(); });
    dlg.addEventListener('close', () => { dlg.remove(); resolve(answer); });
    document.body.append(dlg);
    dlg.showModal();
    // The harmless choice has the focus: Enter by habit loses nothing.
    no.focus();
  });
}
