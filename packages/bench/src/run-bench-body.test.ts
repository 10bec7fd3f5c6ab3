import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runBench } from "./run-bench.js";
import { requestSignature, type Target } from "./test-support/target.js";
import { testTarget } from "./test-support/test-target.js";
import { writeReports } from "./write-reports.js";

const dirs: string[] = [];
const target = (): Promise<Target> => testTarget({ backends: ["web1", "web2"] });
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Multibyte characters: a Content-Length counted in characters instead of bytes would cut the body short. */
const marker = "body-marker-7f3a";
const jsonBody = JSON.stringify({ text: `Très bon service, rapide ✓ — ${marker}` });

/** What the target counted: every request must have had exactly this shape. */
function expectOnly(requests: Record<string, number>, signature: string): number {
  expect(Object.keys(requests)).toEqual([signature]);
  return requests[signature]!;
}

describe("request bodies against a real loopback server", () => {
  it("closed loop (autocannon) sends the exact body and Content-Length with every request", async () => {
    const t = await target();
    const r = await runBench({
      url: `${t.url}predict`,
      method: "POST",
      body: jsonBody,
      connections: 2,
      durationMs: 700,
    });
    const stats = await t.stats();
    const bytes = Buffer.from(jsonBody);
    const seen = expectOnly(
      stats.requests,
      requestSignature("POST", "/predict", String(bytes.length), undefined, bytes),
    );
    // autocannon may send a few more after the window closes; never fewer than were answered.
    expect(seen).toBeGreaterThanOrEqual(r.requests.responses);
    expect(r.requests.responses).toBeGreaterThan(20);
    expect(r.requests.failed).toBe(0);
    expect(stats.lastRequest.headers?.["content-type"]).toBe("application/json");
    expect(r.options.body).toEqual({
      bytes: bytes.length,
      contentType: "application/json",
      contentTypeInferred: true,
    });
    expect(r.options.method).toBe("POST");
  });

  it("constant rate sends the exact body and Content-Length with every request, never chunked", async () => {
    const t = await target();
    // Not UTF-8: sent as bytes, typed application/octet-stream.
    const body = Buffer.concat([Buffer.from([0xff, 0x00, 0xfe]), Buffer.alloc(3000, 0x61)]);
    const r = await runBench({ url: `${t.url}upload`, method: "PUT", body, rate: 40, durationMs: 500 });
    const stats = await t.stats();
    const seen = expectOnly(
      stats.requests,
      requestSignature("PUT", "/upload", String(body.length), undefined, body),
    );
    expect(r.requests.sent).toBe(20);
    expect(seen).toBe(20);
    expect(r.requests.responses).toBe(20);
    expect(stats.lastRequest.headers?.["content-type"]).toBe("application/octet-stream");
    expect(r.options.body).toEqual({
      bytes: body.length,
      contentType: "application/octet-stream",
      contentTypeInferred: true,
    });
  });

  it("a body larger than a socket write arrives whole in both modes", async () => {
    const body = Buffer.from(JSON.stringify({ text: "x".repeat(300_000) }));
    const signature = requestSignature("POST", "/big", String(body.length), undefined, body);
    const closed = await target();
    const rc = await runBench({
      url: `${closed.url}big`,
      method: "POST",
      body,
      connections: 2,
      durationMs: 500,
    });
    expect(expectOnly((await closed.stats()).requests, signature)).toBeGreaterThanOrEqual(
      rc.requests.responses,
    );
    expect(rc.requests.responses).toBeGreaterThan(5);
    expect(rc.requests.failed).toBe(0);
    const open = await target();
    const ro = await runBench({ url: `${open.url}big`, method: "POST", body, rate: 20, durationMs: 500 });
    expect(expectOnly((await open.stats()).requests, signature)).toBe(10);
    expect(ro.requests.responses).toBe(10);
  });

  it("an explicit Content-Type is sent as given", async () => {
    const t = await target();
    await runBench({
      url: t.url,
      method: "POST",
      body: "text=good",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      rate: 20,
      durationMs: 200,
    });
    expect((await t.stats()).lastRequest.headers?.["content-type"]).toBe("application/x-www-form-urlencoded");
  });

  it("records method, path and body size in result.json and the reports' header, never the body", async () => {
    const t = await target();
    const r = await runBench({
      url: `${t.url}predict`,
      method: "POST",
      body: jsonBody,
      rate: 20,
      durationMs: 300,
    });
    const dir = await mkdtemp(join(tmpdir(), "labgate-bench-body-"));
    dirs.push(dir);
    const files = await writeReports(r, dir);
    const stored = JSON.parse(await readFile(files.resultJson, "utf8"));
    expect(stored.options).toMatchObject({
      method: "POST",
      url: `${t.url}predict`,
      body: {
        bytes: Buffer.byteLength(jsonBody),
        contentType: "application/json",
        contentTypeInferred: true,
      },
    });
    const header = `POST ${t.url}predict with a ${Buffer.byteLength(jsonBody)} B body (application/json, inferred)`;
    for (const file of [files.resultJson, files.reportMd, files.reportHtml]) {
      const text = await readFile(file, "utf8");
      expect(text).not.toContain(marker);
      if (file !== files.resultJson) expect(text).toContain(header);
    }
  });
});
