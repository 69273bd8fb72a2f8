// The board's part of activities: while one is open it shows the join
// code, a QR code and the address to type; it draws the class's markers
// over the slide's picture, the poll's bars and the approved short
// answers, from the coalesced "activity" live messages.
// @ts-check
import { h, clear } from './dom.js';

/**
 * @param {HTMLElement} root the board's main element
 * @param {HTMLElement} stage where the slide is drawn
 * @param {() => Promise<any>} fetchActivity GET /boards/{id}/activity (it carries the QR code)
 */
export function activityOverlay(root, stage, fetchActivity) {
  const panel = h('aside', { id: 'activity', class: 'activity', hidden: true });
  const layer = h('div', { id: 'markers', class: 'marker-layer', hidden: true });
  root.append(layer, panel);
  /** @type {any} */
  let act = null;
  let qrFor = '';
  let qr = '';
  let joinURL = '';

  // The picture the markers belong on is the slide's; without one they go
  // on a plain field in the panel.
  function placeLayer() {
    const img = stage.querySelector('img');
    if (!act || act.kind !== 'markers' || !img) { layer.hidden = true; return null; }
    if (!img.complete) img.addEventListener('load', () => draw(), { once: true });
    const r = img.getBoundingClientRect();
    const rr = root.getBoundingClientRect();
    Object.assign(layer.style, { left: `${r.left - rr.left}px`, top: `${r.top - rr.top}px`, width: `${r.width}px`, height: `${r.height}px` });
    layer.hidden = false;
    return layer;
  }
  window.addEventListener('resize', () => { if (act) draw(); });

  /** @param {HTMLElement} into @param {{x: number, y: number}[]} markers */
  function dots(into, markers) {
    clear(into);
    // Positions through the CSSOM: the apps' CSP refuses style attributes.
    for (const m of markers) {
      const d = h('span', { class: 'dot' });
      d.style.left = `${m.x * 100}%`;
      d.style.top = `${m.y * 100}%`;
      into.append(d);
    }
  }

  /** @param {number} share 0..1 of the longest bar */
  function bar(share) {
    const b = h('span', { class: 'bar' });
    b.style.width = `${share * 100}%`;
    return b;
  }

  async function loadQR() {
    if (!act || !act.join_code || qrFor === act.join_code) return;
    qrFor = act.join_code;
    try {
      const full = await fetchActivity();
      if (full.join_code === qrFor) { qr = full.join_qr || ''; joinURL = full.join_url || ''; draw(); }
    } catch { qrFor = ''; /* the code alone still works */ }
  }

  function draw() {
    if (!act || act.status === 'none' || act.status === 'ended') {
      panel.hidden = true;
      layer.hidden = true;
      root.classList.remove('with-activity');
      return;
    }
    root.classList.add('with-activity');
    panel.hidden = false;
    panel.dataset.status = act.status;
    panel.dataset.kind = act.kind;
    const agg = { pupils: 0, answers: 0, ...act };
    const on = placeLayer(); // hidden unless markers go over the slide's picture
    clear(panel);
    if (act.join_code && act.status === 'open') {
      panel.append(h('div', { class: 'join' },
        h('p', { class: 'join-where' }, `${location.host}/join`),
        h('div', { id: 'join-code', class: 'join-code' }, act.join_code.slice(0, 3), ' ', act.join_code.slice(3)),
        qr ? h('img', { id: 'join-qr', class: 'join-qr', src: qr, alt: 'QR code: scan it to join', 'data-join-url': joinURL }) : null));
    } else {
      panel.append(h('p', { class: 'closed' }, act.status === 'revealed' ? 'Results' : 'Closed'));
    }
    panel.append(h('p', { id: 'activity-count', class: 'count', dataset: { pupils: agg.pupils, answers: agg.answers } },
      `${agg.answers} / ${agg.pupils} answered`));
    if (act.kind === 'poll' && !agg.counts) {
      // Results hidden until the teacher reveals them: the options only.
      panel.append(h('ul', { id: 'poll-options', class: 'approved' }, (act.options || []).map((/** @type {string} */ o, /** @type {number} */ i) =>
        h('li', {}, 'ABCDEF'[i], o ? ` ${o}` : ''))));
    } else if (act.kind === 'poll') {
      const counts = agg.counts || [];
      const most = Math.max(1, ...counts);
      panel.append(h('div', { id: 'bars', class: 'bars' }, (act.options || []).map((/** @type {string} */ o, /** @type {number} */ i) =>
        h('div', { class: 'bar-row', dataset: { count: counts[i] || 0 } },
          h('span', { class: 'bar-label' }, 'ABCDEF'[i], o ? ` ${o}` : ''),
          bar((counts[i] || 0) / most),
          h('span', { class: 'bar-n' }, String(counts[i] || 0))))));
    } else if (act.kind === 'answer') {
      panel.append(h('ul', { id: 'approved', class: 'approved' }, (agg.approved || []).map((/** @type {string} */ a) => h('li', {}, a))));
    } else if (act.kind === 'markers') {
      const markers = agg.markers || [];
      if (on) dots(on, markers);
      else {
        const field = h('div', { id: 'marker-field', class: 'marker-field' });
        dots(field, markers);
        panel.append(field);
      }
      layer.dataset.count = String(markers.length);
    }
    loadQR();
  }

  return {
    /** @param {any} a the activity of a live message */
    show(a) {
      if (act && a.join_code !== act.join_code) qr = '';
      act = a;
      draw();
    },
    // redraw puts the markers back on a slide drawn anew.
    redraw() { if (act) draw(); },
  };
}
