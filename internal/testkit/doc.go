// Package testkit is the test machinery shared by the end-to-end tests (e2e, e2e/browser,
// e2e/k8s) and the bench harness: one command runner (every command bounded in time, a failure
// carrying its command line, exit code and the tail of its output), the Compose project a test
// brings up and always takes down, and the open-loop loader that sends requests at a fixed rate
// whatever the answers.
//
// It holds no test of the product itself; the product's e2e tests are what prove the Compose
// helpers, and this package's own tests prove the command runner and the loader.
package testkit
