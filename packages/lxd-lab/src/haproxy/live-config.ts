import { createHash } from "node:crypto";
import type { HaproxyConfigOptions } from "./render-config.js";
import { fetchStatsCsvText } from "./stats-csv.js";

/**
 * What a running HAProxy really does, read from its stats CSV (`/stats;csv`). The rendered config
 * has `stats show-legends`, which makes HAProxy fill the `addr` (server) and `algo` (backend)
 * columns (HAProxy management guide, section 9.1, fields 74 and 77): enough to tell whether the
 * live process balances the way the lab spec says, even when its file on disk was put back.
 */
export interface HaproxyLiveView {
  backends: HaproxyLiveBackend[];
  /** Names of the frontends (and listen sections) that run. */
  frontends: string[];
}

export interface HaproxyLiveBackend {
  name: string;
  /** e.g. "roundrobin", "first", "leastconn"; empty when HAProxy does not show legends. */
  algo: string;
  /** rise/fall: the check's `check_rise`/`check_fall` columns; empty when the server has no checks. */
  servers: { name: string; addr: string; rise?: string; fall?: string }[];
}

export function parseHaproxyLiveView(csv: string): HaproxyLiveView {
  const lines = csv.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0];
  if (!header?.startsWith("# ")) return { backends: [], frontends: [] };
  const columns = header.slice(2).split(",");
  const rows = lines.slice(1).map((line) => {
    const cells = line.split(",");
    const at = (name: string) => {
      const i = columns.indexOf(name);
      return i >= 0 ? (cells[i] ?? "") : "";
    };
    return {
      proxy: at("pxname"),
      sv: at("svname"),
      addr: at("addr"),
      algo: at("algo"),
      rise: at("check_rise"),
      fall: at("check_fall"),
    };
  });
  const backends = new Map<string, HaproxyLiveBackend>();
  const frontends: string[] = [];
  for (const r of rows) {
    if (r.sv === "FRONTEND") frontends.push(r.proxy);
    else if (r.sv === "BACKEND") {
      const b = backends.get(r.proxy) ?? { name: r.proxy, algo: "", servers: [] };
      b.algo = r.algo;
      backends.set(r.proxy, b);
    } else {
      const b = backends.get(r.proxy) ?? { name: r.proxy, algo: "", servers: [] };
      b.servers.push({
        name: r.sv,
        addr: r.addr,
        ...(r.rise ? { rise: r.rise } : {}),
        ...(r.fall ? { fall: r.fall } : {}),
      });
      backends.set(r.proxy, b);
    }
  }
  return { backends: [...backends.values()], frontends };
}

/**
 * Differences between what HAProxy runs and the options labgate renders: the app backend's
 * balance algorithm, its servers and their addresses. Empty when the live LB is as desired.
 */
export function haproxyLiveDrift(live: HaproxyLiveView, want: HaproxyConfigOptions): string[] {
  const wanted = new Map(want.backends.map((b) => [b.name, formatServerAddr(b.address, b.port)]));
  // The app backend is the one holding the lab's servers; its name is derived from the lab name.
  const backend = live.backends.find((b) => b.servers.some((s) => wanted.has(s.name)));
  if (!backend)
    return [`the running HAProxy has no backend with the servers ${[...wanted.keys()].join(", ")}`];
  const drift: string[] = [];
  if (backend.algo && backend.algo !== "roundrobin")
    drift.push(`the running HAProxy balances with "${backend.algo}" (want "roundrobin")`);
  for (const [name, addr] of wanted) {
    const seen = backend.servers.find((s) => s.name === name);
    if (!seen) drift.push(`the running HAProxy has no server ${name}`);
    else if (seen.addr && seen.addr !== addr)
      drift.push(`the running HAProxy sends ${name} to ${seen.addr} (want ${addr})`);
    // `inter` is not in the stats CSV; a changed interval shows in the config file's drift instead.
    for (const [key, value] of [
      ["fall", want.fall],
      ["rise", want.rise],
    ] as const) {
      const live = seen?.[key];
      if (live && value !== undefined && live !== String(value))
        drift.push(`the running HAProxy checks ${name} with ${key} ${live} (want ${key} ${value})`);
    }
  }
  for (const s of backend.servers) {
    if (!wanted.has(s.name)) drift.push(`the running HAProxy has an extra server ${s.name} (${s.addr})`);
  }
  return drift;
}

/**
 * How a config file differs from the rendered one, in words a person can act on: its hash and the
 * first lines that differ (e.g. `balance first` where `balance roundrobin` is wanted).
 */
export function configFileDrift(file: string, have: string | undefined, want: string): string[] {
  if (have === undefined) return [`${file} is missing`];
  if (have === want) return [];
  const a = have.split("\n");
  const b = want.split("\n");
  const changed: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && changed.length < 3; i++) {
    if (a[i] === b[i]) continue;
    const got = a[i] === undefined ? "(end of file)" : `\`${a[i]?.trim()}\``;
    const wanted = b[i] === undefined ? "(nothing)" : `\`${b[i]?.trim()}\``;
    changed.push(`line ${i + 1} ${got} (want ${wanted})`);
  }
  return [
    `${file} differs from the rendered config (sha256 ${shortHash(have)}, want ${shortHash(want)}): ${changed.join("; ")}`,
  ];
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

export function shortHash(text: string | Buffer): string {
  return sha256(text).slice(0, 12);
}

/** GETs the stats CSV and parses the live view; rejects when HAProxy does not answer. */
export async function fetchHaproxyLiveView(url: string, timeoutMs = 3_000): Promise<HaproxyLiveView> {
  return parseHaproxyLiveView(await fetchStatsCsvText(url, timeoutMs));
}

function formatServerAddr(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
