// After htmx swaps new content into a region marked `data-swap-focus` (a results list),
// focus moves to the region's heading, so a screen reader announces it, and the region's
// top is scrolled into view: without this focus drops to <body>, and 次へ on a phone leaves
// the reader at the bottom of the next page. The attribute may name the heading (a CSS
// selector); else the region's first h1–h3. A swap that follows a change in a form field
// (choosing a filter) leaves focus in the form, where the person is still working; one
// fetched by the page itself on load (もしかして after a few hits) leaves focus alone.
// Back and Forward: htmx keeps no history cache (historyCacheSize 0), so each restores
// its page by loading the pushed address again.
(function () {
  "use strict";
  var STAY = { change: true, input: true, keyup: true, load: true };
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.target;
    if (!(swapped instanceof Element)) return;
    var region = swapped.closest("[data-swap-focus]");
    if (!region) return;
    var config = event.detail && event.detail.requestConfig;
    var trigger = config && config.triggeringEvent;
    if (trigger && STAY[trigger.type]) return;
    var heading = region.querySelector(region.getAttribute("data-swap-focus") || "h1, h2, h3");
    if (!heading) return;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
    region.scrollIntoView({ block: "start" });
  });
})();
