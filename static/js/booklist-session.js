// Loaded on every page of a logged-in patron: the "Add to My Booklist" buttons, and
// logging out forgets the booklist key kept on this device (the server's Clear-Site-Data
// header does the same; this does not depend on the browser honouring it).
import "./booklist-add.js";
import { forgetKeys } from "./booklist-store.js";

document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.cleared) return;
  if (new URL(form.action, location.href).pathname !== "/logout") return;
  ev.preventDefault();
  try {
    sessionStorage.clear();
    await forgetKeys();
  } finally {
    form.dataset.cleared = "1";
    form.submit();
  }
});
