package config

import "os"

// readableBy says who besides the file's owner may read a secret file:
// "others", "its group" when the group is not this process's own, or ""
// when nobody else may. A group the process runs in is as trusted as the
// owner: Kubernetes mounts secrets 0440 with the pod's fsGroup.
func readableBy(info os.FileInfo) string {
	perm := info.Mode().Perm()
	switch {
	case perm&0o004 != 0:
		return "others"
	case perm&0o040 != 0 && !ownGroup(info):
		return "its group"
	}
	return ""
}
