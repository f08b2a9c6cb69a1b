// After htmx swaps new content into a region marked `data-swap-focus` (a results list, a
// reservation's row, a section of My Library), focus moves somewhere a screen reader
// announces and the keyboard can go on from: without this it drops to <body> (a swapped
// or disabled control loses it), and 次へ on a phone leaves the reader at the bottom of the
// next page. In this order, within what the answer brought:
//   1. a field marked aria-invalid (the first error; in the form that asked too);
//   2. an element with `autofocus` (a question asked in place; htmx focuses it);
//   3. a new message (role="alert", then role="status", not empty);
//   4. the control that had focus, when it is still in the region (htmx puts focus back
//      on a replaced control that has an id);
//   5. the region's heading: the attribute may name it (a CSS selector, looked for in the
//      region, then in the page), else the region's first h1–h3; the region's top is
//      scrolled into view.
// A swap that follows a change in a form field (choosing a filter) leaves focus in the
// form, where the person is still working; one fetched by the page itself on load
// (もしかして after a few hits) leaves focus alone.
// Back and Forward: htmx keeps no history cache (historyCacheSize 0), so each restores
// its page by loading the pushed address again.
(function () {
  "use strict";
  var STAY = { change: true, input: true, keyup: true, load: true };
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";
  var pending = null;

  function within(roots, selector, filled) {
    for (var i = 0; i < roots.length; i++) {
      var found = Array.prototype.slice.call(roots[i].querySelectorAll(selector));
      found.push(roots[i]);
      for (var j = 0; j < found.length; j++) {
        var el = found[j];
        if (el.matches(selector) && el.isConnected && (!filled || el.textContent.trim())) {
          return el;
        }
      }
    }
    return null;
  }

  function focus(el, scroll) {
    if (!el.matches(FOCUSABLE)) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: !scroll });
  }

  function settle(swap) {
    var trigger = swap.config && swap.config.triggeringEvent;
    if (trigger && STAY[trigger.type]) return;
    var roots = swap.swapped.slice();
    var asker = swap.config && swap.config.elt;
    var invalid = within(asker && asker.isConnected ? roots.concat([asker]) : roots,
      '[aria-invalid="true"]', false);
    if (invalid) return focus(invalid, true);
    var asked = within(roots, "[autofocus]", false);
    if (asked) return focus(asked, true);
    var message = within(roots, '[role="alert"]', true) || within(roots, '[role="status"]', true);
    if (message) return focus(message, true);
    var region = swap.regions[0];
    var active = document.activeElement;
    for (var i = 0; i < swap.regions.length; i++) {
      if (active && active !== swap.regions[i] && swap.regions[i].contains(active)) return;
    }
    var named = region.getAttribute("data-swap-focus");
    var heading = named
      ? region.querySelector(named) || document.querySelector(named)
      : region.querySelector("h1, h2, h3");
    if (!heading) return;
    focus(heading, false);
    region.scrollIntoView({ block: "start" });
  }

  // htmx settles each swapped element (out-of-band ones too) in one go: gather them, then
  // choose once.
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.target;
    if (!(swapped instanceof Element) || !swapped.isConnected) return;
    var region = swapped.closest("[data-swap-focus]");
    if (!region) return;
    if (!pending) {
      pending = { swapped: [], regions: [], config: event.detail && event.detail.requestConfig };
      queueMicrotask(function () {
        var swap = pending;
        pending = null;
        settle(swap);
      });
    }
    pending.swapped.push(swapped);
    if (pending.regions.indexOf(region) < 0) pending.regions.push(region);
  });
})();
