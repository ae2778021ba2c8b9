// Types for installer-env.mjs, so test/unit/bench-installer-env.test.ts type-checks under strict.
export function installerEnvironment(script: string): Record<string, string>;
