// streamproc dashboard: live state over Server-Sent Events, charts as
// inline SVG. No dependencies, so the page works offline.
"use strict";
(() => {
  const SEP = "\x1f", W = 300, H = 100;
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const $ = (s) => document.querySelector(s);
  const h = (tag, attrs, ...kids) => {
    const e = tag.startsWith("svg:") ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    for (const c of kids) e.append(c);
    return e;
  };
  const fmt = (v) => v == null ? "–" : v >= 100 || Number.isInteger(v) ? Math.round(v).toLocaleString("en") : v >= 10 ? v.toFixed(1) : +v.toFixed(2) + "";
  const hhmmss = (t) => new Date(t).toISOString().slice(11, 19);
  let st = null, searching = false;

  function setup() {
    const grid = $("#charts");
    grid.textContent = "";
    for (const c of st.topology.charts) {
      grid.append(h("div", { class: "chart", id: "c-" + c.id, title: c.help || "" },
        h("h3", {}, c.title + " ", h("small", {}, c.rate ? c.unit + "/s" : c.unit)),
        h("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" }),
        h("div", { class: "lg" })));
    }
  }

  // push appends one tick to the history, keeping historySize samples.
  function push(m) {
    st.times.push(m.t);
    const n = st.times.length;
    for (const k in m.points) {
      const s = st.series[k] || (st.series[k] = new Array(n - 1).fill(null));
      s.push(m.points[k]);
    }
    for (const k in st.series) if (st.series[k].length < n) st.series[k].push(null);
    while (st.times.length > st.historySize) {
      st.times.shift();
      for (const k in st.series) st.series[k].shift();
    }
    st.nodes = m.nodes;
  }

  function drawCharts() {
    // Until the history fills, the x axis spans the data (at least 30 s),
    // so the first seconds are a chart, not a sliver at the right edge.
    const t1 = st.times[st.times.length - 1] || Date.now();
    const t0 = t1 - Math.min(st.historySize * st.intervalMs, Math.max(30000, t1 - (st.times[0] || t1)));
    for (const c of st.topology.charts) {
      const box = $("#c-" + CSS.escape(c.id));
      const keys = Object.keys(st.series).filter((k) => k.startsWith(c.id + SEP));
      let top = 0;
      for (const k of keys) for (const v of st.series[k]) if (v != null && v > top) top = v;
      top = niceMax(top);
      const svg = box.querySelector("svg"), lg = box.querySelector(".lg");
      svg.textContent = "";
      lg.textContent = "";
      svg.append(h("svg:text", { class: "ax", x: 2, y: 9 }, fmt(top)), h("svg:text", { class: "ax", x: 2, y: H - 2 }, "0"));
      keys.forEach((k, i) => {
        const color = COLORS[i % COLORS.length], vals = st.series[k];
        let pts = [], last = null;
        const flush = () => { if (pts.length) svg.append(h("svg:polyline", { points: pts.join(" "), stroke: color })); pts = []; };
        vals.forEach((v, j) => {
          // A rate with no sample is a gap; a gauge (a duration between
          // invocations) keeps its line across ticks without a value.
          if (v == null) return c.rate ? flush() : undefined;
          last = v;
          const x = (st.times[j] - t0) / (t1 - t0) * W, y = H - 4 - v / top * (H - 14);
          pts.push(x.toFixed(1) + "," + y.toFixed(1));
        });
        flush();
        lg.append(h("span", { "data-series": k.split(SEP)[1], "data-v": last == null ? "" : String(last) },
          h("i", { style: "background:" + color }), k.split(SEP)[1] + " " + fmt(last)));
      });
      if (!keys.length) lg.append(h("span", { class: "empty" }, "no data yet"));
    }
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function drawNodes() {
    const units = {};
    for (const n of st.topology.nodes) units[n.id] = n.unit;
    for (const n of st.nodes || []) {
      const g = document.getElementById("n-" + n.id), v = document.getElementById("v-" + n.id);
      if (!g) continue;
      g.classList.remove("ok", "warn", "bad", "idle");
      g.classList.add(n.health);
      let text = units[n.id] ? fmt(n.rate) + " " + units[n.id] : "";
      if (n.text) text += (text ? " · " : "") + n.text;
      if (v) v.textContent = text;
      g.dataset.why = n.why || "";
      g.dataset.count = n.count;
      const title = g.querySelector("title");
      title.textContent = title.textContent.split("\n⚠")[0] + (n.why ? "\n⚠ " + n.why : "");
    }
  }

  function drawTables() {
    const t = st.tables;
    if (!t) return;
    const tr = $("#trends");
    tr.textContent = "";
    for (const w of t.trends || []) {
      const tags = w.hashtags || [];
      const top = (tags[0] || { count: 1 }).count;
      const col = h("div", { class: "window" + (w.open ? " open" : "") },
        h("h3", {}, `${hhmmss(w.start)} UTC · ${w.tweets.toLocaleString("en")} tweets` +
          (!w.open ? "" : w.end && Date.parse(w.end) <= (st.times[st.times.length - 1] || Date.now()) ? " · ended, closing" : " · counting")));
      for (const x of tags) {
        col.append(h("div", { class: "bar hashtag" }, h("span", {}, "#" + x.tag),
          h("div", { style: `width:${Math.max(2, x.count / top * 100)}%` }), h("span", {}, x.count.toLocaleString("en"))));
      }
      tr.append(col);
    }
    if (!tr.children.length) tr.append(h("p", { class: "empty" }, "no window yet"));
    if (!searching) drawItems(t.items || []);
    const fb = $("#failures tbody");
    fb.textContent = "";
    for (const f of t.failures || []) {
      fb.append(h("tr", { class: "failure" }, h("td", {}, hhmmss(f.time)), h("td", {}, h("span", { class: "badge" }, f.kind)),
        h("td", { title: f.where }, f.where), h("td", { class: "reason" }, f.reason), h("td", {}, h("code", {}, f.data))));
    }
    if (!fb.children.length) fb.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "no failures")));
    $("#errors").textContent = (t.errors || []).join("; ");
  }

  function drawItems(items) {
    const tb = $("#items tbody");
    tb.textContent = "";
    for (const it of items) {
      tb.append(h("tr", { class: "item" }, h("td", { style: "width:70px" }, it.time.slice(11, 19)),
        h("td", { style: "width:120px", title: it.name || "" }, "@" + it.user),
        h("td", { title: it.text }, it.text)));
    }
    if (!items.length) tb.append(h("tr", {}, h("td", { class: "empty" }, searching ? "no items for this user" : "no items yet")));
  }

  let timer;
  $("#user").addEventListener("input", (e) => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const user = e.target.value.trim();
      searching = user !== "";
      $("#items-what").textContent = searching ? "items of @" + user.replace(/^@/, "") : "newest items";
      if (!searching) return drawItems((st && st.tables && st.tables.items) || []);
      try {
        const r = await fetch("/api/items?user=" + encodeURIComponent(user));
        drawItems(r.ok ? await r.json() : []);
      } catch (err) { drawItems([]); }
    }, 300);
  });

  const conn = $("#conn"), es = new EventSource("/events");
  // While the stream is down the numbers are old: grey them out rather
  // than show a healthy-looking pipeline that may have stopped.
  es.addEventListener("open", () => { conn.textContent = "live"; conn.className = "conn live"; document.body.classList.remove("stale"); });
  es.addEventListener("error", () => { conn.textContent = "disconnected: is streamproc up still running? reconnecting…"; conn.className = "conn down"; document.body.classList.add("stale"); });
  es.addEventListener("init", (e) => { st = JSON.parse(e.data); setup(); drawCharts(); drawNodes(); drawTables(); });
  es.addEventListener("tick", (e) => {
    if (!st) return;
    const m = JSON.parse(e.data);
    push(m);
    drawCharts();
    drawNodes();
    $("#clock").textContent = hhmmss(m.t) + " UTC";
  });
  es.addEventListener("tables", (e) => { if (st) { st.tables = JSON.parse(e.data); drawTables(); } });
})();
