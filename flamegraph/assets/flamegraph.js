// Behaviour of ember's flamegraph SVG: details on hover, click to zoom, search, reset.
// The frames are static SVG, so the graph shows even where scripts do not run; this script only
// adds behaviour. Names and positions come from the JSON in #fg-data, never from markup, and a
// name only ever reaches the page as textContent: no name can become markup or code.
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var data = null;
  var levels = [];       // per depth: its <g>, rects, and name/start/value arrays
  var frames, labels, zlabels, details, matched, unzoomButton, clearButton;
  var zoomed = null;     // {level, index, start, value} of the frame that fills the width
  var touched = [];      // rects the zoom moved or marked, to put back
  var highlighted = [];  // rects the search coloured
  var hits = null;       // [start, end) of every matching frame, sorted by start
  var term = '';
  var ignoreCase = false;

  function byId(id) { return document.getElementById(id); }

  function init() {
    var blob = byId('fg-data');
    frames = byId('fg-frames');
    if (!blob || !frames) return;
    data = JSON.parse(blob.textContent);
    labels = byId('fg-labels');
    zlabels = byId('fg-zlabels');
    details = byId('fg-details');
    matched = byId('fg-matched');
    unzoomButton = byId('fg-unzoom');
    clearButton = byId('fg-clear');
    var groups = frames.children;
    for (var l = 0; l < data.levels.length && l < groups.length; l++) {
      // Triples of (name, gap after the previous frame's end, value): starts are implied.
      var packed = data.levels[l];
      var n = Math.floor(packed.length / 3);
      var level = {
        rects: groups[l].children, y: data.ys[l], indexed: false, group: groups[l],
        // A sandwich holds two trees over the shared root (0): callees (1) and callers (2).
        tree: data.trees ? data.trees[l] : 0,
        name: new Int32Array(n), start: new Float64Array(n), value: new Float64Array(n)
      };
      var end = 0;
      for (var j = 0; j < n; j++) {
        level.name[j] = packed[3 * j];
        level.start[j] = end + packed[3 * j + 1];
        level.value[j] = packed[3 * j + 2];
        end = level.start[j] + level.value[j];
      }
      groups[l].fgLevel = l;
      levels.push(level);
    }
    frames.addEventListener('mouseover', function (e) {
      var f = frameOf(e.target);
      if (f) showDetails(f.rect);
    });
    frames.addEventListener('mouseout', function (e) {
      if (frameOf(e.target)) showDetails(null);
    });
    frames.addEventListener('click', function (e) {
      var f = frameOf(e.target);
      if (!f) return;
      if (f.level === 0) unzoom(); else zoom(f.level, f.index);
    });
    unzoomButton.addEventListener('click', function () { unzoom(); });
    byId('fg-search').addEventListener('click', promptSearch);
    byId('fg-ic').addEventListener('click', toggleIgnoreCase);
    clearButton.addEventListener('click', function () { clearSearch(); });
    window.addEventListener('keydown', onKey);
    restoreState();
  }

  // The frame a rect draws, as {level, index, rect}; null for anything else.
  function frameOf(el) {
    if (!el || el.localName !== 'rect' || !el.parentNode) return null;
    var l = el.parentNode.fgLevel;
    if (l === undefined) return null;
    var level = levels[l];
    if (!level.indexed) {
      // Indices are needed only for levels the pointer visits: set them on first use.
      for (var j = 0; j < level.rects.length; j++) level.rects[j].fgIndex = j;
      level.indexed = true;
    }
    return {level: l, index: el.fgIndex, rect: el};
  }

  function showDetails(rect) {
    var title = rect && rect.firstElementChild;
    details.textContent = title ? 'Function: ' + title.textContent : '';
  }

  function fixed(v) { return String(Math.round(v * 100) / 100); }

  function lowerBound(a, v) {  // first index with a[i] >= v
    var lo = 0, hi = a.length;
    while (lo < hi) {
      var mid = (lo + hi) >>> 1;
      if (a[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function upperBound(a, v) {  // first index with a[i] > v
    var lo = 0, hi = a.length;
    while (lo < hi) {
      var mid = (lo + hi) >>> 1;
      if (a[mid] <= v) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function remember(rect) {
    if (rect.fgX === undefined) {
      rect.fgX = rect.getAttribute('x');
      rect.fgW = rect.getAttribute('width');
    }
    touched.push(rect);
  }

  // A label as the static ones: as many characters as fit, ".." when cut.
  function addLabel(into, level, j, x, w, ancestor) {
    var chars = Math.floor(w / data.cw);
    if (chars < 3) return;
    var name = data.names[level.name[j]];
    var points = Array.from(name);
    var text = points.length <= chars ? name : points.slice(0, chars - 2).join('') + '..';
    var t = document.createElementNS(SVG_NS, 'text');
    t.setAttribute('x', fixed(x + 3));
    t.setAttribute('y', fixed(level.y + data.ty));
    if (ancestor) t.setAttribute('class', 'a');
    t.textContent = text;
    into.appendChild(t);
  }

  function putBack() {
    for (var i = 0; i < touched.length; i++) {
      var r = touched[i];
      if (r.fgX !== undefined) {
        r.setAttribute('x', r.fgX);
        r.setAttribute('width', r.fgW);
      }
      r.style.rx = '';
      r.classList.remove('a', 'h');
    }
    touched = [];
    zlabels.textContent = '';
    for (var l = 0; l < levels.length; l++) levels[l].group.classList.remove('h');
  }

  // The frame fills the width; its ancestors stay, greyed and as wide; the rest is out of view.
  // One transform on the frames magnifies them all, and the clip around them cuts off what falls
  // outside: the cost is the zoomed subtree and the depth, not the size of the graph. Frames are
  // sorted by start on every level, so the ones that matter are found by bisection.
  function zoom(l, i) {
    var level = levels[l];
    if (!level || !(i >= 0 && i < level.value.length)) return;
    putBack();
    var s = level.start[i], v = level.value[i], e = s + v;
    var full = data.width - 2 * data.pad;
    var unit = full / data.total;      // pixels per value unit, unzoomed
    var k = data.total / v;            // magnification
    var onScreen = full / v;           // pixels per value unit, zoomed
    // Static coordinates are rounded to 0.01 px: a neighbour that ends (or starts) within that
    // much of the zoomed frame's edges could peek in once magnified, so it is hidden.
    var near = 0.02 / unit;
    zoomed = {level: l, index: i, start: s, value: v};
    frames.setAttribute('transform',
        'matrix(' + k + ' 0 0 1 ' + (data.pad - k * (data.pad + s * unit)) + ' 0)');
    labels.classList.add('fg-off');
    unzoomButton.classList.remove('fg-off');
    var into = document.createDocumentFragment();
    for (var d = 0; d < levels.length; d++) {
      var b = levels[d], j0, j1, m;
      if (b.tree && b.tree !== level.tree) {
        // The other tree of a sandwich orders its frames differently: it leaves the view.
        b.group.classList.add('h');
        continue;
      }
      if (d < l) {
        j0 = upperBound(b.start, s) - 1;  // the ancestor: the frame that starts at or before s
        if (j0 < 0) continue;
        j1 = j0 + 1;
        remember(b.rects[j0]);
        b.rects[j0].classList.add('a');
        addLabel(into, b, j0, data.pad, full, true);
      } else {
        j0 = lowerBound(b.start, s);
        j1 = lowerBound(b.start, e);
        for (m = j0; m < j1; m++) {
          var r = b.rects[m];
          remember(r);
          // Exact positions, not the rounded static ones, and corners round on screen.
          r.setAttribute('x', data.pad + b.start[m] * unit);
          r.setAttribute('width', b.value[m] * unit);
          r.style.rx = (2 / k) + 'px';
          addLabel(into, b, m, data.pad + (b.start[m] - s) * onScreen, b.value[m] * onScreen, false);
        }
      }
      for (m = j0 - 1; m >= 0 && b.start[m] + b.value[m] > s - near; m--) hide(b.rects[m]);
      for (m = j1; m < b.start.length && b.start[m] < e + near; m++) hide(b.rects[m]);
    }
    zlabels.appendChild(into);
    updateMatched();
    saveState();
  }

  function hide(rect) {
    remember(rect);
    rect.classList.add('h');
  }

  function unzoom() {
    putBack();
    zoomed = null;
    frames.removeAttribute('transform');
    labels.classList.remove('fg-off');
    unzoomButton.classList.add('fg-off');
    updateMatched();
    saveState();
  }

  function promptSearch() {
    var t = window.prompt('Search for frames matching a regular expression (e.g. ^ext4_)', term);
    if (t === null) return;
    if (t === '') clearSearch(); else search(t);
  }

  function search(t) {
    var re;
    try {
      re = new RegExp(t, ignoreCase ? 'i' : '');
    } catch (err) {
      matched.textContent = 'Invalid regular expression: ' + t;
      return;
    }
    unhighlight();
    term = t;
    // Each distinct name is tested once, however many frames carry it.
    var hit = new Uint8Array(data.names.length);
    for (var n = 0; n < data.names.length; n++) hit[n] = re.test(data.names[n]) ? 1 : 0;
    hits = [];
    for (var l = 0; l < levels.length; l++) {
      var level = levels[l];
      for (var j = 0; j < level.name.length; j++) {
        if (!hit[level.name[j]]) continue;
        level.rects[j].classList.add('m');
        highlighted.push(level.rects[j]);
        // Positions of a sandwich's callers follow another order: the share counts the callees.
        if (level.tree !== 2) hits.push([level.start[j], level.start[j] + level.value[j]]);
      }
    }
    hits.sort(function (x, y) { return x[0] - y[0]; });
    clearButton.classList.remove('fg-off');
    updateMatched();
    saveState();
  }

  function toggleIgnoreCase() {
    ignoreCase = !ignoreCase;
    byId('fg-ic').classList.toggle('fg-on', ignoreCase);
    if (term) search(term); else saveState();
  }

  function unhighlight() {
    for (var i = 0; i < highlighted.length; i++) highlighted[i].classList.remove('m');
    highlighted = [];
  }

  function clearSearch() {
    unhighlight();
    term = '';
    hits = null;
    clearButton.classList.add('fg-off');
    updateMatched();
    saveState();
  }

  // How much of [lo, hi) lies under at least one match. A recursive function matches on several
  // levels over the same samples: the union counts each sample once.
  function covered(lo, hi) {
    var sum = 0, reach = lo;
    for (var i = 0; i < hits.length && hits[i][0] < hi; i++) {
      var s = Math.max(hits[i][0], reach), e = Math.min(hits[i][1], hi);
      if (e > s) {
        sum += e - s;
        reach = e;
      }
    }
    return sum;
  }

  function percent(part, whole) {
    return (whole > 0 ? 100 * part / whole : 0).toFixed(2) + '%';
  }

  function updateMatched() {
    if (!hits) {
      matched.textContent = '';
      return;
    }
    var all = percent(covered(0, data.total), data.total);
    if (zoomed) {
      var inside = covered(zoomed.start, zoomed.start + zoomed.value);
      matched.textContent = 'Matched: ' + percent(inside, zoomed.value) +
          ' of zoomed frame (' + all + ' of all)';
    } else {
      matched.textContent = 'Matched: ' + all;
    }
  }

  function onKey(e) {
    if (((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) || e.key === 'F3') {
      e.preventDefault();
      promptSearch();
    } else if ((e.ctrlKey || e.metaKey) && (e.key === 'i' || e.key === 'I')) {
      e.preventDefault();
      toggleIgnoreCase();
    } else if (e.key === 'Escape') {
      clearSearch();
      unzoom();
    }
  }

  // Zoom and search live in the URL fragment, so a reload or a shared link shows the same view.
  function saveState() {
    var parts = [];
    if (zoomed) parts.push('zoom=' + zoomed.level + '.' + zoomed.index);
    if (term) parts.push('search=' + encodeURIComponent(term));
    if (ignoreCase) parts.push('ic=1');
    var url = location.href.split('#')[0] + (parts.length ? '#' + parts.join('&') : '');
    if (url === location.href) return;
    try {
      history.replaceState(null, '', url);
    } catch (err) {
      // Some URLs (data:, sandboxed frames) refuse it: the view still works, it is just not kept.
    }
  }

  function restoreState() {
    var parts = location.hash.replace(/^#/, '').split('&');
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      if (eq < 0) continue;
      var key = parts[i].slice(0, eq), value = parts[i].slice(eq + 1);
      if (key === 'ic' && value === '1' && !ignoreCase) toggleIgnoreCase();
      var z = key === 'zoom' && /^(\d+)\.(\d+)$/.exec(value);
      if (z && +z[1] > 0) zoom(+z[1], +z[2]);
      if (key === 'search') {
        try {
          search(decodeURIComponent(value));
        } catch (err) {
          // A malformed fragment is ignored, as a browser ignores an unknown anchor.
        }
      }
    }
  }

  if (document.readyState === 'complete') init(); else window.addEventListener('load', init);
})();
