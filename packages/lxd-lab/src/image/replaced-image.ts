import type { LxdClient } from "@labgate/core";

/**
 * After an alias moved to a new build, the image it pointed to is deleted when it is an older
 * labgate build (it carries `labgate.key`) that no alias names any more; anything else (an image
 * someone imported, one with another alias) is kept. Instances never depend on their image, so
 * this frees the store without touching running labs. Returns what happened, for the log.
 */
export async function removeReplacedBuild(
  client: LxdClient,
  fingerprint: string,
  signal: AbortSignal,
): Promise<string> {
  const image = await client.getImage(fingerprint);
  const short = fingerprint.slice(0, 12);
  if (!image) return `the previous image ${short} is already gone`;
  if (!image.properties["labgate.key"]) return `kept the previous image ${short}: it is not a labgate build`;
  if (image.aliases.length > 0)
    return `kept the previous image ${short}: still named ${image.aliases.map((a) => a.name).join(", ")}`;
  await client.deleteImage(fingerprint, { signal });
  return `removed the previous labgate build ${short} (no alias left on it)`;
}
