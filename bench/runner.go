package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/schollz/progressbar/v3"

	"github.com/tollway/tollway/engine"
)

// The runner: one measured run of a scenario against a target, in a closed
// or an open loop.
//
// Every time is an offset from the run's beginning on the monotonic clock.
// The measured window is [start, end): start = Warmup, end = Warmup +
// Duration. A request belongs to the window when it is answered inside it:
// it counts in Requests, Operations, Failures and PerSecond, and its latency
// is recorded. Latency also covers requests outstanding when the window
// ends, so a stall at the end still shows: one in flight is recorded when it
// is answered (but not counted, it was answered outside the window); one due
// but never sent (open loop) at its wait until the end, a lower bound.

const (
	// connectionsMax bounds the workers of a run.
	connectionsMax = 1 << 16
	// rateMax bounds an open loop's arrival rate, in requests per second.
	rateMax = 10_000_000
	// runDurationMax bounds Duration and Warmup, so the per-second counters
	// stay small (a day is 86,400 of them).
	runDurationMax = 24 * time.Hour
	// latencyRecordedMax is the highest latency the histograms resolve;
	// longer ones are recorded as this.
	latencyRecordedMax = 60 * time.Second
	// latencySignificantDigits is the histograms' precision: 0.1%.
	latencySignificantDigits = 3
	// histogramsMax bounds the latency histograms of a run. One takes about
	// 136 KiB at microsecond resolution up to 60 s, so one per worker would
	// take 140 MiB at 1024 connections; beyond this many workers share them,
	// worker w recording into histogram w % histogramsMax under its mutex.
	// Up to histogramsMax workers each has its own, uncontended.
	histogramsMax = 64
	// dueQueueLength bounds the open loop's queue of due times. The
	// dispatcher derives the i-th due time from i, so when the queue is full
	// it waits without losing any: the backlog is kept as an index, not as
	// memory, and every queued request's latency still runs from its due
	// time.
	dueQueueLength = 4096
	// failureLabelsMax bounds the distinct failure labels a worker keeps;
	// further labels count under failureLabelOther.
	failureLabelsMax  = 64
	failureLabelOther = "other"
)

