//go:build !unix

package config

import "os"

// ownGroup cannot tell a file's group here: a group-readable file is
// reported.
func ownGroup(os.FileInfo) bool { return false }
