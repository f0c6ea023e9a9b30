package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Process is a server the benchmark started: Redis, PostgreSQL or a Tollway
// server. It runs in its own process group, so Stop reaches whatever it
// forked, and it is killed by the kernel if the benchmark dies first
// (Pdeathsig), so an interrupted run leaves no server behind.
//
// NB: Linux only. Pdeathsig fires when the thread that started the child
// exits; the Go runtime keeps its threads unless a goroutine exits while
// locked to one, which this package never does.
type Process struct {
	name        string
	command     *exec.Cmd
	logPath     string
	stopSignal  syscall.Signal
	stopTimeout time.Duration

	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // written before exited closes

	stopOnce sync.Once
	stopErr  error
}

// ProcessConfig says how to start a server process.
type ProcessConfig struct {
	Name string   // for messages, e.g. "redis-server"
	Path string   // executable
	Args []string // arguments, without the executable
	Dir  string   // working directory; empty means the benchmark's
	// LogPath receives the process's standard output and error, so a server
	// that fails to start can say why.
	LogPath string
	// StopSignal asks the server to shut down; zero means SIGTERM.
	StopSignal syscall.Signal
	// StopTimeout bounds the wait after StopSignal before SIGKILL; zero
	// means stopTimeoutDefault.
	StopTimeout time.Duration
	// Credential, if set, runs the process as another user (PostgreSQL
	// refuses to run as root).
	Credential *syscall.Credential
}

const (
	stopTimeoutDefault = 10 * time.Second
	// clockTicksPerSecond converts /proc/PID/stat times to durations. It is
	// USER_HZ, which Linux fixes at 100 for user space on every architecture
	// (sysconf(_SC_CLK_TCK) and `getconf CLK_TCK` report it).
	clockTicksPerSecond = 100
	// logTailBytes is how much of a server's log an error quotes.
	logTailBytes = 2048
	// pollInterval paces the waits of WaitForPort and Stop.
	pollInterval = 20 * time.Millisecond
)

// StartProcess starts cfg's executable in its own process group.
func StartProcess(cfg ProcessConfig) (*Process, error) {
	log, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Name, err)
	}
	// The child keeps its own copy of the descriptor.
	defer log.Close()
	command := exec.Command(cfg.Path, cfg.Args...)
	command.Dir = cfg.Dir
	command.Stdout = log
	command.Stderr = log
	command.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cfg.Credential,
	}
	if err := command.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Name, err)
	}
	p := &Process{
		name:        cfg.Name,
		command:     command,
		logPath:     cfg.LogPath,
		stopSignal:  cfg.StopSignal,
		stopTimeout: cfg.StopTimeout,
		exited:      make(chan struct{}),
	}
	if p.stopSignal == 0 {
		p.stopSignal = syscall.SIGTERM
	}
	if p.stopTimeout == 0 {
		p.stopTimeout = stopTimeoutDefault
	}
	go func() {
		p.waitErr = command.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process id, which is also its process group id.
func (p *Process) PID() int { return p.command.Process.Pid }

// CPU returns the user and system CPU time used so far by the process and
// every descendant alive now, plus the time of the descendants they have
// already reaped (cutime, cstime), so the figure only grows: a PostgreSQL
// backend that exits moves its time into the postmaster's. Divide the
// difference over a measured window by its operations for CPU per operation.
func (p *Process) CPU() (time.Duration, error) {
	select {
	case <-p.exited:
		return 0, fmt.Errorf("cpu of %s: process %d has exited", p.name, p.PID())
	default:
	}
	processes, err := readProcesses()
	if err != nil {
		return 0, err
	}
	if _, ok := processes[p.PID()]; !ok {
		return 0, fmt.Errorf("cpu of %s: process %d not in /proc", p.name, p.PID())
	}
	var ticks uint64
	for _, pid := range descendants(processes, p.PID()) {
		ticks += processes[pid].ticks
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// Stop asks the process to shut down with its stop signal, waits up to its
// stop timeout, then kills its whole process group. It returns an error if
// the process had exited before Stop or had to be killed. Stop is
// idempotent: later calls return the first call's answer.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Process) stop() error {
	// Whatever happens, nothing of the group survives Stop: descendants that
	// outlived the leader are killed too. The group id cannot have been
	// reused while any of them is left.
	defer p.sweepGroup()
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited before stop: %v%s", p.name, p.waitErr, p.logTail())
	default:
	}
	if err := p.command.Process.Signal(p.stopSignal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	timer := time.NewTimer(p.stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	p.killGroup()
	<-p.exited
	return fmt.Errorf("%s did not stop within %v after %v: killed", p.name, p.stopTimeout, p.stopSignal)
}

func (p *Process) killGroup() {
	// ESRCH means the group is already empty.
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
}

// sweepGroup kills what is left of the process group and waits, for at most
// the stop timeout, until none of it runs. SIGKILL takes effect when the
// target is next scheduled, not when kill returns.
func (p *Process) sweepGroup() {
	deadline := time.Now().Add(p.stopTimeout)
	for {
		p.killGroup()
		if !p.groupRunning() || time.Now().After(deadline) {
			return
		}
		time.Sleep(pollInterval)
	}
}

// groupRunning reports whether a process of the group runs; zombies do not
// count, since their parent, maybe not this process, reaps them.
func (p *Process) groupRunning() bool {
	processes, err := readProcesses()
	if err != nil {
		return false
	}
	for _, process := range processes {
		if process.group == p.PID() && !process.zombie {
			return true
		}
	}
	return false
}

// Exited is closed once the process has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// logTail returns the end of the process's log, for error messages.
func (p *Process) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > logTailBytes {
		data = data[len(data)-logTailBytes:]
	}
	return fmt.Sprintf("\n%s log (%s), last lines:\n%s", p.name, p.logPath, bytes.TrimSpace(data))
}

// waitListening waits until addr accepts connections, failing early with the
// log's tail if the process exits first.
func (p *Process) waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	if err := waitForPort(ctx, addr, timeout, p.exited); err != nil {
		return fmt.Errorf("%s: %w%s", p.name, err, p.logTail())
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// NB: another process may take it before the server binds it; starters
// retry with a new port when the server exits early.
func FreePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// WaitForPort waits until addr accepts TCP connections, for at most timeout.
func WaitForPort(ctx context.Context, addr string, timeout time.Duration) error {
	return waitForPort(ctx, addr, timeout, nil)
}

// errExited reports a server that exited while the benchmark waited for it.
var errExited = errors.New("exited while starting")

func waitForPort(ctx context.Context, addr string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var dialer net.Dialer
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		connection, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			return connection.Close()
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections after %v: %w", addr, timeout, err)
		case <-ticker.C:
		}
	}
}

// procEntry is what CPU needs from /proc/PID/stat.
type procEntry struct {
	parent int
	group  int
	zombie bool   // exited, not yet reaped
	ticks  uint64 // utime + stime + cutime + cstime
}

// readProcesses reads every process's parent and CPU ticks from /proc.
// Processes that exit during the walk are skipped.
func readProcesses() (map[int]procEntry, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	processes := make(map[int]procEntry, len(entries))
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + entry.Name() + "/stat")
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
		}
		process, err := parseStat(data)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		processes[pid] = process
	}
	return processes, nil
}

