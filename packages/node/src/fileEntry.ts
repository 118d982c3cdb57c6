// A rendered file entry's bytes and their digest. An entry carries its content as text ("utf8") or, for
// binary files such as a PKCS#12 truststore, as base64; the agent writes the bytes, the coordinator and the
// agent compare their SHA-256 with what a node reports, and nothing else may decode an entry its own way.
import { createHash } from "node:crypto";
import type { FileEntry } from "@vmmeet/shared";

/** What decoding needs of a file entry (a whole FileEntry fits). */
export type EncodedContent = Pick<FileEntry, "content" | "encoding">;

/** SHA-256 (lower-case hex) of `data`; a string is hashed as its UTF-8 bytes. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The bytes the entry's file holds. */
export function entryBytes(entry: EncodedContent): Buffer {
  return entry.encoding === "base64"
    ? Buffer.from(entry.content, "base64")
    : Buffer.from(entry.content, "utf8");
}

/** The entry's bytes read as UTF-8 text (a text entry's content as it is). */
export function entryText(entry: EncodedContent): string {
  return entry.encoding === "base64" ? entryBytes(entry).toString("utf8") : entry.content;
}

/** SHA-256 (hex) of the entry's bytes: what the agent reports for the file once it is written. */
export function entryDigest(entry: EncodedContent): string {
  return sha256(entryBytes(entry));
}
