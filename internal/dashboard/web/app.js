// Live turnstile dashboard. The server pushes Server-Sent Events:
//   snapshot  {reset, history, newest, window, buckets}  on (re)connect
//   update    {history, newest, window, buckets}         as windows close
//   health    pipeline health, every few seconds
//   ridership {newest, window, hours, busiest, ...}       ridership summary (--ridership-topic)
// A bucket is [station, lines, windowEnd, entries, exits]: the totals of one
// station in one window. They are absolute, so applying one twice is harmless.
"use strict";
(function () {
  const CHART_HOURS = 6;
  const BUSY_SECONDS = 3600;
  const TREND_WINDOWS = 12;
  const SVGNS = "http://www.w3.org/2000/svg";

  const state = {
    history: 86400, newest: 0, window: 0,
    stations: new Map(), // "name|lines" -> {name, lines, ends: Map(end -> [entries, exits])}
    selected: null, health: null, lastId: "",
    ridership: null, // the latest ridership summary: it replaces the one before
  };

  const $ = (id) => document.getElementById(id);
  const fmtN = (n) => Number(n).toLocaleString("en-US");
  const fmtTime = (s) => new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ");
  const fmtHM = (s) => new Date(s * 1000).toISOString().slice(11, 16);
  function fmtDur(sec) {
    sec = Math.max(0, Math.round(sec));
    if (sec < 90) return sec + " s";
    if (sec < 90 * 60) return Math.round(sec / 60) + " min";
    if (sec < 48 * 3600) return (sec / 3600).toFixed(1) + " h";
    return fmtN(Math.round(sec / 86400)) + " d";
  }

  function apply(p) {
    if (p.reset) state.stations.clear();
    if (p.history) state.history = p.history;
    if (p.window) state.window = p.window;
    if (p.newest > state.newest) state.newest = p.newest;
    for (const [name, lines, end, entries, exits] of p.buckets || []) {
      const k = name + "|" + lines;
      let s = state.stations.get(k);
      if (!s) {
        s = { key: k, name: name, lines: lines, ends: new Map() };
        state.stations.set(k, s);
      }
      s.ends.set(end, [entries, exits]);
      if (end > state.newest) state.newest = end;
    }
    schedule();
  }

  function evict() {
    const horizon = state.newest - state.history;
    for (const [k, s] of state.stations) {
      for (const end of s.ends.keys()) if (end <= horizon) s.ends.delete(end);
      if (s.ends.size === 0) state.stations.delete(k);
    }
  }

  let timer = null;
  function schedule() {
    if (timer === null) timer = setTimeout(() => { timer = null; render(); }, 100);
  }

  function render() {
    evict();
    const rows = [];
    for (const s of state.stations.values()) {
      const ends = [...s.ends.keys()].sort((a, b) => a - b);
      const last = ends[ends.length - 1];
      let hour = 0;
      for (const e of ends) if (e > state.newest - BUSY_SECONDS) { const v = s.ends.get(e); hour += v[0] + v[1]; }
      rows.push({ s: s, ends: ends, last: last, hour: hour });
    }
    renderTable(rows);
    renderBusiest(rows);
    renderChart();
    renderHealth();
    renderRidership();
  }

  function cell(tr, cls, text) {
    const td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function sparkline(s, ends) {
    const svg = document.createElementNS(SVGNS, "svg");
    svg.setAttribute("width", "80");
    svg.setAttribute("height", "20");
    const pick = ends.slice(-TREND_WINDOWS);
    if (pick.length < 2) return svg;
    const vals = pick.map((e) => { const v = s.ends.get(e); return v[0] + v[1]; });
    const max = Math.max(1, ...vals);
    const pts = vals.map((v, i) => (i * 78 / (vals.length - 1) + 1).toFixed(1) + "," + (19 - v * 18 / max).toFixed(1));
    const pl = document.createElementNS(SVGNS, "polyline");
    pl.setAttribute("points", pts.join(" "));
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", "currentColor");
    pl.setAttribute("stroke-width", "1.5");
    svg.appendChild(pl);
    return svg;
  }

  function renderTable(rows) {
    const q = $("filter").value.trim().toUpperCase();
    const shown = rows.filter((r) => !q || r.s.name.toUpperCase().includes(q) || r.s.lines.toUpperCase().includes(q));
    shown.sort((a, b) => a.s.name.localeCompare(b.s.name) || a.s.lines.localeCompare(b.s.lines));
    const body = document.createElement("tbody");
    for (const r of shown) {
      const v = r.s.ends.get(r.last);
      const tr = document.createElement("tr");
      tr.dataset.station = r.s.name;
      tr.dataset.lines = r.s.lines;
      tr.dataset.key = r.s.key;
      if (state.selected === r.s.key) tr.className = "selected";
      cell(tr, "name", r.s.name);
      cell(tr, "lines opt", r.s.lines);
      const end = cell(tr, "end", "");
      const date = document.createElement("span");
      date.className = "date";
      date.textContent = fmtTime(r.last).slice(0, 11);
      end.append(date, fmtTime(r.last).slice(11));
      cell(tr, "entries num", fmtN(v[0]));
      cell(tr, "exits num", fmtN(v[1]));
      cell(tr, "hour num opt", fmtN(r.hour));
      cell(tr, "trend opt", "").appendChild(sparkline(r.s, r.ends));
      body.appendChild(tr);
    }
    $("stations").replaceChild(body, $("stations").tBodies[0]);
    $("stations-count").textContent = shown.length === rows.length ? rows.length + " stations" : shown.length + " of " + rows.length;
  }

  function renderBusiest(rows) {
    const top = rows.filter((r) => r.hour > 0).sort((a, b) => b.hour - a.hour).slice(0, 10);
    const ol = document.createElement("ol");
    ol.id = "busiest";
    if (top.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "waiting for windows…";
      ol.appendChild(li);
    }
    const max = top.length ? top[0].hour : 1;
    for (const r of top) {
      const li = document.createElement("li");
      li.dataset.key = r.s.key;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = (100 * r.hour / max).toFixed(1) + "%";
      const n = document.createElement("span");
      n.className = "n";
      n.textContent = fmtN(r.hour);
      li.append(bar, n, document.createTextNode(r.s.name + " (" + r.s.lines + ")"));
      ol.appendChild(li);
    }
    $("busiest").replaceWith(ol);
  }

  function seriesFor(from) {
    const sum = new Map();
    const add = (s) => {
      for (const [e, v] of s.ends) {
        if (e <= from) continue;
        const t = sum.get(e) || [0, 0];
        t[0] += v[0]; t[1] += v[1];
        sum.set(e, t);
      }
    };
    const sel = state.selected && state.stations.get(state.selected);
    if (sel) add(sel); else for (const s of state.stations.values()) add(s);
    return [...sum.entries()].sort((a, b) => a[0] - b[0]);
  }

  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVGNS, name);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function renderChart() {
    const svg = $("chart");
    const W = Math.max(200, svg.clientWidth || 600), H = Math.max(120, svg.clientHeight || 240);
    const L = 56, R = 10, T = 10, B = 22;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const sel = state.selected && state.stations.get(state.selected);
    if (state.selected && !sel) state.selected = null;
    $("chart-title").textContent = sel ? sel.name + " (" + sel.lines + ")" : "All stations";
    $("chart-all").hidden = !sel;
    $("chart-hours").textContent = CHART_HOURS;
    const to = state.newest;
    const pts = seriesFor(to - CHART_HOURS * 3600);
    svg.dataset.points = pts.length;
    if (pts.length === 0) {
      svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no windows yet"));
      return;
    }
    // Start at the first window shown (one window before it), at most CHART_HOURS back.
    const from = Math.max(to - CHART_HOURS * 3600, pts[0][0] - (state.window || 300));
    const max = Math.max(1, ...pts.map((p) => Math.max(p[1][0], p[1][1])));
    const x = (t) => L + (t - from) * (W - L - R) / (to - from);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (const f of [0, 0.5, 1]) {
      svg.appendChild(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
      svg.appendChild(svgEl("text", { x: L - 6, y: y(max * f) + 4, "text-anchor": "end" }, fmtN(Math.round(max * f))));
    }
    for (const f of [0, 0.5, 1]) {
      const t = from + f * (to - from);
      svg.appendChild(svgEl("text", { x: x(t), y: H - 6, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, fmtHM(t)));
    }
    const few = pts.length <= 72;
    ["entries", "exits"].forEach((cls, i) => {
      const d = pts.map((p) => x(p[0]).toFixed(1) + "," + y(p[1][i]).toFixed(1)).join(" ");
      svg.appendChild(svgEl("polyline", { class: cls, points: d }));
      if (few) for (const p of pts) svg.appendChild(svgEl("circle", { class: cls, cx: x(p[0]), cy: y(p[1][i]), r: 2.5 }));
    });
  }

  function renderRidership() {
    const r = state.ridership;
    if (!r) return;
    $("r-busiest-card").hidden = false;
    $("r-chart-card").hidden = false;
    const hours = r.hours || [];
    $("r-span").textContent = hours.length ? hours.length + " windows, " + fmtTime(r.oldest - (r.window || 3600)) + " → " + fmtTime(r.newest) : "the latest windows";
    $("r-hours").textContent = hours.length;
    $("r-health").textContent = fmtN(r.rows) + " rows" + (r.duplicates ? ", " + fmtN(r.duplicates) + " repeats dropped" : "") +
      (r.bad ? ", " + fmtN(r.bad) + " bad" : "") + (r.future ? ", " + fmtN(r.future) + " from the future ignored" : "");
    const ol = document.createElement("ol");
    ol.id = "r-busiest";
    const top = r.busiest || [];
    if (top.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "waiting for ridership windows…";
      ol.appendChild(li);
    }
    const max = top.length ? Math.max(1, top[0].ridership) : 1;
    for (const c of top) {
      const li = document.createElement("li");
      li.dataset.complex = c.id;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = (100 * c.ridership / max).toFixed(1) + "%";
      const n = document.createElement("span");
      n.className = "n";
      n.textContent = fmtN(c.ridership);
      li.append(bar, n, document.createTextNode(c.name + " (" + c.borough + ")"));
      ol.appendChild(li);
    }
    $("r-busiest").replaceWith(ol);
    // Entries per window: one bar per window end.
    const svg = $("r-chart");
    const W = Math.max(200, svg.clientWidth || 600), H = Math.max(120, svg.clientHeight || 200);
    const L = 56, R = 10, T = 10, B = 22;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.dataset.points = hours.length;
    if (hours.length === 0) {
      svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no windows yet"));
      return;
    }
    const win = r.window || 3600;
    const from = hours[0].end - win, to = hours[hours.length - 1].end;
    const maxV = Math.max(1, ...hours.map((h) => h.ridership));
    const x = (t) => L + (t - from) * (W - L - R) / Math.max(1, to - from);
    const y = (v) => T + (H - T - B) * (1 - v / maxV);
    for (const f of [0, 0.5, 1]) {
      svg.appendChild(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(maxV * f), y2: y(maxV * f) }));
      svg.appendChild(svgEl("text", { x: L - 6, y: y(maxV * f) + 4, "text-anchor": "end" }, fmtN(Math.round(maxV * f))));
    }
    for (const f of [0, 0.5, 1]) {
      const t = from + f * (to - from);
      svg.appendChild(svgEl("text", { x: x(t), y: H - 6, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, fmtTime(t).slice(5)));
    }
    for (const h of hours) {
      const x0 = x(h.end - win), x1 = x(h.end);
      const bar = svgEl("rect", { x: (x0 + 0.5).toFixed(1), y: y(h.ridership).toFixed(1),
        width: Math.max(1, x1 - x0 - 1).toFixed(1), height: (y(0) - y(h.ridership)).toFixed(1) });
      bar.appendChild(svgEl("title", {}, fmtTime(h.end) + ": " + fmtN(h.ridership) + " entries"));
      svg.appendChild(bar);
    }
  }

  function setDD(id, text, level) {
    const dd = $(id);
    dd.textContent = text;
    dd.className = level || "";
  }

  function renderHealth() {
    const h = state.health;
    if (!h) return;
    for (const id of ["busiest-card", "chart-card", "stations-card"]) $(id).hidden = h.turnstile === false;
    // Without a turnstile topic, the window rows describe the ridership windows.
    const r = h.turnstile === false ? state.ridership : null;
    const newest = r ? r.newest : h.newest_end, win = r ? r.window : h.window;
    setDD("h-newest", newest ? fmtTime(newest) + " UTC" : "none yet");
    setDD("h-window", win ? fmtDur(win) : "—");
    setDD("h-behind", newest ? fmtDur(h.now - newest) : "—");
    setDD("h-age", h.last_message_age < 0 ? "none yet" : fmtDur(h.last_message_age) + " ago",
      h.last_message_age > 600 ? "warn" : "");
    setDD("h-reader", h.reader_lag < 0 ? "—" : fmtN(h.reader_lag) + " messages", h.reader_lag > 1000 ? "warn" : "");
    if (r) setDD("h-history", fmtN(r.rows) + " ridership rows, " + (r.hours || []).length + " windows");
    else setDD("h-history", fmtN(h.rows) + " rows, " + fmtN(h.buckets) + " station windows" +
      (h.oldest_end ? ", " + fmtTime(h.oldest_end) + " → " + fmtTime(h.newest_end) : "") +
      (h.duplicates ? ", " + fmtN(h.duplicates) + " repeats dropped" : "") + (h.bad ? ", " + fmtN(h.bad) + " bad" : "") +
      (h.future ? ", " + fmtN(h.future) + " from the future ignored" : ""));
    const c = h.consumer;
    if (!c) {
      setDD("h-watermark", "— (no --consumer-metrics)");
      setDD("h-lag", "— (no --consumer-metrics)");
    } else if (!c.ok) {
      setDD("h-watermark", "unknown", "bad");
      setDD("h-lag", "consumer metrics: " + c.error, "bad");
    } else {
      setDD("h-watermark", c.watermark ? fmtDur(c.watermark_delay) + " (watermark " + fmtTime(c.watermark) + ")" : "no watermark yet");
      setDD("h-lag", fmtN(c.lag) + " records over " + c.partitions + " partitions", c.lag > 10000 ? "warn" : "");
    }
  }

  function setStatus(s, text) {
    const el = $("status");
    el.dataset.state = s;
    el.textContent = text;
  }

  let es = null;
  function connect() {
    const url = "/events" + (state.lastId ? "?last=" + encodeURIComponent(state.lastId) : "");
    es = new EventSource(url);
    es.onopen = () => setStatus("live", "live");
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        setStatus("down", "disconnected, retrying…");
        setTimeout(connect, 2000);
      } else {
        setStatus("connecting", "reconnecting…");
      }
    };
    const onData = (ev) => {
      if (ev.lastEventId) state.lastId = ev.lastEventId;
      apply(JSON.parse(ev.data));
    };
    es.addEventListener("snapshot", onData);
    es.addEventListener("update", onData);
    es.addEventListener("health", (ev) => { state.health = JSON.parse(ev.data); renderHealth(); });
    es.addEventListener("ridership", (ev) => { state.ridership = JSON.parse(ev.data); schedule(); });
  }

  function select(key) {
    state.selected = state.selected === key ? null : key;
    render();
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("filter").addEventListener("input", schedule);
    $("stations").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-key]");
      if (tr) select(tr.dataset.key);
    });
    $("busiest-card").addEventListener("click", (ev) => {
      const li = ev.target.closest("li[data-key]");
      if (li) select(li.dataset.key);
    });
    $("chart-all").addEventListener("click", () => select(null));
    window.addEventListener("resize", schedule);
    if (window.ResizeObserver) new ResizeObserver(schedule).observe($("chart-wrap"));
    connect();
  });
})();
