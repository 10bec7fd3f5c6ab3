import { execa } from "execa";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { commandWords, displayCommandLine, remoteCommandLine, shellQuote } from "./shell-quote.js";

const SHELLY = fc.constantFrom(
  "'",
  '"',
  "$",
  "(",
  ")",
  "`",
  "\\",
  "\n",
  ";",
  "*",
  " ",
  "a",
  "é",
  "|",
  "&",
  "!",
  "~",
  "#",
  "{",
  "}",
);

describe("shellQuote", () => {
  it("survives /bin/sh for any string without NUL", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string({ unit: SHELLY }), fc.string({ unit: "grapheme" })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (args) => {
          const line = remoteCommandLine(["printf", "%s\\0", ...args]);
          const { stdout } = await execa("sh", ["-c", line], { stripFinalNewline: false, encoding: "utf8" });
          expect(stdout).toBe(args.map((a) => `${a}\0`).join(""));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("quotes a single quote the POSIX way", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe("commandWords", () => {
  it("wraps sudo, sudo -u and env in the documented order", () => {
    expect(
      commandWords("lxc", ["version"], { sudoUser: "oneadmin", env: { HOME: "/home/oneadmin" } }),
    ).toEqual(["sudo", "-n", "-u", "oneadmin", "--", "env", "HOME=/home/oneadmin", "lxc", "version"]);
    expect(displayCommandLine(commandWords("usermod", ["-aG", "lxd", "oneadmin"], { sudo: true }))).toBe(
      "sudo -n -- usermod -aG lxd oneadmin",
    );
  });

  it("refuses env names and sudo users that could smuggle shell syntax", () => {
    expect(() => commandWords("x", [], { env: { "A;rm": "1" } })).toThrow(/not valid/);
    expect(() => commandWords("x", [], { sudoUser: "root; id" })).toThrow(/not a valid user/);
    expect(() => commandWords("", [], {})).toThrow(/empty/);
  });

  it("puts cwd in front with && exec, so a failed cd never runs the command", async () => {
    const line = remoteCommandLine(["echo", "ran"], "/nonexistent dir");
    expect(line).toBe("cd -- '/nonexistent dir' && exec 'echo' 'ran'");
    const result = await execa("sh", ["-c", line], { reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
  });
});
