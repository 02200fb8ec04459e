// Dependency rules for src/, generated from the layer table in layers.cjs (see docs/LAYERS.md). Run by `npm run lint`
// (`depcruise src --config .dependency-cruiser.cjs`); a back-arrow or a cycle fails it.
'use strict';
const { LAYERS } = require('./layers.cjs');

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Tests may reach across layers (a unit test beside a stage can use the cohort or the store as a fixture).
const NOT_TESTS = '\\.test\\.ts$';

const layerRules = LAYERS.map((from) => {
  const forbiddenFolders = LAYERS.filter((to) => to.folder !== from.folder && to.rank >= from.rank).map(
    (to) => to.folder
  );
  return {
    name: `layer-${from.folder}`,
    severity: 'error',
    comment:
      `src/${from.folder} (${from.layer}, rank ${from.rank}) may import only folders of a lower rank; ` +
      `not ${forbiddenFolders.join(', ') || '(none)'}. See docs/LAYERS.md.`,
    from: { path: `^src/${esc(from.folder)}/`, pathNot: NOT_TESTS },
    to: { path: `^src/(${forbiddenFolders.map(esc).join('|')})/` },
  };
}).filter((rule) => !rule.to.path.includes('()'));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-unknown-folder',
      severity: 'error',
      comment: 'Every folder of src/ needs a row in layers.cjs, which says what it may import.',
      from: { path: `^src/(?!(${LAYERS.map((l) => esc(l.folder)).join('|')})/)[^/]+/` },
      to: {},
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Modules in a cycle cannot be understood, tested or loaded one at a time. A cycle made only of type imports ' +
        '(erased at compile time) is allowed inside one folder; the layer rules above see type imports too.',
      from: { pathNot: NOT_TESTS },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'src-not-to-tests-or-tools',
      severity: 'error',
      comment: 'Runtime code may not import tests, benchmarks, scripts or bots.',
      from: { path: '^src/', pathNot: NOT_TESTS },
      to: { path: '^(test|bench|scripts|bots)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
    // Type-only packages (@medplum/fhirtypes) have no `main`; resolve them through their `types` entry.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
  },
};
