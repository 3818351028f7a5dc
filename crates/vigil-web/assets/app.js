// Vigil dashboard: small progressive enhancements; every page works without this script.
// Tooltips for chart elements (from their data-tip attribute, set as text, never as HTML),
// and filters that apply as soon as a selection changes.
(function () {
  "use strict";
  var tip = document.createElement("div");
  tip.id = "tip";
  document.addEventListener("DOMContentLoaded", function () {
    document.body.appendChild(tip);
    document.querySelectorAll("svg.chart [data-tip]").forEach(function (el) {
      el.addEventListener("mousemove", function (e) {
        tip.textContent = el.getAttribute("data-tip");
        tip.style.left = e.clientX + 12 + "px";
        tip.style.top = e.clientY + 12 + "px";
        tip.style.display = "block";
      });
      el.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    });
    document.querySelectorAll("form.filters select").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
  });
})();
