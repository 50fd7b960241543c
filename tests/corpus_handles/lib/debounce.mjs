// Debounced saves: each change schedules a save ten minutes later.
export function makeSaver(save) {
  return {
    // The bug: every change schedules its own save, and the earlier ones stay pending.
    changedLeaky(value) {
      setTimeout(() => save(value), 600_000);
    },
    // The fix: one pending save at a time; a new change replaces it.
    pending: null,
    changed(value) {
      clearTimeout(this.pending);
      this.pending = setTimeout(() => save(value), 600_000);
    },
  };
}
