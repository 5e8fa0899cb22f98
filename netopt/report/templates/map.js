/* netopt map engine: draws compact JSON payloads into folium feature groups.
 *
 * Every string that came from a dataset reaches the DOM through esc() (tooltips and popups are
 * HTML in Leaflet); the payloads themselves are JSON with <, > and & escaped by Python.
 * Patient zones go to one canvas (thousands of circles stay fast); lanes and sites are SVG so
 * their hover and click pass through to the zones below.
 */
var NX = (function () {
  "use strict";
  var t0 = performance.now();
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  var D = null;
  var R = {};
  var drawn = 0;

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return ESC[c];
    });
  }

  function fmt(v, d) {
    if (v === null || v === undefined || isNaN(v)) { return "\u2013"; }
    var a = Math.abs(v);
    var digits = a >= 100 ? 0 : (d === undefined ? 1 : d);
    return Number(v).toLocaleString("en-US", {
      maximumFractionDigits: digits, minimumFractionDigits: 0
    });
  }

  function table(title, sub, pairs) {
    var h = '<div class="nx-pop"><div class="nx-title">' + esc(title) + "</div>";
    if (sub) { h += '<div class="nx-sub">' + esc(sub) + "</div>"; }
    h += "<table>";
    (pairs || []).forEach(function (p) {
      if (p[0] === "") {
        h += '<tr class="nx-sec"><td colspan="2">' + esc(p[1]) + "</td></tr>";
      } else {
        h += "<tr><th>" + esc(p[0]) + "</th><td>" + esc(p[1]) + "</td></tr>";
      }
    });
    return h + "</table></div>";
  }

  /* panes and renderers of one map (the main map or an inset) */
  function renderers(map) {
    [["nxBase", 250], ["nxZones", 410], ["nxLabels", 415], ["nxLanes", 420],
     ["nxSites", 430], ["nxNames", 640]].forEach(function (p) {
      var pane = map.createPane(p[0]);
      pane.style.zIndex = p[1];
      if (p[0] === "nxLabels" || p[0] === "nxNames" || p[0] === "nxBase") {
        pane.style.pointerEvents = "none";
      }
    });
    return {
      base: L.canvas({ pane: "nxBase", padding: 0.3 }),
      zones: L.canvas({ pane: "nxZones", padding: 0.3, tolerance: 2 }),
      lanes: L.svg({ pane: "nxLanes", padding: 0.3 }),
      sites: L.svg({ pane: "nxSites", padding: 0.3 }),
      zoneList: [], marks: [], names: [], scale: 1, inset: false
    };
  }

  function init(map, data) {
    D = data;
    R = renderers(map);
    map.nxR = R;
  }

  function radius(patients, r) {
    var px = D.zoneR * Math.sqrt(Math.max(patients, 0) / D.zoneMax);
    return r.scale * Math.max(D.zoneMinR, px);
  }

  /* circles grow as the map zooms in, so a region stays as readable as the nation */
  function rescale(map) {
    var r = map.nxR;
    var z = map.getZoom();
    r.scale = Math.min(3, Math.max(0.8, Math.pow(2, (z - 4.5) * 0.5)));
    r.zoneList.forEach(function (m) { m.setRadius(radius(m.nxPatients, r)); });
  }

  function zonePopup(z, row, spec) {
    var demand = row[1], served = row[2], unserved = row[3], beyond = row[4];
    var pairs = [
      ["Population", fmt(z[2], 0)],
      ["Patients/yr (demand)", fmt(demand)],
      ["Served", fmt(served) + (demand > 0 ? " (" + fmt(100 * served / demand) + " %)" : "")],
      ["Served within " + fmt(D.withinKm, 0) + " km", fmt(served - beyond)],
      ["Served beyond " + fmt(D.withinKm, 0) + " km", fmt(beyond)],
      ["Unserved", fmt(unserved)],
      ["Mean travel (km)", row[5] === null ? "\u2013" : fmt(row[5], 0)]
    ];
    var assigned = row[7] || [];
    if (assigned.length) {
      pairs.push(["", "Treated at (patients/yr, travel)"]);
      assigned.slice(0, 12).forEach(function (a) {
        var label = D.sites[a[0]] + (spec.product === null ? " \u00b7 " + D.products[a[1]] : "");
        pairs.push([label, fmt(a[2], 2) + " \u00b7 " + fmt(a[3], 0) + " km" +
          (a[4] ? "" : " (beyond target)")]);
      });
      if (assigned.length > 12) { pairs.push(["\u2026", (assigned.length - 12) + " more"]); }
    }
    var lost = row[8] || [];
    if (lost.length) {
      pairs.push(["", "Unserved (patients/yr, reason)"]);
      lost.forEach(function (u) {
        pairs.push([D.products[u[0]], fmt(u[1], 2) + " \u00b7 " + D.reasons[u[2]]]);
      });
    }
    return table(z[0] + ", " + z[1], spec.label + " \u00b7 " + D.zoneLabels[row[6]], pairs);
  }

  /* every facility symbol drawn (its group, place and box around that place in pixels),
     so that names can keep clear of them */
  function mark(r, g, ll, box) {
    r.marks.push({ group: g, ll: ll, box: box });
  }

  function iconBox(icon) {
    return [-icon.anchor[0], -icon.anchor[1], icon.w - icon.anchor[0], icon.h - icon.anchor[1]];
  }

  /* a name (and its short form, if any) sits at its symbol's place; declutter() moves it
     beside the symbol */
  function nameLabel(g, row, r) {
    if (!row.name || r.inset) { return; }
    var html = "<span>" + esc(row.name) + "</span>";
    if (row.short) { html += '<span class="nx-short">' + esc(row.short) + "</span>"; }
    var label = L.marker(row.ll, {
      icon: L.divIcon({ className: "nx-name", html: html, iconSize: [0, 0],
        iconAnchor: [0, 0] }),
      interactive: false, keyboard: false, pane: "nxNames"
    });
    r.names.push({ group: g, ll: row.ll, own: iconBox(D.icons[row.icon]), label: label,
                   rank: row.rank });
    g.addLayer(label);
  }

  var builders = {
    base: function (g, spec, r) {
      spec.rows.forEach(function (state) {
        var rings = state[1].map(function (flat) {
          var ring = [];
          for (var i = 0; i + 1 < flat.length; i += 2) { ring.push([flat[i], flat[i + 1]]); }
          return ring;
        });
        g.addLayer(L.polygon(rings, {
          renderer: r.base, interactive: false, color: "#9aa7b4", weight: 0.8, opacity: 1,
          fillColor: "#fdfcf8", fillOpacity: 1, smoothFactor: 0.5
        }));
      });
    },
    zones: function (g, spec, r) {
      spec.rows.forEach(function (row) {
        var z = D.zones[row[0]];
        var cls = row[6];
        var m = L.circleMarker([z[3], z[4]], {
          renderer: r.zones, radius: radius(row[1], r), fillColor: D.zoneColours[cls],
          fillOpacity: cls === "served" ? 0.6 : 0.85, color: "#ffffff", weight: 0.6,
          opacity: 0.9
        });
        m.bindTooltip(function () {
          return esc(z[0] + ", " + z[1]) + "<br>" + fmt(row[1]) + " patients/yr \u00b7 " +
            esc(D.zoneLabels[cls]);
        }, { sticky: true });
        m.bindPopup(function () { return zonePopup(z, row, spec); }, { maxWidth: 380 });
        m.nxPatients = row[1];
        r.zoneList.push(m);
        g.addLayer(m);
      });
    },
    lanes: function (g, spec, r) {
      spec.rows.forEach(function (row) {
        var line = L.polyline(row.pts, {
          renderer: r.lanes, color: row.c, weight: row.w, opacity: row.o || 0.8,
          dashArray: row.dash || null, lineCap: "round", lineJoin: "round"
        });
        line.bindTooltip(esc(row.tip), { sticky: true });
        line.bindPopup(function () { return table(row.title, row.sub, row.pop); },
          { maxWidth: 380 });
        g.addLayer(line);
      });
    },
    sites: function (g, spec, r) {
      spec.rows.forEach(function (row) {
        var rad = r.inset ? Math.max(2.5, 0.7 * row.r) : row.r;
        var out = rad + (row.sw || 1.5) / 2;  /* the stroke is centred on the circle */
        mark(r, g, row.ll, [-out, -out, out, out]);
        var m = L.circleMarker(row.ll, {
          renderer: r.sites, radius: rad,
          fill: true, fillColor: row.fill || "#ffffff",
          fillOpacity: row.fill ? 0.95 : 0.85, color: row.stroke, weight: row.sw || 1.5,
          dashArray: row.dash || null
        });
        m.bindTooltip(esc(row.tip));
        m.bindPopup(function () { return table(row.title, row.sub, row.pop); },
          { maxWidth: 380 });
        g.addLayer(m);
      });
    },
    icons: function (g, spec, r) {
      spec.rows.forEach(function (row) {
        var icon = D.icons[row.icon];
        mark(r, g, row.ll, iconBox(icon));
        var m = L.marker(row.ll, {
          icon: L.divIcon({
            className: "nx-icon", html: icon.svg, iconSize: [icon.w, icon.h],
            iconAnchor: icon.anchor
          }),
          keyboard: false, riseOnHover: true, zIndexOffset: row.z || 0
        });
        m.bindTooltip(esc(row.tip));
        m.bindPopup(function () { return table(row.title, row.sub, row.pop); },
          { maxWidth: 380, maxHeight: 420 });
        g.addLayer(m);
        nameLabel(g, row, r);
      });
    },
    labels: function (g, spec) {
      spec.rows.forEach(function (row) {
        g.addLayer(L.marker(row.ll, {
          icon: L.divIcon({ className: "nx-label", html: esc(row.t), iconSize: [40, 14],
            iconAnchor: [20, 7] }),
          interactive: false, keyboard: false, pane: "nxLabels"
        }));
      });
    }
  };

  var layers = [];

  function draw(group, map, spec) {
    var done = false;
    layers.push({ group: group, spec: spec, insets: [] });
    function build() {
      if (done) { return; }
      done = true;
      builders[spec.kind](group, spec, map.nxR || R);
      drawn += spec.rows.length;
    }
    if (map.hasLayer(group)) { build(); } else { group.once("add", build); }
  }

  /* an inset shows its own region's symbols only: the window around a region reaches
     past it (Alaska's corner showed a sliver of the Seattle hub's square under its caption);
     lanes stay, they show where the region is supplied from */
  function within(group, region) {
    group.eachLayer(function (layer) {
      if (layer.getLatLng) {
        if (!region.contains(layer.getLatLng())) { group.removeLayer(layer); }
      } else if (layer.eachLayer) {
        within(layer, region);
      }
    });
  }

  /* Alaska, Hawaii and Puerto Rico in small fixed maps at the bottom left; they show the
   * same layers as the main map (switched with it) and a click recentres the main map */
  function insets(map) {
    if (!D.insets || !D.insets.length) { return; }
    var holder = L.DomUtil.create("div", "nx-insets", map.getContainer());
    L.DomEvent.disableClickPropagation(holder);
    L.DomEvent.disableScrollPropagation(holder);
    D.insets.forEach(function (reg) {
      var box = L.DomUtil.create("div", "nx-inset nx-inset-" + reg.code.toLowerCase(), holder);
      var el = L.DomUtil.create("div", "nx-inset-map", box);
      var cap = L.DomUtil.create("div", "nx-inset-cap", box);
      cap.textContent = reg.name;
      var im = L.map(el, {
        zoomControl: false, attributionControl: false, dragging: false,
        scrollWheelZoom: false, doubleClickZoom: false, boxZoom: false, keyboard: false,
        touchZoom: false, zoomSnap: 0.1
      });
      im.nxR = renderers(im);
      im.nxR.inset = true;
      im.nxR.scale = 0.6;
      im.fitBounds(reg.bounds, { padding: [2, 2] });
      var region = L.latLngBounds(reg.bounds);
      layers.forEach(function (l) {
        var g = L.featureGroup();
        l.insets.push(g);
        builders[l.spec.kind](g, l.spec, im.nxR);
        within(g, region);
        if (map.hasLayer(l.group)) { g.addTo(im); }
        l.insetMaps = (l.insetMaps || []).concat([im]);
      });
      cap.addEventListener("click", function () { map.fitBounds(reg.bounds); });
    });
    function sync(e, on) {
      layers.forEach(function (l) {
        if (l.group !== e.layer) { return; }
        l.insets.forEach(function (g, i) {
          if (on) { g.addTo(l.insetMaps[i]); } else { l.insetMaps[i].removeLayer(g); }
        });
      });
    }
    map.on("overlayadd", function (e) { sync(e, true); });
    map.on("overlayremove", function (e) { sync(e, false); });
  }

  function box(position, className, html, map) {
    var Box = L.Control.extend({
      onAdd: function () {
        var div = L.DomUtil.create("div", className);
        div.innerHTML = html;  /* built by Python with every data string escaped */
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      }
    });
    new Box({ position: position }).addTo(map);
  }

  function controls(map, c) {
    box("topleft", "nx-box nx-head", c.title, map);
    box("bottomright", "nx-box nx-legend", c.legend, map);
    if (c.source && map.attributionControl) {
      map.attributionControl.addAttribution(esc(c.source));
    }
  }

  /* fit the network into the part of the window that the title and legend leave free */
  function frame(map, bounds) {
    MAIN = map;
    var size = map.getSize();
    var head = document.querySelector(".nx-head");
    var legend = document.querySelector(".nx-legend");
    if (legend && size.x < 900) { legend.querySelector("details").open = false; }
    var top = head ? head.offsetHeight + 14 : 10;
    var right = legend ? legend.offsetWidth + 18 : 10;
    if (top > size.y / 3) { top = 10; }
    if (right > size.x / 3) { right = 10; }
    map.fitBounds(bounds, { paddingTopLeft: [10, top], paddingBottomRight: [right, 10],
                           animate: false });
    rescale(map);
    map.on("zoomend", function () { rescale(map); });
    declutter();
  }

  /* Facility names never hide a facility symbol (site, hub, partner, plant or KOL shown),
     another name, the title, legend, controls or insets, and stay inside the window. Each
     name tries places around its own symbol, in screen pixels at the current view: right,
     left, above, below, then the four corners; it takes the first free one. A name with no
     free place gives way to its short form (a hub's airport code), placed the same way
     after every full name; with no place for that either, it is set off farther from its
     symbol with a leader line (LEADER_PX), and only with no place there either is it hidden
     at this zoom (its symbol's tooltip and pop-up still name it, and zooming in frees
     room). Names are placed by rank, as the one-pager's list and static map order them:
     partners, then hubs by yearly cost (the payload's `rank`; names without one follow in
     drawing order). */
  var GAP = 3;
  /* how far beyond its symbol's box a name with no place beside it may be set off (tried
     nearest first), joined to its symbol by a leader line: the national map's Newark hub,
     ringed by the New York sites, found no place for its name or code at 1920 x 1080 */
  var LEADER_PX = [20, 36, 52, 68];
  var SIDES = ["right", "left", "above", "below", "above right", "below right", "above left",
               "below left"];

  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  /* top-left corner of a w x h name beside `own` ([left, top, right, bottom] of its symbol
     around the symbol's place), relative to that place */
  function beside(side, own, w, h) {
    var midX = (own[0] + own[2]) / 2 - w / 2, midY = (own[1] + own[3]) / 2 - h / 2;
    var right = own[2] + GAP, left = own[0] - GAP - w;
    var above = own[1] - GAP - h, below = own[3] + GAP;
    switch (side) {
      case "right": return [right, midY];
      case "left": return [left, midY];
      case "above": return [midX, above];
      case "below": return [midX, below];
      case "above right": return [right, own[1] - h];
      case "below right": return [right, own[3]];
      case "above left": return [left, own[1] - h];
      default: return [left, own[3]];
    }
  }

  /* names [{x, y, own, w, h, short, rank}] (x, y: its symbol's place on screen; own: that
     symbol's box around it; w x h: the name's size; short: {w, h} of its short form or
     null; rank: lower ranks get room first, optional), blocked boxes [{left, top, right,
     bottom}] (every symbol shown, the title, legend...) and the visible area, all in screen
     pixels; returns per name {side, left, top, short} (its top-left corner relative to x, y;
     short: true when the short form is shown),
     or null when no place is free. Pure, so that it can be tested without a browser. */
  function placeNames(names, blocked, view) {
    var taken = blocked.slice();
    function free(box) {
      return box.left >= view.left && box.right <= view.right && box.top >= view.top &&
        box.bottom <= view.bottom && !taken.some(function (t) { return overlaps(box, t); });
    }
    function place(n, w, h, short) {
      for (var i = 0; i < SIDES.length; i++) {
        var at = beside(SIDES[i], n.own, w, h).map(Math.round);  /* whole pixels */
        var box = { left: n.x + at[0], top: n.y + at[1], right: n.x + at[0] + w,
                    bottom: n.y + at[1] + h };
        if (free(box)) {
          taken.push(box);
          return { side: SIDES[i], left: at[0], top: at[1], short: short };
        }
      }
      return null;
    }
    function rank(i) {  /* a name without a numeric rank follows, in drawing order */
      var r = names[i].rank;
      return typeof r === "number" && isFinite(r) ? r : Infinity;
    }
    var order = names.map(function (n, i) { return i; });
    order.sort(function (a, b) { return rank(a) - rank(b) || a - b; });
    var out = names.map(function () { return null; });
    order.forEach(function (i) { out[i] = place(names[i], names[i].w, names[i].h, false); });
    order.forEach(function (i) {
      var n = names[i];
      if (!out[i] && n.short) { out[i] = place(n, n.short.w, n.short.h, true); }
    });
    /* still no place: set the name off, then its short form, farther out, after every name
       beside its own symbol had its chance, by rank again */
    order.forEach(function (i) {
      var n = names[i];
      for (var k = 0; k < LEADER_PX.length && !out[i]; k++) {
        var d = LEADER_PX[k];
        var away = { x: n.x, y: n.y, own: [n.own[0] - d, n.own[1] - d, n.own[2] + d,
                                           n.own[3] + d] };
        var at = place(away, n.w, n.h, false) ||
          (n.short ? place(away, n.short.w, n.short.h, true) : null);
        if (at) {
          var w = at.short ? n.short.w : n.w, h = at.short ? n.short.h : n.h;
          at.leader = leader(n.own, [at.left, at.top, at.left + w, at.top + h]);
          out[i] = at;
        }
      }
    });
    return out;
  }

  /* the leader line from a symbol's box to its name's box (both relative to the symbol's
     place): from the point of the symbol's box nearest the name's centre to the point of
     the name's box nearest that one, in whole pixels: [x0, y0, x1, y1] */
  function leader(own, box) {
    function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }
    var cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
    var x0 = clamp(cx, own[0], own[2]), y0 = clamp(cy, own[1], own[3]);
    return [x0, y0, clamp(x0, box[0], box[2]), clamp(y0, box[1], box[3])].map(Math.round);
  }

  var MAIN = null;

  function declutter() {
    var map = MAIN;
    if (!map || !map.nxR) { return; }
    var r = map.nxR;
    var pane = map.getContainer().getBoundingClientRect();
    var blocked = [];
    [".nx-head", ".nx-legend", ".leaflet-top.leaflet-right", ".nx-insets"].forEach(function (q) {
      var el = document.querySelector(q);
      if (el) { blocked.push(el.getBoundingClientRect()); }
    });
    var view = { left: Math.max(0, pane.left), top: Math.max(0, pane.top),
                 right: Math.min(window.innerWidth, pane.right),
                 bottom: Math.min(window.innerHeight, pane.bottom) };
    function onScreen(ll) {  /* Leaflet draws markers at whole pixels */
      var p = map.latLngToContainerPoint(ll).round();
      return { x: pane.left + p.x, y: pane.top + p.y };
    }
    r.marks.forEach(function (m) {
      if (!map.hasLayer(m.group)) { return; }
      var p = onScreen(m.ll);
      blocked.push({ left: p.x + m.box[0], top: p.y + m.box[1], right: p.x + m.box[2],
                     bottom: p.y + m.box[3] });
    });
    var names = [], spans = [];
    function size(span) {  /* a translation keeps the size */
      var box = span && span.getBoundingClientRect();
      return box ? { w: box.width, h: box.height } : null;
    }
    r.names.forEach(function (n) {
      var el = map.hasLayer(n.group) && n.label.getElement();
      var span = el && el.firstChild;
      if (!span) { return; }
      var p = onScreen(n.ll);
      var full = size(span), short = el.querySelector(".nx-short");
      spans.push([span, short, el]);
      names.push({ x: p.x, y: p.y, own: n.own, w: full.w, h: full.h, short: size(short),
                   rank: n.rank });
    });
    function show(span, at) {
      if (!span) { return; }
      span.style.visibility = at ? "visible" : "hidden";
      span.style.transform = at ? "translate(" + at.left + "px, " + at.top + "px)" : "";
    }
    function draw(el, line) {  /* the leader line, a rotated 1-px rule from the symbol */
      var rule = el.querySelector(".nx-leader");
      if (!line) {
        if (rule) { rule.style.display = "none"; }
        return;
      }
      if (!rule) {
        rule = document.createElement("div");
        rule.className = "nx-leader";
        el.appendChild(rule);  // after the spans: the name stays the first child
      }
      var dx = line[2] - line[0], dy = line[3] - line[1];
      rule.style.display = "block";
      rule.style.width = Math.sqrt(dx * dx + dy * dy) + "px";
      rule.style.transform = "translate(" + line[0] + "px, " + line[1] + "px) rotate(" +
        Math.atan2(dy, dx) + "rad)";
    }
    placeNames(names, blocked, view).forEach(function (at, i) {
      show(spans[i][0], at && !at.short ? at : null);
      show(spans[i][1], at && at.short ? at : null);
      draw(spans[i][2], at && at.leader);
    });
  }

  function finish(map) {
    MAIN = map;
    insets(map);
    declutter();  // the insets and the final layout are in place now
    // again after every pan or zoom has settled, a layer switched on or off, a resize
    map.on("moveend overlayadd overlayremove", declutter);
    window.addEventListener("resize", function () {
      // Leaflet re-centres the map one frame after a resize and reports it 200 ms later:
      // re-centre now, so that names are placed where the symbols will be drawn (a headless
      // screenshot resizes the window and captures at once)
      map.invalidateSize({ debounceMoveend: true });
      declutter();
    });
    var ms = Math.round(performance.now() - t0);
    document.body.setAttribute("data-render-ms", String(ms));
    document.body.setAttribute("data-drawn", String(drawn));
  }

  return { init: init, draw: draw, controls: controls, frame: frame, finish: finish, esc: esc,
           placeNames: placeNames };
})();
