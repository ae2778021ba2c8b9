// Types for ports.mjs, for the TypeScript test helpers.
export function freePort(): Promise<number>;
export function portOpen(port: number): Promise<boolean>;
