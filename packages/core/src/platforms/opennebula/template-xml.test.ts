import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../errors.js";
import { toTemplateXml } from "./template-xml.js";

describe("toTemplateXml", () => {
  it("writes vectors, repeated elements and escaped values", () => {
    expect(
      toTemplateXml({ NAME: "a<b", NIC: [{ NETWORK: "lab" }, { NETWORK: "mgmt" }], SKIP: undefined }),
    ).toBe(
      "<TEMPLATE><NAME>a&lt;b</NAME><NIC><NETWORK>lab</NETWORK></NIC><NIC><NETWORK>mgmt</NETWORK></NIC></TEMPLATE>",
    );
  });

  it("refuses an attribute name OpenNebula would reject, at any depth, with ONE_TEMPLATE_ATTRIBUTE_INVALID (exit 2)", () => {
    for (const bad of ["MY ATTR", "1ST", "A-B", "<X>"]) {
      const build = () => toTemplateXml({ NAME: "vm", CONTEXT: { [bad]: "v" } });
      expect(build).toThrow(InvalidInputError);
      expect(build).toThrow(
        expect.objectContaining({
          code: "ONE_TEMPLATE_ATTRIBUTE_INVALID",
          exitCode: 2,
          message: expect.stringContaining(JSON.stringify(bad)),
          details: { attribute: bad },
        }),
      );
    }
  });
});
