import { request } from "node:http";

/** One server row of HAProxy's stats CSV (`/stats;csv`). */
export interface HaproxyServerStatus {
  proxy: string;
  server: string;
  /** "UP", "DOWN", "MAINT", "no check", "UP 1/2" (going down) ... */
  status: string;
  /** Last health-check result, e.g. "L7OK", "L4CON" (connection refused), "L7STS". */
  checkStatus: string;
  /** Health-check detail (HTTP status / reason) when known. */
  checkDetail: string;
  /** Sessions handled so far. */
  totalSessions: number;
}

/** Parses the CSV HAProxy serves at `<stats uri>;csv`; keeps server rows only (not FRONTEND/BACKEND). */
export function parseHaproxyStatsCsv(csv: string): HaproxyServerStatus[] {
  const lines = csv.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0];
  if (!header?.startsWith("# ")) return [];
  const columns = header.slice(2).split(",");
  const index = (name: string) => columns.indexOf(name);
  const at = (cells: string[], name: string) => {
    const i = index(name);
    return i >= 0 ? (cells[i] ?? "") : "";
  };
  return lines
    .slice(1)
    .map((line) => line.split(","))
    .filter((cells) => {
      const sv = at(cells, "svname");
      return sv !== "FRONTEND" && sv !== "BACKEND" && at(cells, "type") !== "0" && at(cells, "type") !== "1";
    })
    .map((cells) => ({
      proxy: at(cells, "pxname"),
      server: at(cells, "svname"),
      status: at(cells, "status"),
      checkStatus: at(cells, "check_status"),
      checkDetail: [at(cells, "check_code"), at(cells, "last_chk")].filter(Boolean).join(" "),
      totalSessions: Number(at(cells, "stot")) || 0,
    }));
}

/** Fetches and parses the stats CSV, e.g. from `http://127.0.0.1:8404/stats;csv`. */
export async function fetchHaproxyServerStatus(
  url: string,
  timeoutMs = 3_000,
): Promise<HaproxyServerStatus[]> {
  return parseHaproxyStatsCsv(await fetchStatsCsvText(url, timeoutMs));
}

/** GETs the stats CSV as text; rejects when HAProxy does not answer 200 within `timeoutMs`. */
export function fetchStatsCsvText(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => {
        if ((res.statusCode ?? 0) !== 200) reject(new Error(`${url} answered HTTP ${res.statusCode}`));
        else resolve(body);
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
