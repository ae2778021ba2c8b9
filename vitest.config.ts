import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Pure tests of a module may sit beside it (an output kind's folder holds its own); the rest are under test/.
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Integration tests start real processes, ptys and servers; they wait for conditions with deadlines.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
