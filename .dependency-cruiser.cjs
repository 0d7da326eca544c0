/**
 * The layering check (`make lint`, part of `make test`): what may import what.
 * - no import cycles, type-only imports included (a cycle of types still ties two modules' meanings together);
 * - the framework never imports a plugin: plugins and services import the framework;
 * - the CLI sits on top: nothing else in the framework imports framework/src/cli/.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles hide which module a concept belongs to: move the shared piece down a layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'framework-imports-no-plugin',
      severity: 'error',
      comment: 'Dependencies point inward: plugins and services import the framework, never the reverse.',
      from: { path: '^framework/src/' },
      to: { path: ['^plugins/', '^services/', 'node_modules/@bento-ts/plugin-'] },
    },
    {
      name: 'cli-on-top',
      severity: 'error',
      comment: 'The CLI is the top layer: the library must not depend on the command line.',
      from: { path: '^framework/src/', pathNot: '^framework/src/cli/' },
      to: { path: '^framework/src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['/dist/', '/test/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'framework/tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
