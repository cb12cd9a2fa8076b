// The dashboard page: keeps the connections and their recent points from
// the event stream and draws the table and the charts.
"use strict";
(function () {
  const MAX_WINDOW_MS = 5 * 60 * 1000, MIN_WINDOW_MS = 60 * 1000; // the charts' time axis
  const MAX_POINTS = 600;
  const conns = new Map(); // id -> {row, points: []}
  let lastFrame = null;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function bytes(n) {
    if (n < 0 || n == null) return "–";
    if (n < 1024) return Math.round(n) + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KiB";
    if (n < 1024 * 1024 * 1024) return (n / 1048576).toFixed(1) + " MiB";
    return (n / 1073741824).toFixed(1) + " GiB";
  }
  const rate = (n) => (n < 0 || n == null ? "–" : bytes(n) + "/s");
  const pct = (q) => (q < 0 ? "–" : (q * 100).toFixed(q >= 0.995 && q < 1 ? 1 : 0) + "%");
  const qclass = (q) => (q < 0 ? "" : q >= 0.98 ? "good" : q >= 0.9 ? "warn" : "bad");
  const pclass = (p) => (p < 0 ? "" : p < 80 ? "good" : p < 200 ? "warn" : "bad");
  const ms = (v) => (v < 0 || v == null ? "–" : v < 10 ? v.toFixed(1) + " ms" : Math.round(v) + " ms");

  function apply(frame) {
    if (frame.history) {
      conns.clear();
      for (const [id, pts] of Object.entries(frame.history)) conns.set(Number(id), { row: null, points: pts.slice(-MAX_POINTS) });
    }
    const present = new Set();
    for (const r of frame.rows) {
      present.add(r.id);
      let c = conns.get(r.id);
      if (!c) { c = { row: r, points: [] }; conns.set(r.id, c); }
      c.row = r;
      const p = frame.points && frame.points[r.id];
      if (p && (!c.points.length || c.points[c.points.length - 1].t < p.t)) {
        c.points.push(p);
        if (c.points.length > MAX_POINTS) c.points.shift();
      }
    }
    for (const id of [...conns.keys()]) if (!present.has(id)) conns.delete(id);
    lastFrame = frame;
    render();
  }

  function render() {
    const f = lastFrame;
    $("identity").textContent = f.identity ? "local " + f.identity : "";
    const rows = [...conns.values()].map((c) => c.row).filter(Boolean).sort((a, b) => a.id - b.id);
    let inB = 0, outB = 0, inP = 0, outP = 0, pingMax = -1, qMin = 2;
    for (const r of rows) {
      inB += Math.max(0, r.inBps); outB += Math.max(0, r.outBps); inP += Math.max(0, r.inPps); outP += Math.max(0, r.outPps);
      pingMax = Math.max(pingMax, r.ping);
      if (r.ql >= 0) qMin = Math.min(qMin, r.ql);
    }
    $("sum-conns").textContent = f.total;
    $("sum-states").textContent = Object.entries(f.counts || {}).map(([k, v]) => v + " " + k).join(" · ");
    $("sum-in").textContent = rate(inB);
    $("sum-out").textContent = rate(outB);
    $("sum-inpps").textContent = Math.round(inP) + " packets/s";
    $("sum-outpps").textContent = Math.round(outP) + " packets/s";
    $("sum-ping").textContent = pingMax < 0 ? "–" : pingMax + " ms";
    $("sum-quality").textContent = qMin <= 1 ? "worst local quality " + pct(qMin) : "";
    $("empty").hidden = rows.length > 0;
    const more = f.total - rows.length;
    $("more").hidden = more <= 0;
    $("more").textContent = more > 0 ? more + " more connections not shown" : "";

    const tbody = document.querySelector("#conns tbody");
    tbody.innerHTML = rows.map((r) => `<tr data-conn="${r.id}">
      <td class="mono">${r.id}</td>
      <td class="peer" title="${esc(r.identity)}">${esc(r.name || r.identity || "–")}${r.name && r.identity ? `<div class="sub mono">${esc(r.identity)}</div>` : ""}</td>
      <td><span class="state ${esc(r.state)}">${esc(r.state)}</span></td>
      <td><span class="mono">${esc(r.addr || "–")}</span><div class="sub">${esc(r.route)}</div></td>
      <td class="num ${pclass(r.ping)}">${r.ping < 0 ? "–" : r.ping + " ms"}</td>
      <td class="num"><span class="${qclass(r.ql)}">${pct(r.ql)}</span> / <span class="${qclass(r.qr)}">${pct(r.qr)}</span></td>
      <td class="num">${rate(r.inBps)}<div class="sub">${r.inPps < 0 ? "" : Math.round(r.inPps) + " pkt/s"}</div></td>
      <td class="num">${rate(r.outBps)}<div class="sub">${r.outPps < 0 ? "" : Math.round(r.outPps) + " pkt/s"}</div></td>
      <td class="num">${r.sendRate > 0 ? rate(r.sendRate) : "–"}</td>
      <td class="num">${bytes(r.pendRel)} / ${bytes(r.pendUnrel)}<div class="sub">wait ${ms(r.queueMs)}</div></td>
      <td class="num">${bytes(r.unacked)}<div class="sub">${r.retrans} resent</div></td>
      <td class="num">${bytes(r.recvQueue)}</td>
      <td class="num">${r.lanes}</td>
    </tr>`).join("");

    renderCharts(rows, f.t);
  }

  // line draws one series as an SVG polyline over a fixed time window.
  function line(points, key, t1, win, top, color) {
    const W = 300, H = 46, t0 = t1 - win;
    const xy = [];
    for (const p of points) {
      const v = p[key];
      if (v == null || v < 0 || p.t < t0) continue;
      const x = ((p.t - t0) / win) * W;
      const y = H - 3 - (v / top) * (H - 8);
      xy.push(x.toFixed(1) + "," + y.toFixed(1));
    }
    // A lone point is drawn as a short dash, which stays round when the
    // chart is stretched.
    if (xy.length === 1) {
      const [x, y] = xy[0].split(",").map(Number);
      xy.splice(0, 1, Math.max(0, x - 3).toFixed(1) + "," + y, x.toFixed(1) + "," + y);
    }
    return `<polyline fill="none" stroke="${color}" stroke-width="1.6" vector-effect="non-scaling-stroke" points="${xy.join(" ")}"/>`;
  }

  function niceTop(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function chart(c, series, label, fmt, t1, win) {
    let top = 0;
    for (const p of c.points) for (const s of series) if (p[s.key] >= 0) top = Math.max(top, p[s.key]);
    top = niceTop(top);
    const lastP = c.points[c.points.length - 1];
    const last = series.map((s) => `<div style="color:${s.color}">${s.name ? s.name + " " : ""}${lastP && lastP[s.key] >= 0 ? fmt(lastP[s.key]) : "–"}</div>`).join("");
    const n = c.points.filter((p) => series.some((s) => p[s.key] >= 0)).length;
    return `<div class="chart"><div class="name">${label}<div class="legend">max ${fmt(top)}</div></div>
      <svg viewBox="0 0 300 46" preserveAspectRatio="none" data-series="${series[0].key}" data-points="${n}">
        <line class="grid" x1="0" x2="300" y1="23" y2="23" vector-effect="non-scaling-stroke"/>
        ${series.map((s) => line(c.points, s.key, t1, win, top, s.color)).join("")}
      </svg><div class="last">${last}</div></div>`;
  }

  function renderCharts(rows, t1) {
    const css = getComputedStyle(document.documentElement);
    const color = (v) => css.getPropertyValue(v).trim();
    const html = rows.map((r) => {
      const c = conns.get(r.id);
      const span = c.points.length ? t1 - c.points[0].t : 0;
      const win = Math.min(MAX_WINDOW_MS, Math.max(MIN_WINDOW_MS, span));
      return `<div class="chart-card" data-conn="${r.id}">
        <div class="title"><span class="mono">#${r.id}</span> ${esc(r.name || r.identity || "")}<div class="sub">${esc(r.addr || "")} · ${esc(r.route)} · last ${Math.round(win / 60000)} min</div></div>
        ${chart(c, [{ key: "ping", color: color("--ping") }], "Ping", (v) => Math.round(v) + " ms", t1, win)}
        ${chart(c, [{ key: "in", name: "in", color: color("--in") }, { key: "out", name: "out", color: color("--out") }], "Rate", rate, t1, win)}
        ${chart(c, [{ key: "loss", color: color("--loss") }], "Loss", (v) => v.toFixed(v < 10 ? 1 : 0) + "%", t1, win)}
      </div>`;
    }).join("");
    $("charts").innerHTML = html;
  }

  function connect() {
    const es = new EventSource("events");
    es.onopen = () => { $("live-dot").className = "dot on"; $("live-text").textContent = "live"; };
    es.onmessage = (ev) => {
      try { apply(JSON.parse(ev.data)); } catch (e) { console.error(e); }
      $("live-text").textContent = "live · " + new Date(lastFrame.t).toLocaleTimeString();
    };
    es.onerror = () => { $("live-dot").className = "dot off"; $("live-text").textContent = "reconnecting…"; };
  }
  connect();
})();
