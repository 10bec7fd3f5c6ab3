// A light entry point (no SDKs, ssh or XML parser) for text formatting: what bench's reports load.
export { escapeXml } from "./escape-xml.js";
export { type TextTableOptions, textTable } from "./text-table.js";
export { wrapText } from "./wrap.js";
