import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpPool } from "@labgate/core";

export interface ReconcileFixture {
  /** The temp dir holding pools.json and state.json; the caller removes it. */
  dir: string;
  /** `--ip-pools <dir>/pools.json --ip-state <dir>/state.json` for the CLI. */
  files: string[];
  /** The pool the ledger is seeded through, on the same files the CLI reads. */
  pool: IpPool;
}

/**
 * A pools.json with one static network `${net}.0/24` (gateway `${net}.1`, no DHCP, no probe) whose
 * pool runs from `${net}.${first}` to `${net}.${last}`, in a fresh temp dir: the ledger every
 * `ip reconcile --platform …` suite seeds and then compares with its platform.
 */
export async function reconcileFixture(
  prefix: string,
  net: string,
  first: number,
  last: number,
): Promise<ReconcileFixture> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(
    join(dir, "pools.json"),
    JSON.stringify({
      probe: "none",
      networks: [
        {
          cidr: `${net}.0/24`,
          gateway: `${net}.1`,
          dns: [],
          dhcp: false,
          pools: [{ start: `${net}.${first}`, end: `${net}.${last}` }],
        },
      ],
    }),
  );
  const files = ["--ip-pools", join(dir, "pools.json"), "--ip-state", join(dir, "state.json")];
  const pool = new IpPool({ configPath: join(dir, "pools.json"), statePath: join(dir, "state.json") });
  return { dir, files, pool };
}

/** Remembers the `keys` of process.env; the returned function puts them back (unset stays unset). */
export function saveEnv(keys: readonly string[]): () => void {
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
