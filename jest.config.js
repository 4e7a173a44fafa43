/** Three levels: unit (no servers), integration (real servers), e2e (the public API). */
const transform = { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] };
const project = (name, extra = {}) => ({
  displayName: name,
  testEnvironment: "node",
  transform,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  ...extra,
});

module.exports = {
  projects: [
    project("unit"),
    project("integration", { slowTestThreshold: 30 }),
    project("e2e", { slowTestThreshold: 30 }),
  ],
  testTimeout: 60000,
  maxWorkers: 2,
  verbose: true,
  reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
};
