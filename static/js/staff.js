// Staff console: keep the scanner's cursor in the input after every htmx swap.
// (No inline script: the CSP allows scripts from 'self' only.)
(function () {
  "use strict";
  function focusScan() {
    var first = document.querySelector("[data-scan-first]");
    var target = first ? document.getElementById(first.getAttribute("data-scan-first")) : null;
    target = target || document.querySelector("[data-scan-focus]");
    if (target) { target.focus(); }
  }
  document.addEventListener("DOMContentLoaded", focusScan);
  document.addEventListener("htmx:afterSettle", focusScan);
})();
