import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derFingerprint, pemFingerprint } from "./fingerprint.js";

// A throw-away self-signed certificate (openssl req -x509, P-256; its key was discarded).
const PEM = `-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUTM5qjbyNZeDEVkOsHD8FQ0B7tdMwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOdm1tZWV0IHRlc3QgQ0EwHhcNMjYxMjA2MTUzOTU0WhcNMzYx
MjAzMTUzOTU0WjAZMRcwFQYDVQQDDA52bW1lZXQgdGVzdCBDQTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABCPzXyfSXX+eFsLfkTpiv1AyR5FMUZShkEuO3VlX0oOP
SAjpzhDADqeiEVGm5nb8seQ2g9jRjIoiB+YkHk7LeIajUzBRMB0GA1UdDgQWBBTD
5st+uEysQNEhMZZxs/53G5zBNDAfBgNVHSMEGDAWgBTD5st+uEysQNEhMZZxs/53
G5zBNDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCI++FS+XEf
11O/J0QXwJLqBE3QA0wJnWik3NGaOB4LLAIgWKLdUGIvSuS83wPF0T5E9uMSs1+3
AIMYXeK9lSSmNik=
-----END CERTIFICATE-----
`;

describe("the CA pin", () => {
  it("is sha256: and the lower-case hex SHA-256 of the certificate's DER, as openssl x509 -fingerprint", () => {
    // openssl x509 -noout -fingerprint -sha256 printed 47:9C:77:...:C8:0F for this certificate.
    const fp = pemFingerprint(PEM);
    expect(fp).toBe("sha256:479c77ff1dd979dc962796310da165c9142e1b2b95a789945e4383ace942c80f");
    expect(derFingerprint(new X509Certificate(PEM).raw)).toBe(fp);
  });

  it("hashes the DER, not the PEM text: other line breaks give the same pin", () => {
    expect(pemFingerprint(PEM.replaceAll("\n", "\r\n"))).toBe(pemFingerprint(PEM));
  });
});
