package main

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/sirupsen/logrus"
)

// memoryLimitShare of the container's memory limit is the Go runtime's
// soft limit when the environment does not set GOMEMLIMIT. Near it the
// garbage collector runs more often rather than letting the heap grow
// past the container's limit, where the kernel would kill the bridge. The
// rest is for what the runtime does not count: SQLite's page cache, which
// modernc.org/sqlite allocates outside the Go heap, and the kernel's
// buffers of the process's sockets and files.
const memoryLimitShare = 0.9

// containerMemory returns the memory limit of the process's cgroup (v1 or
// v2), or memlimit.ErrNoLimit. Tests replace it.
var containerMemory = memlimit.FromCgroup

// memoryLimit is the Go runtime's soft memory limit as run sets it.
type memoryLimit struct {
	// Bytes is the limit; 0 is none.
	Bytes int64
	// Container is the container's memory limit it is a share of, in
	// bytes; 0 when the limit is GOMEMLIMIT's, or there is none.
	Container uint64
}

// planMemoryLimit decides the Go runtime's soft memory limit from the
// environment (getenv) and the container's limit (container). GOMEMLIMIT
// from the environment wins: the runtime has applied it already (off is
// none). Otherwise, in a container with a memory limit, it is
// memoryLimitShare of it. Without one there is none, as before.
func planMemoryLimit(getenv func(string) string, container func() (uint64, error)) (memoryLimit, error) {
	if getenv("GOMEMLIMIT") != "" {
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			return memoryLimit{Bytes: l}, nil
		}
		return memoryLimit{}, nil
	}
	limit, err := container()
	switch {
	case errors.Is(err, memlimit.ErrNoLimit):
		return memoryLimit{}, nil
	case err != nil:
		return memoryLimit{}, fmt.Errorf("read the container's memory limit: %w", err)
	case limit == 0:
		return memoryLimit{}, nil
	}
	return memoryLimit{Bytes: int64(min(float64(limit)*memoryLimitShare, math.MaxInt64)), Container: limit}, nil
}

// apply sets a limit taken from the container in the Go runtime.
func (m memoryLimit) apply() {
	if m.Container > 0 {
		debug.SetMemoryLimit(m.Bytes)
	}
}

// limitMemory sets the Go runtime's soft memory limit (see
// planMemoryLimit) and logs it: one line at info, or a warning if the
// container's limit could not be read.
func limitMemory(log logrus.FieldLogger, getenv func(string) string) {
	m, err := planMemoryLimit(getenv, containerMemory)
	if err != nil {
		log.WithError(err).Warn("Go runtime: no memory limit")
		return
	}
	m.apply()
	fields := logrus.Fields{"memory_limit_mib": "none"}
	switch {
	case m.Container > 0:
		fields["memory_limit_mib"] = m.Bytes >> 20
		fields["container_memory_limit_mib"] = m.Container >> 20
	case m.Bytes > 0:
		fields["memory_limit_mib"] = m.Bytes >> 20
		fields["from"] = "GOMEMLIMIT"
	}
	log.WithFields(fields).Info("Go runtime memory limit")
}
