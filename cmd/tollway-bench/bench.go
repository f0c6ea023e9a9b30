package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tollway/tollway/bench"
)

// benchConfig is what `tollway bench` was asked to run.
type benchConfig struct {
	scenarios   []bench.Scenario
	connections []int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	repetitions int
	consumers   int
	suppliers   int
	batch       int
	callers     []int // embedded-charge's concurrent callers, one run each
	baselines   []string
	out         string
	target      string // an external Tollway server; empty: start one
	adminToken  string
	quiet       bool
	update      string // a Markdown file whose marked section gets the summary
	tollway     string // the tollway executable started as the server
	// x402Authorizations is how many payments x402-verify signs per run
	// (each verification uses one).
	x402Authorizations int
}

// callersMax is the most workers the runner takes (bench.Measure).
const callersMax = 1 << 16

var allScenarios = []bench.Scenario{
	bench.ScenarioHTTPCharge, bench.ScenarioHTTPBatch, bench.ScenarioEmbeddedCharge,
	bench.ScenarioHotSupplier, bench.ScenarioMixed, bench.ScenarioNoopHTTP, bench.ScenarioHTTPSession,
	bench.ScenarioX402Verify, bench.ScenarioGateway, bench.ScenarioGatewayDirect,
}

func parseBench(args []string) (benchConfig, error) {
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	scenarios := flags.String("scenarios", "http-charge,http-batch,embedded-charge,noop-http", "comma-separated: "+joinScenarios(allScenarios))
	connections := flags.String("connections", "64,256", "comma-separated concurrent connections, one run each (embedded-charge takes --callers)")
	rate := flags.Float64("rate", 0, "requests per second for an open loop; 0 runs a closed loop")
	duration := flags.Duration("duration", 10*time.Second, "measured window of each run")
	warmup := flags.Duration("warmup", 2*time.Second, "unmeasured warm-up before each run")
	repetitions := flags.Int("repetitions", 3, "interleaved repetitions of every run; results are medians")
	consumers := flags.Int("consumers", 10_000, "consumer accounts, one API key each")
	suppliers := flags.Int("suppliers", 100, "supplier accounts (hot-supplier uses 1)")
	batch := flags.Int("batch", 100, "charges per request of http-batch")
	callers := flags.String("callers", "64,1024", "comma-separated concurrent callers of embedded-charge, one run each")
	baselines := flags.String("baselines", "", "comma-separated: redis (appendfsync always), redis-everysec, postgres; run beside http-charge")
	out := flags.String("out", "bench-results", "directory for results.json, summary.md and the plots")
	target := flags.String("target", "", "URL of a running Tollway server; by default the bench starts its own on a temporary directory")
	adminToken := flags.String("admin-token", envOr("TOLLWAY_ADMIN_TOKEN", ""), "admin token of --target (TOLLWAY_ADMIN_TOKEN)")
	quiet := flags.Bool("quiet", false, "no progress bars")
	update := flags.String("update", "", "Markdown file (e.g. BENCHMARKS.md) whose section between "+benchBegin+" and "+benchEnd+" is replaced by the summary")
	x402Authorizations := flags.Int("x402-authorizations", bench.X402AuthorizationsDefault,
		"payments x402-verify signs before each of its runs, each verified once: enough for the run's rate times its duration and warm-up")
	tollway := flags.String("tollway", envOr("TOLLWAY_BENCH_TOLLWAY", ""), "tollway executable to start as the server; default: the one beside tollway-bench, else on PATH (TOLLWAY_BENCH_TOLLWAY)")
	if err := flags.Parse(args); err != nil {
		return benchConfig{}, err
	}
	if flags.NArg() > 0 {
		return benchConfig{}, fmt.Errorf("unexpected argument %q: tollway-bench takes flags only", flags.Arg(0))
	}
	c := benchConfig{rate: *rate, duration: *duration, warmup: *warmup, repetitions: *repetitions,
		consumers: *consumers, suppliers: *suppliers, batch: *batch, out: *out, target: *target,
		adminToken: *adminToken, quiet: *quiet, update: *update, tollway: *tollway, x402Authorizations: *x402Authorizations}
	for _, name := range splitList(*scenarios) {
		s := bench.Scenario(name)
		if !containsScenario(allScenarios, s) {
			return c, fmt.Errorf("--scenarios: unknown %q (want %s)", name, joinScenarios(allScenarios))
		}
		c.scenarios = append(c.scenarios, s)
	}
	for _, text := range splitList(*connections) {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > 10_000 {
			return c, fmt.Errorf("--connections: %q is not a count from 1 to 10000", text)
		}
		c.connections = append(c.connections, n)
	}
	// Each caller count opens an engine of its own, in a directory named
	// by the count: a count given twice is refused, not opened twice.
	for _, text := range splitList(*callers) {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > callersMax {
			return c, fmt.Errorf("--callers: %q is not a count from 1 to %d", text, callersMax)
		}
		if slices.Contains(c.callers, n) {
			return c, fmt.Errorf("--callers: %d given twice", n)
		}
		c.callers = append(c.callers, n)
	}
	for _, name := range splitList(*baselines) {
		switch name {
		case "redis", "redis-everysec", "postgres":
			c.baselines = append(c.baselines, name)
		default:
			return c, fmt.Errorf("--baselines: unknown %q (want redis, redis-everysec or postgres)", name)
		}
	}
	switch {
	case len(c.scenarios) == 0 || len(c.connections) == 0:
		return c, errors.New("--scenarios and --connections must name at least one each")
	case c.repetitions < 1 || c.duration <= 0 || c.warmup < 0 || c.rate < 0:
		return c, errors.New("--repetitions must be at least 1, --duration positive, --warmup and --rate not negative")
	case c.consumers < 1 || c.suppliers < 1 || c.batch < 1 || c.batch > 1000:
		return c, errors.New("--consumers and --suppliers must be positive, --batch from 1 to 1000")
	case len(c.callers) == 0:
		return c, errors.New("--callers must name at least one count")
	case c.target != "" && c.adminToken == "":
		return c, errors.New("--target needs --admin-token")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func containsScenario(list []bench.Scenario, s bench.Scenario) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinScenarios(list []bench.Scenario) string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// benchCommand runs the load benchmark (`tollway-bench`, or `tollway
// bench`, which runs it): it starts what it measures, runs every
// (scenario, connections, target) in interleaved repetitions, writes the
// results, and stops everything it started, also when interrupted.
func benchCommand(args []string) error {
	c, err := parseBench(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		err = usageError{err}
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The no-op server is this executable's noop-server command; Tollway is
	// the server binary, which links none of the benchmark.
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this executable to start the no-op server: %w", err)
	}
	exes := executables{noop: self, tollway: c.tollway}
	if exes.tollway == "" && c.target == "" && (needsTollway(c.scenarios) ||
		slices.Contains(c.scenarios, bench.ScenarioX402Verify) || slices.Contains(c.scenarios, bench.ScenarioGateway)) {
		if exes.tollway, err = findTollway(); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "tollway-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	plan, err := prepareBench(ctx, c, exes, work)
	defer plan.close()
	if err != nil {
		return err
	}
	report := &bench.Report{Started: time.Now().UTC(), Command: "tollway bench " + strings.Join(commandArgs(args), " "), Machine: bench.DescribeMachine()}
	var progress *os.File
	if !c.quiet {
		progress = os.Stderr
	}
	for repetition := 1; repetition <= c.repetitions; repetition++ {
		for _, step := range plan.steps {
			load := bench.Load{Connections: step.connections, Rate: c.rate, Duration: c.duration, Warmup: c.warmup}
			var run bench.Run
			if progress != nil {
				run, err = bench.Measure(ctx, step.scenario, step.target, load, repetition, progress)
			} else {
				run, err = bench.Measure(ctx, step.scenario, step.target, load, repetition, nil)
			}
			if err != nil {
				return fmt.Errorf("%s against %s at %d connections: %w", step.scenario, step.target.Name(), step.connections, err)
			}
			run.Durable = step.durable
			report.Runs = append(report.Runs, run)
			fmt.Fprintf(os.Stderr, "%-16s %-20s c=%-4d rep %d: %10.0f ops/s  p50 %7.2f ms  p99 %7.2f ms  cpu %6.1f µs/op  rss %6.1f MiB  failures %d\n",
				run.Scenario, run.Target, run.Load.Connections, repetition, run.Throughput,
				run.Latency.P50/1000, run.Latency.P99/1000, run.ServerCPUPerOperation,
				float64(run.ServerRSSEnd)/(1<<20), failures(&run))
		}
	}
	if err := writeBenchResults(c.out, report, c.update); err != nil {
		return err
	}
	return checkFailures(report, c.out)
}

func failures(r *bench.Run) int64 {
	var n int64
	for _, count := range r.Failures {
		n += count
	}
	return n
}

// writeBenchResults writes results.json, the plots and summary.md into dir,
// prints the summary, and splices it into the update file if one is named.
func writeBenchResults(dir string, report *bench.Report, update string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := bench.WriteJSON(filepath.Join(dir, "results.json"), report); err != nil {
		return err
	}
	plots, err := bench.WritePlots(filepath.Join(dir, "plots"), report) // linked from summary.md as plots/…
	if err != nil {
		return err
	}
	summary, err := os.Create(filepath.Join(dir, "summary.md"))
	if err != nil {
		return err
	}
	if err := bench.WriteMarkdown(summary, report, plots); err != nil {
		summary.Close()
		return err
	}
	if err := summary.Close(); err != nil {
		return err
	}
	if err := bench.WriteMarkdown(os.Stdout, report, plots); err != nil {
		return err
	}
	if update != "" {
		return spliceSummary(update, dir, report, plots)
	}
	return nil
}

// The markers of the section `--update` replaces.
const (
	benchBegin = "<!-- tollway bench: begin -->"
	benchEnd   = "<!-- tollway bench: end -->"
)

// spliceSummary replaces the marked section of the Markdown file path with
// the summary, its plot links made relative to the file.
func spliceSummary(path, dir string, report *bench.Report, plots []string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	begin, end := strings.Index(string(text), benchBegin), strings.Index(string(text), benchEnd)
	if begin < 0 || end < begin {
		return fmt.Errorf("%s has no section between %s and %s", path, benchBegin, benchEnd)
	}
	links := make([]string, len(plots))
	for i, plot := range plots {
		rel, err := filepath.Rel(filepath.Dir(path), filepath.Join(dir, plot))
		if err != nil {
			return err
		}
		links[i] = filepath.ToSlash(rel)
	}
	var section strings.Builder
	section.WriteString(benchBegin + "\n")
	if err := bench.WriteMarkdown(&section, report, links); err != nil {
		return err
	}
	spliced := string(text[:begin]) + demoteHeadings(section.String()) + string(text[end:])
	return os.WriteFile(path, []byte(spliced), 0o644)
}

// checkFailures fails loudly when any request of the report failed.
func checkFailures(report *bench.Report, dir string) error {
	var failed int64
	for i := range report.Runs {
		failed += failures(&report.Runs[i])
	}
	if failed > 0 {
		return fmt.Errorf("%d requests FAILED: the results are not valid (see %s)", failed, filepath.Join(dir, "summary.md"))
	}
	return nil
}

// benchStep is one run of a repetition: a scenario against a target.
type benchStep struct {
	scenario    bench.Scenario
	connections int
	target      bench.Target
	durable     bool
}

// benchPlan is what a bench invocation runs, in the order of one
// repetition, and what it must stop at the end.
type benchPlan struct {
	steps   []benchStep
	closers []func() error
}

func (p *benchPlan) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil {
			fmt.Fprintln(os.Stderr, "tollway bench: stopping:", err)
		}
	}
}

func (p *benchPlan) add(step benchStep) {
	p.steps = append(p.steps, step)
	p.closers = append(p.closers, step.target.Close)
}

// prepareBench starts the servers and prepares every target: a Tollway
// server (unless --target), the no-op server, the baselines, the embedded
// engine. A repetition runs, per scenario and connections, Tollway then the
// others, so that slow drifts of the machine touch them alike.
// executables are the binaries the bench starts as servers.
type executables struct {
	tollway string // `tollway serve`
	noop    string // `tollway-bench noop-server`
}

func prepareBench(ctx context.Context, c benchConfig, exes executables, work string) (*benchPlan, error) {
	plan := &benchPlan{}
	url, adminToken := c.target, c.adminToken
	var tollway *bench.Process
	if url == "" && needsTollway(c.scenarios) {
		proc, u, token, err := bench.StartTollway(ctx, exes.tollway, filepath.Join(work, "tollway"))
		if err != nil {
			return plan, fmt.Errorf("start tollway: %w", err)
		}
		plan.closers = append(plan.closers, proc.Stop)
		tollway, url, adminToken = proc, u, token
	}
	var baselines []bench.Baseline
	workers := 0
	for _, n := range c.connections {
		workers = max(workers, n)
	}
	for _, name := range c.baselines {
		dir := filepath.Join(work, name)
		var b bench.Baseline
		var err error
		switch name {
		case "redis":
			b, err = bench.NewRedisBaseline(ctx, dir, bench.RedisFsyncAlways, workers, 0)
		case "redis-everysec":
			b, err = bench.NewRedisBaseline(ctx, dir, bench.RedisFsyncEverysec, workers, 0)
		case "postgres":
			b, err = bench.NewPostgresBaseline(ctx, dir, workers, 0)
		}
		if err != nil {
			return plan, fmt.Errorf("start %s: %w", name, err)
		}
		plan.closers = append(plan.closers, b.Close)
		if err := b.Setup(ctx, c.consumers, c.suppliers, baselineFunding(c.consumers)); err != nil {
			return plan, fmt.Errorf("set up %s: %w", name, err)
		}
		baselines = append(baselines, b)
	}
	for _, scenario := range c.scenarios {
		connections := c.connections
		if scenario == bench.ScenarioEmbeddedCharge {
			connections = c.callers
		}
		for _, n := range connections {
			if err := plan.prepare(ctx, c, scenario, n, url, adminToken, tollway, exes, work, baselines); err != nil {
				return plan, err
			}
		}
	}
	return plan, nil
}

// needsTollway reports whether a scenario runs against the shared Tollway
// server (x402-verify starts its own, on an embedded chain; gateway its own,
// with --allow-private-targets; gateway-direct none).
func needsTollway(scenarios []bench.Scenario) bool {
	for _, s := range scenarios {
		switch s {
		case bench.ScenarioEmbeddedCharge, bench.ScenarioNoopHTTP, bench.ScenarioX402Verify,
			bench.ScenarioGateway, bench.ScenarioGatewayDirect:
		default:
			return true
		}
	}
	return false
}

// prepare adds the steps of one scenario at n connections.
func (p *benchPlan) prepare(ctx context.Context, c benchConfig, scenario bench.Scenario, n int, url, adminToken string,
	tollway *bench.Process, exes executables, work string, baselines []bench.Baseline) error {
	httpTarget := func(suppliers, batch, readEvery int) error {
		target, err := bench.NewHTTPTarget(ctx, bench.HTTPTargetConfig{
			Name: "tollway", Scenario: scenario, URL: url, AdminToken: adminToken,
			Consumers: c.consumers, Suppliers: suppliers, BatchSize: batch, ReadEvery: readEvery,
			Connections: n, Process: tollway,
		})
		if err != nil {
			return fmt.Errorf("prepare %s at %d connections: %w", scenario, n, err)
		}
		p.add(benchStep{scenario: scenario, connections: n, target: target, durable: true})
		return nil
	}
	switch scenario {
	case bench.ScenarioHTTPCharge:
		if err := httpTarget(c.suppliers, 0, 0); err != nil {
			return err
		}
		for _, b := range baselines {
			target, err := bench.NewBaselineTarget(ctx, b, c.consumers, c.suppliers)
			if err != nil {
				return fmt.Errorf("prepare %s: %w", b.Name(), err)
			}
			p.add(benchStep{scenario: scenario, connections: n, target: target, durable: b.Durable()})
		}
		return nil
	case bench.ScenarioHTTPBatch:
		return httpTarget(c.suppliers, c.batch, 0)
	case bench.ScenarioHotSupplier:
		return httpTarget(1, 0, 0)
	case bench.ScenarioMixed:
		return httpTarget(c.suppliers, 0, mixedReadEvery)
	case bench.ScenarioHTTPSession:
		target, err := bench.NewSessionTarget(ctx, bench.SessionTargetConfig{URL: url, AdminToken: adminToken,
			Consumers: c.consumers, Suppliers: c.suppliers, Connections: n, Process: tollway})
		if err != nil {
			return fmt.Errorf("prepare %s at %d connections: %w", scenario, n, err)
		}
		p.add(benchStep{scenario: scenario, connections: n, target: target, durable: true})
		return nil
	case bench.ScenarioNoopHTTP:
		proc, noopURL, err := bench.StartNoop(ctx, exes.noop)
		if err != nil {
			return fmt.Errorf("start the no-op server: %w", err)
		}
		p.closers = append(p.closers, proc.Stop)
		target, err := bench.NewNoopTarget(ctx, noopURL, proc, c.consumers, 0, n)
		if err != nil {
			return fmt.Errorf("prepare noop-http at %d connections: %w", n, err)
		}
		p.add(benchStep{scenario: scenario, connections: n, target: target})
		return nil
	case bench.ScenarioX402Verify:
		// A server of its own, on its embedded chain, unless --target
		// (which must run on an embedded chain with --x402-open).
		x402URL, x402Token, proc := c.target, c.adminToken, (*bench.Process)(nil)
		if x402URL == "" {
			var err error
			if proc, x402URL, x402Token, err = bench.StartTollwayX402(ctx, exes.tollway, filepath.Join(work, fmt.Sprintf("x402-%d", n))); err != nil {
				return fmt.Errorf("start tollway for x402-verify: %w", err)
			}
		}
		target, err := bench.NewX402Target(ctx, bench.X402TargetConfig{URL: x402URL, AdminToken: x402Token,
			Authorizations: c.x402Authorizations, Connections: n, Process: proc})
		if err != nil {
			if proc != nil {
				proc.Stop()
			}
			return fmt.Errorf("prepare %s at %d connections: %w", scenario, n, err)
		}
		p.add(benchStep{scenario: scenario, connections: n, target: target, durable: true})
		return nil
	case bench.ScenarioGateway:
		return p.prepareGateway(ctx, c, n, exes, work)
	case bench.ScenarioGatewayDirect:
		// An upstream of its own, as the gateway's, so neither run shares
		// a process with the other.
		upstream, upstreamURL, err := bench.StartNoopUpstream(ctx, exes.noop)
		if err != nil {
			return fmt.Errorf("start the no-op upstream: %w", err)
		}
		p.closers = append(p.closers, upstream.Stop)
		target, err := bench.NewGatewayDirectTarget(bench.GatewayTargetConfig{Upstream: upstreamURL, Connections: n, Process: upstream})
		if err != nil {
			return fmt.Errorf("prepare %s at %d connections: %w", scenario, n, err)
		}
		p.add(benchStep{scenario: scenario, connections: n, target: target})
		return nil
	case bench.ScenarioEmbeddedCharge:
		target, err := bench.NewEmbeddedTarget(ctx, filepath.Join(work, fmt.Sprintf("embedded-%d", n)), c.consumers, c.suppliers, 0, 0)
		if err != nil {
			return fmt.Errorf("prepare embedded-charge: %w", err)
		}
		p.add(benchStep{scenario: scenario, connections: n, target: target, durable: true})
		return nil
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// prepareGateway adds the gateway scenario at n connections: a no-op
// upstream and a Tollway server of its own that may forward to it (unless
// --target, which must then run with --allow-private-targets), with one
// route of price bench.GatewayPrice.
func (p *benchPlan) prepareGateway(ctx context.Context, c benchConfig, n int, exes executables, work string) error {
	upstream, upstreamURL, err := bench.StartNoopUpstream(ctx, exes.noop)
	if err != nil {
		return fmt.Errorf("start the no-op upstream: %w", err)
	}
	p.closers = append(p.closers, upstream.Stop)
	url, adminToken, proc := c.target, c.adminToken, (*bench.Process)(nil)
	if url == "" {
		if proc, url, adminToken, err = bench.StartTollwayGateway(ctx, exes.tollway, filepath.Join(work, fmt.Sprintf("gateway-%d", n))); err != nil {
			return fmt.Errorf("start tollway for %s: %w", bench.ScenarioGateway, err)
		}
		p.closers = append(p.closers, proc.Stop)
	}
	target, err := bench.NewGatewayTarget(ctx, bench.GatewayTargetConfig{URL: url, AdminToken: adminToken, Upstream: upstreamURL,
		Consumers: c.consumers, Connections: n, Process: proc, UpstreamProcess: upstream})
	if err != nil {
		return fmt.Errorf("prepare %s at %d connections: %w", bench.ScenarioGateway, n, err)
	}
	p.add(benchStep{scenario: bench.ScenarioGateway, connections: n, target: target, durable: true})
	return nil
}

// mixedReadEvery makes one request in four of the mixed scenario a balance read.
const mixedReadEvery = 4

// baselineFunding is each baseline consumer's funding: plenty for any run,
// with the total within 2^53 (Redis's Lua compares balances as doubles).
func baselineFunding(consumers int) uint64 {
	return min(1_000_000_000_000, (1<<53)/uint64(consumers))
}

// demoteHeadings moves every Markdown heading of text two levels down, so a
// summary spliced under a "##" section nests inside it.
func demoteHeadings(text string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "#") {
			lines[i] = "##" + line
		}
	}
	return strings.Join(lines, "\n")
}

// commandArgs returns args without --tollway and its value: `tollway
// bench` adds it when it runs tollway-bench, and the report records the
// command as typed, the same through either binary.
func commandArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--tollway" || args[i] == "-tollway":
			i++ // and its value
		case strings.HasPrefix(args[i], "--tollway=") || strings.HasPrefix(args[i], "-tollway="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}
