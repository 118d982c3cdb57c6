import { describe, expect, it } from "vitest";
import { CloseCode, describeClose } from "./codes.js";

describe("describeClose", () => {
  it("tells the agent to stop retrying only where retrying cannot help", () => {
    const noRetry = Object.entries(CloseCode)
      .filter(([, code]) => !describeClose(code).retry)
      .map(([name]) => name);
    expect(noRetry.sort()).toEqual(["protocolMismatch", "revoked", "unauthorized"]);
    expect(describeClose(CloseCode.revoked).reason).toMatch(/enroll again with a new join token/);
  });

  it("names an unknown code and retries", () => {
    expect(describeClose(4999)).toEqual({ reason: "closed (4999)", retry: true });
    expect(describeClose(CloseCode.normal)).toEqual({ reason: "closed (1000)", retry: true });
  });
});
