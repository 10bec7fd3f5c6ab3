import { InvalidInputError } from "@labgate/core";
import { withBenchStep } from "../bench-step/with-bench-step.js";
import type { LabProvider } from "../engine/step.js";
import { localProvider } from "./local/local-provider.js";
import { lxdProvider } from "./lxd/lxd-provider.js";
import { openNebulaProvider } from "./opennebula/one-lab.js";

/**
 * The providers labgate knows by name (the spec's `provider` field). Adding one is a single line
 * in BUILTIN below (plus its import); tests and embedders may also call `registerProvider`.
 */
const BUILTIN: LabProvider[] = [
  // one line per provider, e.g.: localProvider,
  localProvider,
  lxdProvider,
  openNebulaProvider,
];

const providers = new Map<string, LabProvider>(BUILTIN.map((p) => [p.name, p]));

/** Adds (or replaces) a provider under its name. Returns a function that restores the previous one. */
export function registerProvider(provider: LabProvider): () => void {
  const previous = providers.get(provider.name);
  providers.set(provider.name, provider);
  return () => {
    if (previous) providers.set(provider.name, previous);
    else providers.delete(provider.name);
  };
}

export function listProviders(): string[] {
  return [...providers.keys()].sort();
}

export function getProvider(name: string): LabProvider {
  const provider = providers.get(name);
  // The final bench step belongs to every lab, whichever provider builds it.
  if (provider) return withBenchStep(provider);
  const known = listProviders();
  throw new InvalidInputError(
    "UNKNOWN_PROVIDER",
    `No lab provider named "${name}" is available in this build of labgate.`,
    {
      hint: known.length
        ? `Set "provider" in the lab spec to one of: ${known.join(", ")}.`
        : "No provider is registered yet; this build of labgate cannot run labs.",
      details: { provider: name, known },
    },
  );
}
