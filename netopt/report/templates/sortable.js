/* netopt: sort and filter long tables in place (no library, no network).
   A <table class="sortable"> sorts on a header click (again: reverse); cells may carry the
   value to sort by in data-v. An <input class="filter" data-for="ID"> hides the rows of table
   ID that do not contain its text. Printing keeps the first data-print-rows visible rows. */
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v !== null && v !== "" && !isNaN(+v)) { return +v; }
    return (v !== null ? v : cell.textContent).trim().toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    if (typeof a === "number") { return -1; }
    if (typeof b === "number") { return 1; }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function markPrint(table) {
    var limit = parseInt(table.getAttribute("data-print-rows") || "0", 10);
    var rows = table.tBodies[0].rows, shown = 0, visible = 0, i;
    for (i = 0; i < rows.length; i++) {
      var on = !rows[i].hidden;
      if (on) { visible++; }
      var keep = on && (!limit || shown < limit);
      if (keep) { shown++; }
      rows[i].classList.toggle("noprint", !keep);
    }
    var note = document.querySelector('[data-count-for="' + table.id + '"]');
    if (note) {
      note.textContent = visible === rows.length ? rows.length + " rows"
        : visible + " of " + rows.length + " rows shown";
    }
    var pnote = document.querySelector('[data-print-note-for="' + table.id + '"]');
    if (pnote) {
      pnote.textContent = limit && visible > limit ? "Printed: the first " + limit + " of " +
        visible + " rows, in the order shown on screen. " + (pnote.getAttribute("data-where") || "")
        : "";
    }
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var dir = th.getAttribute("aria-sort") === "descending" ? 1
      : th.getAttribute("aria-sort") === "ascending" ? -1
      : (th.classList.contains("n") ? -1 : 1);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) {
      c.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    rows.sort(function (a, b) { return dir * compare(key(a.cells[col]), key(b.cells[col])); });
    rows.forEach(function (r) { body.appendChild(r); });
    markPrint(table);
  }
  function filter(input) {
    var table = document.getElementById(input.getAttribute("data-for"));
    if (!table) { return; }
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      var t = r.textContent.toLowerCase();
      r.hidden = !words.every(function (w) { return t.indexOf(w) >= 0; });
    });
    markPrint(table);
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        th.tabIndex = 0;
        th.title = "Sort by " + th.textContent.trim();
        th.addEventListener("click", function () { sortBy(table, col, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, col, th); }
        });
      });
      markPrint(table);
    });
    Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
      input.addEventListener("input", function () { filter(input); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
}());
