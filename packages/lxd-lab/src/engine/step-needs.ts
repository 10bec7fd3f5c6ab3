/** What needs are computed from: a legacy Step or a StepDescription. */
export interface NeedsNode {
  id: string;
  needs?: string[] | undefined;
  readOnly?: boolean | undefined;
}

/**
 * What each step needs, as declared (`needs`) or, when undeclared, every earlier step that builds
 * something (not read-only). Unknown ids in `needs` are ignored: they cannot be met or warned about.
 */
export function needsOf(steps: readonly NeedsNode[], step: NeedsNode): string[] {
  const at = steps.indexOf(step);
  const earlier = steps.slice(0, Math.max(0, at));
  if (step.needs) return step.needs.filter((id) => earlier.some((s) => s.id === id));
  return earlier.filter((s) => !s.readOnly).map((s) => s.id);
}

/** Later steps that need `id`, directly or through another step that needs it, in plan order. */
export function dependentsOf(steps: readonly NeedsNode[], id: string): string[] {
  const affected = new Set<string>([id]);
  const out: string[] = [];
  for (const step of steps) {
    if (affected.has(step.id)) continue;
    if (needsOf(steps, step).some((n) => affected.has(n))) {
      affected.add(step.id);
      out.push(step.id);
    }
  }
  return out;
}

/** The needs of `step` that are not done: neither recorded done nor run earlier in this run. */
export function unmetNeeds(
  steps: readonly NeedsNode[],
  step: NeedsNode,
  isDone: (id: string) => boolean,
): string[] {
  return needsOf(steps, step).filter((id) => !isDone(id));
}
