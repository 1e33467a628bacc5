// Gantry dashboard: plain JavaScript, no dependencies, no build step.
// Data: GET /api/v1/stats (with 5 minutes of history) once, then the SSE stream
// /api/v1/stats/stream read with fetch (EventSource cannot send Authorization),
// falling back to polling /api/v1/stats?history=0 every 2 s when streaming fails.
'use strict';
(function () {
  let HISTORY_MS = 5 * 60 * 1000; // replaced by the server's history_s
  const TOKEN_KEY = 'gantry-admin-token';
  const POLL_MS = 2000;
  const RESTREAM_MS = 15000;
  const ERRORS_SHOWN = 20;

  const state = { routes: new Map(), upstreams: new Map(), last: null, mode: 'off', pollTimer: 0, renderQueued: false };

  // ---- auth -------------------------------------------------------------------
  class AuthError extends Error {}
  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
  const authHeaders = () => (token() ? { Authorization: 'Bearer ' + token() } : {});

  async function getJSON(path) {
    const r = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
    if (r.status === 401) throw new AuthError('unauthorized');
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  function showLogin(message) {
    document.getElementById('main').hidden = true;
    const form = document.getElementById('login');
    form.hidden = false;
    document.getElementById('login-error').textContent = message || '';
    document.getElementById('token').focus();
    setConn('off', 'needs token');
  }

  document.getElementById('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
    start();
  });

  // ---- data -------------------------------------------------------------------
  function pointOf(s) {
    return { t: s.t, rps: s.rps, error_rate: s.error_rate, p50_ms: s.p50_ms, p95_ms: s.p95_ms, p99_ms: s.p99_ms };
  }

  function ingest(stats, full) {
    const now = Date.parse(stats.time);
    if (stats.history_s > 0 && stats.history_s * 1000 !== HISTORY_MS) {
      HISTORY_MS = stats.history_s * 1000;
      const span = HISTORY_MS >= 120000 ? Math.round(HISTORY_MS / 60000) + ' minutes' : Math.round(HISTORY_MS / 1000) + ' seconds';
      for (const e of document.querySelectorAll('.history-span')) e.textContent = span;
    }
    for (const kind of ['routes', 'upstreams']) {
      const map = state[kind];
      const seen = new Set();
      for (const s of stats[kind]) {
        seen.add(s.name);
        let e = map.get(s.name);
        if (!e) { e = { history: [] }; map.set(s.name, e); }
        if (full && s.history) {
          e.history = s.history.slice();
        } else {
          const h = e.history;
          if (!h.length || h[h.length - 1].t < s.t) h.push(pointOf(s));
        }
        while (e.history.length && e.history[0].t < now - HISTORY_MS) e.history.shift();
        e.cur = s;
      }
      for (const k of Array.from(map.keys())) if (!seen.has(k)) map.delete(k);
    }
    state.last = stats;
    if (!state.renderQueued) {
      state.renderQueued = true;
      requestAnimationFrame(() => { state.renderQueued = false; render(); });
    }
  }

  async function stream() {
    const r = await fetch('/api/v1/stats/stream', { headers: authHeaders(), cache: 'no-store' });
    if (r.status === 401) throw new AuthError('unauthorized');
    if (!r.ok || !r.body) throw new Error('stream: HTTP ' + r.status);
    stopPolling();
    setConn('live', 'live');
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (event === 'stats' && data.length) ingest(JSON.parse(data.join('\n')), false);
      }
    }
    throw new Error('stream ended');
  }

  function startPolling() {
    if (state.pollTimer) return;
    setConn('poll', 'polling');
    state.pollTimer = setInterval(async () => {
      try {
        ingest(await getJSON('/api/v1/stats?history=0'), false);
        setConn('poll', 'polling');
      } catch (err) {
        if (err instanceof AuthError) { stopPolling(); showLogin('The token was refused.'); return; }
        setConn('off', 'disconnected');
      }
    }, POLL_MS);
  }

  function stopPolling() {
    if (state.pollTimer) clearInterval(state.pollTimer);
    state.pollTimer = 0;
  }

  async function keepStreaming() {
    for (;;) {
      try {
        await stream();
      } catch (err) {
        if (err instanceof AuthError) { showLogin('The token was refused.'); return; }
      }
      startPolling();
      await new Promise((res) => setTimeout(res, RESTREAM_MS));
    }
  }

  async function start() {
    try {
      ingest(await getJSON('/api/v1/stats'), true);
    } catch (err) {
      if (err instanceof AuthError) { showLogin(token() ? 'The token was refused.' : ''); return; }
      setConn('off', 'disconnected');
      startPolling();
    }
    document.getElementById('login').hidden = true;
    document.getElementById('main').hidden = false;
    keepStreaming();
  }

  function setConn(mode, text) {
    state.mode = mode;
    const el = document.getElementById('conn');
    el.className = 'conn conn-' + mode;
    el.textContent = text;
  }

  // ---- formatting -------------------------------------------------------------
  const fmtRPS = (v) => (v == null ? '–' : v < 10 ? v.toFixed(1) : Math.round(v).toString());
  const fmtPct = (v) => (v == null ? '–' : v === 0 ? '0%' : v < 0.001 ? '<0.1%' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%');
  function fmtMS(v) {
    if (v == null) return '–';
    if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 's';
    if (v >= 10) return Math.round(v) + 'ms';
    if (v >= 1) return v.toFixed(1) + 'ms';
    return v.toFixed(2) + 'ms';
  }
  function fmtDuration(sec) {
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }
  const pad = (n, w) => String(n).padStart(w || 2, '0');
  function fmtTime(iso) {
    const d = new Date(iso);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ---- charts (hand-drawn SVG) ------------------------------------------------
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // lines: [{key, values: [[t, v|null]], area}], fmt formats axis labels.
  function drawChart(svg, lines, now, fmt) {
    const w = Math.max(120, svg.clientWidth || 300), h = Math.max(60, svg.clientHeight || 90);
    const padL = 40, padR = 4, padT = 8, padB = 6;
    let max = 0, points = 0;
    for (const l of lines) for (const [, v] of l.values) if (v != null) { max = Math.max(max, v); points++; }
    const top = niceMax(max);
    const t0 = now - HISTORY_MS;
    const x = (t) => padL + (t - t0) / HISTORY_MS * (w - padL - padR);
    const y = (v) => padT + (1 - v / top) * (h - padT - padB);
    let out = '';
    for (const f of [0, 0.5, 1]) {
      const yy = y(top * f).toFixed(1);
      out += '<line class="grid" x1="' + padL + '" x2="' + (w - padR) + '" y1="' + yy + '" y2="' + yy + '"></line>';
      out += '<text class="axis" x="' + (padL - 4) + '" y="' + (Number(yy) + 3) + '" text-anchor="end">' + fmt(top * f) + '</text>';
    }
    for (const l of lines) {
      let d = '', area = '', segStart = null, lastX = null, pen = false;
      for (const [t, v] of l.values) {
        if (t < t0) continue;
        if (v == null) {
          if (pen && l.area) area += 'L' + lastX + ' ' + y(0).toFixed(1) + 'L' + segStart + ' ' + y(0).toFixed(1) + 'Z';
          pen = false;
          continue;
        }
        const px = x(t).toFixed(1), py = y(v).toFixed(1);
        d += (pen ? 'L' : 'M') + px + ' ' + py;
        if (l.area) area += (pen ? 'L' : 'M') + px + ' ' + py;
        if (!pen) segStart = px;
        pen = true;
        lastX = px;
      }
      if (pen && l.area) area += 'L' + lastX + ' ' + y(0).toFixed(1) + 'L' + segStart + ' ' + y(0).toFixed(1) + 'Z';
      if (area) out += '<path class="area-' + l.key + '" d="' + area + '"></path>';
      if (d) out += '<path class="line line-' + l.key + '" d="' + d + '"></path>';
    }
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.innerHTML = out;
    svg.dataset.points = String(points);
    svg.dataset.max = String(max);
  }

  function makeCard(kind, name) {
    const card = el('div', 'card');
    card.dataset.kind = kind;
    card.dataset.name = name;
    const head = el('div', 'card-head');
    const title = el('div', 'card-title');
    head.appendChild(title);
    const now = el('div', 'now');
    head.appendChild(now);
    card.appendChild(head);
    const charts = el('div', 'charts');
    const mk = (metric, label, legend) => {
      const box = el('div');
      const lab = el('div', 'chart-label');
      lab.appendChild(el('span', null, label));
      const lg = el('span', 'legend');
      for (const [k, t] of legend) {
        const s = el('span', 'c-' + k);
        s.appendChild(el('i', 'bg-' + k));
        s.appendChild(document.createTextNode(t));
        lg.appendChild(s);
      }
      lab.appendChild(lg);
      box.appendChild(lab);
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      svg.setAttribute('class', 'chart');
      svg.dataset.metric = metric;
      box.appendChild(svg);
      charts.appendChild(box);
      return svg;
    };
    card._rps = mk('rps', kind === 'upstream' ? 'tries/s' : 'requests/s', []);
    card._err = mk('error_rate', 'error rate', []);
    card._lat = mk('latency', 'latency', [['p50', 'p50'], ['p95', 'p95'], ['p99', 'p99']]);
    card.appendChild(charts);
    card._title = title;
    card._now = now;
    if (kind === 'upstream') {
      const wrap = el('div', 'table-wrap');
      const tbl = el('table', 'targets');
      const hr = el('tr');
      for (const h of ['target', 'state', 'weight', 'in flight', 'EWMA', 'tries/s', 'requests', 'failed', 'ejected', 'check']) hr.appendChild(el('th', null, h));
      const thead = el('thead');
      thead.appendChild(hr);
      tbl.appendChild(thead);
      card._tbody = el('tbody');
      tbl.appendChild(card._tbody);
      wrap.appendChild(tbl);
      card.appendChild(wrap);
    }
    return card;
  }

  function renderCards(container, kind, map, now) {
    const existing = new Map();
    for (const c of container.querySelectorAll('.card')) existing.set(c.dataset.name, c);
    const names = Array.from(map.keys()).sort();
    const empty = container.querySelector('.empty');
    if (empty) empty.hidden = names.length > 0;
    for (const name of names) {
      const e = map.get(name);
      let card = existing.get(name);
      if (!card) { card = makeCard(kind, name); container.appendChild(card); }
      existing.delete(name);
      const s = e.cur;
      card._title.textContent = '';
      card._title.appendChild(document.createTextNode(kind === 'route' && name === '' ? '(no route matched)' : name));
      if (kind === 'route' && s.upstream) card._title.appendChild(el('span', 'arrow', ' → ' + s.upstream));
      if (kind === 'upstream') {
        card._title.appendChild(el('span', 'arrow', ' ' + s.balance));
        if (s.panicking) card._title.appendChild(el('span', 'panic', ' panic mode'));
      }
      card._now.textContent = '';
      const add = (label, value, bad) => {
        const span = el('span', bad ? 'bad' : null);
        span.appendChild(document.createTextNode(label + ' '));
        span.appendChild(el('b', null, value));
        card._now.appendChild(span);
      };
      add(kind === 'upstream' ? 'tries/s' : 'req/s', fmtRPS(s.rps));
      add('errors', fmtPct(s.error_rate), s.error_rate > 0);
      add('p50', fmtMS(s.p50_ms));
      add('p95', fmtMS(s.p95_ms));
      add('p99', fmtMS(s.p99_ms));
      const h = e.history;
      drawChart(card._rps, [{ key: 'rps', area: true, values: h.map((p) => [p.t, p.rps]) }], now, fmtRPS);
      drawChart(card._err, [{ key: 'err', area: true, values: h.map((p) => [p.t, p.error_rate]) }], now, fmtPct);
      drawChart(card._lat, [
        { key: 'p50', values: h.map((p) => [p.t, p.p50_ms]) },
        { key: 'p95', values: h.map((p) => [p.t, p.p95_ms]) },
        { key: 'p99', values: h.map((p) => [p.t, p.p99_ms]) },
      ], now, fmtMS);
      if (kind === 'upstream') renderTargets(card._tbody, s.targets || []);
    }
    for (const c of existing.values()) c.remove();
  }

  function renderTargets(tbody, targets) {
    tbody.textContent = '';
    for (const t of targets) {
      const tr = el('tr');
      tr.dataset.target = t.url;
      tr.dataset.state = t.state;
      tr.appendChild(el('td', 'mono', t.url));
      const st = el('td');
      st.appendChild(el('span', 'state state-' + t.state, t.state));
      tr.appendChild(st);
      const w = t.in_pool && t.effective_weight !== t.weight ? t.effective_weight.toFixed(2) + ' / ' + t.weight : String(t.weight);
      tr.appendChild(el('td', null, w));
      tr.appendChild(el('td', null, String(t.in_flight)));
      tr.appendChild(el('td', null, fmtMS(t.ewma_ms)));
      tr.appendChild(el('td', null, fmtRPS(t.rps)));
      tr.appendChild(el('td', null, String(t.requests)));
      tr.appendChild(el('td', null, String(t.failures)));
      tr.appendChild(el('td', null, String(t.ejections)));
      tr.appendChild(el('td', t.last_check_error ? 'error-text' : null, t.last_check_error || (t.last_check ? 'ok' : '–')));
      tbody.appendChild(tr);
    }
  }

  function renderErrors(stats) {
    const tbody = document.querySelector('#errors tbody');
    tbody.textContent = '';
    document.getElementById('errors-total').textContent = stats.errors_total ? stats.errors_total + ' since start; the newest ' + Math.min(ERRORS_SHOWN, stats.errors.length) + ' shown' : '';
    if (!stats.errors.length) {
      const tr = el('tr', 'empty');
      const td = el('td', null, 'None.');
      td.colSpan = 8;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    for (const e of stats.errors.slice(0, ERRORS_SHOWN)) {
      const tr = el('tr');
      tr.appendChild(el('td', 'mono', fmtTime(e.time)));
      tr.appendChild(el('td', null, e.route || '(none)'));
      tr.appendChild(el('td', null, e.method));
      tr.appendChild(el('td', 'mono', e.path));
      tr.appendChild(el('td', e.status >= 500 ? 's5' : 's4', String(e.status)));
      tr.appendChild(el('td', null, e.reason || ''));
      tr.appendChild(el('td', 'mono', e.target || ''));
      tr.appendChild(el('td', 'mono', e.request_id));
      tbody.appendChild(tr);
    }
  }

  function renderStatus(st) {
    document.getElementById('st-version').textContent = st.version;
    const started = Date.parse(st.started);
    document.getElementById('st-uptime').textContent = isNaN(started) ? '–' : fmtDuration((Date.now() - started) / 1000);
    const hash = document.getElementById('st-hash');
    hash.textContent = (st.config_hash || '').slice(0, 12);
    hash.title = (st.config_source ? st.config_source + ' ' : '') + st.config_hash;
    const r = st.reload;
    const rel = document.getElementById('st-reload');
    if (r.ok) {
      rel.textContent = 'ok ' + fmtTime(r.at).slice(0, 8);
      rel.className = '';
      rel.title = r.successes + ' reloads, ' + r.failures + ' failed';
    } else {
      rel.textContent = 'failed ' + fmtTime(r.at).slice(0, 8);
      rel.className = 'error-text';
      rel.title = r.error;
    }
    document.getElementById('st-listeners').textContent = (st.listeners || []).map((l) => l.name + ' ' + l.bound).join(', ');
  }

  function render() {
    const stats = state.last;
    if (!stats) return;
    const now = Date.parse(stats.time);
    renderStatus(stats.status);
    renderCards(document.getElementById('routes'), 'route', state.routes, now);
    renderCards(document.getElementById('upstreams'), 'upstream', state.upstreams, now);
    renderErrors(stats);
  }

  start();
})();
