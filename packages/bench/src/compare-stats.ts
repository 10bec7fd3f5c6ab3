/**
 * The statistics behind `bench compare`: a two-sided Mann-Whitney rank test between the rounds of
 * two runs, Benjamini-Hochberg across the metrics of one comparison, and the rounds a change needs.
 * Rank tests assume nothing about the shape of the spread, which for latency percentiles is skewed.
 */

/** Two-sided p-value of the Mann-Whitney U test; exact without ties (n, m ≤ 25), normal with tie correction otherwise. */
export function mannWhitneyP(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const m = ys.length;
  if (n === 0 || m === 0) return 1;
  const all = [...xs.map((v) => ({ v, g: 0 })), ...ys.map((v) => ({ v, g: 1 }))].sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const mid = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = mid;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  let rankSumX = 0;
  all.forEach((e, i) => {
    if (e.g === 0) rankSumX += ranks[i]!;
  });
  const u = rankSumX - (n * (n + 1)) / 2;
  if (tieTerm === 0 && n <= 25 && m <= 25) {
    const dist = uDistribution(n, m);
    const total = dist.reduce((s, c) => s + c, 0);
    let lower = 0;
    let upper = 0;
    dist.forEach((c, k) => {
      if (k <= u) lower += c;
      if (k >= u) upper += c;
    });
    return Math.min(1, (2 * Math.min(lower, upper)) / total);
  }
  const N = n + m;
  const mean = (n * m) / 2;
  const variance = ((n * m) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (variance <= 0) return 1;
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return Math.min(1, 2 * (1 - normalCdf(Math.max(0, z))));
}

const uCache = new Map<string, number[]>();

/** Number of arrangements giving each U for group sizes n and m (no ties). */
function uDistribution(n: number, m: number): number[] {
  const key = `${n},${m}`;
  const cached = uCache.get(key);
  if (cached) return cached;
  let result: number[];
  if (n === 0 || m === 0) result = [1];
  else {
    // The largest value is either in X (it beats all m values of Y) or in Y (it adds nothing).
    const withX = uDistribution(n - 1, m);
    const withY = uDistribution(n, m - 1);
    result = new Array<number>(n * m + 1).fill(0);
    withX.forEach((c, k) => {
      result[k + m]! += c;
    });
    withY.forEach((c, k) => {
      result[k]! += c;
    });
  }
  uCache.set(key, result);
  return result;
}

/** Which of the p-values are discoveries at false-discovery rate `alpha` (equals the family-wise rate when nothing changed). */
export function benjaminiHochberg(pValues: readonly number[], alpha: number): boolean[] {
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  let cutoff = -1;
  order.forEach((e, k) => {
    if (e.p <= ((k + 1) * alpha) / pValues.length) cutoff = k;
  });
  const out = pValues.map(() => false);
  for (let k = 0; k <= cutoff; k++) out[order[k]!.i] = true;
  return out;
}

/** The fewest rounds per side with which the exact rank test can reach `alpha` at all (2 / C(2n, n) ≤ alpha). */
export function minRoundsForAlpha(alpha: number): number {
  for (let n = 2; n <= 40; n++) if (2 / binomial(2 * n, n) <= alpha) return n;
  return 40;
}

/**
 * Rounds per side needed to see a shift of the observed size with 80% power at `alpha`, from the
 * between-round spread (normal approximation, divided by the rank test's 3/π efficiency).
 * null when the two sides do not differ at all, or a side has no spread estimate.
 */
export function roundsNeeded(xs: readonly number[], ys: readonly number[], alpha: number): number | null {
  if (xs.length < 2 || ys.length < 2) return null;
  const delta = Math.abs(median(ys) - median(xs));
  const sd = Math.sqrt((variance(xs) + variance(ys)) / 2);
  const floor = minRoundsForAlpha(alpha);
  if (delta === 0) return null;
  if (sd === 0) return floor;
  const z = inverseNormal(1 - alpha / 2) + inverseNormal(0.8);
  const n = Math.ceil(((2 * z * z * sd * sd) / (delta * delta)) * (Math.PI / 3));
  return Math.max(floor, n);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function variance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Φ(z), Abramowitz-Stegun 7.1.26 (error < 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Φ⁻¹(p) by bisection: only used for a handful of sample-size estimates. */
function inverseNormal(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
