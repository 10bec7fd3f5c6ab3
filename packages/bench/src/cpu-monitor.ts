/** CPU time of the whole generator process (all threads) over wall time; one core = 100%. */
export function startCpuMonitor(): { stop(): { cpuPercent: number } } {
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  return {
    stop() {
      const cpu = process.cpuUsage(cpuStart);
      const wallMs = Math.max(1, performance.now() - wallStart);
      return { cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10 };
    },
  };
}
