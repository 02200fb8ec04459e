/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // fhir-kit-client (a real client the conformance suite drives, test/server.conformance.test.ts) ships ES modules only.
    '/node_modules/fhir-kit-client/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022', esModuleInterop: true }, diagnostics: false },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!fhir-kit-client/)'],
  // Its package.json exports only an `import` condition, which the CommonJS resolver does not read.
  moduleNameMapper: { '^fhir-kit-client$': '<rootDir>/node_modules/fhir-kit-client/dist/index.js' },
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60000,
};