// parseStat reads fields 3 (state), 4 (ppid), 5 (pgrp) and 14-17 (utime,
// stime, cutime, cstime)
// of /proc/PID/stat (proc(5)). Field 2, the command name, is in
// parentheses and may hold spaces and parentheses itself, so fields are
// counted from the last ')'.
func parseStat(data []byte) (procEntry, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return procEntry{}, errors.New("no command name")
	}
	// After ") ": field 3 (state) is fields[0], so field N is fields[N-3].
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 15 {
		return procEntry{}, fmt.Errorf("%d fields after the command name, want at least 15", len(fields))
	}
	parent, err := strconv.Atoi(string(fields[4-3]))
	if err != nil {
		return procEntry{}, fmt.Errorf("ppid: %w", err)
	}
	group, err := strconv.Atoi(string(fields[5-3]))
	if err != nil {
		return procEntry{}, fmt.Errorf("pgrp: %w", err)
	}
	var ticks uint64
	for field := 14; field <= 17; field++ {
		value, err := strconv.ParseInt(string(fields[field-3]), 10, 64)
		if err != nil || value < 0 {
			return procEntry{}, fmt.Errorf("field %d: %q", field, fields[field-3])
		}
		ticks += uint64(value)
	}
	zombie := string(fields[3-3]) == "Z"
	return procEntry{parent: parent, group: group, zombie: zombie, ticks: ticks}, nil
}

// descendants returns root and every process below it.
func descendants(processes map[int]procEntry, root int) []int {
	children := make(map[int][]int)
	for pid, process := range processes {
		children[process.parent] = append(children[process.parent], pid)
	}
	tree := []int{root}
	for next := 0; next < len(tree); next++ {
		tree = append(tree, children[tree[next]]...)
	}
	return tree
}

// tree returns the ids of the process and its live descendants.
func (p *Process) tree() ([]int, error) {
	processes, err := readProcesses()
	if err != nil {
		return nil, err
	}
	return descendants(processes, p.PID()), nil
}

const (
	// serverStartAttempts bounds the starts of a server whose port was
	// taken between FreePort and its bind.
	serverStartAttempts = 3
	// serverStartTimeout bounds the wait for a server to accept connections.
	serverStartTimeout = 30 * time.Second
)

