import { chmod, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sudoPasswordLine } from "./sudo-password-line.js";

/**
 * Both branches of the line under the real /bin/sh. The branch where sudo does ask needs a user with a sudo
 * password, which this machine must not be changed to have, so a stand-in `sudo` first on PATH plays it as
 * sudo(8) and sudoers(5) describe: with FAKE_SUDO_NEEDS_PW=1 `sudo -n` refuses unless a timestamp exists;
 * `sudo -S` reads password lines from stdin, up to passwd_tries (3) of them, until one is right or input
 * ends; success records a timestamp for the parent process (timestamp_type without a tty); `-v` only
 * validates. (ssh-runner.test.ts runs the other branch through the real sudo over SSH.)
 */
const FAKE_SUDO = `#!/bin/sh
ts="$FAKE_SUDO_DIR/ts.$PPID"
case "$1" in
  -n) shift
      if [ "$FAKE_SUDO_NEEDS_PW" = 1 ] && [ ! -e "$ts" ]; then echo "sudo: a password is required" >&2; exit 1; fi ;;
  -S) shift 3
      tries=0
      while :; do
        IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
        tries=$((tries + 1))
        [ "$pw" = "$FAKE_SUDO_PW" ] && break
        echo "Sorry, try again." >&2
        [ "$tries" -ge 3 ] && { echo "sudo: 3 incorrect password attempts" >&2; exit 1; }
      done
      : > "$ts"
      [ "$1" = "-v" ] && exit 0 ;;
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

async function run(line: string, needsPassword: boolean, input: string) {
  // Timestamps are per parent pid: none may survive into another run (pids are reused).
  for (const f of await readdir(dir)) if (f.startsWith("ts.")) await rm(join(dir, f));
  return execa("/bin/sh", ["-c", line], {
    reject: false,
    input,
    env: {
      PATH: `${dir}:/usr/bin:/bin`,
      FAKE_SUDO_NEEDS_PW: needsPassword ? "1" : "0",
      FAKE_SUDO_PW: "pw 'with' $(spaces)",
      FAKE_SUDO_DIR: dir,
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

  it("fails on a wrong password without reading the command's own stdin as further attempts", async () => {
    // The command's second input line is the right password: sudo -S on the shared stdin would have
    // taken it as its second try, succeeded, and run the command with what was left of its input.
    const r = await run(sudoPasswordLine(["cat"]), true, "wrong\npw 'with' $(spaces)\nline two\n");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("no password was provided");
    expect(r.stdout).toBe("");
  });
});
