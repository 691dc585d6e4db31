// Package browser is the demo of mlc in a web page (index.html, app.mjs,
// served by server.mjs; build.sh compiles its models) and, in
// browser_test.go, the test that drives real browsers through it.
package browser
