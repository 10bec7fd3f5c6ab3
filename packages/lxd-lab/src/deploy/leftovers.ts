import { type DeployRecord, INTENT_KEY, type NodeRef, type PlatformAdapter, StateError } from "@labgate/core";

/**
 * What an interrupted apply may have left on the platform: nodes carrying the recorded name (and the
 * recorded id, once the adapter named one). Looked up on the platform, never taken from the record alone.
 */
export async function findLeftovers(
  adapter: PlatformAdapter,
  record: DeployRecord,
  statePath: string,
): Promise<NodeRef[]> {
  const { id, name } = record.ref;
  if (canLookUp(adapter)) {
    // Such adapters announce each mutating call with the id (or a claim they stamp on the node) first:
    // a record with neither means nothing was sent.
    if (!id && !record.ref.location?.[INTENT_KEY]) return [];
    if (adapter.findLeftovers) return adapter.findLeftovers(record.ref);
    return ((await adapter.findByName?.(name)) ?? []).filter((r) => r.id === id);
  }
  refuseUnknownInterrupted(adapter, record, statePath);
  if (id && (await adapter.get(record.ref))) return [record.ref];
  return [];
}

/**
 * An interrupted apply whose record names no node, on a platform that cannot look nodes up by name:
 * nothing can tell whether a node was made, so deploy stops and says what to do by hand. Called by
 * every step's check that could change something first (reserve-address), so the refusal comes before
 * any write: nothing is left half-written.
 */
export function refuseUnknownInterrupted(
  adapter: PlatformAdapter,
  record: DeployRecord,
  statePath: string,
): void {
  const { id, name } = record.ref;
  if (record.status === "creating" && !id && !canLookUp(adapter)) {
    throw new StateError(
      "DEPLOY_INTERRUPTED_UNKNOWN",
      `An apply of ${name} on ${record.ref.platform} was interrupted before the platform named the node, and this adapter cannot look nodes up by name.`,
      {
        hint: `Look for a node named ${name} on the platform and remove it by hand if it exists, then delete ${statePath}${record.ipOwner ? ` and run \`labgate ip release --owner ${record.ipOwner}\`` : ""}.`,
      },
    );
  }
}

/** Adapters that find nodes by name announce every mutating call, so an intent without id means nothing was sent. */
export function canLookUp(adapter: PlatformAdapter): boolean {
  return Boolean(adapter.findLeftovers ?? adapter.findByName);
}

export function interruptedNotice(record: DeployRecord, found: NodeRef[], statePath: string): string {
  const what = found.length
    ? `it left ${found.map((r) => `node ${r.id}`).join(", ")} on ${record.ref.platform}`
    : `nothing of it is on ${record.ref.platform}`;
  return `An earlier apply of ${record.ref.name} was interrupted (intent recorded ${record.createdAt} in ${statePath}); ${what}.`;
}
