import { onTestFinished } from "vitest";
import { startTarget, type Target, type TargetConfig } from "./target.js";

/**
 * A target server for the calling test, stopped when that test finishes (passed or failed), like tempDir.
 * Call it inside a test: the cleanup is registered on that test.
 */
export async function testTarget(config: TargetConfig = {}): Promise<Target> {
  const target = await startTarget(config);
  onTestFinished(() => target.stop());
  return target;
}
