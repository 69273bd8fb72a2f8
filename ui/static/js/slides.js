// slideRenderer loads the lesson renderer (slide.js, from the lessons
// work) when it is there; until then slides show their title or caption,
// so steering and pairing keep working without it.
export async function slideRenderer() {
  try {
    const mod = await import('./slide.js');
    if (typeof mod.renderSlide === 'function') return mod.renderSlide;
  } catch { /* not there yet */ }
  return (slide) => {
    const el = document.createElement('div');
    el.className = 'slide-text';
    const t = document.createElement('h1');
    t.textContent = slide.title || slide.caption || slide.url || '';
    el.append(t);
    return el;
  };
}
