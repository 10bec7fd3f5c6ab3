import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sudoPasswordLine } from "./sudo-password-line.js";

/**
 * Both branches of the line under the real /bin/sh. The branch where sudo does ask needs a user with a sudo
 * password, which this machine must not be changed to have, so a stand-in `sudo` first on PATH plays it:
 * with FAKE_SUDO_NEEDS_PW=1 `sudo -n` refuses and `sudo -S` reads one password line, as the real one does.
 * (ssh-runner.test.ts runs the other branch through the real sudo over SSH.)
 */
const FAKE_SUDO = `#!/bin/sh
mode=$1; shift
case "$mode" in
  -n) [ "$FAKE_SUDO_NEEDS_PW" = 1 ] && { echo "sudo: a password is required" >&2; exit 1; } ;;
  -S) shift 2
      IFS= read -r pw
      [ "$pw" = "$FAKE_SUDO_PW" ] || { echo "sudo: 1 incorrect password attempt" >&2; exit 1; } ;;
esac
[ "$1" = "-u" ] && { echo "as:$2" >&2; shift 2; }
[ "$1" = "--" ] && shift
exec "$@"
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fake-sudo-"));
  await writeFile(join(dir, "sudo"), FAKE_SUDO);
  await chmod(join(dir, "sudo"), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(line: string, needsPassword: boolean, input: string) {
  return execa("/bin/sh", ["-c", line], {
    reject: false,
    input,
    env: {
      PATH: `${dir}:/usr/bin:/bin`,
      FAKE_SUDO_NEEDS_PW: needsPassword ? "1" : "0",
      FAKE_SUDO_PW: "pw 'with' $(spaces)",
    },
  });
}

describe("sudoPasswordLine", () => {
  const stdin = "pw 'with' $(spaces)\nline one\n$(not run)\n";

  it("gives the command exactly its own input whether or not sudo asks for the password", async () => {
    const line = sudoPasswordLine(["cat"]);
    for (const needsPassword of [false, true]) {
      const r = await run(line, needsPassword, stdin);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe("line one\n$(not run)");
    }
  });

  it("keeps every argument, -u and the working directory literal, and never falls through a missing cwd", async () => {
    const line = sudoPasswordLine(["printf", "%s|", "a b", "it's", "$(x)", ";", ""], "nobody", dir);
    for (const needsPassword of [false, true]) {
      const r = await run(line, needsPassword, stdin);
      expect(r.stdout).toBe("a b|it's|$(x)|;||");
      expect(r.stderr).toContain("as:nobody");
    }
    const missing = await run(sudoPasswordLine(["echo", "ran"], undefined, join(dir, "nope")), false, stdin);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stdout).toBe("");
  });

  it("fails with sudo's message on a wrong password", async () => {
    const r = await run(sudoPasswordLine(["cat"]), true, "wrong\nline one\n");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("incorrect password");
  });
});
