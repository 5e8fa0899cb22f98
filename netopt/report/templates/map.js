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
      zoneList: [], scale: 1, inset: false
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

  function nameLabel(g, row, r) {
    if (!row.name || r.inset) { return; }
    g.addLayer(L.marker(row.ll, {
      icon: L.divIcon({ className: "nx-name", html: "<span>" + esc(row.name) + "</span>",
        iconSize: [0, 0], iconAnchor: [-12, 8] }),
      interactive: false, keyboard: false, pane: "nxNames"
    }));
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
        var m = L.circleMarker(row.ll, {
          renderer: r.sites, radius: r.inset ? Math.max(2.5, 0.7 * row.r) : row.r,
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
        var m = L.marker(row.ll, {
          icon: L.divIcon({
            className: "nx-icon", html: icon.svg, iconSize: [icon.w, icon.h],
            iconAnchor: icon.anchor
          }),
          keyboard: false, riseOnHover: true
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
      layers.forEach(function (l) {
        var g = L.featureGroup();
        l.insets.push(g);
        builders[l.spec.kind](g, l.spec, im.nxR);
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
    // after every pan or zoom has settled (a fit animates), and when a layer is switched on
    map.on("moveend overlayadd", declutter);
    declutter();
  }

  /* facility names never overlap one another, the title or the legend: each tries the right
     of its symbol, then the left, above and below; a name with no free place is hidden at
     this zoom (its symbol and pop-up stay, and zooming in frees room) */
  var PLACES = ["", "translate(calc(-100% - 24px), 0)", "translate(calc(-50% - 12px), -15px)",
                "translate(calc(-50% - 12px), 15px)"];

  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  function declutter() {
    var taken = [];
    [".nx-head", ".nx-legend", ".leaflet-top.leaflet-right", ".nx-insets"].forEach(function (q) {
      var el = document.querySelector(q);
      if (el) { taken.push(el.getBoundingClientRect()); }
    });
    var view = { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
    document.querySelectorAll(".nx-name span").forEach(function (span) {
      span.style.visibility = "";
      for (var i = 0; i < PLACES.length; i++) {
        span.style.transform = PLACES[i];
        var box = span.getBoundingClientRect();
        var inside = box.left >= view.left && box.right <= view.right &&
          box.top >= view.top && box.bottom <= view.bottom;
        if (inside && !taken.some(function (t) { return overlaps(box, t); })) {
          taken.push(box);
          return;
        }
      }
      span.style.transform = "";
      span.style.visibility = "hidden";
    });
  }

  function finish(map) {
    insets(map);
    declutter();  // the insets and the final layout are in place now
    window.addEventListener("resize", declutter);
    var ms = Math.round(performance.now() - t0);
    document.body.setAttribute("data-render-ms", String(ms));
    document.body.setAttribute("data-drawn", String(drawn));
  }

  return { init: init, draw: draw, controls: controls, frame: frame, finish: finish, esc: esc };
})();
