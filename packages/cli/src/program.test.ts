import { describe, expect, it } from "vitest";
import { createProgram } from "./program.js";

const names = async (...args: string[]) =>
  (await createProgram(["node", "labgate", ...args])).commands.map((c) => c.name()).sort();

describe("labgate's command tree is loaded per command", () => {
  it("--version alone loads no command group", async () => {
    expect(await names("--version")).toEqual([]);
    expect(await names("-V")).toEqual([]);
  });

  it("a command loads only its own group", async () => {
    expect(await names("bench", "run", "--url", "http://127.0.0.1:1/")).toEqual(["bench"]);
    expect(await names("lab", "--json", "status")).toEqual(["lab"]);
    expect(await names("--help", "ip")).toEqual(["ip"]);
  });

  it("help, no command or an unknown one loads every group, each with a one-line summary", async () => {
    const all = ["bench", "demo", "deploy", "errors", "image", "ip", "lab", "schema", "sim"];
    expect(await names()).toEqual(all);
    expect(await names("--help")).toEqual(all);
    expect(await names("bogus")).toEqual(all);
    const program = await createProgram(["node", "labgate", "--help"]);
    for (const command of program.commands) {
      expect(command.summary(), command.name()).toMatch(/^[^\n]{10,100}$/);
    }
  });
});
