// Package flagdoc keeps the flag tables in docs/ true to the programs: its
// test builds each app, runs it with -h, and compares the flags and defaults
// it prints with the "## Flags" table of the app's doc. A flag added to an app
// but not to its doc fails the test, and so does a documented flag the app no
// longer has, or a documented default the app does not print.
//
// The package holds only tests; run them with
//
//	go test -race -count=1 ./tests/flagdoc/
package flagdoc
