// Lint for the sources (`npm run lint`, run by .ci/run): typescript-eslint's type-checked rules,
// less those that fight how this code is written. Formatting is not linted.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node's private socket handle, reached only through core/src/net/native-handle.ts. */
const HANDLE = 'Node\'s private _handle is reached through core/src/net/native-handle.ts only';

export default defineConfig(
  // Tests may be linted later; built output and dependencies never.
  { ignores: ['**/dist/', '**/node_modules/', 'test/', 'eslint.config.js'] },
  {
    files: ['core/src/**/*.ts', 'plugins/*/src/**/*.ts', 'cli/src/**/*.ts', 'testing/src/**/*.ts', 'create-plugin/src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    // Each file is checked with its package's tsconfig.
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // In the recommended set already; named here because they are why lint runs.
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[property.name='_handle']", message: HANDLE },
        { selector: "MemberExpression[property.value='_handle']", message: HANDLE },
      ],
      // Unused parameters kept for a signature are named _x.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // `list[i]!` says where an index may miss, as if noUncheckedIndexedAccess were on; this rule
      // would call each of them (over a hundred) unnecessary.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // The regexps with controls match them on purpose: terminal, log and protocol text is escaped.
      'no-control-regex': 'off',
      // `async` marks what returns a promise by contract (a throw becomes a rejection), await or not.
      '@typescript-eslint/require-await': 'off',
      // A caught error is rewrapped as the message a user reads, its own text in it; a cause would
      // put the original a second time into logs.
      'preserve-caught-error': 'off',
      // Messages quote values as given (flags, environment, config, another process's JSON): typed
      // unknown, they are strings and numbers by then, and String() on each would say nothing more.
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // A caught error, or a callback's, is passed on as it came.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // A `let` that a callback reads before its one assignment (a monitor that exists only later)
      // cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['core/src/net/native-handle.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
