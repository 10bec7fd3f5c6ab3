import { expect } from "vitest";
import { LabgateError } from "../../errors.js";
import type { SimReply } from "./http-sim.js";

/** A 200 that a proxy in the way sends instead of the API's answer: its login page. */
export const HTML_LOGIN: SimReply = {
  status: 200,
  text: "<!DOCTYPE html><html><body><form>Sign in to the proxy</form></body></html>",
  headers: { "content-type": "text/html; charset=utf-8" },
};

/** A 200 whose body is neither JSON nor XML. */
export const NOT_XML: SimReply = {
  status: 200,
  text: "<<<not xml",
  headers: { "content-type": "text/plain" },
};

/** The error `promise` rejects with; fails the test unless it rejects with a LabgateError. */
export async function failure(promise: Promise<unknown>): Promise<LabgateError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LabgateError);
  return error as LabgateError;
}
