// meterd dashboard: plain JavaScript, no libraries, no requests to any other host.
// The view and its state live in the address's hash (#chart?m=...&start=...), so every view
// is a link. A read token, when the server needs one, is kept in sessionStorage and sent as
// an Authorization header; it never goes into an address.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // ---- script errors are shown, and counted for the browser tests ----
  const errorList = $('#errors');
  function recordError(message) {
    errorList.hidden = false;
    const li = document.createElement('li');
    li.textContent = message;
    errorList.appendChild(li);
    document.body.dataset.errors = String(errorList.children.length);
  }
  window.addEventListener('error', (e) => recordError(`${e.message} (${e.filename}:${e.lineno})`));
  window.addEventListener('unhandledrejection', (e) => {
    const r = e.reason;
    recordError(`unhandled: ${r && r.message ? r.message : r}`);
  });

  // ---- small DOM helpers ----
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }
  function fmt(v) {
    if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);
    if (!isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    return a >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(Number(v.toPrecision(6)));
  }
  function since(ms) {
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < 0) return new Date(ms).toISOString();
    if (s < 90) return `${s} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  }

  // ---- the token and every request ----
  const TOKEN_KEY = 'meterd.token';
  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
  function showToken() {
    $('#token-state').textContent = token() ? 'token set' : '';
  }
  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('#token').value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    $('#token').value = '';
    showToken();
    banner('');
    route();
  });
  $('#token-clear').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
  });
  function banner(text) {
    const b = $('#banner');
    b.textContent = text;
    b.hidden = !text;
  }

  class Refused extends Error {}

  // fetch with the token; a JSON error body becomes the error's message.
  async function request(path, init) {
    const headers = Object.assign({}, (init && init.headers) || {});
    if (token()) headers.Authorization = `Bearer ${token()}`;
    const res = await fetch(path, Object.assign({ cache: 'no-store' }, init, { headers }));
    if (res.status === 401 || res.status === 403) {
      banner('This server needs a read token: enter it at the top right.');
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const body = await res.json();
        if (body && body.error) message = `${body.error.message} (${body.error.code})`;
      } catch (_) { /* not JSON */ }
      throw new Refused(message);
    }
    return res;
  }
  async function getJson(path, init) {
    const res = await request(path, init);
    return res.status === 204 ? null : res.json();
  }
  function failed(container, error) {
    container.dataset.state = 'error';
    const p = el('p', { class: 'error', text: error.message });
    container.replaceChildren(p);
  }

  // ---- views ----
  const views = {};
  let leave = null; // what the current view stops when it is left (timers, streams)

  function parseHash() {
    const raw = location.hash.replace(/^#/, '');
    const at = raw.indexOf('?');
    const name = (at < 0 ? raw : raw.slice(0, at)) || 'browse';
    const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
    return { name: views[name] ? name : 'browse', params };
  }
  function setHash(name, params) {
    const qs = params.toString();
    const next = `#${name}${qs ? `?${qs}` : ''}`;
    if (location.hash === next) route();
    else location.hash = next;
  }
  function route() {
    if (leave) {
      leave();
      leave = null;
    }
    const { name, params } = parseHash();
    document.body.dataset.view = name;
    for (const section of $$('main > section')) section.hidden = section.id !== `view-${name}`;
    for (const a of $$('nav a')) a.classList.toggle('active', a.dataset.nav === name);
    leave = views[name](params) || null;
  }

  // ---- the metric browser ----
  let catalog = null;
  views.browse = function (params) {
    const search = $('#search');
    const scope = $('#scope-filter');
    search.value = params.get('q') || '';
    scope.value = params.get('scope') || '';
    const table = $('#metrics');
    table.dataset.state = 'loading';
    getJson('/ui/api/catalog')
      .then((answer) => {
        const order = { application: 0, vendor: 1, base: 2 };
        catalog = ((answer && answer.families) || []).sort((a, b) =>
          (order[a.scope] - order[b.scope]) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        renderServices(params);
        renderMetrics(params);
        table.dataset.state = 'done';
      })
      .catch((e) => {
        table.dataset.state = 'error';
        $('#metrics tbody').replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'error', text: e.message })));
      });
  };
  function browseParams() {
    const p = parseHash().params;
    const q = $('#search').value.trim();
    const scope = $('#scope-filter').value;
    q ? p.set('q', q) : p.delete('q');
    scope ? p.set('scope', scope) : p.delete('scope');
    return p;
  }
  $('#search').addEventListener('input', () => {
    history.replaceState(null, '', `#browse?${browseParams()}`);
    if (catalog) renderMetrics(parseHash().params);
  });
  $('#scope-filter').addEventListener('change', () => setHash('browse', browseParams()));

  function renderServices(params) {
    const counts = new Map();
    for (const f of catalog) {
      for (const s of f.series) {
        const paths = counts.get(s.service) || new Map();
        paths.set(s.servicePath, (paths.get(s.servicePath) || 0) + 1);
        counts.set(s.service, paths);
      }
    }
    const chosen = params.get('service');
    const chosenPath = params.get('path');
    const link = (label, n, p, active) =>
      el('a', { href: `#browse?${p}`, class: active ? 'active' : null }, el('span', { text: label }), el('span', { class: 'n', text: String(n) }));
    const items = [];
    const all = new URLSearchParams(params);
    all.delete('service');
    all.delete('path');
    const total = catalog.reduce((n, f) => n + f.series.length, 0);
    items.push(el('li', {}, link('all services', total, all, !chosen)));
    for (const [service, paths] of [...counts.entries()].sort()) {
      const p = new URLSearchParams(all);
      p.set('service', service);
      const sub = el('ul');
      let n = 0;
      for (const [path, k] of [...paths.entries()].sort()) {
        n += k;
        const pp = new URLSearchParams(p);
        pp.set('path', path);
        sub.appendChild(el('li', {}, link(path, k, pp, chosen === service && chosenPath === path)));
      }
      items.push(el('li', {}, link(service, n, p, chosen === service && !chosenPath), sub));
    }
    $('#services').replaceChildren(...items);
  }

  function seriesMatches(s, params) {
    const service = params.get('service');
    const path = params.get('path');
    return (!service || s.service === service) && (!path || s.servicePath === path);
  }
  function tagSummary(series) {
    const keys = new Map();
    for (const s of series) {
      for (const [k, v] of Object.entries(s.tags)) {
        const values = keys.get(k) || new Set();
        values.add(v);
        keys.set(k, values);
      }
    }
    return [...keys.entries()].sort().map(([k, vs]) => {
      const list = [...vs].sort();
      const shown = list.slice(0, 4).join('|') + (list.length > 4 ? `|…(${list.length})` : '');
      return `${k}=${shown}`;
    }).join(' ');
  }
  function kantoId(f) {
    return f.scope === 'application' ? f.name : `${f.scope}/${f.name}`;
  }
  function renderMetrics(params) {
    const q = (params.get('q') || '').toLowerCase();
    const scope = params.get('scope') || '';
    const rows = [];
    let shown = 0;
    for (const f of catalog) {
      if (scope && f.scope !== scope) continue;
      const series = f.series.filter((s) => seriesMatches(s, params));
      if (!series.length) continue;
      const tags = tagSummary(series);
      const services = [...new Set(series.map((s) => s.service))];
      const text = `${f.name} ${f.description || ''} ${tags} ${services.join(' ')} ${f.kind} ${f.unit || ''}`.toLowerCase();
      if (q && !q.split(/\s+/).every((word) => text.includes(word))) continue;
      shown += 1;
      const chart = new URLSearchParams();
      const tagKeys = Object.keys(series[0].tags);
      const agg = f.kind === 'gauge' ? 'avg' : 'sum';
      chart.append('m', `${agg}:${f.name}${tagKeys.length ? `{${tagKeys.map((k) => `${k}=*`).join(',')}}` : ''}`);
      chart.set('start', '1h-ago');
      const origin = `Service:${services[0] || 'default-service'}`;
      const single = series.length === 1 && typeof series[0].value === 'number' ? fmt(series[0].value) : '';
      rows.push(el('tr', { dataset: { metric: f.name } },
        el('td', { title: f.description || '' }, el('strong', { text: f.displayName || f.name }),
          f.displayName ? el('div', { class: 'tags', text: f.name }) : null,
          f.description ? el('div', { class: 'tags', text: f.description }) : null),
        el('td', { text: f.scope }),
        el('td', {}, el('span', { class: 'kind', text: f.kind })),
        el('td', { text: f.unit || '' }),
        el('td', { class: 'num', text: single ? `${series.length} (= ${single})` : String(series.length) }),
        el('td', { class: 'tags', text: `${tags}${services.length ? ` · ${services.join(', ')}` : ''}` }),
        el('td', {},
          f.own ? el('span', { class: 'muted', title: 'meterd reads its own metrics when asked; they have no history', text: 'own' }) : el('a', { href: `#chart?${chart}` }, 'chart'), ' ',
          f.own ? null : el('a', { href: '#live', onclick: (e) => { e.preventDefault(); watch(origin, kantoId(f)); } }, 'live'))));
    }
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: catalog.length ? 'No metric matches.' : 'No metric yet: push some events.' })));
    $('#metrics tbody').replaceChildren(...rows);
    $('#browse-count').textContent = `${shown} of ${catalog.length} metrics`;
  }

  // ---- charts of OpenTSDB queries ----
  const chartForm = $('#chart-form');
  let formFilled = false;
  function parseM(m) {
    const out = { agg: 'sum', ds: '', rate: false, metric: '', group: '', filter: '' };
    let rest = m;
    const first = rest.indexOf(':');
    if (first < 0) return Object.assign(out, { metric: m });
    out.agg = rest.slice(0, first);
    rest = rest.slice(first + 1);
    for (;;) {
      const at = rest.indexOf(':');
      const brace = rest.indexOf('{');
      if (at < 0 || (brace >= 0 && brace < at && !rest.startsWith('rate{'))) break;
      const head = rest.slice(0, at);
      if (head === 'rate' || head.startsWith('rate{')) out.rate = true;
      else if (/^\d/.test(head) && head.includes('-')) out.ds = head;
      else if (head !== 'explicit_tags') break;
      rest = rest.slice(at + 1);
    }
    const b = rest.indexOf('{');
    if (b < 0) return Object.assign(out, { metric: rest });
    out.metric = rest.slice(0, b);
    const groups = rest.slice(b).match(/^\{([^}]*)\}(?:\{([^}]*)\})?$/);
    if (groups) {
      out.group = (groups[1] || '').split(',').filter(Boolean).map((t) => (t.endsWith('=*') ? t.slice(0, -2) : t)).join(',');
      out.filter = groups[2] || '';
    }
    return out;
  }
  function buildM(f) {
    let m = `${f.agg}:`;
    if (f.ds) m += `${f.ds}:`;
    if (f.rate) m += 'rate:';
    m += f.metric;
    const group = f.group.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s.includes('=') ? s : `${s}=*`)).join(',');
    if (group || f.filter) m += `{${group}}`;
    if (f.filter) m += `{${f.filter}}`;
    return m;
  }
  function fillForm(params) {
    const m = params.get('m');
    if (m) {
      const f = parseM(m);
      $('#f-agg').value = f.agg;
      $('#f-metric').value = f.metric;
      $('#f-ds').value = f.ds;
      $('#f-group').value = f.group;
      $('#f-filter').value = f.filter;
      $('#f-rate').checked = f.rate;
    }
    $('#f-start').value = params.get('start') || '1h-ago';
    $('#f-end').value = params.get('end') || '';
    for (const b of $$('#presets button')) b.classList.toggle('active', `${b.dataset.range}-ago` === $('#f-start').value && !params.get('end'));
  }
  function formParams() {
    const p = new URLSearchParams();
    const current = parseHash().params.getAll('m');
    const m = buildM({
      agg: $('#f-agg').value || 'sum',
      metric: $('#f-metric').value.trim(),
      ds: $('#f-ds').value.trim(),
      group: $('#f-group').value.trim(),
      filter: $('#f-filter').value.trim(),
      rate: $('#f-rate').checked,
    });
    p.append('m', m);
    for (const extra of current.slice(1)) p.append('m', extra); // more queries from a shared link
    p.set('start', $('#f-start').value.trim() || '1h-ago');
    if ($('#f-end').value.trim()) p.set('end', $('#f-end').value.trim());
    return p;
  }
  chartForm.addEventListener('submit', (e) => {
    e.preventDefault();
    setHash('chart', formParams());
  });
  for (const b of $$('#presets button')) {
    b.addEventListener('click', () => {
      $('#f-start').value = `${b.dataset.range}-ago`;
      $('#f-end').value = '';
      if ($('#f-metric').value.trim()) setHash('chart', formParams());
    });
  }
  async function loadChoices() {
    if (formFilled) return;
    formFilled = true;
    const aggs = await getJson('/api/aggregators').catch(() => ['sum', 'avg', 'min', 'max', 'count']);
    const select = $('#f-agg');
    const keep = select.value;
    select.replaceChildren(...aggs.map((a) => el('option', { value: a, text: a })));
    select.value = keep || 'sum';
    const names = await getJson('/api/suggest?type=metrics&max=1000').catch(() => []);
    $('#metric-names').replaceChildren(...names.map((n) => el('option', { value: n })));
  }
  views.chart = function (params) {
    const box = $('#chart');
    loadChoices()
      .then(() => fillForm(params))
      .catch((e) => recordError(e.message));
    fillForm(params);
    const ms = params.getAll('m');
    if (!ms.length) {
      box.dataset.state = 'empty';
      return null;
    }
    const query = new URLSearchParams();
    for (const m of ms) query.append('m', m);
    query.set('start', params.get('start') || '1h-ago');
    if (params.get('end')) query.set('end', params.get('end'));
    $('#chart-query').textContent = ms.join('  ');
    $('#chart-json').href = `/api/query?${query}`;
    const sized = new URLSearchParams(query);
    sized.set('w', String(Math.max(300, Math.min(4000, Math.floor(box.clientWidth - 18) || 900))));
    sized.set('h', '440');
    $('#chart-svg').href = `/ui/chart.svg?${sized}`;
    box.dataset.state = 'loading';
    let stopped = false;
    request(`/ui/chart.svg?${sized}`)
      .then((res) => res.text())
      .then((svg) => {
        if (stopped) return;
        // The server's own SVG, its text escaped by it; inline so that hover titles work.
        const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
        const root = doc.documentElement;
        if (root.nodeName !== 'svg') throw new Error('the chart is not SVG');
        box.replaceChildren(document.importNode(root, true));
        box.dataset.lines = String($$('g.mdl', box).length);
        box.dataset.state = 'done';
      })
      .catch((e) => { if (!stopped) failed(box, e); });
    return () => { stopped = true; };
  };

  // ---- live values over Server-Sent Events ----
  const SEP = '~';
  function watched(params) {
    return params.getAll('s').map((s) => {
      const at = s.indexOf(SEP);
      return at < 0 ? null : { origin: s.slice(0, at), id: s.slice(at + 1) };
    }).filter(Boolean);
  }
  function watch(origin, id) {
    const p = parseHash().name === 'live' ? parseHash().params : new URLSearchParams();
    const item = `${origin}${SEP}${id}`;
    if (!p.getAll('s').includes(item)) p.append('s', item);
    setHash('live', p);
  }
  $('#live-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const origin = $('#l-origin').value.trim() || 'SYSTEM';
    const id = $('#l-id').value.trim();
    if (id) watch(origin.includes(':') || origin === 'SYSTEM' ? origin : `Service:${origin}`, id);
  });
  function sparkline(values) {
    const w = 120;
    const h = 22;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    if (values.length > 1) {
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      const span = hi - lo || 1;
      const pts = values.map((v, i) => `${(i * (w - 2)) / (values.length - 1) + 1},${h - 2 - ((v - lo) * (h - 4)) / span}`);
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', '#1f6fb4');
      line.setAttribute('stroke-width', '1.5');
      svg.appendChild(line);
    }
    return svg;
  }
  views.live = function (params) {
    const items = watched(params);
    const state = $('#live-state');
    const table = $('#live');
    const rows = new Map();
    const body = [];
    for (const item of items) {
      const key = `${item.origin}${SEP}${item.id}`;
      const remove = new URLSearchParams(params);
      remove.delete('s');
      for (const other of params.getAll('s')) if (other !== key) remove.append('s', other);
      const cells = {
        value: el('td', { class: 'num', text: '…' }),
        spark: el('td'),
        at: el('td', { class: 'muted' }),
        history: [],
      };
      rows.set(key, cells);
      body.push(el('tr', { dataset: { id: item.id } }, el('td', { text: item.origin }), el('td', { text: item.id }),
        cells.value, cells.spark, cells.at, el('td', {}, el('a', { href: `#live?${remove}`, text: 'remove' }))));
    }
    if (!body.length) body.push(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'Nothing watched yet.' })));
    table.querySelector('tbody').replaceChildren(...body);
    table.dataset.state = items.length ? 'connecting' : 'empty';
    if (!items.length) {
      state.textContent = '';
      return null;
    }
    const q = new URLSearchParams({ frequency: '1s' });
    for (const o of new Set(items.map((i) => i.origin))) q.append('originator', o);
    for (const id of new Set(items.map((i) => i.id))) q.append('id', id);
    const abort = new AbortController();
    state.textContent = 'connecting…';
    (async () => {
      const res = await request(`/api/v1/metrics/stream?${q}`, { signal: abort.signal, headers: { Accept: 'text/event-stream' } });
      state.textContent = 'live';
      table.dataset.state = 'live';
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) onSnapshot(JSON.parse(data), rows, table);
        }
      }
      state.textContent = 'the stream ended';
    })().catch((e) => {
      if (abort.signal.aborted) return;
      state.textContent = e.message;
      table.dataset.state = 'error';
    });
    return () => abort.abort();
  };
  function onSnapshot(message, rows, table) {
    const at = new Date(message.timestamp).toISOString().slice(11, 19);
    for (const part of message.snapshot || []) {
      for (const m of part.measurements || []) {
        const cells = rows.get(`${part.originator}${SEP}${m.id}`);
        if (!cells) continue;
        cells.value.textContent = fmt(m.value);
        cells.at.textContent = at;
        cells.history.push(m.value);
        if (cells.history.length > 60) cells.history.shift();
        cells.spark.replaceChildren(sparkline(cells.history));
      }
    }
    table.dataset.updates = String(Number(table.dataset.updates || 0) + 1);
  }

  // ---- the Orion tree ----
  views.orion = function () {
    const table = $('#orion');
    table.dataset.state = 'loading';
    getJson('/admin/metrics')
      .then((tree) => {
        const rows = [];
        const add = (service, sub, metrics, sum) => {
          for (const [name, value] of Object.entries(metrics || {}).sort()) {
            rows.push(el('tr', { class: sum ? 'sum' : null }, el('td', { text: service }), el('td', { text: sub }),
              el('td', { text: name }), el('td', { class: 'num', text: fmt(value) })));
          }
        };
        for (const [service, node] of Object.entries((tree && tree.services) || {}).sort()) {
          for (const [sub, metrics] of Object.entries(node.subservs || {}).sort()) add(service, sub, metrics, false);
          add(service, 'Σ', node.sum, true);
        }
        if (tree && tree.sum) {
          for (const [sub, metrics] of Object.entries(tree.sum.subservs || {}).sort()) add('Σ', sub, metrics, true);
          add('Σ', 'Σ', tree.sum.sum, true);
        }
        if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No service has metrics yet.' })));
        table.querySelector('tbody').replaceChildren(...rows);
        table.dataset.state = 'done';
      })
      .catch((e) => {
        table.dataset.state = 'error';
        table.querySelector('tbody').replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'error', text: e.message })));
      });
  };

  // ---- meterd's own health ----
  function card(title, pairs, wide) {
    const dl = el('dl');
    for (const [k, v, warn] of pairs) {
      dl.appendChild(el('dt', { text: k }));
      dl.appendChild(el('dd', { class: warn ? 'warn' : null, text: fmt(v) }));
    }
    return el('div', { class: `card${wide ? ' wide' : ''}` }, el('h2', { text: title }), dl);
  }
  function renderHealth(h) {
    const d = h.durability;
    const s = h.snapshots;
    const q = h.queues;
    const r = h.refused;
    const cards = [
      card('Server', [
        ['version', h.version],
        ['up', `${fmt(h.uptimeSeconds)} s`],
        ['log mode', d.mode],
        ['fsync interval', `${d.fsyncIntervalMs} ms`],
        ['log bytes', d.walBytes],
        ['log fsyncs', d.walFsyncs],
        ['replayed at start', d.walReplayed],
      ]),
      card('Snapshots', [
        ['last', s.last ? `${new Date(s.last).toISOString()} (${since(s.last)})` : 'none yet'],
        ['every', `${fmt(d.snapshotIntervalMs / 1000)} s`],
        ['stored', s.stored],
        ['failed', s.failed, s.failed > 0],
      ]),
      card('Queues', [
        ['shard batches queued', `${fmt(q.shardDepth)} / ${fmt(q.shardCapacity)}`, q.shardDepth > q.shardCapacity / 2],
        ['collector capacity', q.collectorCapacity],
        ['log capacity', q.walCapacity],
        ['StatsD lines pending', q.udpLinesPending],
        ['stream subscribers', `${fmt(q.streamSubscribers)} / ${fmt(q.maxSubscribers)}`],
      ]),
      card('Refusals', [
        ['invalid (400)', r.invalid, r.invalid > 0],
        ['type conflict (409)', r.conflict, r.conflict > 0],
        ['busy (503)', r.busy, r.busy > 0],
        ['series limit (429)', r.seriesLimit, r.seriesLimit > 0],
        ['body size (413)', r.bodySize, r.bodySize > 0],
        ['body unreadable (400/408/415)', r.bodyUnreadable, r.bodyUnreadable > 0],
        ['token (401/403)', r.auth, r.auth > 0],
        ['events rejected', r.eventsRejected, r.eventsRejected > 0],
        ['batches rejected', r.batchesRejected, r.batchesRejected > 0],
        ['stream subscribers refused', r.streamRefused, r.streamRefused > 0],
        ['stream messages dropped', r.streamMessagesDropped, r.streamMessagesDropped > 0],
      ]),
      card('Series', [
        ['live', `${fmt(h.series.live)} / ${fmt(h.series.limit)}`, h.series.live > h.series.limit * 0.9],
        ['per service limit', h.series.perServiceLimit],
        ['expired', h.series.expired],
        ['removed', h.series.removed],
        ...Object.entries(h.series.byService).map(([svc, n]) => [`in ${svc}`, n]),
      ]),
      card('Vendor scope', Object.entries(h.vendor).sort().map(([k, v]) => [k, v]), true),
    ];
    $('#health').replaceChildren(...cards);
  }
  views.health = function () {
    const box = $('#health');
    box.dataset.state = 'loading';
    const load = () => getJson('/ui/api/health')
      .then((h) => {
        renderHealth(h);
        box.dataset.state = 'done';
      })
      .catch((e) => failed(box, e));
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  };

  window.addEventListener('hashchange', route);
  showToken();
  route();
})();
