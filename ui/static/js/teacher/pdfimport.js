// PDF import: each page of a PDF becomes a picture slide. The pages are
// drawn here, in the teacher's browser, with PDF.js (vendored under
// /static/vendor/pdfjs), so no PDF ever reaches the server; the pictures
// go up through the media API like any other upload.
import { t } from '../i18n.js';

// The server's limit on slides in a lesson (classboard.MaxSlides): a
// longer PDF is refused before anything is uploaded.
export const MAX_PAGES = 200;
// A page is drawn to fit a 1080p board exactly: sharp there, and below the
// upload limit (10 MB by default): a PNG keeps text and lines crisp (0.1 to
// 1 MB for such a page); a page whose PNG passes PNG_MAX is mostly photo
// and goes up as a JPEG, a fraction of the size and of the teacher's quota.
const BOARD_W = 1920;
const BOARD_H = 1080;
const PNG_MAX = 1.5 * 1024 * 1024;
// PDF.js holds the whole file in memory; a bigger PDF is refused before
// it is read.
const MAX_PDF_BYTES = 300 * 1024 * 1024;

export class ImportError extends Error {}

let pdfjsModule = null;

async function pdfjs() {
  if (!pdfjsModule) {
    pdfjsModule = await import('../../vendor/pdfjs/pdf.min.js');
    // A module worker from our own origin: allowed by the app's
    // Content-Security-Policy (worker-src falls back to script-src 'self').
    pdfjsModule.GlobalWorkerOptions.workerSrc = new URL('../../vendor/pdfjs/pdf.worker.min.js', import.meta.url).href;
  }
  return pdfjsModule;
}

// openPDF reads a PDF, or throws ImportError saying why it cannot be used.
// It returns the document and close(), which frees its worker.
export async function openPDF(file) {
  if (file.size > MAX_PDF_BYTES) throw new ImportError(t('lessons.pdf_too_large', { mb: MAX_PDF_BYTES >> 20 }));
  const lib = await pdfjs();
  // isEvalSupported: false keeps PDF.js from trying eval, which the app's
  // Content-Security-Policy forbids.
  const task = lib.getDocument({ data: new Uint8Array(await file.arrayBuffer()), isEvalSupported: false, useSystemFonts: true });
  const close = () => task.destroy();
  let doc;
  try {
    doc = await task.promise;
  } catch (err) {
    await close();
    throw new ImportError(t(err && err.name === 'PasswordException' ? 'lessons.pdf_password' : 'lessons.pdf_damaged'));
  }
  if (doc.numPages > MAX_PAGES || doc.numPages === 0) {
    const n = doc.numPages;
    await close();
    throw new ImportError(n === 0 ? t('lessons.pdf_no_pages') : t('lessons.pdf_too_many_pages', { n, max: MAX_PAGES }));
  }
  return { doc, close };
}

// renderPage draws one page on a white canvas fitting BOARD_W × BOARD_H
// and returns it as a PNG, or a JPEG when the PNG is large.
async function renderPage(doc, n) {
  const page = await doc.getPage(n);
  try {
    const base = page.getViewport({ scale: 1 });
    const scale = Math.min(BOARD_W / base.width, BOARD_H / base.height);
    const viewport = page.getViewport({ scale });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(viewport.width);
    canvas.height = Math.round(viewport.height);
    const c2d = canvas.getContext('2d');
    c2d.fillStyle = '#fff';
    c2d.fillRect(0, 0, canvas.width, canvas.height);
    await page.render({ canvas, canvasContext: c2d, viewport, background: '#fff' }).promise;
    const encode = (type, quality) => new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new ImportError(t('lessons.pdf_page_failed')))), type, quality));
    const png = await encode('image/png');
    return png.size <= PNG_MAX ? png : await encode('image/jpeg', 0.9);
  } finally {
    page.cleanup();
  }
}

// ownMedia returns the ids of the teacher's pictures, so that cancelling
// removes only pictures this import added (an id is the hash of the
// bytes: a page imported before has the same id).
async function ownMedia(client) {
  const ids = new Set();
  let cursor = '';
  do {
    const page = await client.request('GET', `/api/v1/media?limit=200${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    for (const m of page.items) ids.add(m.id);
    cursor = page.next_cursor || '';
  } while (cursor);
  return ids;
}

// importPDF makes a lesson of a PDF's pages. onProgress(done, total)
// reports pages uploaded; aborting signal stops after the page in flight
// and removes every picture uploaded so far, as does any failure.
export async function importPDF(client, file, { onProgress = () => {}, signal } = {}) {
  const { doc, close } = await openPDF(file);
  const uploaded = [];
  let before = null;
  try {
    before = await ownMedia(client);
    const total = doc.numPages;
    onProgress(0, total);
    // The next page is drawn while this one uploads.
    let next = renderPage(doc, 1);
    try {
      for (let n = 1; n <= total; n++) {
        const picture = await next;
        signal?.throwIfAborted();
        next = n < total ? renderPage(doc, n + 1) : null;
        const m = await client.request('POST', '/api/v1/media', { body: picture, contentType: picture.type, idempotencyKey: true, retry: true });
        uploaded.push(m.id);
        onProgress(n, total);
      }
    } finally {
      await next?.catch(() => {}); // a page drawn for nothing after a cancel
    }
    signal?.throwIfAborted();
    const title = (file.name.replace(/\.pdf$/i, '').trim() || t('lessons.pdf_untitled')).slice(0, 200);
    return await client.request('POST', '/api/v1/lessons', {
      body: { title, slides: uploaded.map((id) => ({ kind: 'image', media_id: id })) },
      idempotencyKey: true, retry: true,
    });
  } catch (err) {
    await removeUploads(client, uploaded, before);
    throw err;
  } finally {
    await close();
  }
}

async function removeUploads(client, ids, before) {
  if (!before) return;
  for (const id of new Set(ids)) {
    if (before.has(id)) continue;
    try {
      await client.request('DELETE', `/api/v1/media/${encodeURIComponent(id)}`, { retry: false });
    } catch { /* a picture left over only uses quota; the teacher sees it in the media list */ }
  }
}
