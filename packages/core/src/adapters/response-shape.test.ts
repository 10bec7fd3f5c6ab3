import { describe, expect, it } from "vitest";
import { registerSecret } from "../util/redact.js";
import type { HttpResponse } from "./http-json.js";
import { checkField, checkJsonBody, shapes } from "./response-shape.js";

const answer = (text: string, contentType: string, body: unknown = text): HttpResponse => ({
  status: 200,
  statusMessage: "OK",
  headers: { "content-type": contentType },
  body,
  text,
});

describe("response shapes", () => {
  it("ipv4 takes dotted quads only, as strictly as the pool's own parser (no leading zeros)", () => {
    expect(shapes.ipv4.check("10.1.0.4")).toBe("10.1.0.4");
    for (const bad of ["10.1.0.999", "10.1.0", "<b>10.1.0.4</b>", "::1", 167837700, "", "010.1.0.4"])
      expect(shapes.ipv4.check(bad)).toBeUndefined();
  });

  it("optional lets absence through as null and still checks a present value", () => {
    const ip = shapes.optional(shapes.ipv4);
    expect(ip.check(undefined)).toBeNull();
    expect(ip.check(null)).toBeNull();
    expect(ip.check("10.0.0.1")).toBe("10.0.0.1");
    expect(ip.check("nope")).toBeUndefined();
  });

  it("oneOfNames takes only the listed names", () => {
    const state = shapes.oneOfNames("a state", ["running", "stopped"]);
    expect(state.check("running")).toBe("running");
    expect(state.check("Running")).toBeUndefined();
    expect(state.check(1)).toBeUndefined();
  });

  it("checkJsonBody tells a JSON string from a body that did not parse", () => {
    const id = shapes.stringMatching("a VM id", /^vm-\d+$/);
    // A JSON string answer ("vm-42") is parsed; the same text unparsed (text/plain) is not JSON.
    expect(checkJsonBody("esxi", answer('"vm-42"', "application/json", "vm-42"), "clone", id)).toBe("vm-42");
    expect(() => checkJsonBody("esxi", answer("vm-42", "text/plain"), "clone", id)).toThrow(
      /non-JSON body \(text\/plain\)/,
    );
    expect(() => checkJsonBody("esxi", answer("{broken", "application/json"), "clone", id)).toThrow(
      /non-JSON body \(application\/json\)/,
    );
    expect(() => checkJsonBody("esxi", answer("", "application/json"), "clone", id)).toThrow(/an empty body/);
    expect(() => checkJsonBody("esxi", answer("1001", "application/json", 1001), "clone", id)).toThrow(
      /expected a VM id, got number 1001/,
    );
    // Nothing used: no check, not even of the type (204 No Content).
    expect(checkJsonBody("esxi", answer("", ""), "patch", shapes.ignored)).toBe("");
  });

  it("checkField names the field, the platform and the call, and keeps secrets out", () => {
    registerSecret("s3cr3t-token-value-xyz");
    try {
      checkField("aws", "RunInstances", "InstanceId", "i-s3cr3t-token-value-xyz", shapes.ipv4);
      expect.unreachable();
    } catch (error) {
      const e = error as { code: string; exitCode: number; message: string; hint: string };
      expect(e.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(e.exitCode).toBe(5);
      expect(e.message).toMatch(/^aws: the answer to RunInstances .*InstanceId: expected an IPv4 address/);
      expect(JSON.stringify(e)).not.toContain("s3cr3t-token-value-xyz");
      expect(e.message).not.toContain("s3cr3t-token-value-xyz");
    }
    expect(() =>
      checkField("azure", "get", "the answer", "<!DOCTYPE html><html>", shapes.record("a VM")),
    ).toThrow(expect.objectContaining({ hint: expect.stringMatching(/HTML page came back/) }));
  });
});