// Measure runs scenario against target under load and returns the measured
// run. Warmup runs the same loop unmeasured, then Duration is measured.
//
// With load.Rate zero the loop is closed: load.Connections workers each call
// target.Do back to back and latency runs from the send. With load.Rate
// positive it is open: request i is due at i/Rate seconds, a dispatcher
// hands due times to load.Connections workers, and latency runs from the
// due time, so time a request spends waiting for a worker while the target
// stalls is counted (no coordinated omission).
//
// ServerCPUPerOperation is target.ServerCPU's growth over the window per
// operation; an error from ServerCPU fails the run. A MemoryTarget's memory
// is read at the window's start (resetting its peak) and end, into the
// Run's ServerRSS fields; an error reading it fails the run too. When
// progress is not nil, a progress bar of the window is drawn to it.
// Run.Durable is left to the caller, which knows the target's
// configuration.
//
// Measure returns ctx.Err() once ctx is done, after every Do in flight has
// returned: Do is given ctx, so a target that honours it stops promptly.
func Measure(ctx context.Context, scenario Scenario, target Target, load Load, repetition int, progress io.Writer) (Run, error) {
	if err := checkLoad(load); err != nil {
		return Run{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newMeasurement(load)
	var wg sync.WaitGroup
	m.begin = time.Now()
	m.startWorkers(runCtx, &wg, target)
	description := fmt.Sprintf("%s %s c=%d", scenario, target.Name(), load.Connections)
	before, after, err := m.watch(runCtx, target, progress, description)
	if err != nil {
		cancel()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return Run{}, ctx.Err()
	}
	if err != nil {
		return Run{}, err
	}
	return m.run(scenario, target.Name(), repetition, before, after), nil
}

// checkLoad validates a load before any goroutine starts.
func checkLoad(load Load) error {
	if load.Connections < 1 || load.Connections > connectionsMax {
		return fmt.Errorf("%w: %d connections, want 1 to %d", engine.ErrInvalid, load.Connections, connectionsMax)
	}
	if math.IsNaN(load.Rate) || load.Rate < 0 || load.Rate > rateMax {
		return fmt.Errorf("%w: rate %v per second, want 0 (closed loop) to %d", engine.ErrInvalid, load.Rate, rateMax)
	}
	if load.Duration <= 0 || load.Duration > runDurationMax || load.Warmup < 0 || load.Warmup > runDurationMax {
		return fmt.Errorf("%w: duration %v and warmup %v, want a duration above 0 and both at most %v",
			engine.ErrInvalid, load.Duration, load.Warmup, runDurationMax)
	}
	return nil
}

// MemoryTarget is a Target that can read its server's resident memory; the
// runner records it at the start and the end of the window. The targets of
// this package are all MemoryTargets.
type MemoryTarget interface {
	Target
	// ServerMemory returns the serving process(es)' memory now (Memory) and,
	// with resetPeak, starts the peak anew, reporting whether it could: the
	// next call's Peak then covers only the time since.
	ServerMemory(resetPeak bool) (m Memory, peakReset bool, err error)
}

// serverUsage is what the runner reads of the server at either end of the
// window.
type serverUsage struct {
	cpu       time.Duration
	memory    Memory
	peakReset bool // at the start: the peak was reset, Memory.Peak at the end is the window's
}

// readServer reads target's CPU time and, if it is a MemoryTarget, its
// memory, resetting the peak at the start of the window.
func readServer(target Target, start bool) (serverUsage, error) {
	var u serverUsage
	var err error
	if u.cpu, err = target.ServerCPU(); err != nil {
		return u, fmt.Errorf("server CPU: %w", err)
	}
	if memory, ok := target.(MemoryTarget); ok {
		if u.memory, u.peakReset, err = memory.ServerMemory(start); err != nil {
			return u, fmt.Errorf("server memory: %w", err)
		}
	}
	return u, nil
}

// latencyShard is a histogram and the lock of the workers sharing it.
type latencyShard struct {
	mu        sync.Mutex
	histogram *hdrhistogram.Histogram // microseconds
}

// measurement is the state of one run, shared by its goroutines.
type measurement struct {
	load       Load
	begin      time.Time
	start, end time.Duration // the window, as offsets from begin

	shards  []*latencyShard
	workers []*worker // each written by its goroutine only, read after they stop
	// perSecond counts operations answered in each second of the window,
	// the last one partial when Duration is not whole seconds. Workers add
	// to it without a lock; the progress bar reads it live.
	perSecond []atomic.Int64
}

func newMeasurement(load Load) *measurement {
	m := &measurement{
		load:      load,
		start:     load.Warmup,
		end:       load.Warmup + load.Duration,
		shards:    make([]*latencyShard, min(load.Connections, histogramsMax)),
		workers:   make([]*worker, load.Connections),
		perSecond: make([]atomic.Int64, (load.Duration+time.Second-1)/time.Second),
	}
	for i := range m.shards {
		m.shards[i] = &latencyShard{histogram: hdrhistogram.New(1, latencyRecordedMax.Microseconds(), latencySignificantDigits)}
	}
	for i := range m.workers {
		m.workers[i] = &worker{measurement: m, shard: m.shards[i%len(m.shards)]}
	}
	return m
}

// now is the time since the run began, on the monotonic clock.
func (m *measurement) now() time.Duration { return time.Since(m.begin) }

// startWorkers starts the loop's goroutines, each registered on wg.
func (m *measurement) startWorkers(ctx context.Context, wg *sync.WaitGroup, target Target) {
	if m.load.Rate == 0 {
		for i, w := range m.workers {
			wg.Go(func() { w.closedLoop(ctx, target, i) })
		}
		return
	}
	queue := make(chan time.Duration, dueQueueLength)
	wg.Go(func() { m.dispatch(ctx, queue) })
	for i, w := range m.workers {
		wg.Go(func() { w.openLoop(ctx, target, i, queue) })
	}
}

// dispatch sends each due time before the window's end to queue once it is
// due, then closes queue. Past the end it sends the backlog without waiting,
// so workers record what was never sent.
func (m *measurement) dispatch(ctx context.Context, queue chan<- time.Duration) {
	defer close(queue)
	interval := float64(time.Second) / m.load.Rate
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := int64(0); ; i++ {
		// From the index, not by adding intervals, so rounding does not
		// accumulate and a late dispatcher catches up in a burst.
		due := time.Duration(float64(i) * interval)
		if due >= m.end {
			return
		}
		if wait := due - m.now(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case queue <- due:
		case <-ctx.Done():
			return
		}
	}
}

// watch waits for the window, reads the server's CPU time and memory at
// its start and end and draws progress meanwhile. It returns the two
// readings.
func (m *measurement) watch(ctx context.Context, target Target, progress io.Writer, description string) (before, after serverUsage, err error) {
	if err := m.sleepUntil(ctx, m.start); err != nil {
		return before, after, err
	}
	if before, err = readServer(target, true); err != nil {
		return before, after, fmt.Errorf("at the start of the window: %w", err)
	}
	bar := newRunProgress(progress, description, m.load.Duration)
	for {
		next := min(m.now()+bar.interval, m.end)
		if err := m.sleepUntil(ctx, next); err != nil {
			bar.abandon()
			return before, after, err
		}
		if next == m.end {
			break
		}
		bar.update(m.now()-m.start, m.operationsSoFar())
	}
	if after, err = readServer(target, false); err != nil {
		bar.abandon()
		return before, after, fmt.Errorf("at the end of the window: %w", err)
	}
	bar.finish(m.operationsSoFar(), m.load.Duration)
	return before, after, nil
}

// sleepUntil waits until offset or until ctx is done.
func (m *measurement) sleepUntil(ctx context.Context, offset time.Duration) error {
	wait := offset - m.now()
	if wait <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// operationsSoFar sums the per-second counters: the operations answered in
// the window so far.
func (m *measurement) operationsSoFar() int64 {
	var n int64
	for i := range m.perSecond {
		n += m.perSecond[i].Load()
	}
	return n
}

// run merges the workers' tallies into a Run. REQUIRES: the workers stopped.
func (m *measurement) run(scenario Scenario, target string, repetition int, before, after serverUsage) Run {
	serverCPU := after.cpu - before.cpu
	r := Run{Scenario: scenario, Target: target, Repetition: repetition, Load: m.load, Elapsed: m.load.Duration}
	for _, w := range m.workers {
		r.Requests += w.requests
		r.Operations += w.operations
		for label, n := range w.failures {
			if r.Failures == nil {
				r.Failures = make(map[string]int64)
			}
			r.Failures[label] += n
		}
	}
	r.Throughput = float64(r.Operations) / m.load.Duration.Seconds()
	r.Latency = m.latency()
	r.PerSecond = m.wholeSeconds()
	if r.Operations > 0 {
		r.ServerCPUPerOperation = float64(serverCPU.Nanoseconds()) / 1e3 / float64(r.Operations)
	}
	r.ServerRSSStart, r.ServerRSSEnd = before.memory.RSS, after.memory.RSS
	if before.peakReset {
		r.ServerRSSPeak = after.memory.Peak
	}
	return r
}

// latency merges the histograms and reads the percentiles.
func (m *measurement) latency() Latency {
	merged := hdrhistogram.New(1, latencyRecordedMax.Microseconds(), latencySignificantDigits)
	for _, s := range m.shards {
		merged.Merge(s.histogram)
	}
	if merged.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50:  float64(merged.ValueAtQuantile(50)),
		P90:  float64(merged.ValueAtQuantile(90)),
		P99:  float64(merged.ValueAtQuantile(99)),
		P999: float64(merged.ValueAtQuantile(99.9)),
		Max:  float64(merged.Max()),
	}
}

// wholeSeconds returns the operations of each whole second of the window.
// NB: a trailing partial second (Duration not whole seconds) is left out:
// as a rate it would read low. Its operations are still in Operations, so
// PerSecond sums to Operations exactly when Duration is whole seconds.
func (m *measurement) wholeSeconds() []float64 {
	seconds := make([]float64, m.load.Duration/time.Second)
	for i := range seconds {
		seconds[i] = float64(m.perSecond[i].Load())
	}
	return seconds
}

// worker is one concurrent caller of a run and its tally.
type worker struct {
	measurement *measurement
	shard       *latencyShard

	requests   int64
	operations int64
	failures   map[string]int64
}

// closedLoop sends one request after another until the window ends. A
// request's send time is the previous one's answer, so the last request of
// each worker is always the one answered at or after the end.
func (w *worker) closedLoop(ctx context.Context, target Target, index int) {
	m := w.measurement
	sent := m.now()
	for sent < m.end && !done(ctx) {
		operations, failure := target.Do(ctx, index)
		answered := m.now()
		w.answered(sent, answered, operations, failure)
		sent = answered
	}
}

// openLoop sends a request for each due time it takes from queue until
// queue closes. Due times taken after the window ended are recorded as
// never sent.
func (w *worker) openLoop(ctx context.Context, target Target, index int, queue <-chan time.Duration) {
	m := w.measurement
	for {
		var due time.Duration
		var ok bool
		select {
		case due, ok = <-queue:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		if done(ctx) {
			return
		}
		if m.now() >= m.end {
			w.recordLatency(m.end - due)
			continue
		}
		operations, failure := target.Do(ctx, index)
		w.answered(due, m.now(), operations, failure)
	}
}

// answered tallies a request due (or sent) at due and answered at answered.
func (w *worker) answered(due, answered time.Duration, operations int, failure string) {
	if operations < 0 {
		panic(fmt.Sprintf("bench: Do returned %d operations", operations))
	}
	m := w.measurement
	if answered < m.start {
		return // warmup
	}
	w.recordLatency(answered - due)
	if answered >= m.end {
		return // outstanding at the end: latency only
	}
	w.requests++
	if failure != "" {
		w.fail(failure)
		return
	}
	w.operations += int64(operations)
	m.perSecond[(answered-m.start)/time.Second].Add(int64(operations))
}

func (w *worker) recordLatency(latency time.Duration) {
	micros := min(max(latency, 0), latencyRecordedMax).Microseconds()
	w.shard.mu.Lock()
	// Cannot fail: micros is within the histogram's range.
	_ = w.shard.histogram.RecordValue(micros)
	w.shard.mu.Unlock()
}

func (w *worker) fail(label string) {
	if w.failures == nil {
		w.failures = make(map[string]int64)
	}
	if _, seen := w.failures[label]; !seen && len(w.failures) >= failureLabelsMax {
		label = failureLabelOther
	}
	w.failures[label]++
}

// done reports whether ctx is done without blocking; it reads the Done
// channel, which costs less than Err under contention.
func done(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// runProgress draws a run's window as a progress bar with the live rate, or
// nothing when it has no writer. The bar is cosmetic: its write errors are
// ignored and never fail a run.
type runProgress struct {
	bar         *progressbar.ProgressBar // nil when not drawn
	writer      io.Writer
	terminal    bool
	description string
	interval    time.Duration // between updates
	operations  int64         // at the last update
	at          time.Duration // of the last update
}

const (
	// progressIntervalTerminal paces a bar on a terminal.
	progressIntervalTerminal = 250 * time.Millisecond
	// progressIntervalOther paces a bar written to a file or a pipe, where
	// every update stays in the output (as carriage-return segments): once
	// a second keeps a CI log short.
	progressIntervalOther = time.Second
	progressWidth         = 30
)

func newRunProgress(w io.Writer, description string, window time.Duration) *runProgress {
	p := &runProgress{description: description, interval: progressIntervalOther, writer: w, terminal: isTerminal(w)}
	if w == nil {
		return p
	}
	options := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWidth(progressWidth),
		progressbar.OptionSetRenderBlankState(true),
	}
	// No OptionThrottle: update paces the bar itself, and a throttle would
	// drop the second of its two draws, the one with the fresh rate.
	if p.terminal {
		// The caller prints the run's summary where the bar was.
		p.interval = progressIntervalTerminal
		options = append(options, progressbar.OptionClearOnFinish())
	} else {
		// No cursor to move back: keep the final state and end its line.
		options = append(options, progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }))
	}
	// The bar's unit is a millisecond of the window.
	p.bar = progressbar.NewOptions64(max(window.Milliseconds(), 1), options...)
	return p
}

// update shows elapsed of the window and the rate since the last update.
func (p *runProgress) update(elapsed time.Duration, operations int64) {
	if p.bar == nil || elapsed <= p.at {
		return
	}
	rate := float64(operations-p.operations) / (elapsed - p.at).Seconds()
	p.operations, p.at = operations, elapsed
	// Short of the end, which finish draws with the window's rate. Set64
	// draws only when the percentage changes; Describe always draws.
	_ = p.bar.Set64(min(elapsed.Milliseconds(), p.bar.GetMax64()-1))
	p.bar.Describe(fmt.Sprintf("%s %.0f ops/s", p.description, rate))
}

// finish draws the full bar with the window's mean rate.
func (p *runProgress) finish(operations int64, window time.Duration) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("%s %.0f ops/s", p.description, float64(operations)/window.Seconds()))
	_ = p.bar.Finish()
}

