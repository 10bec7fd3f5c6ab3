export { main, reportError } from "./main.js";
export { createOutput, type Output, type OutputStreams } from "./output.js";
export { createProgram } from "./program.js";
