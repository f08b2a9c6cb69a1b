// A library kiosk's idle countdown (templates/kiosk/_idle.html). Before the idle timeout a
// modal dialog takes the focus and says, through an aria-live region, how long is left;
// "Continue" (a click, a tap, Enter, Space or Escape) starts the time again, on the server
// too. When the time is up the browser itself leaves: it logs out (the server answers with
// Clear-Site-Data), forgets what the site kept in this browser, and replaces the page with
// the start page, so Back finds no personal page. The server ends the session on its own
// clock in any case.
import { csrfToken, forgetKeys } from "./booklist-store.js";

const dialog = document.getElementById("kiosk-idle");
const live = document.getElementById("kiosk-idle-live");
const shown = document.getElementById("kiosk-idle-seconds");
const cfg = dialog.dataset;
const idle = Number(cfg.idle) * 1000;
const warning = Number(cfg.warning) * 1000;
const loggedIn = cfg.session === "1";
let deadline = Date.now() + Number(cfg.left) * 1000;
let timer = null;
let leaving = false;

function secondsLeft() {
  return Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
}

function announce(seconds) {
  live.textContent = cfg.announce.replace("{seconds}", String(seconds));
}

function tick() {
  clearTimeout(timer);
  const now = Date.now();
  if (now >= deadline) {
    leave();
    return;
  }
  if (now >= deadline - warning) {
    const seconds = secondsLeft();
    if (!dialog.open) {
      dialog.showModal();
      document.getElementById("kiosk-continue").focus();
      announce(seconds);
    } else if (seconds === 10) {
      announce(seconds);
    }
    shown.textContent = String(seconds);
    timer = setTimeout(tick, Math.min(1000, deadline - now));
  } else {
    timer = setTimeout(tick, deadline - warning - now);
  }
}

function restart(ms) {
  deadline = Date.now() + ms;
  if (dialog.open) dialog.close();
  live.textContent = "";
  tick();
}

async function keepGoing() {
  if (!loggedIn) {
    restart(idle);
    return;
  }
  let response;
  try {
    response = await fetch(cfg.continue, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-CSRF-Token": csrfToken() },
    });
  } catch {
    response = null;
  }
  if (response && response.status === 204) {
    restart(Number(cfg.left) * 1000); // the server has just recorded the use
  } else {
    leave(); // the session has already ended
  }
}

async function leave() {
  if (leaving) return;
  leaving = true;
  clearTimeout(timer);
  let target = cfg.start;
  if (loggedIn) {
    target += "?logged_out=1";
    try {
      await fetch(cfg.logout, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        body: new URLSearchParams({ csrf_token: csrfToken() }),
      });
    } catch {
      // The server ends the session on its own clock anyway.
    }
  }
  try {
    sessionStorage.clear();
    localStorage.clear();
    await forgetKeys();
  } finally {
    location.replace(target);
  }
}

document.getElementById("kiosk-continue").addEventListener("click", keepGoing);
document.getElementById("kiosk-leave").addEventListener("click", leave);
dialog.addEventListener("cancel", (ev) => {
  ev.preventDefault(); // Escape means "I am still here", not "close and wait"
  keepGoing();
});

// Anyone touching or typing before the countdown is still using the kiosk. Logged in, only
// a request to the server moves its clock: a page load does, and so does an htmx swap.
if (!loggedIn) {
  for (const kind of ["pointerdown", "keydown", "input", "wheel"]) {
    document.addEventListener(kind, () => {
      if (!dialog.open && !leaving) restart(idle);
    }, { passive: true, capture: true });
  }
}
document.body.addEventListener("htmx:afterRequest", (ev) => {
  if (ev.detail.successful && !leaving) restart(Number(cfg.left) * 1000);
});
// A page brought back from the browser's memory (Back) counts from where it was left.
window.addEventListener("pageshow", (ev) => {
  if (ev.persisted) tick();
});
// Moving about the site replaces the history entry instead of adding one, so the next
// person's Back finds none of this person's searches or records (the server sends
// HX-Replace-Url for the htmx swaps that would push their address, and no-store for every
// page). Only plain navigations are taken over: htmx has already prevented the default of
// those it handles, and new tabs, downloads and modified clicks stay the browser's.
function replaceWith(url) {
  if (url.origin !== location.origin) return false;
  location.replace(url.href);
  return true;
}

document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0) return;
  if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const link = ev.target instanceof Element ? ev.target.closest("a[href]") : null;
  if (!link || link.hasAttribute("download") || link.hasAttribute("hx-get")) return;
  if (link.target && link.target !== "_self") return;
  if (replaceWith(new URL(link.href, location.href))) ev.preventDefault();
});

document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (ev.defaultPrevented || !(form instanceof HTMLFormElement)) return;
  const submitter = ev.submitter;
  const method = (submitter?.getAttribute("formmethod") || form.method).toLowerCase();
  if (method !== "get" || form.hasAttribute("hx-get")) return;
  const target = submitter?.getAttribute("formtarget") || form.target;
  if (target && target !== "_self") return;
  const action = submitter?.hasAttribute("formaction") ? submitter.formAction : form.action;
  const url = new URL(action, location.href);
  url.search = new URLSearchParams(new FormData(form, submitter)).toString();
  if (replaceWith(url)) ev.preventDefault();
});

// Nothing a patron typed is offered to the next one.
for (const form of document.querySelectorAll("form")) form.setAttribute("autocomplete", "off");

// The bare start page with nobody logged in is already where the countdown would lead.
const atStart = location.pathname === cfg.start && !location.search;
if (loggedIn || !atStart) tick();
