import { describe, expect, it } from "vitest";
import { decodeMethodResponse, encodeFault, XmlRpcParseError } from "./xmlrpc.js";

const fault = (message: string) =>
  `<?xml version="1.0"?><methodResponse><fault><value><struct>` +
  `<member><name>faultCode</name><value><int>4</int></value></member>` +
  `<member><name>faultString</name><value><string>${message}</string></value></member>` +
  `</struct></value></fault></methodResponse>`;

describe("XML-RPC numeric character references", () => {
  it("decodes hex and decimal references, including the markup characters", () => {
    const decoded = decodeMethodResponse(
      fault("[one.vm.allocate] couldn&#x27;t &#39;parse&#39; &#60;x&#62; &#38; &#233;"),
    );
    expect(decoded).toEqual({
      ok: false,
      fault: { faultCode: 4, faultString: "[one.vm.allocate] couldn't 'parse' <x> & é" },
    });
  });

  it("decodes each reference once: &amp;#39; stays the text &#39;, CDATA is left as written", () => {
    const decoded = decodeMethodResponse(fault("a&amp;#39;b<![CDATA[&#39;raw]]>"));
    expect(decoded).toMatchObject({ fault: { faultString: "a&#39;b&#39;raw" } });
  });

  it("round-trips what labgate itself encodes", () => {
    const message = `it's "quoted" & <tagged> ✓ \u{1F600}`;
    expect(decodeMethodResponse(encodeFault(2, message))).toEqual({
      ok: false,
      fault: { faultCode: 2, faultString: message },
    });
  });

  it.each(["&#0;", "&#xD800;", "&#x110000;"])("refuses %s as not well-formed", (ref) => {
    expect(() => decodeMethodResponse(fault(`bad ${ref}`))).toThrow(XmlRpcParseError);
  });
});
