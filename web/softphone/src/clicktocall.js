// Click-to-call: tel: links and [data-callbridge-number] elements of the
// page dial through a softphone element.

/**
 * Parses a tel: URI (RFC 3966) into the dialable number; returns '' when the
 * href is not a tel: URI.
 */
export function telNumber(href) {
  if (typeof href !== 'string' || !/^tel:/i.test(href)) return '';
  let s = href.slice(4);
  const semi = s.indexOf(';'); // RFC 3966 §3: parameters (ext=, isub=, phone-context=) follow ';'
  if (semi >= 0) s = s.slice(0, semi);
  try { s = decodeURIComponent(s); } catch { /* keep raw */ }
  return s.trim();
}

/**
 * Binds click-to-call under root (a Document, Element or ShadowRoot) to the
 * given softphone element: tel: links and [data-callbridge-number] elements.
 * Returns a function that removes the binding.
 */
export function bindClickToCall(root = document, softphone = document.querySelector('callbridge-softphone')) {
  if (!softphone) throw new Error('bindClickToCall: no <callbridge-softphone> element');
  const target = (e) => {
    const path = e.composedPath ? e.composedPath() : [e.target];
    for (const n of path) {
      if (!(n instanceof Element)) continue;
      if (n.hasAttribute('data-callbridge-number')) return { el: n, number: n.getAttribute('data-callbridge-number') };
      if (n.tagName === 'A' && /^tel:/i.test(n.getAttribute('href') || '')) return { el: n, number: telNumber(n.getAttribute('href')) };
      if (n === root) break;
    }
    return null;
  };
  const place = (hit) => {
    const opts = {};
    const raw = hit.el.getAttribute('data-callbridge-metadata');
    if (raw) {
      try { opts.metadata = JSON.parse(raw); } catch { softphone._report('bad_metadata'); }
    }
    const from = hit.el.getAttribute('data-callbridge-from');
    if (from) opts.from = from;
    softphone.call(hit.number, opts).catch(() => { /* shown in the widget */ });
  };
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const hit = target(e);
    if (!hit) return;
    e.preventDefault();
    place(hit);
  };
  const onKey = (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    const hit = target(e);
    if (!hit || hit.el.tagName === 'A' || hit.el.tagName === 'BUTTON') return; // native activation fires click
    e.preventDefault();
    place(hit);
  };
  // Make non-link number elements reachable and announced as actions.
  const decorate = () => {
    const scope = root.querySelectorAll ? root : document;
    for (const n of scope.querySelectorAll('[data-callbridge-number]')) {
      if (n.tagName !== 'A' && n.tagName !== 'BUTTON') {
        if (!n.hasAttribute('tabindex')) n.setAttribute('tabindex', '0');
        if (!n.hasAttribute('role')) n.setAttribute('role', 'button');
      }
      if (!n.hasAttribute('aria-label') && !n.hasAttribute('title')) {
        n.setAttribute('title', softphone.t('ui.call_number', { number: n.getAttribute('data-callbridge-number') }));
      }
    }
  };
  decorate();
  root.addEventListener('click', onClick);
  root.addEventListener('keydown', onKey);
  return () => { root.removeEventListener('click', onClick); root.removeEventListener('keydown', onKey); };
}
