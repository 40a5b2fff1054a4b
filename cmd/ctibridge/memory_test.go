package main

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/stretchr/testify/require"
)

// restoreMemoryLimit puts the Go runtime's soft memory limit back as it
// was when t ends.
func restoreMemoryLimit(t *testing.T) {
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(limit) })
}

func TestPlanMemoryLimit(t *testing.T) {
	restoreMemoryLimit(t)
	const mib = 1 << 20
	limited := func(n uint64) func() (uint64, error) { return func() (uint64, error) { return n, nil } }
	for _, tc := range []struct {
		name      string
		env       map[string]string
		runtime   int64 // the soft limit the runtime has from GOMEMLIMIT
		container func() (uint64, error)
		want      memoryLimit
		err       string
	}{
		{name: "a container of 512 MiB", container: limited(512 * mib),
			want: memoryLimit{Bytes: 512 * mib * 9 / 10, Container: 512 * mib}},
		{name: "no container limit: none", container: func() (uint64, error) { return 0, memlimit.ErrNoLimit }},
		{name: "the limit cannot be read", container: func() (uint64, error) { return 0, errors.New("no cgroup mount") },
			err: "read the container's memory limit: no cgroup mount"},
		{name: "GOMEMLIMIT from the environment stays", env: map[string]string{"GOMEMLIMIT": "400MiB"}, runtime: 400 * mib,
			container: func() (uint64, error) { panic("GOMEMLIMIT set: the container's limit is not read") },
			want:      memoryLimit{Bytes: 400 * mib}},
		{name: "GOMEMLIMIT=off", env: map[string]string{"GOMEMLIMIT": "off"}, runtime: math.MaxInt64,
			container: limited(512 * mib)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.runtime != 0 {
				debug.SetMemoryLimit(tc.runtime)
			}
			got, err := planMemoryLimit(func(k string) string { return tc.env[k] }, tc.container)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMemoryLimitApply(t *testing.T) {
	restoreMemoryLimit(t)
	debug.SetMemoryLimit(math.MaxInt64)
	memoryLimit{Bytes: 300 << 20, Container: 1 << 30}.apply()
	require.Equal(t, int64(300<<20), debug.SetMemoryLimit(-1))

	// A limit from GOMEMLIMIT is the runtime's already: apply leaves it.
	debug.SetMemoryLimit(math.MaxInt64)
	memoryLimit{Bytes: 300 << 20}.apply()
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
}