// abandon ends the bar's line where it stands, for a run that stops early,
// so what is printed next starts on a line of its own.
func (p *runProgress) abandon() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Exit() // runs OptionOnCompletion: the newline, when not a terminal
	if p.terminal {
		_, _ = io.WriteString(p.writer, "\n")
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// ProcessCPU returns the CPU time (user+sys) this process has used: the
// ServerCPU of targets that run in-process, such as the embedded engine.
func ProcessCPU() (time.Duration, error) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()), nil
}

// DescribeMachine describes this machine for a report, from /proc and
// uname. A field it cannot read is left empty: a report is still worth
// writing without it.
func DescribeMachine() Machine {
	machine := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if text, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		machine.CPUModel = cpuModel(text)
	}
	if text, err := os.ReadFile("/proc/meminfo"); err == nil {
		machine.MemoryMiB = memoryMiB(text)
	}
	machine.Kernel = kernel()
	return machine
}

// cpuModel returns the first model name in /proc/cpuinfo's text: "model
// name" on x86, "Model" or "Hardware" on some ARM kernels.
func cpuModel(cpuinfo []byte) string {
	found := map[string]string{}
	scanner := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || value == "" {
			continue
		}
		if _, seen := found[key]; !seen {
			found[key] = value
		}
	}
	for _, key := range []string{"model name", "Model", "Hardware", "cpu model"} {
		if value, ok := found[key]; ok {
			return value
		}
	}
	return ""
}

// memoryMiB returns MemTotal from /proc/meminfo's text, in MiB; 0 if absent.
func memoryMiB(meminfo []byte) int64 {
	scanner := bufio.NewScanner(bytes.NewReader(meminfo))
	for scanner.Scan() {
		value, ok := strings.CutPrefix(scanner.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kibibytes, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kibibytes / 1024
	}
	return 0
}

// kernel returns uname's system, release and machine, e.g. "Linux
// 6.1.0-18-amd64 x86_64".
func kernel() string {
	var name syscall.Utsname
	if err := syscall.Uname(&name); err != nil {
		return ""
	}
	return strings.Join([]string{utsField(name.Sysname[:]), utsField(name.Release[:]), utsField(name.Machine[:])}, " ")
}

// utsField converts a NUL-terminated uname field.
func utsField[T int8 | uint8](field []T) string {
	var b strings.Builder
	for _, c := range field {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}
