import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { OpenNebulaClient } from "../platforms/opennebula/client.js";
import { encodeFault, encodeMethodResponse, escapeXml } from "../platforms/opennebula/xmlrpc.js";
import {
  clearRegisteredSecrets,
  encodedForms,
  REDACTED,
  redact,
  redactValue,
  registerSecret,
} from "./redact.js";

const PASSWORD = `p&<>"'ss-w0rd`;
const SESSION = `oneadmin:${PASSWORD}`;

/** Every way the password can be written that a careless serializer would produce. */
function leakedForms(secret: string): string[] {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return [
    secret,
    escapeXml(secret),
    secret
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/'/g, "&#39;")
      .replace(/"/g, "&#34;"),
    secret
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/'/g, "&#x27;")
      .replace(/"/g, "&#x22;"),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(escapeXml(secret)).slice(1, -1),
    b64(secret),
  ];
}

function expectNoLeak(text: string, secret = PASSWORD): void {
  for (const form of leakedForms(secret)) expect(text, `leaks ${form}`).not.toContain(form);
}

describe("redact: every encoding a secret travels in", () => {
  beforeEach(() => clearRegisteredSecrets());
  afterEach(() => clearRegisteredSecrets());

  it("hides the XML-, URL-, JSON-escaped and base64 forms of a registered session and its password", () => {
    registerSecret(SESSION);
    for (const form of [...leakedForms(PASSWORD), ...leakedForms(SESSION)]) {
      const out = redact(`before ${form} after`);
      expect(out, form).not.toContain(form);
      // Base64 keeps its last characters (they depend on what follows); every other form goes whole.
      expect(out, form).toMatch(/^before \*\*\*([A-Za-z0-9+/]{0,2}=*)? after$/);
    }
  });

  it("finds base64 at any byte offset inside a longer encoded text (Basic auth, user-data)", () => {
    registerSecret(SESSION);
    for (const prefix of ["", "a", "ab", "abc", "Authorization: Basic "]) {
      const encoded = Buffer.from(`${prefix}${PASSWORD}|tail`).toString("base64");
      const out = redact(`data=${encoded}`);
      // The characters made only of the password's bytes are gone; what is left cannot be decoded back to it.
      expect(Buffer.from(out.replace(/\*/g, ""), "base64").toString("latin1")).not.toContain(PASSWORD);
      expect(out).toContain(REDACTED);
    }
  });

  it("leaves innocent text alone and ignores short secrets", () => {
    registerSecret("abc");
    registerSecret("long-enough-secret");
    expect(redact("abc and some histogram AAECAwQFBgc=")).toBe("abc and some histogram AAECAwQFBgc=");
    expect(encodedForms("abc")).toEqual([]);
  });

  it("covers secrets passed to one redact() call too", () => {
    expect(redact(`x ${escapeXml(PASSWORD)} y`, [PASSWORD])).toBe(`x ${REDACTED} y`);
  });
});

describe("an OpenNebula server that echoes the session back", () => {
  let server: Server;
  let endpoint: string;
  let dir: string;
  let answer: (body: string) => string;

  beforeEach(async () => {
    clearRegisteredSecrets();
    dir = await mkdtemp(join(tmpdir(), "labgate-redact-"));
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/xml" });
        res.end(answer(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/RPC2`;
  });
  afterEach(async () => {
    clearRegisteredSecrets();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps it out of the error message (fault text) and out of state.json (an echoed document)", async () => {
    const client = new OpenNebulaClient({ endpoint, session: SESSION, env: {} });
    // The request carries the session XML-escaped; the fault quotes the request, escaped once more.
    answer = (body) => encodeFault(-1, `cannot parse ${body}`);
    const error = await client.call("one.vm.info", 7).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain("cannot parse");
    expect(error?.message).toContain(REDACTED);
    expectNoLeak(error?.message ?? "");
    expectNoLeak(error?.message ?? "", SESSION);

    // A document that embeds the request (so the session XML-escaped inside it), as a VM template might.
    answer = (body) =>
      encodeMethodResponse([true, `<VM><ID>7</ID><USER_TEMPLATE>${escapeXml(body)}</USER_TEMPLATE></VM>`, 0]);
    const document = String(await client.call("one.vm.info", 7));
    expect(document).toContain("<ID>7</ID>");
    const state = join(dir, "state.json");
    await writeFileAtomic(
      state,
      JSON.stringify(redactValue({ vm: document, error: error?.message }), null, 2),
    );
    const written = await readFile(state, "utf8");
    expect(written).toContain("<ID>7</ID>");
    expectNoLeak(written);
    expectNoLeak(written, SESSION);
  });
});
