//go:build race

package main

// raceBuild reports whether the tests run with -race, so that the binaries
// they build match and reuse the build cache.
const raceBuild = true
