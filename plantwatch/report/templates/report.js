// Sorting of the plant table and the map's links; no network, no library besides Plotly.
function plantwatchSortable(id) {
  const table = document.getElementById(id);
  table.querySelectorAll("th").forEach((th, column) => {
    th.addEventListener("click", () => {
      const ascending = !th.classList.contains("asc");
      table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
      th.classList.add(ascending ? "asc" : "desc");
      const numeric = th.dataset.kind === "number";
      const key = (row) => {
        const value = row.children[column].dataset.value;
        return numeric ? (value === "" ? NaN : Number(value)) : value;
      };
      const rows = Array.from(table.tBodies[0].rows);
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (numeric && isNaN(x) !== isNaN(y)) return isNaN(x) ? 1 : -1;  // empty cells last
        const order = numeric ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach((row) => table.tBodies[0].appendChild(row));
    });
  });
}

function plantwatchMapLinks(id) {
  const map = document.getElementById(id);
  map.on("plotly_click", (event) => {
    const link = event.points[0].customdata;
    if (link) window.location.href = link;
  });
}
