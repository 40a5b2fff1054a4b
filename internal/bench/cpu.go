package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTime reads the CPU time (user and system) a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the fields after the last ')' start with field 3.
	k := bytes.LastIndexByte(data, ')')
	if k < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := bytes.Fields(data[k+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// cpuMeter measures the CPU the bridge's process and the bench's own
// (its agents and the local org) use over the run, so that a result says
// how much of the machine the bridge took.
type cpuMeter struct {
	bridgePID       int
	bridge0, bench0 time.Duration
	ok              bool
}

// startCPU starts measuring; a bridge in this process, or none the bench
// started, cannot be told apart and is not measured.
func startCPU(b Bridge) *cpuMeter {
	m := &cpuMeter{}
	if _, isChild := b.(*child); !isChild {
		return m
	}
	m.bridgePID = b.PID()
	var err1, err2 error
	m.bridge0, err1 = cpuTime(m.bridgePID)
	m.bench0, err2 = cpuTime(os.Getpid())
	m.ok = err1 == nil && err2 == nil
	return m
}

// cpuUse is the CPU the bridge and the bench used over wall time.
type cpuUse struct {
	bridge, bench, wall time.Duration
}

// stop returns the CPU used since start, if b is still the bridge it
// started with (a restart makes another process); the zero cpuUse if not.
func (m *cpuMeter) stop(b Bridge, wall time.Duration) cpuUse {
	if !m.ok || b == nil || b.PID() != m.bridgePID {
		return cpuUse{}
	}
	bridge, err1 := cpuTime(m.bridgePID)
	bench, err2 := cpuTime(os.Getpid())
	if err1 != nil || err2 != nil {
		return cpuUse{}
	}
	return cpuUse{bridge: bridge - m.bridge0, bench: bench - m.bench0, wall: wall}
}

// fill sets the CPU fields of res.
func (u cpuUse) fill(res *Result) {
	if u.wall <= 0 {
		return
	}
	res.BridgeCPUS, res.BenchCPUS = round(u.bridge.Seconds(), 2), round(u.bench.Seconds(), 2)
	res.BridgeCores = round(u.bridge.Seconds()/u.wall.Seconds(), 2)
	if total := u.bridge + u.bench; total > 0 {
		res.BridgeCPUShare = round(u.bridge.Seconds()/total.Seconds(), 3)
	}
}
