import { StateError } from "@labgate/core";
import type { ResourceRecord } from "../engine/step.js";

/**
 * Typed access to a resource record's `data` as state.json holds it. A record whose facts are missing
 * or of the wrong type was edited by hand or written by something else; using it anyway would undo or
 * configure the wrong thing, so the readers refuse it with STATE_CORRUPT, naming the record and field.
 */
export class RecordData {
  private readonly data: Record<string, unknown>;
  constructor(private readonly record: ResourceRecord) {
    this.data = record.data ?? {};
  }

  string(key: string): string {
    const v = this.data[key];
    if (typeof v === "string" && v !== "") return v;
    return this.refuse(key, "a non-empty string", v);
  }

  optionalString(key: string): string | undefined {
    return this.data[key] === undefined ? undefined : this.string(key);
  }

  integer(key: string, min: number, max: number): number {
    const v = this.data[key];
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.refuse(key, `a whole number from ${min} to ${max}`, v);
  }

  strings(key: string): string[] {
    const v = this.data[key];
    if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v;
    return this.refuse(key, "a list of strings", v);
  }

  private refuse(key: string, what: string, got: unknown): never {
    const { kind, id } = this.record;
    throw new StateError(
      "STATE_CORRUPT",
      `The lab state's ${kind} record ${JSON.stringify(id)} has ${got === undefined ? "no" : "an unusable"} ${key} (must be ${what}${got === undefined ? "" : `, got ${JSON.stringify(got)}`}).`,
      {
        hint: "state.json was edited or written by something else. Restore it, or remove this record and run `labgate lab up` to find the resource again.",
        details: { kind, id, field: key },
      },
    );
  }
}
