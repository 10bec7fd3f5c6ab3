import { describe, expect, it } from "vitest";
import { opts, readOptions } from "./provider-options.js";

const schema = {
  pool: opts.stringOr("default"),
  project: opts.string(),
  mode: opts.oneOfOr(["auto", "push"], "auto"),
  timeout: opts.numberOr(180, { above: 0 }),
  port: opts.number({ integer: true, min: 1 }),
  prep: opts.boolean({ default: true }),
  session: opts.string({ secret: true }),
  keys: opts.strings(),
  ssh: opts.object({ host: opts.required(opts.string(), "host: 192.168.3.20"), user: opts.stringOr("root") }),
};

describe("readOptions", () => {
  it("fills defaults and leaves absent optional values out", () => {
    const { value, findings } = readOptions(undefined, schema);
    expect(findings).toEqual([]);
    expect(value).toEqual({ pool: "default", mode: "auto", timeout: 180, prep: true });
  });

  it("returns given values typed, nested objects with their own defaults", () => {
    const { value, findings } = readOptions(
      { pool: "fast", mode: "push", port: 2222, prep: false, keys: ["a"], ssh: { host: "h" } },
      schema,
    );
    expect(findings).toEqual([]);
    expect(value).toMatchObject({ pool: "fast", mode: "push", port: 2222, prep: false, keys: ["a"] });
    expect(value.ssh).toEqual({ host: "h", user: "root" });
  });

  it("names each wrong field, what is wrong with the value and what to do", () => {
    const { findings } = readOptions(
      { mode: "ftp", timeout: 0, port: 1.5, prep: "yes", pool: "", keys: [1], ssh: { user: "x" } },
      schema,
    );
    expect(findings.map((f) => [f.field, f.problem])).toEqual([
      ["providerOptions.pool", 'is not a non-empty string, got ""'],
      ["providerOptions.mode", 'is not auto or push, got "ftp"'],
      ["providerOptions.timeout", "is not a number above 0, got number 0"],
      ["providerOptions.port", "is not a whole number of at least 1, got number 1.5"],
      ["providerOptions.prep", 'is not true or false, got "yes"'],
      ["providerOptions.keys", "is not a list of strings, got a list"],
      ["providerOptions.ssh.host", "is missing"],
    ]);
    expect(findings.find((f) => f.field === "providerOptions.mode")?.fix).toBe(
      'Give providerOptions.mode as one of auto or push, or leave it out for the default "auto".',
    );
    expect(findings.find((f) => f.field === "providerOptions.ssh.host")?.fix).toBe(
      "Add it, e.g. host: 192.168.3.20.",
    );
  });

  it("reports unknown keys (also nested) in one finding each, without their values", () => {
    const { findings } = readOptions(
      { sesion: "oneadmin:secret", poool: 1, ssh: { host: "h", usr: "x" } },
      schema,
    );
    expect(findings.map((f) => [f.field, f.problem])).toEqual([
      ["providerOptions", "unknown options sesion, poool"],
      ["providerOptions.ssh", "unknown option usr"],
    ]);
    expect(findings[0]?.fix).toContain("known options are pool, project, mode");
    expect(JSON.stringify(findings)).not.toContain("oneadmin:secret");
  });

  it("never prints a secret field's wrong value, and refuses a non-object", () => {
    expect(readOptions({ session: 12345 }, schema).findings[0]?.problem).toBe(
      "is not a non-empty string, got a number",
    );
    expect(readOptions(["x"], schema).findings[0]).toMatchObject({
      field: "providerOptions",
      problem: expect.stringMatching(/^is not an object with pool, project, .*, got a list$/),
    });
  });
});
