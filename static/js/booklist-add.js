// "Add to My Booklist" on record pages and search results.
import * as S from "./booklist-store.js";

let opening = null;

async function openList() {
  const state = await S.getState();
  if (state.exists && state.locked) return null;
  const key = await S.availableKey(state);
  if (!key) return null;
  return S.OpenList.open(await S.getState(), key); // availableKey may have just created it
}

function reveal(scope) {
  for (const b of scope.querySelectorAll("button.booklist-add")) b.hidden = false;
}

document.addEventListener("click", async (ev) => {
  const button = ev.target.closest("button.booklist-add");
  if (!button || button.getAttribute("aria-disabled") === "true") return;
  const item = {
    id: button.dataset.recordId, title: button.dataset.title, author: button.dataset.author,
  };
  const out = button.parentElement.querySelector(".booklist-add-status");
  // Busy, not disabled: a disabled button drops keyboard and screen-reader focus to <body>.
  button.setAttribute("aria-disabled", "true");
  try {
    opening = opening || openList();
    const list = await opening;
    if (!list) {
      // No key on this page or device (a kiosk, or not kept): the list page asks for the
      // password, then adds this record.
      S.queuePending(item);
      location.assign("/my/booklist");
      return;
    }
    const entry = list.doc.entries[item.id];
    if (entry && !entry.deleted) {
      out.textContent = button.dataset.msgAlready;
    } else {
      await list.update((doc) => S.addEntry(doc, item));
      out.textContent = button.dataset.msgAdded;
    }
  } catch {
    opening = null;
    out.textContent = button.dataset.msgFailed;
  } finally {
    button.removeAttribute("aria-disabled");
  }
});

reveal(document);
document.addEventListener("htmx:load", (ev) => reveal(ev.target));
