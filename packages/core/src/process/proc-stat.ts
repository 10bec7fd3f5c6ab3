import { readFile } from "node:fs/promises";

/** What /proc/<pid>/stat says about a process: its state letter and its start time (clock ticks since boot). */
export interface ProcStat {
  state: string;
  startTime: string;
}

/** Undefined when there is no such process (or no /proc). */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!text) return undefined;
  // The command name (field 2) may contain spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  return state && startTime && /^[0-9]+$/.test(startTime) ? { state, startTime } : undefined;
}

/** A zombie still answers kill(pid, 0) but runs nothing and holds no sockets: it counts as gone. */
export function isGone(stat: ProcStat | undefined): boolean {
  return stat === undefined || stat.state === "Z" || stat.state === "X";
}
