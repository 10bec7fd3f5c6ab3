import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Files an app instance needs (tests excluded); app.py is the entry point. */
export const SENTIMENT_APP_FILES = ["app.py", "sentiment_model.py", "lexicon.txt"] as const;

export interface PayloadFile {
  /** File name inside the app directory. */
  name: string;
  content: string;
}

/**
 * The sentiment app's directory. The payload ships beside src/ and dist/ (package "files"), and
 * this module sits one level below either, so the same relative URL works from both.
 */
export function sentimentAppDir(): string {
  return fileURLToPath(new URL("../../payload/sentiment-app/", import.meta.url));
}

export function sentimentAppEntry(): string {
  return join(sentimentAppDir(), "app.py");
}

export async function readSentimentAppFiles(): Promise<PayloadFile[]> {
  const dir = sentimentAppDir();
  return Promise.all(
    SENTIMENT_APP_FILES.map(async (name) => ({ name, content: await readFile(join(dir, name), "utf8") })),
  );
}
