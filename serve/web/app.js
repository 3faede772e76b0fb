// kormed web page: a search form over the JSON API of the same server.
// No framework, no build step. Everything from the server is rendered with
// textContent except snippet_html, which the server escapes and which is
// re-checked here to hold only text and <mark> elements. The URL keeps the
// search state with the parameter names of GET /v1/search (?q=…&mode=…&
// alpha=…&filter.class=…&exclude_dur=…) so a result page can be shared and
// bookmarked: a new search pushes a history entry, option changes replace
// it, Back and Forward search again. The server renders its defaults (in
// <body data-…>) and the URL's search into the form, so the page is right
// before this script runs.
'use strict';

(function () {
  const FILTER_FIELDS = ['type', 'class'];
  const META_FIELDS = [
    ['type', '유형', 'type'],
    ['class', '구분', 'class'],
    ['company', '업체', 'company'],
    ['ingredient', '성분', 'ingredient'],
  ];
  const MODE_NAMES = { bm25: 'BM25', dense: '의미 (dense)', hybrid: '혼합 (hybrid)' };
  const ACTION_NAMES = { flag: '표시', exclude: '제외' };

  const $ = (id) => document.getElementById(id);
  const form = $('search');
  const q = $('q');
  const results = $('results');
  const summary = $('summary');
  const message = $('message');
  const alpha = $('alpha');
  const alphaOut = $('alpha-out');
  const safety = $('safety');

  // The server's defaults, rendered into the page; /healthz refreshes them.
  const defaults = document.body.dataset;
  const app = {
    dense: defaults.dense === 'true',
    fields: [],
    seq: 0,
    ctrl: null,
    alpha: defaults.alpha !== undefined && defaults.alpha !== '' && !isNaN(+defaults.alpha) ? +defaults.alpha : 0.5,
    safety: defaults.safety || 'flag',
    // Parameters of the URL the page has no control for (k, fusion,
    // flag_dur): kept in the URL and sent with every search.
    carry: { k: '', fusion: '', flag: [] },
  };
  const TITLE = document.title.replace(/^.* — /, '');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function en(text) {
    const s = el('span', 'en', text);
    s.lang = 'en';
    return s;
  }

  // --- state <-> form <-> URL

  function readURL() {
    const p = new URLSearchParams(location.search);
    const list = (name) => {
      const out = [];
      for (const v of p.getAll(name)) {
        for (const t of v.split(',')) if (t.trim()) out.push(t.trim());
      }
      return out;
    };
    return {
      q: (p.get('q') || p.get('query') || '').trim(),
      mode: p.get('mode') || '',
      alpha: p.get('alpha'),
      safety: p.get('safety') || '',
      type: p.get('filter.type') || '',
      class: p.get('filter.class') || '',
      exclude: list('exclude_dur'),
      carry: { k: p.get('k') || '', fusion: p.get('fusion') || '', flag: list('flag_dur') },
    };
  }

  function checkedMode() {
    const r = form.querySelector('input[name=mode]:checked');
    return r ? r.value : '';
  }

  function readForm() {
    return {
      q: q.value.trim(),
      mode: checkedMode(),
      alpha: alpha.value,
      safety: safety.value,
      type: $('f-type').value,
      class: $('f-class').value,
      exclude: Array.from(document.querySelectorAll('#exclude-list input:checked')).map((c) => c.value),
      carry: app.carry,
    };
  }

  function defaultMode() { return app.dense ? 'hybrid' : 'bm25'; }

  function ensureOption(select, value) {
    if (!value) return;
    for (const o of select.options) if (o.value === value) return;
    select.append(new Option(value, value));
  }

  function applyState(s) {
    q.value = s.q;
    let mode = MODE_NAMES[s.mode] ? s.mode : defaultMode();
    if (!app.dense && mode !== 'bm25') mode = 'bm25';
    const r = $('mode-' + mode);
    if (r) r.checked = true;
    const a = s.alpha !== null && s.alpha !== undefined && s.alpha !== '' && !isNaN(+s.alpha) ? +s.alpha : app.alpha;
    alpha.value = String(a);
    safety.value = ['flag', 'strict', 'off'].includes(s.safety) ? s.safety : app.safety;
    ensureOption($('f-type'), s.type);
    $('f-type').value = s.type;
    ensureOption($('f-class'), s.class);
    $('f-class').value = s.class;
    for (const c of document.querySelectorAll('#exclude-list input')) c.checked = s.exclude.includes(c.value);
    app.carry = s.carry;
    setTitle(s.q);
    syncAlpha();
  }

  function setTitle(query) { document.title = query ? query + ' — ' + TITLE : TITLE; }

  function toURL(s) {
    const p = new URLSearchParams();
    // Mode and alpha always: a shared link ranks the same on a server
    // started with other defaults.
    if (s.q) p.set('q', s.q);
    if (s.mode) p.set('mode', s.mode);
    if (s.mode === 'hybrid') p.set('alpha', s.alpha);
    if (s.carry.fusion) p.set('fusion', s.carry.fusion);
    if (s.carry.k) p.set('k', s.carry.k);
    if (s.safety && s.safety !== app.safety) p.set('safety', s.safety);
    if (s.type) p.set('filter.type', s.type);
    if (s.class) p.set('filter.class', s.class);
    if (s.exclude.length) p.set('exclude_dur', s.exclude.join(','));
    if (s.carry.flag.length) p.set('flag_dur', s.carry.flag.join(','));
    const qs = p.toString();
    return location.pathname + (qs ? '?' + qs : '');
  }

  function toRequest(s) {
    const r = { query: s.q, k: s.carry.k ? +s.carry.k : 10 };
    if (s.mode) r.mode = s.mode;
    if (s.mode === 'hybrid') r.alpha = +s.alpha;
    if (s.carry.fusion) r.fusion = s.carry.fusion;
    if (s.carry.flag.length) r.flag_dur = s.carry.flag;
    if (s.safety) r.safety = s.safety;
    const filters = {};
    for (const f of FILTER_FIELDS) {
      if (s[f] && app.fields.includes(f)) filters[f] = [s[f]];
    }
    if (Object.keys(filters).length) r.filters = filters;
    if (s.exclude.length) r.exclude_dur = s.exclude;
    return r;
  }

  function syncAlpha() {
    const hybrid = checkedMode() === 'hybrid';
    alpha.disabled = !hybrid;
    $('alpha-box').classList.toggle('disabled', !hybrid);
    alphaOut.textContent = (+alpha.value).toFixed(2);
  }

  // --- talking to the server

  async function getJSON(url, init) {
    const res = await fetch(url, init);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const msg = body && body.error ? body.error : res.status + ' ' + res.statusText;
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function showMessage(text, isError) {
    message.textContent = text || '';
    message.className = isError ? 'error' : '';
    message.setAttribute('role', isError ? 'alert' : 'status');
  }

  async function loadHealth() {
    try {
      const h = await getJSON('healthz');
      app.dense = !!h.dense;
      app.fields = h.fields || [];
      if (typeof h.alpha === 'number') app.alpha = h.alpha;
      if (h.safety) app.safety = h.safety;
      const info = $('index-info');
      info.textContent = '';
      info.append('문서 ' + h.docs.toLocaleString('ko-KR') + '건 · ' + h.backend + ' · ');
      if (h.dense) info.append('모델 ' + h.model);
      else info.append('BM25 전용 ', en('BM25 only'));
    } catch (e) {
      showMessage('서버 상태를 읽지 못했습니다 (healthz): ' + e.message, true);
    }
    for (const m of ['dense', 'hybrid']) {
      const r = $('mode-' + m);
      r.disabled = !app.dense;
      r.parentElement.classList.toggle('disabled', !app.dense);
    }
    $('mode-note').hidden = app.dense;
  }

  async function loadFacets() {
    const fields = FILTER_FIELDS.filter((f) => app.fields.includes(f));
    for (const f of FILTER_FIELDS) {
      if (!app.fields.includes(f)) $('f-' + f).disabled = true;
    }
    if (!fields.length) return;
    try {
      const r = await getJSON('v1/facets?n=50&field=' + encodeURIComponent(fields.join(',')));
      for (const f of fields) fillSelect($('f-' + f), r.fields[f] || []);
    } catch (e) {
      // A backend without facet counts: the menus fill from the results.
      app.facetsFromResults = true;
    }
  }

  function fillSelect(select, values) {
    const keep = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const v of values) select.append(new Option(v.value + ' (' + v.count + ')', v.value));
    ensureOption(select, keep);
    select.value = keep;
  }

  function addResultValues(hits) {
    if (!app.facetsFromResults) return;
    for (const f of FILTER_FIELDS) {
      const s = $('f-' + f);
      for (const h of hits) for (const v of (h.fields && h.fields[f]) || []) ensureOption(s, v);
    }
  }

  async function runSearch(s) {
    if (app.ctrl) app.ctrl.abort();
    const ctrl = new AbortController();
    app.ctrl = ctrl;
    results.dataset.state = 'loading';
    results.setAttribute('aria-busy', 'true');
    showMessage('검색 중… (searching)');
    try {
      const resp = await getJSON('v1/search', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(toRequest(s)),
        signal: ctrl.signal,
      });
      showMessage('');
      render(resp);
      results.dataset.state = 'done';
    } catch (e) {
      if (e.name === 'AbortError') return;
      results.textContent = '';
      summary.textContent = '';
      showMessage('오류 (error): ' + e.message, true);
      results.dataset.state = 'error';
    } finally {
      if (app.ctrl === ctrl) {
        app.ctrl = null;
        results.removeAttribute('aria-busy');
        results.dataset.seq = String(++app.seq);
      }
    }
  }

  // --- rendering

  function ruleText(r) {
    return '‘' + r.word + '’ → ' + r.types.join(', ') + ' ' + (ACTION_NAMES[r.action] || r.action);
  }

  function render(resp) {
    summary.textContent = '';
    const line = el('p', 'summary-line');
    line.append(el('strong', null, resp.hits.length + '건'), ' · ' + (MODE_NAMES[resp.mode] || resp.mode));
    if (resp.mode === 'hybrid') line.append(' · α ' + (+resp.alpha).toFixed(2) + ' · ' + resp.fusion);
    line.append(' · ' + resp.took_ms.toFixed(1) + ' ms');
    line.dataset.mode = resp.mode;
    line.id = 'summary-line';
    summary.append(line);
    if (resp.rules && resp.rules.length) {
      const ul = el('ul', 'rules');
      ul.setAttribute('aria-label', '안전 규칙 (safety rules)');
      for (const r of resp.rules) {
        const li = el('li', 'rule ' + r.action, ruleText(r));
        li.append(' ', en(r.action === 'exclude' ? '(excluded: ' + r.population + ')' : '(flagged: ' + r.population + ')'));
        ul.append(li);
      }
      summary.append(ul);
    }
    for (const n of resp.notes || []) summary.append(el('p', 'note', n));

    results.textContent = '';
    if (!resp.hits.length) {
      const li = el('li', 'empty', '결과가 없습니다 ');
      li.append(en('No results'));
      results.append(li);
      return;
    }
    resp.hits.forEach((h, i) => results.append(renderHit(h, i + 1, resp.rules || [])));
    addResultValues(resp.hits);
  }

  function snippetNodes(html, plain) {
    const frag = document.createDocumentFragment();
    if (!html) {
      frag.append(plain || '');
      return frag;
    }
    const t = document.createElement('template');
    t.innerHTML = html;
    for (const n of t.content.childNodes) {
      if (n.nodeName === 'MARK') frag.append(el('mark', null, n.textContent));
      else frag.append(n.textContent || '');
    }
    return frag;
  }

  function renderHit(h, rank, rules) {
    const li = el('li', 'hit');
    li.dataset.id = h.id;
    const head = el('div', 'hit-head');
    head.append(el('span', 'rank', String(rank)));
    const title = el('h2', 'title', h.title || h.id);
    head.append(title);
    const score = el('span', 'score', '점수 ' + h.score.toFixed(4));
    score.title = 'score';
    head.append(score);
    li.append(head);

    const parts = el('div', 'parts');
    if (h.bm25) parts.append(el('span', 'part bm25', 'BM25 #' + h.bm25.rank));
    if (h.dense) parts.append(el('span', 'part dense', 'dense #' + h.dense.rank));
    if (parts.childNodes.length) li.append(parts);

    const snip = el('p', 'snippet');
    snip.append(snippetNodes(h.snippet_html, h.snippet));
    li.append(snip);

    const meta = el('dl', 'meta');
    for (const [f, ko, e] of META_FIELDS) {
      const vals = (h.fields && h.fields[f]) || [];
      if (!vals.length) continue;
      const dt = el('dt', null, ko + ' ');
      dt.append(en(e));
      const dd = el('dd', 'f-' + f, vals.join(', '));
      meta.append(dt, dd);
    }
    if (meta.childNodes.length) li.append(meta);

    const flags = h.dur || [];
    if (flags.length) {
      const warned = new Set(h.warnings || []);
      const box = el('div', 'dur');
      box.setAttribute('aria-label', 'DUR');
      const seen = new Set();
      for (const f of flags) {
        if (seen.has(f.type)) continue;
        seen.add(f.type);
        const b = el('span', 'badge' + (warned.has(f.type) ? ' warn' : ''), (warned.has(f.type) ? '⚠ ' : '') + f.type);
        const tip = [f.ingredient, f.with ? '+ ' + f.with : '', f.age_base, f.content].filter(Boolean).join(' · ');
        if (tip) b.title = tip;
        box.append(b);
      }
      li.append(box);
      for (const t of warned) {
        const r = rules.find((x) => x.types.includes(t));
        const f = flags.find((x) => x.type === t);
        const p = el('p', 'warning');
        p.append(el('strong', null, t));
        if (r) p.append(' ', el('span', 'why', '‘' + r.word + '’ → ' + t + ' ' + (ACTION_NAMES[r.action] || r.action)));
        if (f && f.content) p.append(' — ' + f.content);
        li.append(p);
      }
    }
    return li;
  }

  // --- events

  function submit(push) {
    const s = readForm();
    const url = toURL(s);
    if (url !== location.pathname + location.search) {
      if (push) history.pushState(null, '', url);
      else history.replaceState(null, '', url);
    }
    setTitle(s.q);
    if (!s.q) {
      results.textContent = '';
      summary.textContent = '';
      showMessage('검색어를 입력하세요 (enter a query)', true);
      q.focus();
      return;
    }
    runSearch(s);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(true);
  });
  // Options apply at once when there is a query.
  form.addEventListener('change', (e) => {
    if (e.target === q) return;
    syncAlpha();
    if (q.value.trim()) submit(false);
  });
  alpha.addEventListener('input', () => { alphaOut.textContent = (+alpha.value).toFixed(2); });
  window.addEventListener('popstate', () => {
    const s = readURL();
    applyState(s);
    if (s.q) runSearch(readForm());
    else { results.textContent = ''; summary.textContent = ''; }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && document.activeElement !== q && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
      e.preventDefault();
      q.focus();
    }
  });

  async function init() {
    await loadHealth();
    await loadFacets();
    const s = readURL();
    applyState(s);
    document.body.dataset.ready = '1';
    if (s.q) runSearch(readForm());
    else q.focus();
  }

  init();
})();
