import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.js";
import { BenchOptionError } from "./errors.js";
import { parseHeaderFlags, resolveOptions } from "./options.js";

describe("parseDuration", () => {
  it.each([
    ["10s", 10_000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["2.5s", 2500],
    ["3", 3000],
    ["250us", 0.25],
    ["1h", 3_600_000],
  ])("%s → %d ms", (text, ms) => {
    expect(parseDuration(text, "--duration")).toBe(ms);
  });

  it.each(["", "ten", "10x", "-5s", "5 s s", "s"])("rejects %j naming the flag", (text) => {
    expect(() => parseDuration(text, "--warmup")).toThrow(/--warmup/);
    expect(() => parseDuration(text, "--warmup")).toThrow(BenchOptionError);
  });
});

describe("resolveOptions", () => {
  it("fills defaults and picks the mode from --rate", () => {
    expect(resolveOptions({ url: "http://127.0.0.1:1/" })).toMatchObject({
      mode: "closed-loop",
      connections: 10,
      durationMs: 10_000,
      warmupMs: 0,
      timeoutMs: 5000,
      backendHeader: "X-Served-By",
      rate: null,
    });
    expect(resolveOptions({ url: "https://example.test/x", rate: 50 })).toMatchObject({
      mode: "constant-rate",
      rate: 50,
    });
  });

  it.each([
    [{ url: "" }, /No target URL/],
    [{ url: "not a url" }, /is not a URL/],
    [{ url: "ftp://127.0.0.1/" }, /only http and https/],
    [{ url: "file:///etc/passwd" }, /only http and https/],
    [{ url: "http://127.0.0.1/", connections: 0 }, /--connections 0/],
    [{ url: "http://127.0.0.1/", connections: 2.5 }, /--connections 2.5/],
    [{ url: "http://127.0.0.1/", durationMs: 10 }, /--duration must be at least/],
    [{ url: "http://127.0.0.1/", warmupMs: -1 }, /--warmup must not be negative/],
    [{ url: "http://127.0.0.1/", rate: 0 }, /--rate 0/],
    [{ url: "http://127.0.0.1/", rate: Number.NaN }, /--rate NaN/],
    [{ url: "http://127.0.0.1/", backendHeader: "X Served" }, /not a valid HTTP header name/],
    [{ url: "http://127.0.0.1/", method: "BREW" }, /not supported/],
  ])("rejects %j", (input, message) => {
    let caught: unknown;
    try {
      resolveOptions(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BenchOptionError);
    expect((caught as BenchOptionError).message).toMatch(message);
    expect((caught as BenchOptionError).exitCode).toBe(ExitCode.INVALID_INPUT);
    expect((caught as BenchOptionError).hint).toBeTruthy();
  });
});

describe("parseHeaderFlags", () => {
  it("splits Name: value at the first colon", () => {
    expect(parseHeaderFlags(["Host: app.lab", "X-Time: 12:30"])).toEqual({
      Host: "app.lab",
      "X-Time": "12:30",
    });
  });
  it.each(["no colon", ": empty name"])("rejects %j", (flag) => {
    expect(() => parseHeaderFlags([flag])).toThrow(/is not "Name: value"/);
  });
  it("rejects header names with spaces", () => {
    expect(() => resolveOptions({ url: "http://127.0.0.1/", headers: { "Bad Name": "x" } })).toThrow(
      /not valid/,
    );
  });
});

describe("duration bounds (a timer past 2^31-1 ms fires at once)", () => {
  it("refuses durations no timer can wait, naming the flag", () => {
    for (const text of ["1000h", "597h", "25000h"]) {
      expect(() => parseDuration(text, "--timeout")).toThrow(/--timeout "\d+h" is longer than any timer/);
    }
    expect(parseDuration("596h", "--timeout")).toBe(596 * 3_600_000);
  });

  it.each([
    ["durationMs", 24 * 3_600_000 + 1, /--duration .* longer than the 24h/],
    ["warmupMs", 3_600_000 + 1000, /--warmup .* longer than the 1h/],
    ["timeoutMs", 2 * 3_600_000, /--timeout 2h is longer than the 1h/],
  ] as const)("refuses %s past its bound with exit 2", (key, value, message) => {
    let error: unknown;
    try {
      resolveOptions({ url: "http://127.0.0.1:1/", [key]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BenchOptionError);
    expect((error as BenchOptionError).exitCode).toBe(ExitCode.INVALID_INPUT);
    expect((error as BenchOptionError).message).toMatch(message);
    expect((error as BenchOptionError).hint).toMatch(/or less/);
  });

  it("accepts each bound itself", () => {
    expect(
      resolveOptions({
        url: "http://127.0.0.1:1/",
        durationMs: 24 * 3_600_000,
        warmupMs: 3_600_000,
        timeoutMs: 3_600_000,
      }),
    ).toMatchObject({ durationMs: 24 * 3_600_000, warmupMs: 3_600_000, timeoutMs: 3_600_000 });
  });
});
