/** A send more than this after its scheduled time counts as late (timers have ~1 ms granularity). */
export const LATE_THRESHOLD_MS = 2;
