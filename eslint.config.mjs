// Workflow code runs in Temporal's deterministic sandbox: the rules below keep Node
// builtins, value imports of activities and floating promises out of it, and keep the
// imports running downward (libraries and config import nothing above them).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.tools/**', '.data/**', 'bin/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'workflow code may not use Node builtins' },
            {
              group: ['../activities', '../activities/*', '../activities/**'],
              allowTypeImports: true,
              message: 'workflows import activities with `import type` only',
            },
          ],
          paths: ['fs', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net', 'stream', 'worker_threads', 'util', 'events'].map((name) => ({
            name,
            message: 'workflow code may not use Node builtins',
          })),
        },
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'process'],
    },
  },
  {
    // The libraries: plain TypeScript, testable without Temporal, importing nothing above them.
    files: [
      'sip/**/*.ts',
      'ledger/**/*.ts',
      'storage/**/*.ts',
      'sources/**/*.ts',
      'services/**/*.ts',
      'articles/**/*.ts',
      'deposits/**/*.ts',
      'destinations/**/*.ts',
      'datasets/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@temporalio/*'],
              message: 'libraries need no Temporal: throw PermanentError (common/errors.ts), which the activities make an ApplicationFailure',
            },
            {
              group: [
                'activities',
                'workflows',
                'workers',
                'starters',
                'reference-service',
                'reference-article-store',
                'reference-deposit-service',
                'reference-receiver',
              ].flatMap((above) => [`../${above}`, `../${above}/**`]),
              message: 'libraries import only each other, common/, config/ and npm packages',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['config/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../*', '!../common', '!../common/**'], message: 'config imports only Node builtins, npm packages and common/' }] },
      ],
    },
  },
);
