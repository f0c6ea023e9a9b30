// Package browsertest prepares the console's browser tests: node scripts
// in httpapi/console/e2e that drive Debian's chromium through the pinned
// playwright-core. Tests in any package (httpapi, cmd/tollway) use it, so
// the rules for skipping stay in one place: without node, chromium or the
// pinned packages a test is skipped, loudly, and with
// TOLLWAY_REQUIRE_CHROMIUM=1 it fails instead (CI sets it).
//
// It imports testing and is meant for tests only.
package browsertest