// startOnFreePort starts the process configure(port) describes and waits
// until it accepts connections on 127.0.0.1:port. A server that exits while
// starting is started again on another port, since the likeliest cause is
// that someone took the port first; its log keeps every attempt.
func startOnFreePort(ctx context.Context, configure func(port int) ProcessConfig) (*Process, int, error) {
	var err error
	for range serverStartAttempts {
		var port int
		if port, err = FreePort(); err != nil {
			return nil, 0, err
		}
		var p *Process
		if p, err = StartProcess(configure(port)); err != nil {
			return nil, 0, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = p.waitListening(ctx, addr, serverStartTimeout); err == nil {
			return p, port, nil
		}
		_ = p.Stop()
		if !errors.Is(err, errExited) {
			return nil, 0, err
		}
	}
	return nil, 0, err
}

// Memory is a server's resident memory, in bytes, from the VmRSS and VmHWM
// lines of /proc/PID/status. Either is 0 when unknown.
type Memory struct {
	// RSS is resident memory now, summed over the process tree.
	RSS int64
	// Peak is the highest resident memory (VmHWM) since the peak was last
	// reset, summed over the process tree: for one process its peak, for a
	// tree (PostgreSQL's backends) an upper bound of the tree's, since each
	// process may have peaked at another moment.
	Peak int64
}

// Memory returns the resident memory of the process and its live
// descendants (see Memory). With resetPeak it then starts every one's peak
// anew (writing 5 to /proc/PID/clear_refs, Linux 4.0 and later), so the
// next call's Peak covers only what came after this one; it reports whether
// every reset took, false when the kernel refused one (another user's
// process without privilege), and then the next Peak is since the process
// began.
func (p *Process) Memory(resetPeak bool) (m Memory, peakReset bool, err error) {
	select {
	case <-p.exited:
		return Memory{}, false, fmt.Errorf("memory of %s: process %d has exited", p.name, p.PID())
	default:
	}
	pids, err := p.tree()
	if err != nil {
		return Memory{}, false, fmt.Errorf("memory of %s: %w", p.name, err)
	}
	return treeMemory(pids, resetPeak)
}

// ProcessMemory is Process.Memory for this process alone: the server
// memory of targets that run in-process, such as the embedded engine, whose
// figure includes the load generator and every other target this process
// holds.
func ProcessMemory(resetPeak bool) (m Memory, peakReset bool, err error) {
	return treeMemory([]int{os.Getpid()}, resetPeak)
}

// treeMemory sums the memory of pids, the first of which must be readable;
// the others are skipped when they exited meanwhile.
func treeMemory(pids []int, resetPeak bool) (Memory, bool, error) {
	var sum Memory
	peakReset := true
	for i, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		data, err := os.ReadFile(dir + "/status")
		if err != nil {
			if i > 0 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)) {
				continue
			}
			return Memory{}, false, fmt.Errorf("read %s/status: %w", dir, err)
		}
		m, err := parseStatusMemory(data)
		if err != nil {
			return Memory{}, false, fmt.Errorf("%s/status: %w", dir, err)
		}
		sum.RSS += m.RSS
		sum.Peak += m.Peak
		if resetPeak && m.RSS > 0 {
			// A zombie or a kernel thread has no memory to reset, nor
			// VmRSS; a process that exited since holds no memory later.
			if err := resetPeakMemory(dir); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
				peakReset = false
			}
		}
	}
	return sum, resetPeak && peakReset, nil
}

// resetPeakMemory resets the peak of the process whose /proc directory is
// dir.
func resetPeakMemory(dir string) error {
	file, err := os.OpenFile(dir+"/clear_refs", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = file.WriteString(clearRefsPeak)
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	return err
}

// clearRefsPeak, written to /proc/PID/clear_refs, resets the process's
// VmHWM to its current VmRSS and touches nothing else (proc(5)).
const clearRefsPeak = "5"

// parseStatusMemory reads VmRSS and VmHWM (in kB, that is KiB) from the
// text of /proc/PID/status; a line that is absent (a zombie, a kernel
// thread) reads 0.
func parseStatusMemory(status []byte) (Memory, error) {
	var m Memory
	for line := range bytes.Lines(status) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var field *int64
		switch string(name) {
		case "VmRSS":
			field = &m.RSS
		case "VmHWM":
			field = &m.Peak
		default:
			continue
		}
		number, unit, _ := bytes.Cut(bytes.TrimSpace(value), []byte(" "))
		kibibytes, err := strconv.ParseInt(string(number), 10, 64)
		if err != nil || kibibytes < 0 || kibibytes > math.MaxInt64/1024 || string(bytes.TrimSpace(unit)) != "kB" {
			return Memory{}, fmt.Errorf("%s: %q, want a count of kB", name, bytes.TrimSpace(value))
		}
		*field = kibibytes * 1024
	}
	return m, nil
}

// Every target of this package reads its server's memory.
var (
	_ MemoryTarget = (*httpTarget)(nil)
	_ MemoryTarget = (*embeddedTarget)(nil)
	_ MemoryTarget = (*baselineTarget)(nil)
	_ MemoryTarget = (*sessionTarget)(nil)
)

// ServerMemory is this process's: the engine runs in it.
func (t *embeddedTarget) ServerMemory(resetPeak bool) (Memory, bool, error) {
	return ProcessMemory(resetPeak)
}

// ServerMemory is the baseline server's process tree.
func (t *baselineTarget) ServerMemory(resetPeak bool) (Memory, bool, error) {
	return t.baseline.Process().Memory(resetPeak)
}
