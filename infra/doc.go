// Package infra holds the Bicep that deploys the app to Azure (main.bicep, modules/,
// main.parameters.json) and, in its tests, the offline checks `make test` runs on it: a
// tree-sitter syntax check of every file (check-bicep.mjs) and policy tests that read the parsed
// declarations and fail when a data plane allows key auth, a secret reaches an app setting or an
// output, a setting the handler needs is missing, a role the code needs is not assigned, the site
// sets something Flex Consumption does not support, or a template hard-codes a cloud's host names.
//
// No Bicep compiler runs here; `az bicep build` and what-if belong to the deploying pipeline.
package infra
