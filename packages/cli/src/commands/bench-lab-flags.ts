import { BenchOptionError, loadSloFileFaults } from "@labgate/bench";

export interface BenchLabFlags {
  lab?: string | boolean;
  stateDir?: string;
  fault?: string[];
  sloFile?: string;
  yes?: boolean;
}

/** `--lab` was given (with or without a spec). */
export function wantsLab(flags: BenchLabFlags): boolean {
  return flags.lab !== undefined && flags.lab !== false;
}

/**
 * Without --lab there are no backends to act on: --fault, or an SLO file with faults:, is refused
 * before anything runs. Kept apart from the lab code so a bench without a lab never loads the lab engine.
 */
export async function refuseFaultsWithoutLab(flags: BenchLabFlags): Promise<void> {
  if (flags.fault?.length) {
    throw new BenchOptionError(
      "--fault needs --lab: faults act on a lab's backends, which a bare --url does not name.",
      "Add --lab (the lab in this directory) or --lab lab.json, e.g. labgate bench run --lab --fault 'stop app2 at 5s for 10s'.",
    );
  }
  if (flags.sloFile && (await loadSloFileFaults(flags.sloFile)) !== undefined) {
    throw new BenchOptionError(
      `${flags.sloFile} has faults:, which need --lab: faults act on a lab's backends, which a bare --url does not name.`,
      "Add --lab (the lab in this directory) or --lab lab.json, or remove faults: from the SLO file.",
    );
  }
}
