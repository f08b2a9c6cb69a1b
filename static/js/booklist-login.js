// Login and password change: the My Booklist key is handled here, in the page where the
// password is typed, so the password never goes anywhere it did not go before.
import * as C from "./booklist-crypto.js";
import * as S from "./booklist-store.js";

function setupLogin(form) {
  // A library kiosk's login page has no such field: the terminal keeps no key.
  const field = document.getElementById("booklist-remember-field");
  if (!field) return;
  field.hidden = false;
  form.addEventListener("submit", async (ev) => {
    const remember = form.querySelector("#booklist_remember");
    if (!remember.checked) return; // an ordinary login: nothing to keep
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const password = form.querySelector("#password").value;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        body: new URLSearchParams(new FormData(form)),
      });
    } catch {
      button.disabled = false;
      return;
    }
    if (!response.redirected || new URL(response.url).pathname === "/login") {
      // Refused: show the server's answer (the same page with its message).
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const main = page.querySelector("main");
      if (main) document.querySelector("main").replaceWith(document.adoptNode(main));
      const again = document.querySelector("form[action='/login']");
      if (again) setupLogin(again);
      // The refusal: the login error, or else the first field that says what is missing.
      (document.getElementById("login-error") ?? document.querySelector("[aria-invalid='true']"))?.focus();
      return;
    }
    try {
      const state = await S.getState();
      if (!state.kiosk && state.exists && !state.locked) {
        await S.unlockWithPassword(state, password, true);
      } else if (!state.kiosk && !state.exists) {
        await S.rememberKekForLater(state, password);
      }
    } catch {
      // The list page asks for the password instead.
    }
    location.assign(response.url);
  });
}

function setupChange(form) {
  form.addEventListener("submit", async (ev) => {
    if (form.dataset.ready) return;
    ev.preventDefault();
    const value = (name) => form.querySelector(`[name=${name}]`).value;
    const set = (name, v) => {
      form.querySelector(`[name=${name}]`).value = v;
    };
    const next = value("new_password");
    try {
      const state = await S.getState();
      if (state.exists && !state.locked && next && next === value("new_password_again")) {
        document.getElementById("booklist-rewrap-status").hidden = false;
        const oldKek = await C.deriveKek(
          value("current_password"), C.unb64(state.kdf_salt), state.kdf_iterations);
        const key = await C.unwrap(C.unb64(state.wrapped_key), oldKek, true);
        const salt = C.randomBytes(16);
        const newKek = await C.deriveKek(next, salt, C.ITERATIONS);
        set("booklist_key_id", state.key_id);
        set("booklist_kdf_salt", C.b64(salt));
        set("booklist_kdf_iterations", String(C.ITERATIONS));
        set("booklist_wrapped_key", C.b64(await C.wrap(key, newKek)));
      }
      const stored = await S.loadStoredKey();
      if (stored && stored.kek) await S.forgetKeys(); // derived from the old password
    } catch {
      // A wrong current password: the server refuses the change and says so.
    }
    form.dataset.ready = "1";
    form.submit();
  });
}

const login = document.querySelector("form[action='/login']");
if (login) setupLogin(login);
const change = document.getElementById("change-password-form");
if (change) setupChange(change);
