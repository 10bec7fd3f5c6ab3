import { shellQuote } from "./shell-quote.js";

/**
 * The remote line for a command run through sudo when the runner holds a sudo password. The password is
 * always the first line of stdin and is read away by the shell itself, so the command's own stdin is never
 * touched by sudo:
 * - sudo does not need it (root, NOPASSWD, a fresh timestamp; probed with `sudo -n true`): `sudo -n`.
 * - sudo needs it: `sudo -S -v` validates it with *only the password line* on its stdin. A wrong password
 *   fails there (sudo's retries find end of input instead of the command's lines, which `sudo -S` on the
 *   shared stdin would have read as further attempts: passwd_tries, default 3), and nothing runs.
 *   With the fresh timestamp the command then runs under `sudo -n`. It is not exec'd: sudo keys the
 *   timestamp of a session without a terminal to the parent process, which must stay this shell.
 *   (sudoers with timestamp_timeout=0 keeps no timestamp; the `sudo -n` then says a password is required.)
 * `printf` is a shell builtin, so the password never shows in a process list. Every word is quoted.
 *
 * `inner` is the command after `sudo ... --` (e.g. `env K=V cmd args`), `sudoUser` the `-u` target.
 */
export function sudoPasswordLine(inner: readonly string[], sudoUser?: string, cwd?: string): string {
  const user = sudoUser === undefined ? [] : ["-u", sudoUser];
  const quoted = (words: readonly string[]) => words.map(shellQuote).join(" ");
  const probe = quoted(["sudo", "-n", ...user, "--", "true"]);
  const direct = quoted(["sudo", "-n", ...user, "--", ...inner]);
  const validate = quoted(["sudo", "-S", "-p", "", "-v"]);
  const body =
    `IFS= read -r labgate_pw; ` +
    `if ${probe} </dev/null >/dev/null 2>&1; then unset labgate_pw; exec ${direct}; fi; ` +
    `printf '%s\\n' "$labgate_pw" | ${validate} || { unset labgate_pw; exit 1; }; ` +
    `unset labgate_pw; ${direct}`;
  // One compound command, so a failed cd skips all of it (`a && b; c` would still run c).
  return cwd === undefined ? `{ ${body}; }` : `cd -- ${shellQuote(cwd)} && { ${body}; }`;
}
