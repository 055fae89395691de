// emberd's dashboard: the script of GET / (served as /ui/dashboard.js, embedded in emberd at build
// time from daemon/ui/). Over emberd's own API it draws, as inline SVG: the samples of the top
// processes over time, stacked (drag over it to pick a range); the flamegraph of that range, or
// its change against the range before; what changed (/api/v1/compare); a function's trend; a
// process's resources. It fetches from emberd only (same origin, so a bearer token a proxy adds
// goes with every request), and every name from the API is set as text, never as markup.
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const TOP_PROCESSES = 6;  // drawn on their own; the rest of the host is "other"
  const PROCESS_COLORS = ['#d1495b', '#edae49', '#00798c', '#30638e', '#8f5d9e', '#66a182'];
  const OTHER_COLOR = '#b8b8b8';
  const MAX_FUNCTIONS = 3;  // lines of the function trend: the top ones by total samples
  const FUNCTION_COLORS = ['#b3261e', '#30638e', '#66a182'];
  const MAX_CHANGE_ROWS = 25;
  const METRICS = [
    { name: 'rss', title: 'Resident memory' },
    { name: 'cpu', title: 'CPU time used per step' },
    { name: 'io_read', title: 'Read from storage per step' },
    { name: 'io_write', title: 'Written to storage per step' },
    { name: 'threads', title: 'Threads' },
    { name: 'ctx_switches', title: 'Context switches per step' },
  ];
  const VERDICT_ORDER = ['regression', 'improvement', 'new', 'gone', 'unchanged'];

  const $ = (id) => document.getElementById(id);

  const state = {
    from: '-1h',     // the range as the page was asked for it ("-1h")
    step: null,      // the timeline's step ("15s"): every series of the page uses it
    stepMs: 0,
    range: null,     // the timeline's range, {from, to} in ms
    starts: [],      // the timeline's step starts, ms
    selection: null, // the picked range, {from, to} in ms
    diff: false,     // show the change against the range before instead of the flamegraph
    process: null,   // the process whose resources are shown, {pid, comm}
  };
  const charts = new Map();  // chart box → its last spec, redrawn when the window is resized
  const latest = {};         // the newest request of each panel: older answers are dropped

  // ---- the API ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null) q.append(key, String(value));
    }
    return q.toString();
  }

  // The JSON of an endpoint; an ApiError with emberd's own one-line reason when it refuses.
  async function api(path, params) {
    let response;
    try {
      response = await fetch(path + '?' + query(params), { credentials: 'same-origin' });
    } catch (err) {
      throw new ApiError(0, `${path}: ${err.message}`);
    }
    if (!response.ok) {
      const text = (await response.text()).trim();
      throw new ApiError(response.status, text || `${path}: HTTP ${response.status}`);
    }
    return response.json();
  }

  // Runs `work` as the newest request of `panel`: {value} or {error}, or null when a newer
  // request of the same panel started meanwhile (its answer is the one to show).
  async function newest(panel, work) {
    const token = (latest[panel] = (latest[panel] || 0) + 1);
    let outcome;
    try {
      outcome = { value: await work() };
    } catch (error) {
      outcome = { error };
    }
    return token === latest[panel] ? outcome : null;
  }

  function showError(id, err) {
    const p = $(id);
    p.textContent = err ? err.message : '';
    p.hidden = !err;
  }

  // A panel whose request failed: what it showed before emptied, the reason said.
  function showFailure(panel, errorId, err, emptied = []) {
    for (const el of emptied) el.replaceChildren();
    showError(errorId, err);
    panel.dataset.state = 'error';
  }

  // ---- numbers and times -----------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, '0');
  const iso = (t) => new Date(t).toISOString();

  function clock(t, seconds) {
    const d = new Date(t);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}` + (seconds ? `:${pad(d.getSeconds())}` : '');
  }
  function date(t) {
    const d = new Date(t);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }
  const when = (t) => `${date(t)} ${clock(t, true)}`;

  function duration(ms) {
    const s = Math.round(ms / 1000);
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${+(s / 60).toFixed(1)} min`;
    if (s < 172800) return `${+(s / 3600).toFixed(1)} h`;
    return `${+(s / 86400).toFixed(1)} days`;
  }

  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
    return String(+v.toFixed(2));
  }

  function bytes(v) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${+v.toFixed(i && Math.abs(v) < 10 ? 1 : 0)} ${units[i]}`;
  }

  // A resource value in its unit as the API names it ("bytes", "seconds", "threads", ...).
  function unitFormat(unit) {
    const u = unit || '';
    if (u === 'bytes') return bytes;
    if (u === 'seconds') return (v) => `${compact(v)} s`;
    return compact;
  }

  // Round tick values from 0 to at least `max`, about `count` of them.
  function niceTicks(max, count) {
    if (!(max > 0)) return [0, 1];
    const raw = max / count;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw);
    const ticks = [];
    for (let i = 0; ; i++) {
      const v = +(i * step).toPrecision(12);
      ticks.push(v);
      if (v >= max) return ticks;
    }
  }

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                      172800].map((s) => s * 1000);

  // Times in [from, to] on round local clock values, at most `count` of them.
  function timeTicks(from, to, count) {
    const step = TIME_STEPS.find((s) => (to - from) / s <= count) || TIME_STEPS[TIME_STEPS.length - 1];
    const offset = -new Date(from).getTimezoneOffset() * 60000;
    const ticks = [];
    for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) ticks.push(t);
    return { ticks, step };
  }

  function timeLabel(t, step, span) {
    if (step >= 86400000) return date(t).slice(5);
    const text = clock(t, step < 60000);
    return span > 86400000 ? `${date(t).slice(5)} ${text}` : text;
  }

  // ---- charts ------------------------------------------------------------------------------

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.append(node);
    return node;
  }

  // Draws `spec` into `box` as an SVG chart over time:
  //   starts, stepMs, range {from, to}: the steps (ms) every series has a value for
  //   series [{name, color, values, dashed}]: stacked step areas (spec.stacked) or lines through
  //     the steps' middles; a null value leaves a gap
  //   format(v): y labels and the hover text; label: what the chart shows (accessible name)
  //   onSelect(from, to): when set, dragging (or clicking) picks a range, snapped to the steps
  // Returns (and keeps as spec.handle) {showSelection(from, to)}.
  function drawChart(box, spec) {
    charts.set(box, spec);
    box.replaceChildren();
    const width = Math.max(320, box.clientWidth || 800);
    const height = spec.height || 220;
    const m = { left: 70, right: 14, top: 10, bottom: 24 };
    const pw = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const { from, to } = spec.range;
    const n = spec.starts.length;
    const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': spec.label });
    box.append(svg);
    const x = (t) => m.left + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * pw;
    const end = (i) => Math.min(spec.starts[i] + spec.stepMs, to);

    let max = 0;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const s of spec.series) {
        const v = s.values[i];
        if (v === null || v === undefined) continue;
        if (spec.stacked) sum += v;
        else max = Math.max(max, v);
      }
      max = Math.max(max, sum);
    }
    const ticks = niceTicks(max, 4);
    const top = ticks[ticks.length - 1];
    const y = (v) => m.top + ph - (v / top) * ph;

    const axis = el('g', { class: 'axis' }, svg);
    for (const v of ticks) {
      el('line', { x1: m.left, x2: m.left + pw, y1: y(v), y2: y(v) }, axis);
      el('text', { x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, axis).textContent = spec.format(v);
    }
    const times = timeTicks(from, to, Math.max(2, Math.floor(pw / 110)));
    for (const t of times.ticks) {
      el('line', { x1: x(t), x2: x(t), y1: m.top + ph, y2: m.top + ph + 4 }, axis);
      // Labels near the right end end there, not past the chart's edge.
      const anchor = x(t) > width - m.right - 30 ? 'end' : 'middle';
      el('text', { x: Math.min(x(t), width - 2), y: height - 6, 'text-anchor': anchor }, axis).textContent =
        timeLabel(t, times.step, to - from);
    }

    const data = el('g', { class: 'data' }, svg);
    const lower = new Array(n).fill(0);
    let drawn = 0;
    for (const s of spec.series) {
      let d = '';
      if (spec.stacked) {
        const upper = lower.map((v, i) => v + (s.values[i] || 0));
        for (let i = 0; i < n; i++) d += `${i ? 'L' : 'M'}${x(spec.starts[i])},${y(upper[i])}L${x(end(i))},${y(upper[i])}`;
        for (let i = n - 1; i >= 0; i--) d += `L${x(end(i))},${y(lower[i])}L${x(spec.starts[i])},${y(lower[i])}`;
        if (n) d += 'Z';
        upper.forEach((v, i) => (lower[i] = v));
      } else {
        let pen = 'M';
        for (let i = 0; i < n; i++) {
          const v = s.values[i];
          if (v === null || v === undefined) {
            pen = 'M';
            continue;
          }
          const xm = x((spec.starts[i] + end(i)) / 2);
          d += `${pen}${xm},${y(v)}`;
          // A point between two gaps is still seen.
          if (pen === 'M' && (i + 1 >= n || s.values[i + 1] === null || s.values[i + 1] === undefined)) d += 'h1';
          pen = 'L';
        }
      }
      if (!d) continue;
      const path = el('path', { d, class: spec.stacked ? 'area' : 'line' + (s.dashed ? ' dashed' : '') }, data);
      path.setAttribute(spec.stacked ? 'fill' : 'stroke', s.color);
      path.dataset.series = s.name;
      el('title', {}, path).textContent = s.name;
      drawn++;
    }
    // Stacked samples: all zero is nothing sampled. Lines: zeros are values, only no value at all is empty.
    const anyValue = spec.series.some((s) => s.values.some((v) => v !== null && v !== undefined));
    if (!drawn || (spec.stacked ? max === 0 : !anyValue)) {
      el('text', { x: m.left + pw / 2, y: m.top + ph / 2, 'text-anchor': 'middle', class: 'empty' }, svg).textContent =
        spec.empty || 'nothing in this range';
    }

    // Hover: a guide on the step under the pointer and its values.
    const guide = el('line', { class: 'guide', y1: m.top, y2: m.top + ph, visibility: 'hidden' }, svg);
    const selection = el('rect', { class: 'selection', y: m.top, height: ph, visibility: 'hidden' }, svg);
    const area = el('rect', { class: 'plot-area', x: m.left, y: m.top, width: pw, height: ph }, svg);
    const tip = document.createElement('div');
    tip.className = 'tooltip';
    tip.hidden = true;
    box.append(tip);
    const timeAt = (event) => {
      const px = event.clientX - svg.getBoundingClientRect().left;
      return from + ((Math.min(Math.max(px, m.left), m.left + pw) - m.left) / pw) * (to - from);
    };
    const stepAt = (t) => Math.min(n - 1, Math.max(0, Math.floor((t - from) / spec.stepMs)));
    area.addEventListener('mousemove', (event) => {
      if (!n) return;
      const i = stepAt(timeAt(event));
      const xm = x((spec.starts[i] + end(i)) / 2);
      guide.setAttribute('x1', xm);
      guide.setAttribute('x2', xm);
      guide.setAttribute('visibility', 'visible');
      const lines = [`${when(spec.starts[i])} + ${duration(spec.stepMs)}`];
      let sum = 0;
      for (const s of spec.series) {
        const v = s.values[i];
        lines.push(`${s.name}: ${v === null || v === undefined ? 'no data' : spec.format(v)}`);
        sum += v || 0;
      }
      if (spec.stacked) lines.push(`all: ${spec.format(sum)}`);
      tip.textContent = lines.join('\n');
      tip.hidden = false;
      const left = xm + 12 + tip.offsetWidth > width ? xm - 12 - tip.offsetWidth : xm + 12;
      tip.style.left = `${Math.max(0, left)}px`;
      tip.style.top = `${m.top}px`;
    });
    area.addEventListener('mouseleave', () => {
      guide.setAttribute('visibility', 'hidden');
      tip.hidden = true;
    });

    const showSelection = (a, b) => {
      if (a === null || a === undefined) {
        selection.setAttribute('visibility', 'hidden');
        return;
      }
      selection.setAttribute('x', x(a));
      selection.setAttribute('width', Math.max(1, x(b) - x(a)));
      selection.setAttribute('visibility', 'visible');
    };
    if (spec.onSelect && n) {
      area.addEventListener('mousedown', (event) => {
        if (event.button !== 0) return;
        event.preventDefault();
        const startX = event.clientX;
        const t0 = timeAt(event);
        let t1 = t0;
        showSelection(t0, t0);
        const move = (e) => {
          t1 = timeAt(e);
          showSelection(Math.min(t0, t1), Math.max(t0, t1));
        };
        const up = (e) => {
          window.removeEventListener('mousemove', move);
          window.removeEventListener('mouseup', up);
          t1 = timeAt(e);
          // Snapped to whole steps: the range then holds exactly the snapshots drawn under it.
          let a = stepAt(Math.min(t0, t1));
          let b = stepAt(Math.max(t0, t1));
          if (Math.abs(e.clientX - startX) < 3) a = b = stepAt(t0);
          const range = [spec.starts[a], end(b)];
          showSelection(...range);
          spec.onSelect(...range);
        };
        window.addEventListener('mousemove', move);
        window.addEventListener('mouseup', up);
      });
    }
    if (spec.selection) showSelection(spec.selection.from, spec.selection.to);
    box.dataset.state = 'drawn';
    spec.handle = { showSelection };
    return spec.handle;
  }

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const [box, spec] of charts) drawChart(box, spec);
    }, 150);
  });

  function legend(list, entries) {
    list.replaceChildren();
    for (const e of entries) {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch' + (e.dashed ? ' dashed' : '');
      if (e.dashed) swatch.style.borderColor = e.color;
      else swatch.style.background = e.color;
      const label = document.createElement(e.onClick ? 'button' : 'span');
      if (e.onClick) {
        label.type = 'button';
        label.addEventListener('click', e.onClick);
        label.dataset.pid = e.pid;
      }
      label.append(swatch, document.createTextNode(e.text));
      li.append(label);
      list.append(li);
    }
  }

  // ---- the timeline: samples per process, stacked ------------------------------------------

  const processName = (p) => `${p.comm || '?'} (${p.pid})`;

  async function loadTimeline() {
    const box = $('timeline');
    box.dataset.state = 'loading';
    try {
      const total = await api('api/v1/series', { from: state.from });
      state.step = total.step;
      state.stepMs = total.step_seconds * 1000;
      state.range = { from: Date.parse(total.from), to: Date.parse(total.to) };
      state.starts = total.steps.map((s) => Date.parse(s.start));
      const targets = await api('api/v1/targets', { from: total.from, to: total.to, limit: 4 * TOP_PROCESSES });
      const top = [];
      for (const p of targets.processes) {
        // A process that exec'd is listed once per name; its pid's series holds both.
        if (p.samples > 0 && top.length < TOP_PROCESSES && !top.some((t) => t.pid === p.pid)) top.push(p);
      }
      // The same relative range for each (series checks `from` against the data kept), the same step.
      const each = await Promise.all(
        top.map((p) => api('api/v1/series', { from: state.from, step: state.step, pid: p.pid })));
      const n = state.starts.length;
      const series = top.map((p, k) => ({
        name: processName(p),
        color: PROCESS_COLORS[k % PROCESS_COLORS.length],
        values: Array.from({ length: n }, (_, i) => (each[k].steps[i] ? each[k].steps[i].samples : 0)),
        process: p,
      }));
      const other = total.steps.map((s, i) => Math.max(0, s.samples - series.reduce((sum, t) => sum + t.values[i], 0)));
      if (other.some((v) => v > 0)) series.push({ name: 'other', color: OTHER_COLOR, values: other });
      drawChart(box, {
        label: 'samples per process over time',
        starts: state.starts,
        stepMs: state.stepMs,
        range: state.range,
        series,
        stacked: true,
        format: compact,
        empty: 'no samples in this range',
        onSelect: (a, b) => select({ from: a, to: b }),
      });
      box.dataset.state = 'loaded';
      legend($('timeline-legend'), series.map((s) => ({
        text: `${s.name} · ${s.values.reduce((a, b) => a + b, 0).toLocaleString()} samples`,
        color: s.color,
        pid: s.process ? s.process.pid : undefined,
        onClick: s.process ? () => pickProcess(s.process) : undefined,
      })));
      showError('timeline-error', null);
      return top;
    } catch (err) {
      showFailure(box, 'timeline-error', err);
      return [];
    }
  }

  // ---- the picked range: flamegraph or diff, and what changed -------------------------------

  // The picked range as query parameters; the page's range until the timeline has loaded.
  const rangeParams = () =>
    state.selection ? { from: iso(state.selection.from), to: iso(state.selection.to) } : { from: state.from };

  function select(range) {
    state.selection = range;
    const timeline = charts.get($('timeline'));
    if (timeline) {
      timeline.selection = range;
      timeline.handle.showSelection(range ? range.from : null, range ? range.to : null);
    }
    const length = range ? range.to - range.from : null;
    $('selection-text').textContent = range ? `${when(range.from)} to ${when(range.to)} (${duration(length)})` : '';
    $('diff-toggle').textContent = length ? `Change against the ${duration(length)} before` : 'Change against the range before';
    loadFlame();
    loadChanges();
  }

  function loadFlame() {
    const frame = $('flame');
    const params = rangeParams();
    params.width = Math.max(200, Math.floor(frame.clientWidth) - 20);
    const url = (state.diff ? 'api/v1/diff.svg?' : 'api/v1/flamegraph.svg?') + query(params);
    frame.dataset.state = 'loading';
    frame.dataset.kind = state.diff ? 'diff' : 'flamegraph';
    $('flame-open').href = url;
    frame.src = url;
  }

  // A flamegraph fits its frame (up to most of the window's height); an answer that is no SVG (a
  // 4xx/5xx reason) is shown as an error.
  function flameLoaded() {
    const frame = $('flame');
    if (!frame.getAttribute('src')) return;
    let root = null;
    try {
      root = frame.contentDocument && frame.contentDocument.documentElement;
    } catch (err) {
      root = null;
    }
    if (root && root.localName === 'svg') {
      const h = (parseFloat(root.getAttribute('height')) || 480) + 4;
      const fit = Math.max(320, Math.round(window.innerHeight * 0.8));
      frame.style.height = `${Math.min(h, fit)}px`;
      frame.hidden = false;
      // emberd's flamegraphs have their roots at the bottom: a tall one (deep recursion) opens
      // there, with its deepest frames a scroll up.
      if (h > fit) frame.contentWindow.scrollTo(0, h);
      showError('flame-error', null);
      frame.dataset.state = 'loaded';
    } else {
      const text = root ? root.textContent.trim() : 'the flamegraph could not be loaded';
      frame.hidden = true;
      showFailure(frame, 'flame-error', new Error(text));
    }
  }

  function toggleDiff() {
    state.diff = !state.diff;
    $('diff-toggle').setAttribute('aria-pressed', String(state.diff));
    loadFlame();
  }

  const percent = (v) => `${(v * 100).toFixed(v >= 0.1 ? 1 : 2)}%`;

  async function loadChanges() {
    const table = $('changes');
    const body = table.tBodies[0];
    table.dataset.state = 'loading';
    $('changes-note').textContent = 'comparing…';
    $('changes-more').hidden = true;
    const answer = await newest('changes', () => api('api/v1/compare', rangeParams()));
    if (!answer) return;
    if (answer.error) {
      changeRows = [];
      table.hidden = true;
      showFailure(table, 'changes-error', answer.error, [body, $('changes-note'), $('changes-ranges')]);
      return;
    }
    const c = answer.value;
    showError('changes-error', null);
    const base = c.ranges.base;
    const current = c.ranges.current;
    $('changes-ranges').textContent =
      `${when(Date.parse(current.from))} to ${when(Date.parse(current.to))} against ` +
      `${when(Date.parse(base.from))} to ${when(Date.parse(base.to))}`;
    const counts = c.counts;
    $('changes-note').textContent =
      `${counts.regression} regressed, ${counts.improvement} improved, ${counts.new} new, ${counts.gone} gone, ` +
      `${counts.unchanged} unchanged · ${c.runs.baseline.length} snapshots before, ${c.runs.current.length} now · ` +
      `${c.tests} functions tested at ${percent(c.settings.threshold)} or more, below ${percent(c.settings.min_share)} ` +
      `of both not tested (${c.ignored})`;
    // Changed ones first, each kind by how much of the profile moved.
    changeRows = [...c.functions].sort((a, b) => {
      const rank = VERDICT_ORDER.indexOf(a.verdict) - VERDICT_ORDER.indexOf(b.verdict);
      if (rank) return rank;
      return Math.abs(b.current_share - b.baseline_share) - Math.abs(a.current_share - a.baseline_share);
    });
    showChangeRows(MAX_CHANGE_ROWS);
    table.dataset.state = 'loaded';
  }

  let changeRows = [];

  function showChangeRows(count) {
    const table = $('changes');
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const f of changeRows.slice(0, count)) {
      const tr = body.insertRow();
      const cells = [
        f.name,
        f.kind,
        percent(f.baseline_share),
        percent(f.current_share),
        f.change === null ? (f.verdict === 'new' ? 'new' : '—') : `${f.change >= 0 ? '+' : ''}${(f.change * 100).toFixed(1)}%`,
        f.verdict,
      ];
      cells.forEach((text, i) => {
        const td = tr.insertCell();
        td.textContent = text;
        if (i >= 2 && i <= 4) td.className = 'n';
      });
      tr.cells[5].className = `verdict-${f.verdict}`;
    }
    const more = $('changes-more');
    more.hidden = changeRows.length <= count;
    more.textContent = `show all ${changeRows.length} rows`;
    table.hidden = changeRows.length === 0;
  }

  // ---- a function's trend ----------------------------------------------------------------------

  async function loadFunction(pattern) {
    const box = $('function-chart');
    box.dataset.state = 'loading';
    const answer = await newest('function', () =>
      api('api/v1/series', { from: state.from, step: state.step, function: pattern, top: MAX_FUNCTIONS }));
    if (!answer) return;
    if (answer.error) {
      charts.delete(box);
      showFailure(box, 'function-error', answer.error, [box, $('function-legend'), $('function-note')]);
      return;
    }
    const s = answer.value;
    showError('function-error', null);
    const series = [];
    s.functions.forEach((f, k) => {
      const color = FUNCTION_COLORS[k % FUNCTION_COLORS.length];
      series.push({ name: `${f.name} · total`, color, values: f.steps.total_samples });
      series.push({ name: `${f.name} · self`, color, values: f.steps.self_samples, dashed: true });
    });
    const starts = s.steps.map((x) => Date.parse(x.start));
    drawChart(box, {
      label: `samples of functions matching ${pattern} over time`,
      starts,
      stepMs: s.step_seconds * 1000,
      range: { from: Date.parse(s.from), to: Date.parse(s.to) },
      series,
      format: compact,
      empty: s.matched_functions ? 'no samples of these functions in this range' : 'no function matches in this range',
    });
    legend($('function-legend'), series.map((x, i) => ({
      text: `${x.name} (${(i % 2 ? s.functions[i >> 1].self_samples : s.functions[i >> 1].total_samples).toLocaleString()} samples)`,
      color: x.color,
      dashed: x.dashed,
    })));
    $('function-note').textContent = s.matched_functions > s.functions.length
      ? `${s.matched_functions} functions match; the ${s.functions.length} with the most samples are drawn ` +
        '(total: with everything they call, dashed self: their own code).'
      : `${s.matched_functions} function${s.matched_functions === 1 ? '' : 's'} match ` +
        '(total: with everything they call, dashed self: their own code).';
    box.dataset.state = 'loaded';
  }

  // ---- a process's resources -------------------------------------------------------------------

  function pickProcess(p) {
    state.process = p;
    for (const b of document.querySelectorAll('[data-pid]')) {
      if (b.localName === 'button') b.setAttribute('aria-pressed', String(Number(b.dataset.pid) === p.pid));
    }
    $('resources-process').textContent = processName(p);
    loadResources(p);
  }

  async function loadResources(p) {
    const box = $('resource-charts');
    box.dataset.state = 'loading';
    const answer = await newest('resources', () => Promise.all(METRICS.map((metric) =>
      api('api/v1/series', { from: state.from, step: state.step, metric: metric.name, pid: p.pid })
        .then((data) => ({ metric, data }), (error) => ({ metric, error })))));
    if (!answer) return;
    const results = answer.value;
    for (const old of box.querySelectorAll('.chart')) charts.delete(old);
    box.replaceChildren();
    const failed = results.filter((r) => r.error);
    // One reason for all (an emberd without resource series): said once, not six times.
    if (failed.length === results.length && failed.every((r) => r.error.message === failed[0].error.message)) {
      showFailure(box, 'resources-error', failed[0].error);
      return;
    }
    showError('resources-error', null);
    for (const { metric, data, error } of results) {
      const figure = document.createElement('div');
      const title = document.createElement('h3');
      title.textContent = metric.title + (data && data.unit ? ` (${data.unit})` : '');
      figure.append(title);
      box.append(figure);
      if (error) {
        const p = document.createElement('p');
        p.className = 'error';
        p.textContent = error.message;
        figure.append(p);
        continue;
      }
      const chart = document.createElement('div');
      chart.className = 'chart';
      chart.dataset.metric = metric.name;
      figure.append(chart);
      drawChart(chart, {
        label: `${metric.title} of ${processName(p)} over time`,
        starts: data.steps.map((x) => Date.parse(x.start)),
        stepMs: data.step_seconds * 1000,
        range: { from: Date.parse(data.from), to: Date.parse(data.to) },
        series: [{ name: metric.title, color: '#30638e', values: data.steps.map((x) => x.value) }],
        format: unitFormat(data.unit),
        height: 160,
        empty: 'no data in this range',
      });
    }
    box.dataset.state = 'loaded';
  }

  // Each row of the process table can be picked for the resource charts too.
  function addTableButtons() {
    for (const row of document.querySelectorAll('#targets tbody tr[data-pid]')) {
      const pid = Number(row.dataset.pid);
      const comm = row.querySelector('a.comm') ? row.querySelector('a.comm').textContent : '';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'link';
      button.dataset.pid = pid;
      button.textContent = 'resources';
      button.addEventListener('click', () => {
        pickProcess({ pid, comm });
        $('resources-panel').scrollIntoView({ behavior: 'smooth' });
      });
      const cell = row.cells[row.cells.length - 1];
      cell.append(' · ', button);
    }
  }

  // ---- start -------------------------------------------------------------------------------------

  async function start() {
    const choice = $('from');
    if (choice && choice.value) state.from = choice.value;
    // The range choice applies at once; the button stays for the page without script.
    if (choice) choice.addEventListener('change', () => $('range-form').submit());
    $('dashboard').hidden = false;
    $('flame').addEventListener('load', flameLoaded);
    $('diff-toggle').addEventListener('click', toggleDiff);
    $('selection-reset').addEventListener('click', () => select(state.range));
    $('changes-more').addEventListener('click', () => showChangeRows(Infinity));
    $('function-search').addEventListener('submit', (event) => {
      event.preventDefault();
      loadFunction($('function-regex').value);
    });
    addTableButtons();
    const top = await loadTimeline();
    select(state.range);
    if (top.length) pickProcess(top[0]);
    else showError('resources-error', new Error('no process has samples in this range'));
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
