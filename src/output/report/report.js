"use strict";
(function () {
  var errors = [];
  var violations = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message || e)); });
  document.addEventListener("securitypolicyviolation", function (e) { violations.push(e.violatedDirective + " " + e.blockedURI); });

  // Sortable tables: a header button sorts by its column (numbers by data-v), again reverses.
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-kind") === "n";
    var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
    if (!th.hasAttribute("aria-sort")) dir = numeric ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col], y = b.cells[col];
      var u = numeric ? parseFloat(x.getAttribute("data-v")) : x.textContent;
      var v = numeric ? parseFloat(y.getAttribute("data-v")) : y.textContent;
      return (u < v ? -1 : u > v ? 1 : 0) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable th button").forEach(function (b) {
    b.addEventListener("click", function () { sortBy(b.parentNode); });
  });

  // Choosing a connection: jump to it and mark it.
  function select(id) {
    document.querySelectorAll("section.conn.current").forEach(function (s) { s.classList.remove("current"); });
    var s = document.getElementById("conn-" + id);
    if (!s) return null;
    s.classList.add("current");
    s.scrollIntoView({ block: "start" });
    s.focus({ preventScroll: true });
    var pick = document.getElementById("pick");
    if (pick) pick.value = String(id);
    return s;
  }
  var pick = document.getElementById("pick");
  if (pick) pick.addEventListener("change", function () { if (pick.value !== "") select(pick.value); });
  window.addEventListener("hashchange", function () {
    var m = /^#conn-(\d+)$/.exec(location.hash);
    if (m) select(m[1]);
  });

  // A segment's line in the panel; the same frame highlighted in every drawing of its connection.
  var panel = document.getElementById("detail"), text = document.getElementById("detail-text");
  function show(el) {
    var scope = el.closest("section.conn") || document;
    var f = el.getAttribute("data-f");
    // the ladder's arrow of the frame has the whole annotated line
    var full = scope.querySelector('.arrow[data-f="' + f + '"] title') || el.querySelector("title");
    text.textContent = full ? full.textContent : "";
    panel.hidden = false;
    scope.querySelectorAll(".seg.sel").forEach(function (s) { s.classList.remove("sel"); });
    scope.querySelectorAll('.seg[data-f="' + f + '"]').forEach(function (s) { s.classList.add("sel"); });
  }
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest(".seg");
    if (el) show(el);
  });
  document.addEventListener("keydown", function (e) {
    var el = e.target.closest && e.target.closest(".seg");
    if (el && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); show(el); }
    if (e.key === "Escape") panel.hidden = true;
  });
  document.getElementById("detail-close").addEventListener("click", function () { panel.hidden = true; });

  // Zoom and pan: the plot's viewBox (data units 0..10000, y up in the drawing).
  var U = 10000;
  function vb(svg) { return svg.getAttribute("viewBox").split(" ").map(Number); }
  function setVb(svg, v) {
    var w = Math.min(U, Math.max(U / 2000, v[2])), h = Math.min(U, Math.max(U / 2000, v[3]));
    var x = Math.min(U - w, Math.max(0, v[0])), y = Math.min(U - h, Math.max(0, v[1]));
    svg.setAttribute("viewBox", [x, y, w, h].join(" "));
    var fig = svg.closest("figure");
    var zoomed = w < U || h < U;
    fig.classList.toggle("zoomed", zoomed);
    var r = fig.querySelector(".zrange");
    if (r) r.textContent = zoomed ? "showing " + (100 * x / U).toFixed(1) + "–" + (100 * (x + w) / U).toFixed(1) + "% of the time axis, " + (100 * (U - y - h) / U).toFixed(1) + "–" + (100 * (U - y) / U).toFixed(1) + "% of the value axis" : "";
  }
  function zoom(svg, k, cx, cy) {
    var v = vb(svg);
    if (cx === undefined) { cx = v[0] + v[2] / 2; cy = v[1] + v[3] / 2; }
    setVb(svg, [cx - (cx - v[0]) * k, cy - (cy - v[1]) * k, v[2] * k, v[3] * k]);
  }
  document.querySelectorAll("figure.graph").forEach(function (fig) {
    var svg = fig.querySelector("svg.plot");
    fig.querySelector(".zin").addEventListener("click", function () { zoom(svg, 0.5); });
    fig.querySelector(".zout").addEventListener("click", function () { zoom(svg, 2); });
    fig.querySelector(".zreset").addEventListener("click", function () { setVb(svg, [0, 0, U, U]); });
    svg.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = svg.getBoundingClientRect(), v = vb(svg);
      zoom(svg, e.deltaY < 0 ? 0.8 : 1.25, v[0] + (e.clientX - r.left) / r.width * v[2], v[1] + (e.clientY - r.top) / r.height * v[3]);
    }, { passive: false });
    var drag = null;
    svg.addEventListener("pointerdown", function (e) { if (e.target.closest(".seg")) return; drag = { x: e.clientX, y: e.clientY, v: vb(svg) }; });
    window.addEventListener("pointerup", function () { drag = null; });
    svg.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var r = svg.getBoundingClientRect();
      setVb(svg, [drag.v[0] - (e.clientX - drag.x) / r.width * drag.v[2], drag.v[1] - (e.clientY - drag.y) / r.height * drag.v[3], drag.v[2], drag.v[3]]);
    });
    svg.addEventListener("keydown", function (e) {
      var v = vb(svg), step = { ArrowLeft: [-0.2, 0], ArrowRight: [0.2, 0], ArrowUp: [0, -0.2], ArrowDown: [0, 0.2] }[e.key];
      if (e.key === "+" || e.key === "=") zoom(svg, 0.5);
      else if (e.key === "-") zoom(svg, 2);
      else if (e.key === "0") setVb(svg, [0, 0, U, U]);
      else if (step) setVb(svg, [v[0] + step[0] * v[2], v[1] + step[1] * v[3], v[2], v[3]]);
      else return;
      e.preventDefault();
    });
  });

  // Printing shows everything folded.
  window.addEventListener("beforeprint", function () { document.querySelectorAll("details").forEach(function (d) { d.open = true; }); });

  // Self-check (open the page with #selftest): the drawing against the records, and the
  // interactions; the result goes into the page for a headless browser to read.
  if (location.hash === "#selftest") {
    var expect = JSON.parse(document.getElementById("expect").textContent);
    var out = { errors: errors, violations: violations, conns: [], udp: [] };
    expect.udp.forEach(function (u) {
      var s = document.getElementById("udp-" + u.flow);
      out.udp.push({
        flow: u.flow, datagrams: u.datagrams, truncated: u.truncated,
        drawn: s.querySelectorAll(".udp-strip g.dgram").length,
        calls: s.querySelectorAll(".udp-strip rect.rf").length,
        drawn_truncated: s.querySelectorAll(".udp-strip rect.rf.trunc").length,
        discarded: s.querySelectorAll(".udp-strip rect.rf-lost").length
      });
    });
    var dg = document.querySelector(".udp-strip g.dgram");
    if (dg) {
      dg.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      out.udp_clicked = { shown: !panel.hidden, text: text.textContent };
    }
    expect.conns.forEach(function (c) {
      var s = document.getElementById("conn-" + c.conn);
      out.conns.push({
        conn: c.conn, frames: c.frames, retransmissions: c.retransmissions, complete: c.complete,
        arrows: s.querySelectorAll(".ladder g.arrow").length,
        states: Array.prototype.map.call(s.querySelectorAll(".ladder text.state"), function (t) { return t.textContent; }),
        retrans_arrows: s.querySelectorAll(".ladder g.arrow.m-retrans").length,
        retrans_bars: s.querySelectorAll(".tsg .bar.m-retrans").length,
        graphs: s.querySelectorAll("figure.tsg").length,
        messages: s.querySelectorAll("rect.msg").length,
        sticky: s.querySelectorAll("rect.msg-sticky, rect.msg-both").length,
        calls: s.querySelectorAll("rect.call").length,
        title: s.querySelector("h2").textContent
      });
    });
    var first = expect.conns.length ? expect.conns[0].conn : null;
    out.selected = first !== null && select(first) !== null && document.querySelector("section.conn.current") !== null;
    var plot = document.querySelector("svg.plot");
    if (plot) {
      var before = plot.getAttribute("viewBox");
      plot.closest("figure").querySelector(".zin").click();
      var z = plot.getAttribute("viewBox");
      plot.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
      out.zoom = { before: before, zoomed: z, panned: plot.getAttribute("viewBox") };
      plot.closest("figure").querySelector(".zreset").click();
    }
    var seg = document.querySelector(".ladder g.arrow");
    if (seg) {
      seg.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      out.clicked = { shown: !panel.hidden, text: text.textContent, highlighted: document.querySelectorAll(".seg.sel").length };
    }
    var th = document.querySelector("table.conns th:nth-child(9) button");
    if (th) { th.click(); out.sorted = th.parentNode.getAttribute("aria-sort"); }
    out.resources = performance.getEntriesByType("resource").map(function (r) { return r.name; });
    out.scripts = document.scripts.length;
    out.handlers = document.querySelectorAll("[onload],[onerror],[onclick],[onmouseover],[onfocus],iframe,object,embed,img,image,foreignObject").length;
    out.javascript_links = Array.prototype.filter.call(document.querySelectorAll("a[href]"), function (a) { return /^\s*javascript:/i.test(a.getAttribute("href")); }).length;
    out.pwned = document.documentElement.getAttribute("data-pwned");
    var pre = document.createElement("pre");
    pre.id = "selftest-result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
})();
