import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BenchOptionError } from "./errors.js";
import { publicOptions, requestHeaders, resolveOptions } from "./options.js";
import { inferContentType, loadBodyFile } from "./request-body.js";
import type { BenchOptions } from "./types.js";

const url = "http://127.0.0.1:1/predict";

function rejection(input: BenchOptions): BenchOptionError {
  try {
    resolveOptions(input);
  } catch (error) {
    expect(error).toBeInstanceOf(BenchOptionError);
    return error as BenchOptionError;
  }
  throw new Error("resolveOptions accepted it");
}

describe("request body options", () => {
  it("keeps the exact bytes and counts Content-Length in bytes, not characters", () => {
    const o = resolveOptions({ url, method: "post", body: '{"text": "très bien ✓"}' });
    expect(o.method).toBe("POST");
    expect(o.body?.data.toString("utf8")).toBe('{"text": "très bien ✓"}');
    expect(o.body?.bytes).toBe(Buffer.byteLength('{"text": "très bien ✓"}'));
    expect(o.body?.bytes).toBeGreaterThan('{"text": "très bien ✓"}'.length);
    expect(o.body).toMatchObject({ contentType: "application/json", contentTypeInferred: true });
  });

  it.each([
    ["GET", undefined],
    ["HEAD", "head"],
  ])("refuses a body with %s and says which method to use (exit 2)", (method, given) => {
    const error = rejection({ url, ...(given ? { method: given } : {}), body: "{}" });
    expect(error.message).toContain(`given with ${method}`);
    expect(error.hint).toMatch(/-m POST/);
    expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
  });

  it("refuses an empty body instead of sending a Content-Type with nothing", () => {
    expect(rejection({ url, method: "POST", body: "" }).message).toMatch(/body is empty/);
    expect(rejection({ url, method: "POST", body: Buffer.alloc(0) }).message).toMatch(/body is empty/);
  });

  it("refuses an autocannon closed loop whose per-connection copies of a big body would not fit in memory", () => {
    const body = Buffer.alloc(20 * 1024 * 1024, 0x61);
    const error = rejection({ url, method: "POST", body, connections: 100, engine: "autocannon" });
    expect(error.message).toMatch(/100 connections × a 20971520-byte body need 2000 MiB/);
    expect(error.hint).toMatch(/at most 51 with this body/);
    // One shared copy at a constant rate; fewer connections fit.
    expect(resolveOptions({ url, method: "POST", body, connections: 100, rate: 10 }).body?.bytes).toBe(
      body.length,
    );
    expect(
      resolveOptions({ url, method: "POST", body, connections: 50, engine: "autocannon" }).body?.bytes,
    ).toBe(body.length);
    // The undici engine shares one copy per thread.
    expect(resolveOptions({ url, method: "POST", body, connections: 100 }).body?.bytes).toBe(body.length);
  });

  it.each(["Content-Length", "transfer-encoding"])("refuses a hand-set %s header", (name) => {
    const error = rejection({ url, method: "POST", body: "x", headers: { [name]: "5" } });
    expect(error.message).toContain(name);
    expect(error.hint).toMatch(/sets Content-Length from the body/);
  });

  it("an explicit Content-Type wins over the inferred one and is sent as given", () => {
    const o = resolveOptions({
      url,
      method: "PUT",
      body: '{"a":1}',
      headers: { "content-type": "application/merge-patch+json" },
    });
    expect(o.body).toMatchObject({ contentType: "application/merge-patch+json", contentTypeInferred: false });
    expect(requestHeaders(o)).toEqual({ "content-type": "application/merge-patch+json" });
  });

  it("adds the inferred Content-Type to the request headers", () => {
    const o = resolveOptions({ url, method: "POST", body: "hello" });
    expect(requestHeaders(o)).toEqual({ "Content-Type": "text/plain; charset=utf-8" });
    expect(requestHeaders(resolveOptions({ url }))).toEqual({});
  });

  it("stores the body in results by size and type only", () => {
    const o = resolveOptions({ url, method: "POST", body: '{"password": "hunter2-body-secret"}' });
    const stored = publicOptions(o);
    expect(stored.body).toEqual({
      bytes: o.body?.bytes,
      contentType: "application/json",
      contentTypeInferred: true,
    });
    expect(JSON.stringify(stored)).not.toContain("hunter2-body-secret");
    expect(publicOptions(resolveOptions({ url })).body).toBeNull();
  });
});

describe("inferContentType", () => {
  it.each([
    ['{"text": "good"}', "application/json"],
    ["[1, 2]", "application/json"],
    ["  42 \n", "application/json"],
    ['{"text": "unterminated', "text/plain; charset=utf-8"],
    ["text=good", "text/plain; charset=utf-8"],
  ])("%j → %s", (body, type) => {
    expect(inferContentType(Buffer.from(body))).toBe(type);
  });

  it("calls bytes that are not UTF-8 application/octet-stream", () => {
    expect(inferContentType(Buffer.from([0xff, 0xfe, 0x00, 0x81]))).toBe("application/octet-stream");
  });
});

describe("loadBodyFile", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-body-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("reads the file's exact bytes", async () => {
    const bytes = Buffer.from([0x7b, 0x7d, 0x0a, 0xc3, 0xa9]);
    await writeFile(join(dir, "body.bin"), bytes);
    expect(await loadBodyFile(join(dir, "body.bin"))).toEqual(bytes);
  });

  it("a missing file is an exit-2 error naming it", async () => {
    const error = await loadBodyFile(join(dir, "nope.json")).catch((e) => e);
    expect(error).toBeInstanceOf(BenchOptionError);
    expect(error.message).toBe(`--body-file ${join(dir, "nope.json")} does not exist.`);
    expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error.hint).toMatch(/--body-file body.json/);
  });

  it("a directory is refused", async () => {
    await expect(loadBodyFile(dir)).rejects.toThrow(/is not a regular file/);
  });

  it("a path through a file is refused with the reason", async () => {
    await writeFile(join(dir, "plain"), "x");
    await expect(loadBodyFile(join(dir, "plain", "body.json"))).rejects.toThrow(/cannot be read \(ENOTDIR\)/);
  });

  // root reads a mode-000 file anyway.
  it.skipIf(process.getuid?.() === 0)("an unreadable file is refused", async () => {
    const file = join(dir, "secret.json");
    await writeFile(file, "{}");
    await chmod(file, 0o000);
    await expect(loadBodyFile(file)).rejects.toThrow(/is not readable \(permission denied\)/);
  });
});
