import { readFile } from "node:fs/promises";
import { StateError } from "../errors.js";

/**
 * Reads a JSON state file. A missing file is `undefined`; a file that exists but does not parse is
 * an error naming the path, never silently treated as empty (that would forget allocations).
 */
export async function readJsonFile(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateError("STATE_UNREADABLE", `Cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
      hint: "Check the file's permissions and ownership.",
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StateError(
      "STATE_CORRUPT",
      `The state file ${path} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
        hint: `Fix the file by hand or restore it from a backup; labgate will not reset it because that would forget what it recorded.`,
        details: { path },
      },
    );
  }
}
