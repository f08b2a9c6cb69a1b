// The My Booklist page: unlock, show, edit, export. Decrypted text is only ever put into the
// page with textContent / value, never as HTML.
import * as S from "./booklist-store.js";

const root = document.getElementById("booklist");
const T = JSON.parse(document.getElementById("booklist-texts").textContent);
const $ = (id) => document.getElementById(id);
const status = $("booklist-status");
let list = null;
let state = null;
let removed = null; // the last entry removed, until it is put back or something else changes

function say(text) {
  status.textContent = text;
}

function show(id) {
  for (const el of root.querySelectorAll("[data-view]")) el.hidden = el.id !== id;
}

async function start() {
  state = await S.getState();
  if (state.kiosk) for (const el of root.querySelectorAll(".not-kiosk")) el.hidden = true;
  if (state.exists && state.locked) {
    say("");
    show("booklist-restore");
    return;
  }
  const key = await S.availableKey(state);
  if (key) return opened(key);
  say("");
  $("booklist-create-help").hidden = state.exists;
  show("booklist-unlock");
  $("booklist-password").focus();
}

async function opened(key) {
  state = await S.getState();
  list = await S.OpenList.open(state, key);
  const pending = S.takePending();
  if (pending.length) {
    await list.update((doc) => pending.forEach((item) => S.addEntry(doc, item)));
    say(T.booklist_added);
  } else {
    say("");
  }
  show("booklist-main");
  render();
}

function formatDate(ms) {
  return new Date(ms).toLocaleDateString(document.documentElement.lang === "en" ? "en" : "ja");
}

function sorted(entries) {
  const by = $("booklist-sort").value;
  const coll = new Intl.Collator("ja");
  const keyed = {
    title: (a, b) => coll.compare(a.title, b.title),
    author: (a, b) => coll.compare(a.author, b.author) || coll.compare(a.title, b.title),
    group: (a, b) => coll.compare(a.group, b.group) || b.added - a.added,
    added: (a, b) => b.added - a.added,
  };
  return entries.sort(keyed[by] || keyed.added);
}

function render() {
  const entries = S.liveEntries(list.doc);
  const groups = [...new Set(entries.map((e) => e.group).filter(Boolean))].sort();
  const filter = $("booklist-filter");
  const chosen = filter.value;
  filter.replaceChildren(new Option(T.booklist_all_groups, ""));
  for (const g of groups) filter.append(new Option(g, g));
  filter.value = groups.includes(chosen) ? chosen : "";
  const options = $("booklist-group-options");
  options.replaceChildren(
    ...[...new Set([...T.booklist_default_groups, ...groups])].map((g) => new Option(g)));

  const shown = sorted(entries.filter((e) => !filter.value || e.group === filter.value));
  $("booklist-count").textContent = T.booklist_count[entries.length === 1 ? "one" : "other"].replace("%(count)s", entries.length);
  $("booklist-empty").hidden = entries.length > 0;
  const ul = $("booklist-entries");
  const template = $("booklist-entry-template");
  ul.replaceChildren(...shown.map((e) => {
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.recordId = e.id;
    const link = li.querySelector(".entry-title");
    link.textContent = e.title;
    link.href = `/records/${encodeURIComponent(e.id)}`;
    li.querySelector(".entry-author").textContent = e.author;
    li.querySelector(".entry-added").textContent = formatDate(e.added);
    li.querySelector(".entry-remove").setAttribute(
      "aria-label", T.booklist_remove_named.replace("%(title)s", e.title));
    const note = li.querySelector("textarea");
    const group = li.querySelector("input[name=group]");
    note.value = e.note;
    group.value = e.group;
    note.id = `note-${e.id}`;
    group.id = `group-${e.id}`;
    li.querySelector(".entry-note-label").htmlFor = note.id;
    li.querySelector(".entry-group-label").htmlFor = group.id;
    return li;
  }));
  $("booklist-availability").checked = list.doc.settings.availability !== false;
  renderRecovery();
  loadAvailability(shown.map((e) => e.id));
}

function renderRecovery() {
  $("booklist-recovery-none").hidden = state.has_recovery;
  $("booklist-recovery-set").hidden = !state.has_recovery;
  $("booklist-recovery-make").textContent =
    state.has_recovery ? T.booklist_recovery_remake : T.booklist_recovery_make;
}

// Availability is public catalog data: ask for all ids at once, without the login cookie.
async function loadAvailability(ids) {
  if (!ids.length || list.doc.settings.availability === false) return;
  try {
    const r = await fetch("/booklist/availability", {
      method: "POST", credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ids: [...ids].sort((a, b) => a - b) }),
    });
    if (!r.ok) return;
    const { records } = await r.json();
    for (const li of $("booklist-entries").children) {
      const a = records[li.dataset.recordId];
      const out = li.querySelector(".entry-availability");
      if (!a) continue;
      out.textContent = a.copies
        ? T.booklist_copies.replace("%(available)s", a.available).replace("%(copies)s", a.copies)
        : T.booklist_no_copies;
      out.classList.toggle("available", a.available > 0);
    }
  } catch {
    /* availability is a convenience */
  }
}

function offerUndo(entry) {
  removed = entry;
  const line = $("booklist-undo-line");
  const button = $("booklist-undo");
  line.hidden = !entry;
  if (!entry) return;
  button.setAttribute("aria-label", T.booklist_undo_named.replace("%(title)s", entry.title));
  button.focus(); // the removed entry's button is gone: focus stays near what happened
}

