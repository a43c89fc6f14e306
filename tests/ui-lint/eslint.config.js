// ESLint for nginx/ui/js: the recommended rules, browser globals, ES
// modules, and a few rules that catch what the browser tests would only
// catch late (undeclared names, unused imports, == with type coercion).
import js from "@eslint/js";
import globals from "globals";

export default [
	js.configs.recommended,
	{
		files: ["**/*.js"],
		languageOptions: {
			ecmaVersion: 2022,
			sourceType: "module",
			globals: { ...globals.browser },
		},
		rules: {
			"eqeqeq": ["error", "always"],
			"no-unused-vars": ["error", { "args": "after-used" }],
			"no-var": "error",
			"prefer-const": "error",
			"no-implicit-globals": "error",
		},
	},
];
