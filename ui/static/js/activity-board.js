// The board's part of activities: while one is open it shows the join
// code, a QR code and the address to type; it draws the class's markers
// over the slide's picture (as dots or a heat map), the poll's bars and the
// approved short answers (as a list or a word cloud), from the coalesced
// "activity" live messages.
// @ts-check
import { h, clear } from './dom.js';
import { t } from './i18n.js';

// The heat map's colours, from few markers to many: transparent blue,
// green, yellow, red.
const HEAT = [[0, 0, 255, 0], [0, 160, 255, 150], [0, 220, 90, 190], [255, 230, 0, 215], [255, 40, 0, 235]];

/**
 * heatMap draws markers as a heat map on a canvas of the element's size:
 * each marker adds a soft disc of intensity, and the summed intensity is
 * coloured from cool to hot, so where many pupils tapped glows.
 * @param {HTMLElement} into
 * @param {{x: number, y: number}[]} markers
 */
function heatMap(into, markers) {
  const w = Math.max(1, Math.round(into.clientWidth));
  const hgt = Math.max(1, Math.round(into.clientHeight));
  const canvas = /** @type {HTMLCanvasElement} */ (h('canvas', { class: 'heat', width: String(w), height: String(hgt) }));
  const g = canvas.getContext('2d');
  if (!g) return canvas;
  const r = Math.max(12, Math.min(w, hgt) / 10);
  for (const m of markers) {
    const grad = g.createRadialGradient(m.x * w, m.y * hgt, 0, m.x * w, m.y * hgt, r);
    grad.addColorStop(0, 'rgba(0,0,0,0.35)');
    grad.addColorStop(1, 'rgba(0,0,0,0)');
    g.fillStyle = grad;
    g.fillRect(m.x * w - r, m.y * hgt - r, 2 * r, 2 * r);
  }
  const img = g.getImageData(0, 0, w, hgt);
  const px = img.data;
  for (let i = 0; i < px.length; i += 4) {
    const a = px[i + 3] / 255; // summed intensity, 0..1
    if (a === 0) continue;
    const pos = Math.min(0.999, a * 1.4) * (HEAT.length - 1);
    const lo = HEAT[Math.floor(pos)];
    const hi = HEAT[Math.floor(pos) + 1];
    const f = pos - Math.floor(pos);
    for (let c = 0; c < 4; c++) px[i + c] = lo[c] + (hi[c] - lo[c]) * f;
  }
  g.putImageData(img, 0, 0);
  return canvas;
}

/**
 * wordCloud shows the approved answers, each once, bigger the more pupils
 * gave it (the same answer in other capitals or spacing counts as one).
 * @param {string[]} answers
 */
function wordCloud(answers) {
  /** @type {Map<string, {text: string, n: number}>} */
  const words = new Map();
  for (const a of answers) {
    const key = a.trim().toLowerCase().replace(/\s+/g, ' ');
    const w = words.get(key);
    if (w) w.n++;
    else words.set(key, { text: a.trim(), n: 1 });
  }
  const most = Math.max(1, ...[...words.values()].map((w) => w.n));
  // The most given in the middle, the rest around it.
  const sorted = [...words.values()].sort((a, b) => b.n - a.n);
  /** @type {{text: string, n: number}[]} */
  const ordered = [];
  sorted.forEach((w, i) => { if (i % 2) ordered.push(w); else ordered.unshift(w); });
  return h('ul', { id: 'cloud', class: 'cloud' }, ordered.map((w) => {
    const li = h('li', { dataset: { n: w.n } }, w.text);
    li.style.fontSize = `${2.6 + 5 * (w.n - 1) / Math.max(1, most - 1)}vmin`;
    return li;
  }));
}

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
    if (act.display === 'heatmap') {
      into.dataset.display = 'heatmap';
      into.append(heatMap(into, markers));
      return;
    }
    delete into.dataset.display;
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
        qr ? h('img', { id: 'join-qr', class: 'join-qr', src: qr, alt: t('activity.qr_alt'), 'data-join-url': joinURL }) : null));
    } else {
      panel.append(h('p', { class: 'closed' }, act.status === 'revealed' ? t('activity.results') : t('activity.closed')));
    }
    panel.append(h('p', { id: 'activity-count', class: 'count', dataset: { pupils: agg.pupils, answers: agg.answers } },
      t('activity.answered_of', { answers: agg.answers, pupils: agg.pupils })));
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
    } else if (act.kind === 'answer' && act.display === 'cloud') {
      panel.append(wordCloud(agg.approved || []));
    } else if (act.kind === 'answer') {
      panel.append(h('ul', { id: 'approved', class: 'approved' }, (agg.approved || []).map((/** @type {string} */ a) => h('li', {}, a))));
    } else if (act.kind === 'markers') {
      const markers = agg.markers || [];
      if (on) dots(on, markers);
      else {
        const field = h('div', { id: 'marker-field', class: 'marker-field' });
        panel.append(field); // in the page first: a heat map takes its size
        dots(field, markers);
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
