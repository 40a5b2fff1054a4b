package bench

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCPUTime reads this process's CPU time, which grows as it works.
func TestCPUTime(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	require.NoError(t, err)
	spent := before
	for x := 0; spent < before+3*clockTick; x++ {
		if x%1_000_000 == 0 {
			spent, err = cpuTime(os.Getpid())
			require.NoError(t, err)
		}
	}
	_, err = cpuTime(1 << 30)
	require.Error(t, err, "no such process")

	u := cpuUse{bridge: 3 * time.Second, bench: time.Second, wall: 2 * time.Second}
	var res Result
	u.fill(&res)
	require.Equal(t, 1.5, res.BridgeCores)
	require.Equal(t, 0.75, res.BridgeCPUShare)
}
