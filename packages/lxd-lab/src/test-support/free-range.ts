import { execFileSync } from "node:child_process";

/** Runs a command (argument array, no shell) and returns its stdout; throws when it fails. */
export function sh(...args: string[]): string {
  return execFileSync(args[0] as string, args.slice(1), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * A `<prefix>.x.0/24` (prefix "10.252", "10.253" ...: each suite its own) that no address or route of this
 * machine touches; `purpose` ends the error when none is free.
 */
export function freeRange(prefix: string, purpose = ""): string {
  const used = sh("ip", "-4", "route", "show", "table", "all") + sh("ip", "-4", "addr");
  for (let attempt = 0; attempt < 200; attempt++) {
    const third = 2 + Math.floor(Math.random() * 250);
    if (!used.includes(`${prefix}.${third}.`)) return `${prefix}.${third}.0/24`;
  }
  throw new Error(`no free ${prefix}.x.0/24${purpose}`);
}
