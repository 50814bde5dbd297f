import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import react from 'eslint-plugin-react';
import reactHooks from 'eslint-plugin-react-hooks';
import jsxA11y from 'eslint-plugin-jsx-a11y';
import globals from 'globals';

/**
 * The folders of src/ as a one-way graph: each may import only the folders listed for it (all of
 * them lower), types included. Siblings stay apart: data and moco, train and io, eval and perf, and
 * worker, bench, cli and lib (cli may use bench, the command line's runner, but not the reverse).
 * Cycles inside a folder are madge's job (`npm run lint`).
 */
const CORE = ['util', 'data', 'moco', 'kernels', 'train', 'io', 'eval', 'perf'];
export const LAYERS = {
  util: [],
  data: ['util'],
  moco: ['util'],
  kernels: ['util', 'data', 'moco'],
  train: ['util', 'data', 'moco', 'kernels'],
  io: ['util', 'data', 'moco', 'kernels'],
  eval: ['util', 'data', 'moco', 'kernels', 'train', 'io'],
  perf: ['util', 'data', 'moco', 'kernels', 'train', 'io'],
  worker: CORE,
  bench: CORE,
  cli: [...CORE, 'bench'],
  lib: CORE,
  ui: [...CORE, 'worker'],
};

/** `no-restricted-imports` for a file in src/FOLDER: every other folder that is not below it. */
function layerRule(folder, allowed) {
  const forbidden = Object.keys(LAYERS).filter((f) => f !== folder && !allowed.includes(f));
  return [
    'error',
    {
      patterns: [
        {
          // Relative imports only (the project has no path aliases): '../worker/api', '../../ui'.
          regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
          message: `src/${folder} may import only from ${allowed.length ? allowed.map((f) => `src/${f}`).join(', ') : 'nothing else in src'} (the layers in eslint.config.js).`,
        },
      ],
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/**', 'dist-node/**', 'node_modules/**', 'results/**', '.gpu/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.browser, ...globals.node, ...globals.worker } } },
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: {
      // Type-aware rules: the project service reuses tsconfig.json's program.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Comlink calls, tf.data and file reads return promises: a dropped one loses its error, and
      // one handed to an onClick or a forEach is dropped the same way.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  ...Object.entries(LAYERS).map(([folder, allowed]) => ({
    files: [`src/${folder}/**/*.{ts,tsx}`],
    rules: { 'no-restricted-imports': layerRule(folder, allowed) },
  })),
  // React's rules where React lives: the training core, CLI and tests are plain TypeScript.
  {
    files: ['src/ui/**/*.{ts,tsx}', '**/*.tsx'],
    plugins: { react, 'react-hooks': reactHooks },
    settings: { react: { version: '19' } },
    rules: {
      ...react.configs.recommended.rules,
      ...react.configs['jsx-runtime'].rules,
      ...reactHooks.configs.recommended.rules,
    },
  },
  { files: ['**/*.tsx'], ...jsxA11y.flatConfigs.recommended },
);
