import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export const FALLBACK_DEBIAN_MIRROR = "http://deb.debian.org/debian";

/**
 * The Debian mirror this machine already uses for `suite`, so debootstrap works where only the
 * configured mirror is reachable. One-line `deb URL suite comps` format.
 */
export function mirrorFromSourcesList(text: string, suite: string): string | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line.startsWith("deb ")) continue;
    const words = line
      .slice(4)
      .replace(/\[[^\]]*\]/, "")
      .trim()
      .split(/\s+/);
    const [uri, dist] = words;
    if (uri && dist === suite && /^(https?|file):/.test(uri)) return uri;
  }
  return undefined;
}

/** deb822 `.sources` format: stanzas with Types, URIs, Suites. */
export function mirrorFromDeb822(text: string, suite: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m?.[1]) {
        last = m[1].toLowerCase();
        fields.set(last, (m[2] ?? "").trim());
      } else if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    }
    if (fields.get("enabled")?.toLowerCase() === "no") continue;
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    if (!(fields.get("suites") ?? "").split(/\s+/).includes(suite)) continue;
    const uri = (fields.get("uris") ?? "").split(/\s+/).find((u) => /^(https?|file):/.test(u));
    if (uri) return uri;
  }
  return undefined;
}

/** Looks in /etc/apt/sources.list then /etc/apt/sources.list.d/*.{list,sources}. */
export async function findDebianMirror(suite: string, aptDir = "/etc/apt"): Promise<string | undefined> {
  const read = (path: string) => readFile(path, "utf8").catch(() => "");
  const fromList = mirrorFromSourcesList(await read(join(aptDir, "sources.list")), suite);
  if (fromList) return fromList;
  const dir = join(aptDir, "sources.list.d");
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const text = await read(join(dir, name));
    const found = name.endsWith(".sources")
      ? mirrorFromDeb822(text, suite)
      : name.endsWith(".list")
        ? mirrorFromSourcesList(text, suite)
        : undefined;
    if (found) return found;
  }
  return undefined;
}
