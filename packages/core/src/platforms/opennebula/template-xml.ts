import { InvalidInputError } from "../../errors.js";
import { escapeXml } from "./xmlrpc.js";

/**
 * OpenNebula accepts templates as `KEY = value` text or as XML rooted at <TEMPLATE>. We always
 * send XML: no quoting rules to get wrong, and the values (user data, keys) are escaped exactly.
 * Arrays become repeated elements (several NIC or AR vectors), objects become vector attributes.
 */
export type TemplateValue = string | number | TemplateObject | TemplateObject[] | string[];
export interface TemplateObject {
  [key: string]: TemplateValue | undefined;
}

const KEY = /^[A-Z_][A-Z0-9_]*$/i;

function element(key: string, value: TemplateValue): string {
  if (!KEY.test(key)) {
    throw new InvalidInputError(
      "ONE_TEMPLATE_ATTRIBUTE_INVALID",
      `${JSON.stringify(key)} is not an OpenNebula template attribute name: names are letters, digits and '_', not starting with a digit.`,
      {
        hint: "Rename the attribute in the template you passed (e.g. MY_ATTR); OpenNebula would reject the template.",
        details: { attribute: key },
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => element(key, v)).join("");
  if (typeof value === "object") return `<${key}>${body(value)}</${key}>`;
  return `<${key}>${escapeXml(String(value))}</${key}>`;
}

function body(obj: TemplateObject): string {
  return Object.entries(obj)
    .filter((entry): entry is [string, TemplateValue] => entry[1] !== undefined)
    .map(([k, v]) => element(k, v))
    .join("");
}

export function toTemplateXml(obj: TemplateObject): string {
  return `<TEMPLATE>${body(obj)}</TEMPLATE>`;
}
