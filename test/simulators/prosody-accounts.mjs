// SCRAM-style login (RFC 5802's key derivation with SHA-1, as prosody's internal_hashed stores it:
// salt, iteration_count, stored_key, server_key; the password itself is never stored).
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import path from "node:path";
import { inRoot } from "./vm.mjs";

export const SCRAM_ITERATIONS = 10000;

function hmac(key, data) {
  return createHmac("sha1", key).update(data).digest();
}
function sha1(data) {
  return createHash("sha1").update(data).digest();
}
function xor(a, b) {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}
function clientKeyOf(password, salt, iterations) {
  return hmac(pbkdf2Sync(password, salt, iterations, 20, "sha1"), "Client Key");
}

/** What prosodyctl register stores. */
export function scramCredentials(
  password,
  salt = randomBytes(16).toString("hex"),
  iterations = SCRAM_ITERATIONS,
) {
  const salted = pbkdf2Sync(password, salt, iterations, 20, "sha1");
  return {
    salt,
    iteration_count: iterations,
    stored_key: sha1(hmac(salted, "Client Key")).toString("hex"),
    server_key: hmac(salted, "Server Key").toString("hex"),
  };
}

/** The client's proof for `authMessage` (the two nonces). */
export function scramProof(password, salt, iterations, authMessage) {
  const clientKey = clientKeyOf(password, salt, iterations);
  return xor(clientKey, hmac(sha1(clientKey), authMessage));
}

export function scramVerify(storedKeyHex, authMessage, proof) {
  const stored = Buffer.from(storedKeyHex, "hex");
  if (proof.length !== stored.length) return false;
  const clientKey = xor(proof, hmac(stored, authMessage));
  return timingSafeEqual(sha1(clientKey), stored);
}

/** prosody util/datamanager encode(): every byte that is not a letter or digit -> %xx. */
export function prosodyEncode(s) {
  return Array.from(Buffer.from(s, "utf8"))
    .map((b) =>
      /[A-Za-z0-9]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

export function accountFile(root, dataPath, host, user) {
  return inRoot(
    root,
    path.posix.join(dataPath, prosodyEncode(host), "accounts", `${prosodyEncode(user)}.dat`),
  );
}
