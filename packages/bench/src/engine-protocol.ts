import type { EngineSpec } from "./engine-core.js";
import type { RawBucket, RecorderTotals } from "./recorder.js";
import type { ThreadStats } from "./thread-stats.js";

/** Sent by the parent: start (times in the parent's performance.now()) or stop early. */
export type ParentMessage = { type: "go"; start: EngineThreadStart } | { type: "abort" };

export interface EngineThreadStart {
  parentTimeOrigin: number;
  spec: EngineSpec;
}

/** Sent by an engine thread: ready to start, one closed series interval, or its final totals. */
export type EngineThreadMessage =
  | { type: "ready"; timeOrigin: number; index: number }
  | { type: "bucket"; bucket: RawBucket }
  | {
      type: "done";
      aborted: boolean;
      totals: RecorderTotals;
      stats: ThreadStats;
      error?: string;
    };
