package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Bridge is a running ctibridge daemon that the bench drives.
type Bridge interface {
	// PID is the process that runs the bridge, for its peak memory (the
	// bench's own when the bridge runs in process).
	PID() int
	// Kill ends the bridge at once, as a crash does (SIGKILL), and waits
	// until it is gone. A bridge in process cannot be killed.
	Kill() error
	// Stop ends the bridge gracefully and waits for it.
	Stop() error
}

// Starter starts a bridge with the config file at path; the bridge serves
// its API on the config's listen address. It returns once the API answers.
type Starter func(ctx context.Context, path string) (Bridge, error)

// ChildStarter starts the bridge as a child process: name with args, then
// "run --config PATH" (name and args are usually os.Executable() and none;
// tests re-execute their own binary), logging to logPath.
func ChildStarter(name string, args []string, env []string, logPath string) Starter {
	return func(ctx context.Context, path string) (Bridge, error) {
		logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(name, append(append([]string(nil), args...), "run", "--config", path, "--log-level", "info")...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("start the bridge: %w", err)
		}
		c := &child{cmd: cmd, log: logFile, done: make(chan struct{})}
		go func() { c.err = cmd.Wait(); logFile.Close(); close(c.done) }()
		return c, nil
	}
}

type child struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

func (c *child) PID() int { return c.cmd.Process.Pid }

func (c *child) Kill() error {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-c.done
	return nil
}

func (c *child) Stop() error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return errors.New("the bridge did not stop within 30s of SIGTERM")
	}
	var exit *exec.ExitError
	if errors.As(c.err, &exit) {
		return fmt.Errorf("the bridge exited with %v", c.err)
	}
	return nil
}

// waitHealthy waits until base/healthz answers 200, or the child exits.
func waitHealthy(ctx context.Context, base string, b Bridge, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c, ok := b.(*child); ok {
			select {
			case <-c.done:
				return fmt.Errorf("the bridge exited at start: %v (see %s)", c.err, c.log.Name())
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bridge at %s did not answer /healthz within %s", base, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// peakRSS reads the peak resident set size (VmHWM) of a process, in MB.
func peakRSS(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	var kb float64
	for _, line := range splitLines(string(data)) {
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/PID/status")
}
