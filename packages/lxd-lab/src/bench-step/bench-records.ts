import { StateError } from "@labgate/core";
import type { ResourceRecord } from "../engine/step.js";
import { RecordData } from "../providers/record-data.js";
import type { LabBenchRecord } from "./bench-record.js";
import type { LabFailoverRecord } from "./failover-step.js";

/**
 * Typed reads of what the bench and failover steps keep in the lab state. The fields their checks,
 * status and undo act on (status, settings key, URL, report paths) are checked: a hand-edited record
 * is refused with STATE_CORRUPT naming the field, instead of deciding "done" or removing files from it.
 */
export function labBenchRecord(record: ResourceRecord): LabBenchRecord {
  const d = new RecordData(record);
  const status = d.string("status");
  if (status !== "running" && status !== "done") corrupt(record, "status", `"running" or "done"`, status);
  d.string("settingsKey");
  d.string("url");
  d.string("startedAt");
  d.string("reportDir");
  const reports = record.data?.["reports"];
  if (reports !== undefined) {
    const paths = reports as Record<string, unknown>;
    for (const key of ["resultJson", "reportMd", "reportHtml"])
      if (typeof paths?.[key] !== "string") corrupt(record, `reports.${key}`, "a file path", paths?.[key]);
  }
  return record.data as unknown as LabBenchRecord;
}

/** The failover check's record: a bench record with the faults and health-check timing it ran with. */
export function labFailoverRecord(record: ResourceRecord): LabFailoverRecord {
  const bench = labBenchRecord(record);
  const d = new RecordData(record);
  d.strings("faults");
  d.string("healthCheck");
  return bench as LabFailoverRecord;
}

function corrupt(record: ResourceRecord, field: string, what: string, got: unknown): never {
  const { kind, id } = record;
  throw new StateError(
    "STATE_CORRUPT",
    `The lab state's ${kind} record ${JSON.stringify(id)} has an unusable ${field} (must be ${what}, got ${JSON.stringify(got) ?? "nothing"}).`,
    {
      hint: "state.json was edited or written by something else. Restore it, or remove this record and run `labgate lab up` to measure again.",
      details: { kind, id, field },
    },
  );
}
