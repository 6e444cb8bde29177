// Unit tests for the pure logic in src/ (no DOM, no JupyterLab runtime).
// Timestamps are formatted in local time: pin the zone so results are stable.
process.env.TZ = 'UTC';

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testRegex: 'src/__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  collectCoverageFrom: ['src/model.ts', 'src/selection.ts', 'src/runlist/*.ts'],
  coverageReporters: ['text']
};
