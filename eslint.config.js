import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layers(),
  {
    // tap awaits its subtests itself; async callbacks without await are its idiom.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      // Plain scripts run on Node: its globals, without a dependency just to list them.
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'Buffer',
          'URL',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);

/**
 * The layers of src/ (README, Project): protocol/ and config/ import neither side, the server
 * never imports the client, the client never imports the server; src/main.ts alone picks one. Static
 * imports by no-restricted-imports, import() by no-restricted-syntax (the former does not see it).
 */
function layers() {
  const rules = [
    { layer: 'server', files: ['src/server/**/*.ts'], forbidden: ['client'] },
    { layer: 'client', files: ['src/client/**/*.ts'], forbidden: ['server'] },
    // The lowest floor: nothing outside protocol/ (the neutral src/*.ts modules stand above it).
    { layer: 'protocol', files: ['src/protocol/**/*.ts'], forbidden: ['client', 'server'], outside: true },
    { layer: 'config', files: ['src/config/**/*.ts'], forbidden: ['client', 'server'] },
  ];
  return rules.map(({ layer, files, forbidden, outside }) => {
    const regex = outside ? '^\\.\\./' : `^(\\.{1,2}/)+(${forbidden.join('|')})(/|$)`;
    const message = outside
      ? `${layer}/ imports nothing outside ${layer}/ (layers: README, Project)`
      : `${layer}/ must not import ${forbidden.map((f) => `${f}/`).join(' or ')} (layers: README, Project)`;
    return {
      files,
      rules: {
        'no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
        'no-restricted-syntax': [
          'error',
          { selector: `ImportExpression > Literal[value=/${regex.replaceAll('/', '\\/')}/]`, message },
        ],
      },
    };
  });
}
