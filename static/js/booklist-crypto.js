// My Booklist cryptography (WebCrypto only; nothing here talks to the network).
//
// data key  : random AES-256-GCM key, encrypts the whole list; never leaves the browser
//             unwrapped, and is kept only as a non-extractable CryptoKey.
// KEK       : PBKDF2-SHA256(password, random 16-byte salt, >= 600,000 iterations) -> AES-KW,
//             wraps the data key (the server stores the 40-byte wrap).
// recovery  : 160 random bits shown once as 8 groups of 4 characters; HKDF-SHA256 -> AES-KW,
//             wraps the same data key.
// each save : fresh random 96-bit nonce; AAD binds patron id, version and key id, so a
//             ciphertext cannot be moved to another patron or replayed as another version.
// plaintext : JSON padded with spaces to a multiple of 4 KiB (the size hides the count).

export const ITERATIONS = 600000;
export const PAD = 4096;
const subtle = crypto.subtle;
const enc = new TextEncoder();
const dec = new TextDecoder();

export function b64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (let i = 0; i < view.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function unb64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function newKeyId() {
  return Array.from(randomBytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function deriveKek(password, salt, iterations) {
  if (iterations < ITERATIONS) throw new Error("weak-kdf");
  const material = await subtle.importKey(
    "raw", enc.encode(password.normalize("NFC")), "PBKDF2", false, ["deriveKey"]);
  return subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material, { name: "AES-KW", length: 256 }, false, ["wrapKey", "unwrapKey"]);
}

export function newDataKey() {
  // Extractable only so it can be wrapped right now; callers keep the non-extractable copy.
  return subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
}

export async function wrap(dataKey, kek) {
  return new Uint8Array(await subtle.wrapKey("raw", dataKey, kek, "AES-KW"));
}

export function unwrap(wrapped, kek, extractable = false) {
  return subtle.unwrapKey(
    "raw", wrapped, kek, "AES-KW", { name: "AES-GCM" }, extractable, ["encrypt", "decrypt"]);
}

function aad(patron, version, keyId) {
  return enc.encode(`shiori-booklist/v1|patron=${patron}|version=${version}|key=${keyId}`);
}

export async function seal(doc, dataKey, patron, version, keyId) {
  const json = enc.encode(JSON.stringify(doc));
  const padded = new Uint8Array(Math.ceil((json.length + 1) / PAD) * PAD).fill(0x20);
  padded.set(json);
  const nonce = randomBytes(12);
  const ct = await subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aad(patron, version, keyId) },
    dataKey, padded);
  return { nonce: b64(nonce), ciphertext: b64(new Uint8Array(ct)) };
}

export async function open(sealed, dataKey, patron, version, keyId) {
  const plain = await subtle.decrypt(
    { name: "AES-GCM", iv: unb64(sealed.nonce), additionalData: aad(patron, version, keyId) },
    dataKey, unb64(sealed.ciphertext));
  return JSON.parse(dec.decode(plain));
}

// Recovery keys: 20 random bytes in an alphabet without 0/O/1/I, e.g. ABCD-EFGH-…
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

export function newRecoveryCode() {
  const bytes = randomBytes(20);
  let bits = 0, value = 0, out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g).join("-");
}

export function parseRecoveryCode(text) {
  const clean = text.toUpperCase().replace(/[^A-Z0-9]/g, "");
  if (clean.length !== 32) return null;
  const out = new Uint8Array(20);
  let bits = 0, value = 0, i = 0;
  for (const ch of clean) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[i++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

export async function recoveryKek(codeBytes, salt) {
  const material = await subtle.importKey("raw", codeBytes, "HKDF", false, ["deriveKey"]);
  return subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: enc.encode("shiori-booklist/recovery/v1") },
    material, { name: "AES-KW", length: 256 }, false, ["wrapKey", "unwrapKey"]);
}
