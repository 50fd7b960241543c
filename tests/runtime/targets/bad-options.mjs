export const jsleak = { iterations: 10, filter() { return true; } };
export function scenario() {}
