import { InvalidInputError } from "@labgate/core/errors";
import { type Command, Option } from "commander";

/** `--ip-pools` → `ipPools`, as commander names an option's value. */
function key(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Keeps an old flag name working, hidden from help, as another name for `current`: the value lands
 * on `current` (so the command reads one name), with a one-line note on stderr naming the new flag.
 * Both given with different values is refused (exit 2) rather than one silently winning.
 */
export function addDeprecatedAlias(
  command: Command,
  old: string,
  current: string,
  valueName: string,
  stderr: NodeJS.WritableStream = process.stderr,
): Command {
  command.addOption(new Option(`${old} <${valueName}>`, `deprecated: use ${current}`).hideHelp());
  return command.hook("preAction", (self) => {
    const flags = self.opts();
    const oldValue = flags[key(old)] as string | undefined;
    if (oldValue === undefined) return;
    const currentValue = flags[key(current)] as string | undefined;
    if (currentValue !== undefined && currentValue !== oldValue) {
      throw new InvalidInputError(
        "FLAG_ALIAS_CONFLICT",
        `${old} ${JSON.stringify(oldValue)} and ${current} ${JSON.stringify(currentValue)} disagree; ${old} is the old name of ${current}.`,
        { hint: `Give only ${current} <${valueName}>.` },
      );
    }
    stderr.write(`note: ${old} is deprecated; use ${current} (same meaning).\n`);
    self.setOptionValue(key(current), oldValue);
    self.setOptionValue(key(old), undefined);
  });
}
