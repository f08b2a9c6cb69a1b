// My Booklist: where the unlocked key lives, the JSON API, and merging two devices' edits.
import * as C from "./booklist-crypto.js";

const DB_NAME = "shiori-booklist";
const STORE = "keys";
const PENDING = "shiori.booklist.pending";
let memoryKey = null; // {patron, keyId, dataKey}: this page only (kiosks, or "don't keep")

// ---- the CSRF token and the server -------------------------------------------------------
export function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  } catch {
    return "";
  }
}

export async function getState() {
  const r = await fetch("/my/booklist/state", { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(`state ${r.status}`);
  return r.json();
}

export function post(path, body) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body),
  });
}

// ---- IndexedDB: a non-extractable key, only when the patron chose to keep it ---------------
function idb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function idbDo(mode, fn) {
  const db = await idb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export async function loadStoredKey() {
  try {
    return (await idbDo("readonly", (s) => s.get("current"))) || null;
  } catch {
    return null;
  }
}

export function storeKey(entry) {
  return idbDo("readwrite", (s) => s.put(entry, "current"));
}

export function forgetKeys() {
  memoryKey = null;
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(DB_NAME);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

// ---- unlocking --------------------------------------------------------------------------
export class WrongSecret extends Error {}
export class Locked extends Error {}

async function keep(state, entry, remember) {
  memoryKey = entry.dataKey ? entry : memoryKey;
  if (remember && !state.kiosk) {
    await storeKey({ ...entry, epoch: state.password_epoch });
  }
}

// A key already unlocked on this page or kept on this device, or null.
export async function availableKey(state) {
  if (memoryKey && memoryKey.patron === state.patron && memoryKey.keyId === state.key_id) {
    return memoryKey.dataKey;
  }
  if (state.kiosk) return null;
  const stored = await loadStoredKey();
  if (!stored) return null;
  if (stored.patron === state.patron) {
    if (state.exists && !state.locked && stored.dataKey && stored.keyId === state.key_id) {
      memoryKey = stored;
      return stored.dataKey;
    }
    if (!state.exists && stored.kek && stored.epoch === state.password_epoch) {
      // Derived at login before any list existed: create the list with it now.
      const created = await createList(state, stored.kek, C.unb64(stored.salt), stored.iterations);
      if (created) {
        await keep(state, created, true);
        return created.dataKey;
      }
    }
  }
  await forgetKeys();
  return null;
}

// Make the patron's list: a random data key wrapped by `kek`. Null if another device won.
async function createList(state, kek, salt, iterations) {
  const extractable = await C.newDataKey();
  const wrapped = await C.wrap(extractable, kek);
  const dataKey = await C.unwrap(wrapped, kek, false);
  const keyId = C.newKeyId();
  const sealed = await C.seal(emptyDoc(), dataKey, state.patron, 1, keyId);
  const r = await post("/my/booklist/create", {
    key_id: keyId,
    kdf_salt: C.b64(salt),
    kdf_iterations: iterations,
    wrapped_key: C.b64(wrapped),
    ...sealed,
  });
  if (r.status === 409) return null;
  if (!r.ok) throw new Error(`create ${r.status}`);
  return { patron: state.patron, keyId, dataKey };
}

// The password typed on this page (login, or the booklist page's own form).
export async function unlockWithPassword(state, password, remember) {
  if (state.exists && state.locked) throw new Locked();
  if (!state.exists) {
    const salt = C.randomBytes(16);
    const kek = await C.deriveKek(password, salt, C.ITERATIONS);
    const created = await createList(state, kek, salt, C.ITERATIONS);
    if (!created) return unlockWithPassword(await getState(), password, remember);
    await keep(state, created, remember);
    return created.dataKey;
  }
  const kek = await C.deriveKek(password, C.unb64(state.kdf_salt), state.kdf_iterations);
  let dataKey;
  try {
    dataKey = await C.unwrap(C.unb64(state.wrapped_key), kek, false);
  } catch {
    throw new WrongSecret();
  }
  await keep(state, { patron: state.patron, keyId: state.key_id, dataKey }, remember);
  return dataKey;
}

// At login, before any list exists: keep only the password-derived KEK (with its salt).
export async function rememberKekForLater(state, password) {
  const salt = C.randomBytes(16);
  const kek = await C.deriveKek(password, salt, C.ITERATIONS);
  await storeKey({
    patron: state.patron, kek, salt: C.b64(salt), iterations: C.ITERATIONS,
    epoch: state.password_epoch,
  });
}

// After a password reset: recovery key -> data key -> wrapped again with the password.
export async function restoreWithRecovery(state, code, password, remember) {
  const bytes = C.parseRecoveryCode(code);
  if (!bytes || !state.recovery_wrapped_key) throw new WrongSecret("recovery");
  const rkek = await C.recoveryKek(bytes, C.unb64(state.recovery_salt));
  let extractable;
  try {
    extractable = await C.unwrap(C.unb64(state.recovery_wrapped_key), rkek, true);
  } catch {
    throw new WrongSecret("recovery");
  }
  const salt = C.randomBytes(16);
  const kek = await C.deriveKek(password, salt, C.ITERATIONS);
  const wrapped = await C.wrap(extractable, kek);
  const dataKey = await C.unwrap(wrapped, kek, false);
  // The password must be the current one: check by opening the list before storing.
  const r = await post("/my/booklist/restore", {
    key_id: state.key_id, kdf_salt: C.b64(salt), kdf_iterations: C.ITERATIONS,
    wrapped_key: C.b64(wrapped),
  });
  if (!r.ok) throw new Error(`restore ${r.status}`);
  await keep(state, { patron: state.patron, keyId: state.key_id, dataKey }, remember);
  return dataKey;
}

// A new recovery key wrapping the data key (needs the password once more: the kept copy of
// the data key is non-extractable, so it cannot be wrapped again).
export async function makeRecoveryKey(state, password) {
  const kek = await C.deriveKek(password, C.unb64(state.kdf_salt), state.kdf_iterations);
  let extractable;
  try {
    extractable = await C.unwrap(C.unb64(state.wrapped_key), kek, true);
  } catch {
    throw new WrongSecret();
  }
  const code = C.newRecoveryCode();
  const salt = C.randomBytes(16);
  const rkek = await C.recoveryKek(C.parseRecoveryCode(code), salt);
  const wrapped = await C.wrap(extractable, rkek);
  const r = await post("/my/booklist/recovery", {
    key_id: state.key_id, recovery_salt: C.b64(salt), recovery_wrapped_key: C.b64(wrapped),
  });
  if (!r.ok) throw new Error(`recovery ${r.status}`);
  return code;
}

// ---- the list document and merging ---------------------------------------------------------
export function emptyDoc() {
  return { format: 1, entries: {}, settings: { availability: true, at: 0 } };
}

function mergeEntry(a, b) {
  const live = a.at > b.at || (a.at === b.at && !a.deleted) ? a : b;
  if (live.deleted) return { id: live.id, at: live.at, deleted: true };
  const other = live === a ? b : a;
  const out = { ...live };
  if (!other.deleted) {
    if (other.noteAt > out.noteAt) Object.assign(out, { note: other.note, noteAt: other.noteAt });
    if (other.groupAt > out.groupAt) {
      Object.assign(out, { group: other.group, groupAt: other.groupAt });
    }
    out.added = Math.min(out.added, other.added);
  }
  return out;
}

// Every entry of both sides survives; for the same record the latest change of each field
// wins (a removal is a change too; a later edit on another device brings the entry back).
export function merge(local, remote) {
  const out = emptyDoc();
  out.settings = (local.settings?.at || 0) >= (remote.settings?.at || 0)
    ? { ...local.settings } : { ...remote.settings };
  const ids = new Set([...Object.keys(local.entries), ...Object.keys(remote.entries)]);
  for (const id of ids) {
    const a = local.entries[id];
    const b = remote.entries[id];
    out.entries[id] = a && b ? mergeEntry(a, b) : { ...(a || b) };
  }
  return out;
}

export function liveEntries(doc) {
  return Object.values(doc.entries).filter((e) => !e.deleted);
}

export function addEntry(doc, item) {
  const existing = doc.entries[item.id];
  if (existing && !existing.deleted) return false;
  const now = Date.now();
  doc.entries[item.id] = {
    id: Number(item.id), title: String(item.title || "").slice(0, 500),
    author: String(item.author || "").slice(0, 300), note: "", noteAt: now, group: "",
    groupAt: now, added: now, at: now, deleted: false,
  };
  return true;
}

export function editEntry(doc, id, note, group) {
  const e = doc.entries[id];
  if (!e || e.deleted) return;
  const now = Date.now();
  if (e.note !== note) Object.assign(e, { note, noteAt: now });
  if (e.group !== group) Object.assign(e, { group, groupAt: now });
  e.at = now;
}

export function removeEntry(doc, id) {
  doc.entries[id] = { id: Number(id), at: Date.now(), deleted: true };
}

// Undo a removal: the entry as it was (note, group, date added), as the latest change, so
// it also wins over the removal when another device's copy is merged.
export function restoreEntry(doc, entry) {
  doc.entries[entry.id] = { ...entry, at: Date.now(), deleted: false };
}

// ---- an open list ---------------------------------------------------------------------------
export class OpenList {
  constructor(state, dataKey, doc) {
    this.patron = state.patron;
    this.keyId = state.key_id;
    this.version = state.version;
    this.dataKey = dataKey;
    this.doc = doc;
    this.state = state;
  }

  static async open(state, dataKey) {
    let doc;
    try {
      doc = await C.open(state, dataKey, state.patron, state.version, state.key_id);
    } catch {
      throw new WrongSecret("ciphertext");
    }
    if (!doc || typeof doc.entries !== "object") doc = emptyDoc();
    return new OpenList(state, dataKey, doc);
  }

  // Apply `mutate` and save; on a stale version, merge with the newer copy and retry.
  async update(mutate) {
    mutate(this.doc);
    let merged = false;
    for (let attempt = 0; attempt < 10; attempt++) {
      const sealed = await C.seal(this.doc, this.dataKey, this.patron, this.version + 1, this.keyId);
      const r = await post("/my/booklist/save", {
        key_id: this.keyId, base_version: this.version, ...sealed,
      });
      if (r.ok) {
        this.version = (await r.json()).version;
        return { merged };
      }
      if (r.status !== 409) throw new Error(`save ${r.status}`);
      const state = await getState();
      if (!state.exists || state.key_id !== this.keyId) throw new Error("key-changed");
      const remote = await C.open(state, this.dataKey, this.patron, state.version, this.keyId);
      this.doc = merge(this.doc, remote);
      this.version = state.version;
      this.state = state;
      merged = true;
    }
    throw new Error("conflicts");
  }
}

// ---- adds made where the list was not unlocked (kept in this tab until the list opens) -----
export function queuePending(item) {
  const list = JSON.parse(sessionStorage.getItem(PENDING) || "[]");
  if (!list.some((p) => String(p.id) === String(item.id))) list.push(item);
  sessionStorage.setItem(PENDING, JSON.stringify(list));
}

export function takePending() {
  const list = JSON.parse(sessionStorage.getItem(PENDING) || "[]");
  sessionStorage.removeItem(PENDING);
  return list;
}
