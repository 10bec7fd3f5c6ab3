import { shellQuote } from "./shell-quote.js";

/**
 * The remote line for a command run through sudo when the runner holds a sudo password. The password is
 * always the first line of stdin, but `sudo -S` reads it only when it has to ask: as root, with NOPASSWD or
 * with a fresh timestamp it never asks, and the password would become the first line of the command's own
 * stdin (`sudo -S tee FILE` would write it into FILE). So the shell first asks `sudo -n` whether a password
 * is needed at all; if not, it reads the password line away itself and runs `sudo -n`. Every word is quoted.
 *
 * `inner` is the command after `sudo ... --` (e.g. `env K=V cmd args`), `sudoUser` the `-u` target.
 */
export function sudoPasswordLine(inner: readonly string[], sudoUser?: string, cwd?: string): string {
  const user = sudoUser === undefined ? [] : ["-u", sudoUser];
  const quoted = (words: readonly string[]) => words.map(shellQuote).join(" ");
  const probe = quoted(["sudo", "-n", ...user, "--", "true"]);
  const direct = quoted(["sudo", "-n", ...user, "--", ...inner]);
  const prompted = quoted(["sudo", "-S", "-p", "", ...user, "--", ...inner]);
  const body =
    `if ${probe} </dev/null >/dev/null 2>&1; then IFS= read -r labgate_pw; unset labgate_pw; exec ${direct}; ` +
    `else exec ${prompted}; fi`;
  return cwd === undefined ? body : `cd -- ${shellQuote(cwd)} && ${body}`;
}
