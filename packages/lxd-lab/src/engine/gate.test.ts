import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { autoYesGate, explainStep, type GateRequest, parseAnswer, promptGate, refusingGate } from "./gate.js";
import type { StepDescription } from "./plan-step.js";

const step: StepDescription = {
  id: "start-app1",
  title: "Start app1",
  why: "The first app instance answers on 127.0.0.1:8000 so the load balancer has somewhere to send requests.",
  calls: [{ display: "python3 app.py --port 8000" }],
  diagnostics: ["tail <state>/app1.log"],
};
const request: GateRequest = { step, action: "apply", index: 2, total: 5 };

function io(answers: string) {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = "";
  output.on("data", (c) => {
    text += String(c);
  });
  input.end(answers);
  return { input, output, text: () => text };
}

describe("promptGate (injected input)", () => {
  it("asks with the five choices and takes y", async () => {
    const s = io("y\n");
    const gate = promptGate(s);
    expect(await gate.confirm(request, new AbortController().signal)).toBe("yes");
    expect(s.text()).toContain(
      'Run step 2/5 "start-app1"? [y]es / [n]o-stop / [s]kip / [e]xplain / [q]uit: ',
    );
    gate.close();
  });

  it("[e]xplain prints why, commands and diagnostics, then asks again; answers typed ahead are kept", async () => {
    const s = io("e\nbogus\ns\nn\nq\n");
    const gate = promptGate(s);
    const signal = new AbortController().signal;
    expect(await gate.confirm(request, signal)).toBe("skip");
    const text = s.text();
    expect(text).toContain("The first app instance answers on 127.0.0.1:8000");
    expect(text).toContain("somewhere to send requests.");
    expect(text).toContain("$ python3 app.py --port 8000");
    expect(text).toContain("- tail <state>/app1.log");
    expect(text).toContain('Please answer y, n, s, e or q (got "bogus")');
    expect(text.match(/\[y\]es/g)).toHaveLength(3);
    expect(await gate.confirm(request, signal)).toBe("no");
    expect(await gate.confirm({ ...request, action: "undo" }, signal)).toBe("quit");
    expect(s.text()).toContain('Undo step 2/5 "start-app1"?');
    gate.close();
  });

  it("closed input is NOT_CONFIRMED, never a hang", async () => {
    const gate = promptGate(io(""));
    await expect(gate.confirm(request, new AbortController().signal)).rejects.toMatchObject({
      code: "NOT_CONFIRMED",
      exitCode: 7,
    });
  });

  it("Ctrl-C while waiting for an answer ends the wait as an interrupt (exit 130)", async () => {
    const input = new PassThrough();
    const gate = promptGate({ input, output: new PassThrough() });
    const controller = new AbortController();
    const pending = gate.confirm(request, controller.signal);
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: "INTERRUPTED", exitCode: 130 });
    gate.close();
  });
});

describe("other gates and helpers", () => {
  it("--yes confirms everything; no TTY refuses with a hint naming --yes", async () => {
    expect(await autoYesGate().confirm(request, new AbortController().signal)).toBe("yes");
    await expect(refusingGate().confirm(request, new AbortController().signal)).rejects.toMatchObject({
      code: "NOT_CONFIRMED",
      message: expect.stringContaining("stdin is not a terminal"),
      hint: expect.stringContaining("--yes"),
    });
  });

  it("parses answers in long and short form", () => {
    expect(
      ["y", "YES", " n ", "no-stop", "s", "skip", "e", "?", "q", "quit", "x", ""].map(parseAnswer),
    ).toEqual([
      "yes",
      "yes",
      "no",
      "no",
      "skip",
      "skip",
      "explain",
      "explain",
      "quit",
      "quit",
      undefined,
      undefined,
    ]);
  });

  it("explains an undo without listing apply commands", () => {
    const text = explainStep({ ...request, action: "undo" });
    expect(text).toContain("Undo removes what this step created");
    expect(text).not.toContain("$ python3");
  });
});
