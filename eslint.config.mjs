// ESLint for the web client (sotto_cli/web: browser modules, and its service worker) and its
// Node tests: the recommended rules, which catch undefined and unused names across modules.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["sotto_cli/web/**/*.js"],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
  {
    files: ["sotto_cli/web/sw.js"],
    languageOptions: { sourceType: "script", globals: globals.serviceworker },
  },
  {
    files: ["tests/web/**/*.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
  { rules: { "no-unused-vars": ["error", { caughtErrors: "none" }], eqeqeq: "error" } },
];
