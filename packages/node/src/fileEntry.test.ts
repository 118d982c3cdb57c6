import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { entryBytes, entryDigest, entryText, sha256 } from "./fileEntry.js";

const text = { content: 'muc = "brewery"\n', encoding: "utf8" as const };
// Bytes that are not UTF-8 (a PKCS#12 truststore is such a file).
const binary = Buffer.from([0x30, 0x82, 0xff, 0x00, 0xfe]);
const b64 = { content: binary.toString("base64"), encoding: "base64" as const };

describe("a file entry's bytes", () => {
  it("are the UTF-8 bytes of a text entry and the decoded bytes of a base64 one", () => {
    expect(entryBytes(text).equals(Buffer.from(text.content, "utf8"))).toBe(true);
    expect(entryBytes(b64).equals(binary)).toBe(true);
    expect(entryBytes({ content: "h\u00e9", encoding: "utf8" })).toEqual(Buffer.from([0x68, 0xc3, 0xa9]));
  });

  it("read as text: a text entry as it is, a base64 entry decoded as UTF-8", () => {
    expect(entryText(text)).toBe(text.content);
    expect(entryText({ content: Buffer.from("key = 1\n").toString("base64"), encoding: "base64" })).toBe(
      "key = 1\n",
    );
  });
});

describe("digests", () => {
  it("sha256 is lower-case hex of the bytes; a string counts as its UTF-8 bytes", () => {
    expect(sha256(Buffer.from(""))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256("h\u00e9")).toBe(sha256(Buffer.from("h\u00e9", "utf8")));
  });

  it("entryDigest hashes the bytes, not the encoded text, so one file gets one digest either way", () => {
    expect(entryDigest(b64)).toBe(createHash("sha256").update(binary).digest("hex"));
    const asBase64 = { content: Buffer.from(text.content).toString("base64"), encoding: "base64" as const };
    expect(entryDigest(asBase64)).toBe(entryDigest(text));
    expect(entryDigest(b64)).not.toBe(sha256(b64.content));
  });
});
