// logbucket log viewer: virtual scrolling over logs of any size, deep links (#L120, #L120-L180,
// and ?L=120-180, which survives sign-in redirects), an error panel, collapsible sections,
// server-side search. Plain JavaScript, no framework.
// Everything from the log arrives as HTML already escaped by the server; everything else
// (error texts, section names) is inserted with textContent, never as markup.
(function () {
  'use strict';
  // The sign-in hop (/_auth/login): carry the #L… of the link the reader opened through the
  // provider, which would drop it, by adding it to return_to (the last parameter of the link).
  const signIn = document.querySelector('a.next[data-keep-hash]');
  if (signIn) {
    location.replace(signIn.href + encodeURIComponent(location.hash));
    return;
  }
  const main = document.getElementById('viewer');
  if (!main) return;  // listing pages work without script

  const src = main.dataset.src;
  const logEl = document.getElementById('log');
  const statusEl = document.getElementById('status');
  const BLOCK = 256;           // lines per ?lines request
  const MAX_BLOCKS = 64;       // blocks kept in memory
  const MAX_PX = 8000000;      // below every browser's element height cap
  let lineHeight = 18;
  let total = 0;               // lines in the log
  let collapsed = [];          // [begin, end] of shut top-level sections, sorted
  let sections = [];
  let sectionAt = new Map();   // begin line → section
  let errors = [];
  let errorIndex = -1;
  let diffGaps = null;         // comparing with a green build: gap begin → end (same lines)
  let selection = null;        // {a, b}
  let current = 0;             // the line of the current error or search hit
  let hits = [];
  let hitIndex = -1;
  let hitMore = 0;             // line to continue the search from, 0 when complete
  let hitQuery = null;
  let hitTail = false;         // hits are the log's last matches (reached backwards from the first)
  let hitEarlier = false;      // …and more matches come before them
  const blocks = new Map();    // block number → array of HTML lines
  const pending = new Set();

  document.querySelectorAll('.js-only').forEach((e) => { e.hidden = false; });
  const first = document.getElementById('first');
  const spacer = document.createElement('div');
  spacer.className = 'spacer';
  const win = document.createElement('div');
  win.className = 'lines window';
  logEl.appendChild(spacer);
  logEl.appendChild(win);
  if (first) {
    // Seed the cache with the server-rendered first page. It stays on screen until the line
    // index arrives (a cold 300 MB log takes a second or more, longer over a remote store);
    // then the virtual window takes over.
    const seeded = [];
    first.querySelectorAll('.l .t').forEach((t) => seeded.push(t.innerHTML));
    for (let b = 0; b * BLOCK < seeded.length; b++) {
      const part = seeded.slice(b * BLOCK, (b + 1) * BLOCK);
      if (part.length === BLOCK) blocks.set(b, part);
    }
  }
  function leaveFirstPage() {
    if (first) first.remove();
    const nojs = logEl.querySelector('.nojs-more');
    if (nojs) nojs.remove();
  }

  function setStatus(text) { statusEl.textContent = text; }

  // ---- rows (visible lines, with shut sections folded) ↔ lines ----
  function rows() {
    let r = total;
    for (const [b, e] of collapsed) r -= e - b;
    return r;
  }
  function rowToLine(row) {
    let line = row + 1;
    for (const [b, e] of collapsed) {
      if (line > b) line += e - b; else break;
    }
    return line;
  }
  function lineToRow(line) {
    let row = line - 1;
    for (const [b, e] of collapsed) {
      if (line > e) row -= e - b;
      else if (line > b) return lineToRow(b);
      else break;
    }
    return row;
  }
  function viewRows() { return Math.max(1, Math.floor(logEl.clientHeight / lineHeight)); }
  function contentPx() { return rows() * lineHeight; }
  function scaled() { return contentPx() > MAX_PX; }
  function spacerPx() { return Math.min(contentPx(), MAX_PX); }
  function topRow() {
    if (!scaled()) return Math.floor(logEl.scrollTop / lineHeight);
    const maxScroll = spacerPx() - logEl.clientHeight;
    const frac = maxScroll > 0 ? logEl.scrollTop / maxScroll : 0;
    return Math.round(frac * Math.max(0, rows() - viewRows()));
  }
  function scrollToRow(row) {
    row = Math.max(0, Math.min(row, rows() - 1));
    if (!scaled()) {
      logEl.scrollTop = row * lineHeight;
    } else {
      const maxScroll = spacerPx() - logEl.clientHeight;
      const span = Math.max(1, rows() - viewRows());
      logEl.scrollTop = Math.round(Math.min(row, span) / span * maxScroll);
    }
    render();
  }
  function revealLine(line) {
    // Opens a shut section that hides the line, then centres the line (a third from the top).
    const shut = collapsed.find(([b, e]) => line > b && line <= e) ||
      (diffGaps && diffGaps.has(line) ? [line] : null);
    if (shut) setCollapsed(shut[0], false);
    scrollToRow(lineToRow(line) - Math.floor(viewRows() / 3));
  }

  // ---- fetching lines ----
  function fetchBlock(b) {
    if (pending.has(b)) return;
    pending.add(b);
    const from = b * BLOCK + 1;
    fetch(src + '?lines=' + from + '-' + (from + BLOCK - 1))
      .then((r) => r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)))
      .then((j) => {
        blocks.set(b, j.lines);
        if (blocks.size > MAX_BLOCKS) blocks.delete(blocks.keys().next().value);
        pending.delete(b);
        render();
      })
      .catch((e) => { pending.delete(b); setStatus('could not load lines: ' + e.message); });
  }
  function lineHtml(line) {
    const b = Math.floor((line - 1) / BLOCK);
    const block = blocks.get(b);
    if (!block) { fetchBlock(b); return null; }
    return block[(line - 1) % BLOCK];
  }

  // ---- rendering the window ----
  function render() {
    spacer.style.height = spacerPx() + 'px';
    const top = topRow();
    const count = viewRows() + 2;
    const parts = [];
    for (let r = top; r < Math.min(rows(), top + count); r++) {
      const line = rowToLine(r);
      const html = lineHtml(line);
      let cls = 'l';
      if (selection && line >= selection.a && line <= selection.b) cls += ' sel';
      if (line === current) cls += ' cur';
      const sec = diffGaps ? null : sectionAt.get(line);
      if (diffGaps && diffGaps.has(line)) {  // lines the green build has too, folded
        const n = diffGaps.get(line) - line + 1;
        parts.push('<div class="l gap" data-n="' + line + '"><button class="fold gap" data-line="' +
          line + '">⋯ ' + n.toLocaleString() + (n === 1 ? ' line' : ' lines') +
          ' as in the green build</button></div>');
        continue;
      }
      let toggle = '';
      if (sec) {
        const shut = collapsed.some(([b]) => b === line);
        cls += ' sec' + (sec.failed ? ' failed' : '');
        toggle = '<button class="fold" data-line="' + line + '" aria-expanded="' + !shut + '">' +
          (shut ? '▸' : '▾') + '</button>';
      }
      parts.push('<div class="' + cls + '" data-n="' + line + '">' + toggle +
        '<a class="n" href="#L' + line + '">' + line + '</a><span class="t">' +
        (html === null ? '<span class="loading">…</span>' : html) + '</span>' +
        (sec ? '<span class="badge">' + escapeHtml(sec.badge) + '</span>' : '') + '</div>');
    }
    win.innerHTML = parts.join('');
    win.style.transform = 'translateY(' + (scaled() ? logEl.scrollTop : top * lineHeight) + 'px)';
    highlightHit();
    showWhere(rowToLine(top));
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;',
      '"': '&quot;', "'": '&#39;' }[c]));
  }
  // "You are in: O2": the top-level section the top line belongs to, once scrolled past its
  // first line (its own row says it otherwise).
  const whereEl = document.getElementById('where');
  function showWhere(line) {
    let inside = null;
    for (const s of sections) {
      if (s.depth !== 0) continue;
      if (s.begin_line < line && line <= s.end_line) inside = s;
      if (s.begin_line > line) break;
    }
    whereEl.hidden = !inside;
    if (inside) whereEl.textContent = 'in ' + inside.name;
  }

  // ---- sections ----
  function setCollapsed(begin, shut) {
    collapsed = collapsed.filter(([b]) => b !== begin);
    if (diffGaps) diffGaps.delete(begin);
    if (shut) {
      const s = sectionAt.get(begin);
      if (s && s.end_line > s.begin_line) collapsed.push([s.begin_line, s.end_line]);
      collapsed.sort((x, y) => x[0] - y[0]);
    }
    render();
  }

  // ---- selection and deep links ----
  function parseHash() {
    const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(location.hash);
    if (!m) return null;
    const a = parseInt(m[1], 10);
    const b = m[2] ? parseInt(m[2], 10) : a;
    return { a: Math.min(a, b), b: Math.max(a, b) };
  }
  // ?L=120 and ?L=120-180 name the same lines as #L120 and #L120-L180 for the places that drop
  // a fragment: a sign-in proxy's redirects (mod_auth_openidc), some mail and chat clients.
  // Moved into the hash on arrival; "Copy link" and push's PR comments hand out this form.
  function queryToHash() {
    const params = new URLSearchParams(location.search);
    const m = /^(\d+)(?:-L?(\d+))?$/.exec(params.get('L') || '');
    if (!m || location.hash) return;
    params.delete('L');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') +
      '#L' + m[1] + (m[2] ? '-L' + m[2] : ''));
  }
  function shareableLink() {
    const sel = parseHash();
    const params = new URLSearchParams(location.search);
    params.delete('L');
    if (sel) params.set('L', sel.a === sel.b ? String(sel.a) : sel.a + '-' + sel.b);
    const q = params.toString();
    return location.origin + location.pathname + (q ? '?' + q : '');
  }
  function applyHash() {
    const sel = parseHash();
    if (!sel || !total) return;
    selection = sel;
    current = sel.a;
    revealLine(sel.a);
  }
  function setSelection(a, b) {
    selection = { a: Math.min(a, b), b: Math.max(a, b) };
    const hash = selection.a === selection.b ? '#L' + selection.a
      : '#L' + selection.a + '-L' + selection.b;
    history.replaceState(null, '', hash);
    render();
  }
  win.addEventListener('click', (ev) => {
    const fold = ev.target.closest('button.fold');
    if (fold) {
      const line = parseInt(fold.dataset.line, 10);
      setCollapsed(line, !fold.classList.contains('gap') && !collapsed.some(([b]) => b === line));
      return;
    }
    const num = ev.target.closest('a.n');
    if (!num) return;
    ev.preventDefault();
    const line = parseInt(num.parentElement.dataset.n, 10);
    if (ev.shiftKey && selection) setSelection(selection.a, line);
    else setSelection(line, line);
  });
  window.addEventListener('hashchange', applyHash);
  logEl.addEventListener('scroll', () => window.requestAnimationFrame(render));
  window.addEventListener('resize', render);

  // ---- errors panel ----
  function jumpToError(i) {
    if (!errors.length) return;
    errorIndex = (i + errors.length) % errors.length;
    const e = errors[errorIndex];
    selection = { a: e.context[0], b: e.context[1] };
    current = e.line;
    history.replaceState(null, '', '#L' + e.context[0] + '-L' + e.context[1]);
    document.querySelectorAll('#errors li').forEach((li, k) => {
      li.classList.toggle('active', k === errorIndex);
    });
    revealLine(e.line);
  }
  function findingItem(f, onClick) {
    const li = document.createElement('li');
    const kind = document.createElement('span');
    kind.className = 'kind k-' + f.kind;
    kind.textContent = f.kind;
    const where = document.createElement('a');
    where.href = '#L' + f.line;
    where.className = 'where';
    where.textContent = 'L' + f.line + (f.section ? ' · ' + f.section : '') +
      (f.count > 1 ? ' · ×' + f.count : '') + (f.time ? ' · ' + clock(f) : '');
    if (f.time) {
      where.title = f.time + (f.elapsed >= 0 ? ', ' + duration(f.elapsed) + ' into the log' : '');
    }
    const text = document.createElement('div');
    text.className = 'text';
    const loc = splitLocation(f.text);
    if (loc) {
      const at = document.createElement('span');
      at.className = 'loc';
      at.title = loc.path;
      at.textContent = loc.short;
      text.append(at, ' ' + loc.rest);
    } else {
      text.textContent = f.text;
    }
    li.append(kind, where, text);
    li.addEventListener('click', (ev) => { ev.preventDefault(); onClick(); });
    return li;
  }
  // "/sw/SOURCES/O2/…/CompletionPolicy.h:57:40: error: …" → the file's name and position first
  // (the full path on hover), then the message.
  function splitLocation(text) {
    const m = /^((?:[^\s:]*\/)?([^/\s:]+)):(\d+)(?::(\d+))?:\s*(.*)$/.exec(text);
    if (!m) return null;
    const pos = ':' + m[3] + (m[4] ? ':' + m[4] : '');
    return { path: m[1] + pos, short: m[2] + pos, rest: m[5] };
  }
  function plural(n, one, many) { return n.toLocaleString() + ' ' + (n === 1 ? one : many); }
  // "5 min ago", "3 h ago", "2 days ago": the server's wording for times (pages.cc Relative).
  function relative(ms) {
    const s = Math.abs(Date.now() - ms) / 1000;
    const future = ms > Date.now();
    let amount;
    if (s < 45) return future ? 'in a moment' : 'just now';
    if (s < 3600) amount = Math.max(1, Math.round(s / 60)) + ' min';
    else if (s < 36 * 3600) amount = Math.round(s / 3600) + ' h';
    else if (s < 365 * 86400) amount = plural(Math.round(s / 86400), 'day', 'days');
    else return new Date(ms).toISOString().slice(0, 10);
    return future ? 'in ' + amount : amount + ' ago';
  }
  // The header's "at 2026-11-18-13:24:03" (push writes UTC) as the other times on the page:
  // relative, the exact time on hover. Anything else is shown as written.
  function finishedTime(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})[-T ](\d{2}):(\d{2}):(\d{2})Z?$/.exec(text);
    const ms = m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
    if (Number.isNaN(ms)) return document.createTextNode(text);
    const t = document.createElement('time');
    t.dateTime = new Date(ms).toISOString().slice(0, 19) + 'Z';
    t.title = `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]} UTC (from the log's header)`;
    t.textContent = relative(ms);
    return t;
  }
  // A finding's CI time as a clock ("10:01:02"), and how far into the log it came ("+1 min 2 s").
  function clock(f) {
    const m = /(\d\d:\d\d:\d\d)/.exec(f.time);
    return (m ? m[1] : f.time) + (f.elapsed >= 0 ? ' (+' + duration(f.elapsed) + ')' : '');
  }
  function storedFlag(name) {
    try { return localStorage.getItem('logbucket.' + name) === 'on'; } catch (e) { return false; }
  }
  function storeFlag(name, on) {
    try { localStorage.setItem('logbucket.' + name, on ? 'on' : 'off'); } catch (e) { /* private mode */ }
  }
  function duration(seconds) {
    if (seconds < 60) return seconds + ' s';
    const m = Math.floor(seconds / 60);
    if (m < 60) return m + ' min' + (m < 10 && seconds % 60 ? ' ' + (seconds % 60) + ' s' : '');
    return Math.floor(m / 60) + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
  }
  // The verdict, where the reader looks first: a banner above the log, the tab's title and
  // its icon (so a row of tabs can be told apart).
  const banner = document.getElementById('banner');
  const baseTitle = document.title;
  function icon(colour, mark) {
    return 'data:image/svg+xml,' + encodeURIComponent(
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" ' +
      'r="15" fill="' + colour + '"/><path d="' + mark + '" stroke="#fff" stroke-width="4" ' +
      'stroke-linecap="round" stroke-linejoin="round" fill="none"/></svg>');
  }
  function showVerdict(s) {
    let mark, cls;
    banner.textContent = '';
    const msg = document.createElement('span');
    msg.className = 'msg';
    if (s.verdict === 'failed' && s.errors.length) {
      const e = s.errors[0];
      mark = '✗'; cls = 'failed';
      const loc = splitLocation(e.text);
      msg.textContent = '✗ Failed' + (e.section ? ' in ' + e.section : '') + ' — ' + e.kind +
        ': ' + (loc ? loc.short + ' ' + loc.rest : e.text);
      const jump = document.createElement('button');
      jump.id = 'jump';
      jump.textContent = 'Jump to error';
      jump.addEventListener('click', () => jumpToError(0));
      banner.append(msg, jump);
    } else if (s.verdict === 'document') {
      // JSON: shown indented, not a build log; the tab keeps the site's icon.
      banner.className = 'banner document';
      msg.textContent = 'A JSON document, shown indented (Raw has it as stored).';
      banner.append(msg);
      return;
    } else if (s.verdict === 'broken-builder') {
      mark = '!'; cls = 'broken';
      msg.textContent = '⚠ Broken builder: the build produced no output, so this is not a ' +
        'failure of the change (see the builder\'s own logs).';
      banner.append(msg);
    } else {
      mark = '✓'; cls = 'ok';
      msg.textContent = '✓ No errors found';
      banner.append(msg);
      if (s.tail) {
        const a = document.createElement('a');
        a.href = '#L' + s.tail[0] + '-L' + s.tail[1];
        a.textContent = 'last lines';
        banner.append(' · ', a);
      }
    }
    banner.className = 'banner ' + cls;
    document.title = mark + ' ' + baseTitle;
    const link = document.querySelector('link[rel="icon"]');
    if (link) {
      link.href = cls === 'failed' ? icon('#cf222e', 'M10 10l12 12M22 10L10 22')
        : cls === 'ok' ? icon('#1a7f37', 'M9 16.5l5 5 9-11') : icon('#9a6700', 'M16 8v10M16 24v0');
      link.type = 'image/svg+xml';
    }
  }
  function showSummary(s) {
    showVerdict(s);
    tsButton.hidden = !s.first_time;
    errors = s.errors;
    const verdict = document.getElementById('verdict');
    verdict.textContent = s.verdict === 'document' ? ''
      : s.verdict === 'failed' ? '(' + s.errors.length + ')'
      : s.verdict === 'broken-builder' ? '— broken builder' : '— none found';
    const list = document.getElementById('errors');
    list.textContent = '';
    s.errors.forEach((f, i) => list.appendChild(findingItem(f, () => jumpToError(i))));
    if (s.verdict === 'document') {
      const li = document.createElement('li');
      li.className = 'read';
      li.textContent = 'Not a build log: the error rules do not apply.';
      list.appendChild(li);
      document.getElementById('panel').classList.add('document');
      return;
    }
    if (!s.errors.length && s.tail) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = '#L' + s.tail[0] + '-L' + s.tail[1];
      a.textContent = 'No errors found. The last lines of the log: ' + s.tail[0] + '–' +
        s.tail[1];
      li.appendChild(a);
      list.appendChild(li);
    }
    const read = document.createElement('li');
    read.className = 'read';
    read.textContent = s.read_bytes < s.total_bytes
      ? 'Read the first ' + plural(s.read_bytes, 'byte', 'bytes') + ' of ' +
        s.total_bytes.toLocaleString() + '.'
      : 'Read all ' + plural(s.total_bytes, 'byte', 'bytes') + '.';
    list.appendChild(read);
    document.getElementById('wcount').textContent = '(' + s.warning_occurrences + ')';
    const wl = document.getElementById('warnings');
    s.warnings.slice(0, 300).forEach((f) => wl.appendChild(findingItem(f, () => {
      selection = { a: f.line, b: f.line }; current = f.line; revealLine(f.line);
    })));
  }
  // Compare with a green build: only the lines it does not have, with their context, in the
  // same scroller and with the log's own line numbers (the rest folded into gaps).
  function showCompare(greens) {
    const box = document.createElement('span');
    box.className = 'compare';
    const button = document.createElement('button');
    button.id = 'compare';
    button.textContent = 'Compare with the last green build';
    const pick = document.createElement('select');
    pick.setAttribute('aria-label', 'Green build to compare with');
    for (const g of greens) {
      const o = document.createElement('option');
      o.value = g.key;
      o.textContent = (g.pr ? '#' + g.pr : g.branch) + ' ' + g.commit.slice(0, 8) + ' (' + g.host + ')';
      pick.append(o);
    }
    pick.hidden = greens.length < 2;
    let saved = null;
    button.addEventListener('click', () => {
      if (diffGaps) {  // back to the whole log
        diffGaps = null; collapsed = saved; button.textContent = 'Compare with the last green build';
        setStatus(plural(total, 'line', 'lines')); scrollToRow(lineToRow(current || 1));
        return;
      }
      setStatus('comparing…');
      fetch(src + '?diff=' + encodeURIComponent(pick.value)).then((r) => r.json()).then((d) => {
        if (d.error) { setStatus(d.error); return; }
        saved = collapsed;
        diffGaps = new Map();
        collapsed = [];
        let next = 1;
        for (const [a, b] of d.shown.concat([[total + 1, total + 1]])) {
          if (a > next) { diffGaps.set(next, a - 1); if (a - 1 > next) collapsed.push([next, a - 1]); }
          next = b + 1;
        }
        button.textContent = 'Show the whole log';
        setStatus(plural(d.new_lines, 'new line', 'new lines') + ' against ' +
          (d.base.pr ? '#' + d.base.pr : d.base.branch) + ' (' + d.shown_lines.toLocaleString() +
          ' of ' + plural(total, 'line', 'lines') + ' shown)');
        main.dataset.diff = String(d.shown_lines);
        scrollToRow(lineToRow(errors.length ? errors[0].line : 1) - Math.floor(viewRows() / 3));
      }).catch((e) => setStatus('could not compare: ' + e.message));
    });
    box.append(button, pick);
    banner.append(box);
  }
  // "This error also failed 12 other PRs since Tuesday, 11 of them on alibuild-07": from the
  // build index, when the server has one and knows this log (?recurring).
  function showRecurring() {
    fetch(src + '?recurring').then((r) => r.ok ? r.json() : null).then((j) => {
      if (j && j.greens && j.greens.length) showCompare(j.greens);
      const o = j && j.others;
      if (o && o.prs > 0) {
        const line = document.createElement('span');
        line.className = 'recurring' + (o.infrastructure ? ' infra' : '');
        const first = new Date(o.first_ms);
        const since = Date.now() - o.first_ms < 86400000
          ? 'since ' + first.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
          : 'since ' + first.toLocaleDateString('en-GB', { weekday: 'long' });
        const top = o.hosts[0];
        let text = (o.infrastructure ? 'Likely not this change: ' : '') + 'This error also failed ' +
          plural(o.prs, 'other PR', 'other PRs') + ' ' + since;
        if (top && top.host && top.builds * 2 >= o.builds) {
          text += ', ' + Math.min(top.builds, o.prs) + ' of them on ' + top.host;
        }
        const a = document.createElement('a');
        a.href = o.href;
        a.textContent = 'see them';
        line.append(text + ' · ', a);
        banner.append(line);
      }
    }).catch(() => {}).finally(() => { main.dataset.recurring = '1'; });
  }
  function showSections(list, omitted) {
    sections = list;
    const ol = document.getElementById('sections');
    ol.textContent = '';
    for (const s of list) {
      s.badge = [s.depth === 0 && s.name !== s.title ? s.name : '',
        s.errors ? plural(s.errors, 'error', 'errors') : '',
        s.warnings ? plural(s.warnings, 'warning', 'warnings') : '',
        s.seconds >= 0 ? duration(s.seconds) : ''].filter((x) => x).join(' · ');
      if (s.depth === 0) {
        sectionAt.set(s.begin_line, s);
        if (!s.failed && s.end_line > s.begin_line) collapsed.push([s.begin_line, s.end_line]);
      }
      const li = document.createElement('li');
      li.className = s.failed ? 'failed' : '';
      li.style.marginLeft = (s.depth * 0.8) + 'em';
      const a = document.createElement('a');
      a.href = '#L' + s.begin_line;
      a.textContent = s.name;
      const info = document.createElement('span');
      info.className = 'info';
      info.textContent = ' ' + [s.errors ? plural(s.errors, 'error', 'errors') : '',
        s.warnings ? plural(s.warnings, 'warning', 'warnings') : '',
        s.seconds >= 0 ? duration(s.seconds) : ''].filter((x) => x).join(' · ');
      li.append(a, info);
      li.addEventListener('click', (ev) => {
        ev.preventDefault(); selection = { a: s.begin_line, b: s.begin_line };
        current = s.begin_line; revealLine(s.begin_line);
      });
      ol.appendChild(li);
    }
    if (omitted) {
      // A log with more sections than the summary keeps (or nested deeper): say so.
      const li = document.createElement('li');
      li.className = 'omitted';
      li.textContent = plural(omitted, 'more section', 'more sections') + ' not listed';
      ol.appendChild(li);
    }
    collapsed.sort((x, y) => x[0] - y[0]);
  }

  // ---- search ----
  const q = document.getElementById('q');
  const countEl = document.getElementById('count');
  function searchUrl(from) {
    return src + '?search=' + encodeURIComponent(hitQuery.text) +
      (hitQuery.regex ? '&regex=1' : '') + (hitQuery.icase ? '&icase=1' : '') +
      (from ? '&from=' + from : '');
  }
  function showHit(i) {
    if (!hits.length) return;
    hitIndex = (i + hits.length) % hits.length;
    current = hits[hitIndex];
    selection = { a: current, b: current };
    countEl.textContent = hitTail
      ? (hits.length - hitIndex) + (hitEarlier ? ' from the end' : ' / ' + hits.length)
      : (hitIndex + 1) + ' / ' + hits.length + (hitMore ? '+' : '');
    revealLine(current);
  }
  // The match inside the current line, marked in its visible text (colour spans and all).
  function highlightHit() {
    if (!hitQuery || current !== hits[hitIndex]) return;
    const t = win.querySelector('.l.cur .t');
    if (!t) return;
    let re;
    try {
      re = new RegExp(hitQuery.regex ? hitQuery.text
        : hitQuery.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), hitQuery.icase ? 'gi' : 'g');
    } catch (e) { return; }  // a pattern only the server's engine reads
    const nodes = [];
    const walker = document.createTreeWalker(t, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) nodes.push(walker.currentNode);
    const text = nodes.map((n) => n.data).join('');
    const m = re.exec(text);
    if (!m || !m[0].length) return;
    // Wrap [start, end) of the joined text, one <mark> per text node it touches.
    let at = 0;
    const start = m.index, end = m.index + m[0].length;
    for (const n of nodes) {
      const a = Math.max(start, at), b = Math.min(end, at + n.data.length);
      if (a < b) {
        const range = document.createRange();
        range.setStart(n, a - at);
        range.setEnd(n, b - at);
        const mark = document.createElement('mark');
        range.surroundContents(mark);
      }
      at += n.data.length;
    }
  }
  function sameQuery() {
    return hitQuery && hits.length && q.value === hitQuery.text &&
      document.getElementById('regex').checked === hitQuery.regex &&
      document.getElementById('icase').checked === hitQuery.icase;
  }
  function runSearch(ev) {
    if (ev) ev.preventDefault();
    if (!q.value) return;
    if (sameQuery()) { nextHit(1); return; }  // Enter again: the next match
    hitQuery = { text: q.value, regex: document.getElementById('regex').checked,
      icase: document.getElementById('icase').checked };
    countEl.textContent = 'searching…';
    fetch(searchUrl(0)).then((r) => r.json()).then((j) => {
      if (j.error) { countEl.textContent = j.error; return; }
      hits = j.lines; hitMore = j.truncated ? j.next : 0; hitTail = false;
      if (!hits.length) { countEl.textContent = 'no matches'; return; }
      // Start from the first hit at or after what is on screen.
      const here = rowToLine(topRow());
      const k = hits.findIndex((l) => l >= here);
      showHit(k < 0 ? 0 : k);
    }).catch((e) => { countEl.textContent = 'search failed: ' + e.message; });
  }
  function nextHit(step) {
    if (!hits.length) return;
    // Back from the first of "1000+": the log's real last matches, not the 1000th.
    if (step < 0 && hitIndex === 0 && hitMore && !hitTail) {
      fetch(searchUrl(0) + '&last=1').then((r) => r.json()).then((j) => {
        if (!j.lines || !j.lines.length) return;
        hits = j.lines; hitMore = 0; hitTail = true; hitEarlier = j.earlier;
        showHit(hits.length - 1);
      });
      return;
    }
    // On from the last of those: round to the first matches again.
    if (step > 0 && hitIndex === hits.length - 1 && hitTail && hitEarlier) {
      fetch(searchUrl(0)).then((r) => r.json()).then((j) => {
        hits = j.lines; hitMore = j.truncated ? j.next : 0; hitTail = false;
        showHit(0);
      });
      return;
    }
    if (step > 0 && hitIndex === hits.length - 1 && hitMore) {
      fetch(searchUrl(hitMore)).then((r) => r.json()).then((j) => {
        hits = hits.concat(j.lines); hitMore = j.truncated ? j.next : 0;
        showHit(hitIndex + 1);
      });
      return;
    }
    showHit(hitIndex + step);
  }
  document.getElementById('search').addEventListener('submit', runSearch);
  q.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.shiftKey) {
      ev.preventDefault();
      if (sameQuery()) nextHit(-1); else runSearch();
    }
  });

  // ---- toolbar and keys ----
  // Go to line: an inline field (g), not a prompt.
  const gotoForm = document.getElementById('gotoform');
  const gotoInput = document.getElementById('gotoline');
  function gotoLine() {
    gotoForm.hidden = false;
    gotoInput.max = String(total);
    gotoInput.placeholder = '1–' + total.toLocaleString();
    gotoInput.focus();
    gotoInput.select();
  }
  gotoForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = Math.min(parseInt(gotoInput.value, 10), total);
    if (n >= 1) {
      setSelection(n, n); current = n; revealLine(n);
      gotoForm.hidden = true;
      logEl.focus();
    }
  });
  document.getElementById('goto').addEventListener('click', gotoLine);
  // The keys, on "?".
  const help = document.getElementById('help');
  function toggleHelp(show) { help.hidden = !show; }
  document.getElementById('help-close').addEventListener('click', () => toggleHelp(false));
  // Sections: open or shut them all.
  function foldAll(shut) {
    collapsed = [];
    if (shut) {
      for (const s of sections) {
        if (s.depth === 0 && s.end_line > s.begin_line) collapsed.push([s.begin_line, s.end_line]);
      }
    }
    scrollToRow(lineToRow(current || rowToLine(topRow())));
  }
  document.getElementById('expand-all').addEventListener('click', () => foldAll(false));
  document.getElementById('collapse-all').addEventListener('click', () => foldAll(true));
  document.getElementById('wrap').addEventListener('click', (ev) => {
    logEl.classList.toggle('wrap');
    ev.currentTarget.classList.toggle('on');
    render();
  });
  // The CI's timestamps (GitHub Actions, GitLab, Jenkins' timestamper): hidden, as GitHub does,
  // until asked for; the choice is remembered. The button shows only when the log has them.
  const tsButton = document.getElementById('timestamps');
  function showTimestamps(on) {
    logEl.classList.toggle('hide-ts', !on);
    tsButton.classList.toggle('on', on);
    tsButton.title = (on ? 'Hide' : 'Show') + " the CI's timestamps (t)";
  }
  showTimestamps(storedFlag('timestamps'));
  function toggleTimestamps() {
    const on = logEl.classList.contains('hide-ts');
    storeFlag('timestamps', on);
    showTimestamps(on);
    render();
  }
  tsButton.addEventListener('click', toggleTimestamps);
  document.getElementById('copylink').addEventListener('click', () => {
    const url = shareableLink();
    if (navigator.clipboard) navigator.clipboard.writeText(url).then(() => setStatus('link copied'),
      () => window.prompt('Copy this link', url));
    else window.prompt('Copy this link', url);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest('input, textarea') || ev.ctrlKey || ev.metaKey || ev.altKey) {
      if (ev.key === 'Escape') {
        ev.target.blur();
        if (ev.target === gotoInput) gotoForm.hidden = true;
      }
      return;
    }
    if (ev.key === 'Escape') { toggleHelp(false); return; }
    if (ev.key === '?') { toggleHelp(help.hidden); return; }
    if (ev.key === '/') { ev.preventDefault(); q.focus(); q.select(); }
    else if (ev.key === 'e') jumpToError(errorIndex + 1);
    else if (ev.key === 'E') jumpToError(errorIndex - 1);
    else if (ev.key === 'n') nextHit(1);
    else if (ev.key === 'N') nextHit(-1);
    else if (ev.key === 'g') { ev.preventDefault(); gotoLine(); }
    else if (ev.key === 't' && !tsButton.hidden) toggleTimestamps();
    else return;
  });

  // ---- the header card ----
  // A latest/ build names its commit in the log's header: show it, linked.
  function showFacts(meta) {
    const commit = document.getElementById('fact-commit');
    if (commit && /^[0-9a-f]{7,40}$/.test(meta.commit || '')) {
      const dd = commit.querySelector('dd');
      dd.textContent = '';
      const a = document.createElement('a');
      a.textContent = meta.commit.slice(0, 12);
      a.title = meta.commit;
      a.rel = 'noopener noreferrer';
      if (meta.repo) a.href = 'https://github.com/' + meta.repo + '/commit/' + meta.commit;
      dd.append(a);
      if (commit.dataset.latest) dd.append(' (latest build of this PR)');
    }
  }

  // ---- start ----
  function measure() {
    const probe = document.createElement('div');
    probe.className = 'l';
    probe.innerHTML = '<span class="t">x</span>';
    win.appendChild(probe);
    lineHeight = probe.getBoundingClientRect().height || 18;
    win.removeChild(probe);
  }
  measure();
  queryToHash();
  setStatus('indexing…');
  fetch(src + '?meta').then((r) => r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)))
    .then((meta) => {
      total = meta.lines;
      leaveFirstPage();
      showFacts(meta);
      const host = document.getElementById('fact-host');
      if (meta.host) { host.querySelector('dd').textContent = meta.host; host.hidden = false; }
      const fin = document.getElementById('fact-finished');
      if (meta.finished) { fin.querySelector('dd').replaceChildren(finishedTime(meta.finished)); fin.hidden = false; }
      setStatus(plural(total, 'line', 'lines'));
      render();
      if (parseHash()) applyHash();
      // The summary (a second pass over the log) comes later; the log scrolls meanwhile.
      return fetch(src + '?errors').then((r) => r.json()).then((s) => {
        // Folding sections moves rows: keep the linked line, or else the top line, in view.
        const top = rowToLine(topRow());
        showSections(s.sections || [], s.sections_omitted || 0);
        const sel = parseHash();
        if (sel && selection && sel.a === selection.a) revealLine(sel.a);
        else scrollToRow(lineToRow(top));
        showSummary(s);
        main.dataset.ready = '1';
        if (s.verdict === 'failed') showRecurring();
      });
    })
    .catch((e) => setStatus('could not open the log: ' + e.message));
})();
