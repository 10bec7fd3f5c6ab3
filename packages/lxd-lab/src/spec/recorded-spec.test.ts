import { clearRegisteredSecrets, REDACTED, registerSecret } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "./default-lab-spec.js";
import type { LabSpec } from "./lab-spec.js";
import { recordedSpec } from "./recorded-spec.js";

afterEach(() => clearRegisteredSecrets());

describe("recordedSpec", () => {
  it("keeps name and provider when a registered password is the same word, and redacts it elsewhere", () => {
    registerSecret("opennebula");
    const spec: LabSpec = {
      ...defaultLabSpec(),
      name: "opennebula",
      provider: "opennebula",
      providerOptions: { endpoint: "http://127.0.0.1:2633/RPC2", note: "pw opennebula" },
    };
    const recorded = recordedSpec(spec);
    expect(recorded.provider).toBe("opennebula");
    expect(recorded.name).toBe("opennebula");
    expect(JSON.stringify(recorded.providerOptions)).not.toContain("opennebula");
    expect(JSON.stringify(recorded.providerOptions)).toContain(REDACTED);
  });
});
