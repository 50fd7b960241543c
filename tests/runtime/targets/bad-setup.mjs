export const setup = "not callable";
export function scenario() {}