async function save(mutate, done) {
  try {
    const { merged } = await list.update(mutate);
    say(merged ? T.booklist_merged : done);
  } catch {
    say(T.booklist_save_failed);
  }
  render();
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function csvCell(value) {
  let s = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // no formulas when opened in a spreadsheet
  return `"${s.replace(/"/g, '""')}"`;
}

function exportRows() {
  return sorted(S.liveEntries(list.doc)).map((e) => ({
    record_id: e.id, title: e.title, author: e.author, group: e.group, note: e.note,
    added: new Date(e.added).toISOString(), url: new URL(`/records/${e.id}`, location.origin).href,
  }));
}

function bind() {
  $("booklist-unlock").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const pw = $("booklist-password");
    const error = $("booklist-unlock-error");
    error.hidden = true;
    say(T.booklist_loading);
    try {
      const key = await S.unlockWithPassword(state, pw.value, $("booklist-keep").checked);
      pw.value = "";
      await opened(key);
    } catch (e) {
      say("");
      error.textContent = e instanceof S.WrongSecret ? T.booklist_wrong_password : T.booklist_save_failed;
      error.hidden = false;
      $("booklist-use-recovery").hidden = !(e instanceof S.WrongSecret && state.has_recovery);
      pw.setAttribute("aria-invalid", "true");
      pw.focus();
    }
  });
  $("booklist-use-recovery").addEventListener("click", () => show("booklist-restore"));
  $("booklist-restore").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = $("booklist-restore-error");
    error.hidden = true;
    say(T.booklist_loading);
    try {
      const key = await S.restoreWithRecovery(
        state, $("booklist-recovery-input").value, $("booklist-restore-password").value,
        $("booklist-restore-keep").checked);
      $("booklist-restore-password").value = "";
      await opened(key);
    } catch (e) {
      say("");
      error.textContent = e instanceof S.WrongSecret ? T.booklist_wrong_recovery : T.booklist_save_failed;
      error.hidden = false;
    }
  });
  $("booklist-discard").addEventListener("click", async () => {
    if (!window.confirm(T.booklist_discard_confirm)) return;
    await S.post("/my/booklist/discard", { confirm: true });
    await S.forgetKeys();
    location.reload();
  });
  $("booklist-sort").addEventListener("change", render);
  $("booklist-filter").addEventListener("change", render);
  $("booklist-entries").addEventListener("submit", (ev) => {
    ev.preventDefault();
    offerUndo(null);
    const li = ev.target.closest("li");
    const id = li.dataset.recordId;
    const note = li.querySelector("textarea").value.slice(0, 2000);
    const group = li.querySelector("input[name=group]").value.trim().slice(0, 40);
    save((doc) => S.editEntry(doc, id, note, group), T.booklist_saved);
  });
  $("booklist-entries").addEventListener("click", (ev) => {
    const button = ev.target.closest(".entry-remove");
    if (!button) return;
    const id = button.closest("li").dataset.recordId;
    const entry = { ...list.doc.entries[id] };
    save((doc) => S.removeEntry(doc, id),
      T.booklist_removed_title.replace("%(title)s", entry.title)).then(() => offerUndo(entry));
  });
  $("booklist-undo").addEventListener("click", () => {
    const entry = removed;
    if (!entry) return;
    offerUndo(null);
    save((doc) => S.restoreEntry(doc, entry),
      T.booklist_restored.replace("%(title)s", entry.title)).then(() => {
      const back = $("booklist-entries").querySelector(`li[data-record-id="${entry.id}"] .entry-title`);
      if (back) back.focus();
    });
  });
  $("booklist-availability").addEventListener("change", (ev) => {
    const on = ev.target.checked;
    save((doc) => { doc.settings = { availability: on, at: Date.now() }; }, T.booklist_saved);
  });
  $("booklist-export-csv").addEventListener("click", () => {
    const rows = exportRows();
    const head = ["record_id", "title", "author", "group", "note", "added", "url"];
    const lines = [head.join(","), ...rows.map((r) => head.map((h) => csvCell(r[h])).join(","))];
    download("my-booklist.csv", "text/csv;charset=utf-8", `\ufeff${lines.join("\r\n")}\r\n`);
  });
  $("booklist-export-json").addEventListener("click", () => {
    download("my-booklist.json", "application/json",
      JSON.stringify({ exported_at: new Date().toISOString(), entries: exportRows() }, null, 2));
  });
  $("booklist-recovery-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const pw = $("booklist-recovery-password");
    const error = $("booklist-recovery-error");
    error.hidden = true;
    try {
      const code = await S.makeRecoveryKey(state, pw.value);
      pw.value = "";
      state = await S.getState();
      $("booklist-recovery-code").textContent = code;
      $("booklist-recovery-shown").hidden = false;
      renderRecovery();
    } catch (e) {
      error.textContent = e instanceof S.WrongSecret ? T.booklist_wrong_password : T.booklist_save_failed;
      error.hidden = false;
    }
  });
  $("booklist-recovery-print").addEventListener("click", () => {
    document.body.classList.add("printing-recovery");
    window.print();
    document.body.classList.remove("printing-recovery");
  });
  $("booklist-recovery-done").addEventListener("click", () => {
    $("booklist-recovery-code").textContent = "";
    $("booklist-recovery-shown").hidden = true;
  });
  $("booklist-forget").addEventListener("click", async () => {
    await S.forgetKeys();
    location.reload();
  });
}

bind();
start().catch(() => say(T.booklist_save_failed));
