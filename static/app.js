// PayMend console helpers. No inline script anywhere: the CSP forbids it, so the
// little behaviour pages need lives here, attached by event delegation so it keeps
// working after htmx swaps a fragment.
(function () {
  "use strict";
  // A header checkbox with data-select-all="name" ticks every checkbox of that name
  // in the same form.
  document.addEventListener("change", function (ev) {
    var box = ev.target;
    if (!box.matches || !box.matches("input[data-select-all]")) return;
    var form = box.closest("form") || document;
    form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });
})();
