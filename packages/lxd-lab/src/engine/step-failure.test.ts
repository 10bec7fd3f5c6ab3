import { PreconditionError } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { type FailingStep, fillStateDir, formatStepFailure, stepFailure } from "./step-failure.js";

const step: FailingStep = {
  id: "start-app1",
  title: "Start app1",
  commands: ["python3 app.py >> <state>/logs/app1.log 2>&1 &"],
  diagnostics: ["tail -n 50 <state dir>/logs/app1.log", "ss -ltnp"],
};

describe("stepFailure", () => {
  it("keeps the cause's exit code and hint, and fills in the real state dir", () => {
    const cause = new PreconditionError("PORT_IN_USE", "Port 127.0.0.1:8000 is already in use by pid 42.", {
      hint: "Stop that process, or choose other ports in the lab spec.",
    });
    const failure = stepFailure(step, "apply", cause, "/tmp/lab");
    expect(failure.exitCode).toBe(4);
    expect(failure.cause).toBe(cause);
    expect(failure.hint).toBe(
      "Stop that process, or choose other ports in the lab spec. Next diagnostics: " +
        "`tail -n 50 /tmp/lab/logs/app1.log`, `ss -ltnp`. Then run `labgate lab up` again: it resumes at this step.",
    );
    expect(failure.details).toMatchObject({
      commands: ["python3 app.py >> /tmp/lab/logs/app1.log 2>&1 &"],
      diagnostics: ["tail -n 50 /tmp/lab/logs/app1.log", "ss -ltnp"],
    });
  });

  it("a plain error is EXTERNAL (exit 5); undo shows no commands and resumes with lab down", () => {
    const failure = stepFailure(step, "undo", new Error("kill failed"));
    expect(failure.exitCode).toBe(5);
    expect(failure.details).toMatchObject({ commands: [], action: "undo" });
    expect(failure.hint).toContain("`labgate lab down` again");
    // Without a state dir, the placeholders stay as the plan showed them.
    expect(failure.hint).toContain("`tail -n 50 <state dir>/logs/app1.log`");
  });

  it("prints a multi-line cause indented under 'it got', then the output and the diagnostics", () => {
    const cause = Object.assign(new Error("app1 exited right after start. Last log lines:\nImportError: x"), {
      stderr: "Traceback (most recent call last):\n  boom",
    });
    const text = formatStepFailure(stepFailure(step, "apply", cause, "/tmp/lab"));
    expect(text).toBe(
      [
        '✗ step "start-app1" failed',
        "  it ran:",
        "    $ python3 app.py >> /tmp/lab/logs/app1.log 2>&1 &",
        "  it got:",
        "    app1 exited right after start. Last log lines:",
        "    ImportError: x",
        "  output:",
        "    | Traceback (most recent call last):",
        "    |   boom",
        "  next diagnostics to try:",
        "    $ tail -n 50 /tmp/lab/logs/app1.log",
        "    $ ss -ltnp",
      ].join("\n"),
    );
  });

  it("fillStateDir replaces both placeholder spellings", () => {
    expect(fillStateDir("cat <state>/a <state dir>/b", "/s")).toBe("cat /s/a /s/b");
  });
});
