package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Reporting: the JSON result file, medians over interleaved repetitions,
// the ratios the load benchmark issue sets as targets, and the Markdown
// summary that embeds the plots of plot.go.

const (
	// reportFileBytesMax bounds the result file ReadJSON accepts; a run
	// records a few hundred bytes plus one number per second.
	reportFileBytesMax = 64 << 20

	// Target labels the ratios look for (Run.Target).
	reportTargetTollway     = "tollway"
	reportTargetRedisAlways = "redis-aof-always"
	reportTargetPostgres    = "postgres"

	// reportNotDurable marks a target that does not fsync per operation.
	reportNotDurable = "(not durable per operation)"
)

// WriteJSON writes r to path as indented JSON. It writes a sibling file
// and renames it over path, so a reader (CI, ReadJSON) never sees half a
// report.
func WriteJSON(path string, r *Report) (err error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	data = append(data, '\n')
	file, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(file.Name())
		}
	}()
	_, err = file.Write(data)
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(file.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(file.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON. It is strict (unknown
// fields, trailing data and files over reportFileBytesMax are errors) so
// that a CI check that "the result file parses" means it has the shape
// this code writes.
func ReadJSON(path string) (*Report, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: read report: %w", err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, reportFileBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("bench: read report: %w", err)
	}
	if len(data) > reportFileBytesMax {
		return nil, fmt.Errorf("bench: read report %s: larger than %d bytes", path, reportFileBytesMax)
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	var r Report
	if err := decoder.Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: read report %s: %w", path, err)
	}
	if err := decoder.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bench: read report %s: data after the report", path)
	}
	return &r, nil
}

// Summary is the runs of one scenario against one target under one load
// (connections and rate), reduced to medians over repetitions. Medians,
// not means: one repetition disturbed by the machine (the load generator
// shares its cores) moves a mean but not a median of three.
type Summary struct {
	Scenario Scenario `json:"scenario"`
	Target   string   `json:"target"`
	// Durable is true when every repetition was durable per operation.
	Durable bool `json:"durable"`
	// Load is the first repetition's; Connections and Rate are the same
	// for every repetition by construction of the group.
	Load        Load `json:"load"`
	Repetitions int  `json:"repetitions"`

	Throughput            float64 `json:"operationsPerSecond"`         // median
	Latency               Latency `json:"latency"`                     // median of each percentile
	ServerCPUPerOperation float64 `json:"serverCpuMicrosPerOperation"` // median
	// Failures is the failed requests over all repetitions.
	Failures int64 `json:"failures"`
	// PerSecond is the operations per second over time of the repetition
	// with the median throughput (the lower middle one for an even count).
	PerSecond []float64 `json:"perSecond"`
	// The server's resident memory in bytes (Run.ServerRSSStart and the
	// others), medians; 0 when unknown.
	ServerRSSStart int64 `json:"serverRssBytesAtStart"`
	ServerRSSEnd   int64 `json:"serverRssBytesAtEnd"`
	ServerRSSPeak  int64 `json:"serverPeakRssBytes"`
}

type summaryKey struct {
	scenario    Scenario
	target      string
	connections int
	rate        float64
}

// Summarize groups r's runs by scenario, target, connections and rate, in
// the order each group first appears, and takes the median of every
// measure over a group's repetitions (for an even count, the mean of the
// two middle values). Each measure's median is taken on its own, so p99
// and throughput may come from different repetitions.
func Summarize(r *Report) []Summary {
	var order []summaryKey
	groups := make(map[summaryKey][]*Run)
	for i := range r.Runs {
		run := &r.Runs[i]
		key := summaryKey{run.Scenario, run.Target, run.Load.Connections, run.Load.Rate}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], run)
	}
	summaries := make([]Summary, 0, len(order))
	for _, key := range order {
		summaries = append(summaries, summarizeRuns(groups[key]))
	}
	return summaries
}

// summarizeRuns reduces one group. REQUIRES: len(runs) > 0.
func summarizeRuns(runs []*Run) Summary {
	first := runs[0]
	s := Summary{
		Scenario:    first.Scenario,
		Target:      first.Target,
		Durable:     true,
		Load:        first.Load,
		Repetitions: len(runs),
	}
	for _, run := range runs {
		s.Durable = s.Durable && run.Durable
		for _, n := range run.Failures {
			s.Failures += n
		}
	}
	median := func(measure func(*Run) float64) float64 {
		values := make([]float64, len(runs))
		for i, run := range runs {
			values[i] = measure(run)
		}
		return reportMedian(values)
	}
	s.Throughput = median(func(run *Run) float64 { return run.Throughput })
	s.Latency = Latency{
		P50:  median(func(run *Run) float64 { return run.Latency.P50 }),
		P90:  median(func(run *Run) float64 { return run.Latency.P90 }),
		P99:  median(func(run *Run) float64 { return run.Latency.P99 }),
		P999: median(func(run *Run) float64 { return run.Latency.P999 }),
		Max:  median(func(run *Run) float64 { return run.Latency.Max }),
	}
	s.ServerCPUPerOperation = median(func(run *Run) float64 { return run.ServerCPUPerOperation })
	s.PerSecond = medianRun(runs).PerSecond
	// Exact: resident memory is far below 2^53 bytes.
	s.ServerRSSStart = int64(median(func(run *Run) float64 { return float64(run.ServerRSSStart) }))
	s.ServerRSSEnd = int64(median(func(run *Run) float64 { return float64(run.ServerRSSEnd) }))
	s.ServerRSSPeak = int64(median(func(run *Run) float64 { return float64(run.ServerRSSPeak) }))
	return s
}

// reportMedian returns the median of values, the mean of the two middle
// ones for an even count. REQUIRES: len(values) > 0. It sorts values.
func reportMedian(values []float64) float64 {
	sort.Float64s(values)
	middle := len(values) / 2
	if len(values)%2 == 1 {
		return values[middle]
	}
	return (values[middle-1] + values[middle]) / 2
}

// medianRun returns the run with the median throughput, the lower middle
// one for an even count. REQUIRES: len(runs) > 0.
func medianRun(runs []*Run) *Run {
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b *Run) int {
		switch {
		case a.Throughput < b.Throughput:
			return -1
		case a.Throughput > b.Throughput:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}

// Ratio is one line of the comparison with the targets: a ratio of
// Tollway to another target measured in the same run, or an absolute
// figure.
type Ratio struct {
	Scenario    Scenario `json:"scenario"` // Tollway's scenario
	Connections int      `json:"connections"`
	Rate        float64  `json:"rate,omitempty"`
	// Measure says what is compared, e.g. "throughput / noop-http".
	Measure string `json:"measure"`
	// Value is the ratio, or the absolute figure: operations per second, or
	// server CPU in µs per charge.
	// Valid is false when it could not be computed (a zero denominator).
	Value float64 `json:"value"`
	Valid bool    `json:"valid"`
	// Text is Value with its unit, e.g. "0.82x" or "312,400 charges/s".
	Text string `json:"text"`
	// Goal is the target, e.g. ">= 0.75"; "" when it sets none.
	Goal string `json:"goal,omitempty"`
	// Met is whether Value meets Goal. It is false without a Goal, without
	// a Valid value, and when any run compared had failures.
	Met bool `json:"met"`
}

// Ratios compares Tollway with the other targets of the same run, as the
// targets of issue 18 ask. The rule:
//
//   - Summaries are compared only under the same load: the same
//     Load.Connections and the same Load.Rate (closed loop with closed
//     loop, an open loop with the same arrival rate).
//   - Tollway over HTTP is Target "tollway". http-batch and embedded-charge
//     are Tollway's alone, so every summary of them is Tollway's whatever
//     its target label.
//   - The ceiling is Scenario "noop-http".
//   - A baseline is any other target: a summary whose Target is not
//     "tollway" and whose Scenario is not noop-http, http-batch or
//     embedded-charge, and whose scenario class is http-charge (Scenario
//     http-charge or a scenario this package does not name, for a baseline
//     labelled with a scenario of its own). A baseline's hot-supplier or
//     mixed runs are not compared with Tollway's http-charge.
//
// Rows, for each Tollway summary in the order of summaries, with the
// issue's target where it sets one (a row without is shown, not judged):
//   - http-charge, at every load: throughput / noop-http (>= 0.75x), p99 /
//     noop-http's (<= 1.5x), throughput / each baseline (redis-aof-always
//     >= 1.3x, postgres >= 10x, others none), server CPU per operation /
//     redis-aof-always's (<= 1x; only when both were measured, non-zero);
//   - http-batch: charges/s (>= 300,000), server CPU per charge (<= 5 µs;
//     a batch's operations are its charges, so the run's CPU per operation
//     is per charge), throughput / redis-aof-always (none);
//   - embedded-charge: charges/s and p99, at 1024 callers (>= 250,000
//     charges/s with p99 < 10 ms), at 64 (>= 150,000 charges/s, p99 not
//     judged), at other caller counts none;
//   - gateway, against gateway-direct under the same load (issue 22):
//     throughput / gateway-direct (>= 0.6x), added p50 (none) and added
//     p99 (<= 2 ms), the added latency being the gateway's percentile
//     less the direct one's;
//   - and after them, for a window of driftWindowMin or more (see
//     Summary.Drift), the last whole minute's throughput / the second's:
//     >= 0.90 for http-charge at 64 connections, none for the others.
func Ratios(summaries []Summary) []Ratio {
	var ratios []Ratio
	for i := range summaries {
		s := &summaries[i]
		switch {
		case s.Scenario == ScenarioHTTPCharge && s.Target == reportTargetTollway:
			ratios = append(ratios, httpChargeRatios(s, summaries)...)
		case s.Scenario == ScenarioHTTPBatch:
			ratios = append(ratios, httpBatchRatios(s, summaries)...)
		case s.Scenario == ScenarioEmbeddedCharge:
			ratios = append(ratios, embeddedRatio(s))
		case s.Scenario == ScenarioGateway && s.Target == reportTargetTollway:
			ratios = append(ratios, gatewayRatios(s, summaries)...)
		default:
			continue
		}
		if drift, ok := driftRatio(s); ok {
			ratios = append(ratios, drift)
		}
	}
	return ratios
}

// The targets.
const (
	targetNoopThroughput     = 0.75 // http-charge throughput / noop-http's, at least
	targetNoopP99            = 1.5  // http-charge p99 / noop-http's, at most
	targetRedisThroughput    = 1.3  // http-charge throughput / redis-aof-always's, at least
	targetPostgresThroughput = 10   // http-charge throughput / postgres's, at least
	targetRedisCPU           = 1    // http-charge server CPU per operation / redis-aof-always's, at most
	targetBatchThroughput    = 300_000
	targetBatchCPUMicros     = 5 // server CPU per batched charge, at most
	// embedded-charge: charges/s at least, at 1024 callers with p99 below
	// targetEmbeddedP99Micros, and at 64 callers.
	targetEmbeddedCallers       = 1024
	targetEmbeddedThroughput    = 250_000
	targetEmbeddedP99Micros     = 10_000
	targetEmbeddedFewCallers    = 64
	targetEmbeddedFewThroughput = 150_000
	// Over a long run: http-charge at targetDriftConnections keeps its last
	// minute's throughput within 10% of its second minute's.
	targetDriftConnections = 64
	targetDrift            = 0.90
	// gateway (issue 22): throughput / gateway-direct's at least, and the
	// p99 it adds at most.
	targetGatewayThroughput     = 0.6
	targetGatewayAddedP99Micros = 2000
)

func httpChargeRatios(tollway *Summary, summaries []Summary) []Ratio {
	var ratios []Ratio
	for i := range summaries {
		ceiling := &summaries[i]
		if ceiling.Scenario != ScenarioNoopHTTP || !sameLoad(tollway, ceiling) {
			continue
		}
		ratio, ok := reportDivide(tollway.Throughput, ceiling.Throughput)
		ratios = append(ratios, newRatio(tollway, "throughput / "+ceiling.Target,
			ratio, ok, ">= 0.75x", ratio >= targetNoopThroughput, ceiling))
		ratio, ok = reportDivide(tollway.Latency.P99, ceiling.Latency.P99)
		ratios = append(ratios, newRatio(tollway, "p99 / "+ceiling.Target,
			ratio, ok, "<= 1.5x", ratio <= targetNoopP99, ceiling))
	}
	for _, baseline := range baselines(tollway, summaries) {
		goal, goalRatio := "", 0.0
		switch baseline.Target {
		case reportTargetRedisAlways:
			goal, goalRatio = ">= 1.3x", targetRedisThroughput
		case reportTargetPostgres:
			goal, goalRatio = ">= 10x", targetPostgresThroughput
		}
		ratio, ok := reportDivide(tollway.Throughput, baseline.Throughput)
		ratios = append(ratios, newRatio(tollway, "throughput / "+targetLabel(baseline),
			ratio, ok, goal, ratio >= goalRatio, baseline))
	}
	for _, redis := range baselines(tollway, summaries) {
		if redis.Target != reportTargetRedisAlways ||
			tollway.ServerCPUPerOperation <= 0 || redis.ServerCPUPerOperation <= 0 {
			continue
		}
		ratio, ok := reportDivide(tollway.ServerCPUPerOperation, redis.ServerCPUPerOperation)
		ratios = append(ratios, newRatio(tollway, "server CPU per operation / "+redis.Target,
			ratio, ok, "<= 1x", ratio <= targetRedisCPU, redis))
	}
	return ratios
}

func gatewayRatios(gateway *Summary, summaries []Summary) []Ratio {
	var ratios []Ratio
	for i := range summaries {
		direct := &summaries[i]
		if direct.Scenario != ScenarioGatewayDirect || !sameLoad(gateway, direct) {
			continue
		}
		ratio, ok := reportDivide(gateway.Throughput, direct.Throughput)
		ratios = append(ratios, newRatio(gateway, "throughput / "+string(ScenarioGatewayDirect),
			ratio, ok, ">= 0.6x", ratio >= targetGatewayThroughput, direct))
		// Valid only when both runs answered something: a percentile of
		// no requests is 0.
		valid := gateway.Throughput > 0 && direct.Throughput > 0
		added := gateway.Latency.P50 - direct.Latency.P50
		p50 := newRatio(gateway, "added p50 over "+string(ScenarioGatewayDirect), added, valid, "", false, direct)
		added = gateway.Latency.P99 - direct.Latency.P99
		p99 := newRatio(gateway, "added p99 over "+string(ScenarioGatewayDirect), added, valid,
			"<= 2 ms", added <= targetGatewayAddedP99Micros, direct)
		for _, r := range []*Ratio{&p50, &p99} {
			if r.Valid {
				r.Text = reportMillis(r.Value) + " ms"
			}
		}
		ratios = append(ratios, p50, p99)
	}
	return ratios
}

func httpBatchRatios(tollway *Summary, summaries []Summary) []Ratio {
	throughput := newRatio(tollway, "charges/s", tollway.Throughput, true,
		">= 300,000 charges/s", tollway.Throughput >= targetBatchThroughput)
	throughput.Text = reportThousands(tollway.Throughput) + " charges/s"
	// A batch's operations are its charges (Run.Operations), so CPU per
	// operation is per charge. 0 is unknown: a server not the bench's.
	cpu := tollway.ServerCPUPerOperation
	perCharge := newRatio(tollway, "server CPU per charge", cpu, cpu > 0,
		"<= 5 µs", cpu <= targetBatchCPUMicros)
	if perCharge.Valid {
		perCharge.Text = strconv.FormatFloat(cpu, 'f', 1, 64) + " µs"
	}
	ratios := []Ratio{throughput, perCharge}
	for _, redis := range baselines(tollway, summaries) {
		if redis.Target != reportTargetRedisAlways {
			continue
		}
		ratio, ok := reportDivide(tollway.Throughput, redis.Throughput)
		ratios = append(ratios, newRatio(tollway, "throughput / "+redis.Target,
			ratio, ok, "", false, redis))
	}
	return ratios
}

func embeddedRatio(tollway *Summary) Ratio {
	goal, met := "", false
	switch tollway.Load.Connections {
	case targetEmbeddedCallers:
		goal = ">= 250,000 charges/s, p99 < 10 ms"
		met = tollway.Throughput >= targetEmbeddedThroughput && tollway.Latency.P99 < targetEmbeddedP99Micros
	case targetEmbeddedFewCallers:
		goal = ">= 150,000 charges/s"
		met = tollway.Throughput >= targetEmbeddedFewThroughput
	}
	ratio := newRatio(tollway, "charges/s, p99", tollway.Throughput, true, goal, met)
	ratio.Text = fmt.Sprintf("%s charges/s, p99 %s ms",
		reportThousands(tollway.Throughput), reportMillis(tollway.Latency.P99))
	return ratio
}

// driftRatio is the row of a long run's last minute over its second, if s
// ran long enough (Summary.Drift).
func driftRatio(s *Summary) (Ratio, bool) {
	perMinute, ratio, valid := s.Drift()
	if perMinute == nil {
		return Ratio{}, false
	}
	goal := ""
	if s.Scenario == ScenarioHTTPCharge && s.Load.Connections == targetDriftConnections {
		goal = ">= 0.90"
	}
	return newRatio(s, "throughput, last minute / second minute", ratio, valid, goal, ratio >= targetDrift), true
}

// driftWindowMin is the shortest window whose throughput over time the
// report shows per minute: the first minute warms caches, so the drift is
// the last minute against the second, which needs a third.
const driftWindowMin = 3 * time.Minute

// PerMinute returns the mean operations per second of each whole minute
// of perSecond (one figure per second, as Run.PerSecond); a trailing part
// of a minute is left out, as a part of a second is from PerSecond.
func PerMinute(perSecond []float64) []float64 {
	minutes := make([]float64, len(perSecond)/60)
	for i := range minutes {
		var sum float64
		for _, n := range perSecond[i*60 : (i+1)*60] {
			sum += n
		}
		minutes[i] = sum / 60
	}
	return minutes
}

// Drift returns, for a window of driftWindowMin or more, the throughput of
// each whole minute of s's window (PerMinute of PerSecond, the median
// repetition's) and the last whole minute's over the second's; valid is
// false when the second minute did nothing. For a shorter window, or fewer
// than three whole minutes of figures, perMinute is nil.
func (s *Summary) Drift() (perMinute []float64, ratio float64, valid bool) {
	if s.Load.Duration < driftWindowMin {
		return nil, 0, false
	}
	perMinute = PerMinute(s.PerSecond)
	if len(perMinute) < 3 {
		return nil, 0, false
	}
	ratio, valid = reportDivide(perMinute[len(perMinute)-1], perMinute[1])
	return perMinute, ratio, valid
}

// baselines returns the baselines comparable with tollway (see Ratios), in
// the order of summaries.
func baselines(tollway *Summary, summaries []Summary) []*Summary {
	var found []*Summary
	for i := range summaries {
		s := &summaries[i]
		switch {
		case s.Target == reportTargetTollway, !sameLoad(tollway, s),
			s.Scenario == ScenarioNoopHTTP, s.Scenario == ScenarioHTTPBatch,
			s.Scenario == ScenarioEmbeddedCharge, scenarioClass(s.Scenario) != ScenarioHTTPCharge:
			continue
		}
		found = append(found, s)
	}
	return found
}

// scenarioClass groups scenarios doing the same work per operation:
// noop-http answers the http-charge request without doing it,
// gateway-direct the gateway's call without the gateway, and a scenario
// this package does not name is a baseline's label for the http-charge
// work.
func scenarioClass(scenario Scenario) Scenario {
	switch scenario {
	case ScenarioHTTPBatch, ScenarioEmbeddedCharge, ScenarioHotSupplier, ScenarioMixed, ScenarioGateway:
		return scenario
	case ScenarioGatewayDirect:
		return ScenarioGateway
	}
	return ScenarioHTTPCharge
}

func sameLoad(a, b *Summary) bool {
	return a.Load.Connections == b.Load.Connections && a.Load.Rate == b.Load.Rate
}

// newRatio builds a row; met is the goal's test of value, discounted when
// there is no goal, no valid value, or a failure in any summary compared.
func newRatio(tollway *Summary, measure string, value float64, valid bool, goal string, met bool, others ...*Summary) Ratio {
	failed := tollway.Failures > 0
	for _, other := range others {
		failed = failed || other.Failures > 0
	}
	text := "n/a"
	if valid {
		text = strconv.FormatFloat(value, 'f', 2, 64) + "x"
	}
	return Ratio{
		Scenario:    tollway.Scenario,
		Connections: tollway.Load.Connections,
		Rate:        tollway.Load.Rate,
		Measure:     measure,
		Value:       value,
		Valid:       valid,
		Text:        text,
		Goal:        goal,
		Met:         met && valid && goal != "" && !failed,
	}
}

// reportDivide returns numerator/denominator, or false when denominator
// is not positive (nothing measured, or every request failed).
func reportDivide(numerator, denominator float64) (float64, bool) {
	if denominator <= 0 {
		return 0, false
	}
	return numerator / denominator, true
}

// WriteMarkdown writes r's summary: the machine, the command, a loud
// warning when any request failed, the table of medians, the throughput
// per minute and memory of long runs (when any ran driftWindowMin), the ratios with
// the targets, and links to plots (paths as WritePlots returns
// them, used verbatim, so relative to where the Markdown is read).
func WriteMarkdown(w io.Writer, r *Report, plots []string) error {
	summaries := Summarize(r)
	var b strings.Builder
	writeMachine(&b, r)
	writeFailures(&b, r)
	writeSummaryTable(&b, summaries)
	writeOverTimeTable(&b, summaries)
	writeRatioTable(&b, Ratios(summaries))
	writePlotLinks(&b, plots)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMachine(b *strings.Builder, r *Report) {
	m := r.Machine
	cpus := strconv.Itoa(m.CPUs) + " CPUs"
	if m.CPUModel != "" {
		cpus += " (" + m.CPUModel + ")"
	}
	parts := []string{cpus}
	if m.MemoryMiB > 0 {
		parts = append(parts, reportThousands(float64(m.MemoryMiB))+" MiB memory")
	}
	if m.Kernel != "" {
		parts = append(parts, "kernel "+m.Kernel)
	}
	if m.GoVersion != "" {
		parts = append(parts, m.GoVersion)
	}
	fmt.Fprintf(b, "# Tollway benchmark\n\n")
	fmt.Fprintf(b, "Measured %s on %s.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04:05 UTC"), strings.Join(parts, ", "))
	fmt.Fprintf(b, "Command:\n\n```\n%s\n```\n\n", r.Command)
}

// writeFailures makes failures impossible to miss: a run with failed
// requests measured something other than what the tables claim.
func writeFailures(b *strings.Builder, r *Report) {
	failedRuns, failedRequests := 0, int64(0)
	for i := range r.Runs {
		if r.Runs[i].Failed() {
			failedRuns++
			for _, n := range r.Runs[i].Failures {
				failedRequests += n
			}
		}
	}
	if failedRuns == 0 {
		return
	}
	fmt.Fprintf(b, "> **⚠️ WARNING: FAILURES. %d of %d runs had failed requests (%s in all); "+
		"their figures are not valid and no target counts as met with them.**\n>\n",
		failedRuns, len(r.Runs), reportThousands(float64(failedRequests)))
	for i := range r.Runs {
		run := &r.Runs[i]
		if !run.Failed() {
			continue
		}
		labels := make([]string, 0, len(run.Failures))
		for label := range run.Failures {
			labels = append(labels, label)
		}
		sort.Strings(labels)
		counts := make([]string, 0, len(labels))
		for _, label := range labels {
			counts = append(counts, fmt.Sprintf("%s × %d", label, run.Failures[label]))
		}
		fmt.Fprintf(b, "> - %s / %s, %s, repetition %d: %s\n", run.Scenario, run.Target,
			scenarioLoadText(run.Scenario, run.Load), run.Repetition, strings.Join(counts, ", "))
	}
	b.WriteString("\n")
}

func writeSummaryTable(b *strings.Builder, summaries []Summary) {
	b.WriteString("## Results\n\nMedians of interleaved repetitions; latency per request.\n\n")
	b.WriteString("| Scenario | Target | Load | Repetitions | Throughput (ops/s) | p50 (ms) | p99 (ms) | p99.9 (ms) | Server CPU (µs/op) | Server RSS (MiB) | Peak RSS (MiB) | Failures |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i := range summaries {
		s := &summaries[i]
		failures := "0"
		if s.Failures > 0 {
			failures = "⚠️ **" + reportThousands(float64(s.Failures)) + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			markdownCell(string(s.Scenario)), markdownCell(targetLabel(s)), scenarioLoadText(s.Scenario, s.Load),
			s.Repetitions, reportThousands(s.Throughput), reportMillis(s.Latency.P50),
			reportMillis(s.Latency.P99), reportMillis(s.Latency.P999),
			strconv.FormatFloat(s.ServerCPUPerOperation, 'f', 1, 64),
			reportMiB(s.ServerRSSEnd), reportMiB(s.ServerRSSPeak), failures)
	}
	b.WriteString("\nServer RSS is the server's resident memory at the end of the window, peak RSS its " +
		"highest over the window (VmRSS, VmHWM of /proc/PID/status, summed over the server's " +
		"processes; embedded-charge: the bench's own process); — when unknown.\n\n")
}

// writeOverTimeTable shows, for each summary whose window is long enough
// (Summary.Drift), the throughput of each minute, the last minute over the
// second, and the server's memory at the start and the end of the window.
func writeOverTimeTable(b *strings.Builder, summaries []Summary) {
	header := false
	for i := range summaries {
		s := &summaries[i]
		perMinute, ratio, valid := s.Drift()
		if perMinute == nil {
			continue
		}
		if !header {
			header = true
			b.WriteString("## Over time\n\nRuns of " + driftWindowMin.String() + " or more: the mean " +
				"throughput of each whole minute of the window (the median repetition's), the last " +
				"minute over the second (the first warms caches), and the server's resident memory " +
				"at the start and the end of the window.\n\n")
			b.WriteString("| Scenario | Target | Load | Throughput per minute (ops/s) | Last / second minute | RSS at start (MiB) | RSS at end (MiB) | Peak RSS (MiB) |\n")
			b.WriteString("|---|---|---|---|--:|--:|--:|--:|\n")
		}
		minutes := make([]string, len(perMinute))
		for i, n := range perMinute {
			minutes[i] = reportThousands(n)
		}
		drift := "n/a"
		if valid {
			drift = strconv.FormatFloat(ratio, 'f', 2, 64) + "x"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			markdownCell(string(s.Scenario)), markdownCell(targetLabel(s)), scenarioLoadText(s.Scenario, s.Load),
			strings.Join(minutes, " · "), drift,
			reportMiB(s.ServerRSSStart), reportMiB(s.ServerRSSEnd), reportMiB(s.ServerRSSPeak))
	}
	if header {
		b.WriteString("\n")
	}
}

// reportMiB renders bytes in MiB, with one decimal; — for 0, unknown.
func reportMiB(bytes int64) string {
	if bytes <= 0 {
		return "—"
	}
	return strconv.FormatFloat(float64(bytes)/(1<<20), 'f', 1, 64)
}

func writeRatioTable(b *strings.Builder, ratios []Ratio) {
	if len(ratios) == 0 {
		return
	}
	b.WriteString("## Against the targets\n\nTollway compared with the other targets under the same load in this run.\n\n")
	b.WriteString("| Scenario | Load | Measure | Value | Target | Met |\n")
	b.WriteString("|---|---|---|--:|---|:-:|\n")
	for _, ratio := range ratios {
		met := "—"
		switch {
		case ratio.Goal != "" && ratio.Met:
			met = "✅"
		case ratio.Goal != "":
			met = "❌"
		}
		goal := ratio.Goal
		if goal == "" {
			goal = "—"
		}
		load := Load{Connections: ratio.Connections, Rate: ratio.Rate}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", markdownCell(string(ratio.Scenario)),
			scenarioLoadText(ratio.Scenario, load), markdownCell(ratio.Measure), ratio.Text, goal, met)
	}
	b.WriteString("\n")
}

func writePlotLinks(b *strings.Builder, plots []string) {
	if len(plots) == 0 {
		return
	}
	b.WriteString("## Plots\n\n")
	for _, plot := range plots {
		name := strings.TrimSuffix(path.Base(plot), path.Ext(plot))
		fmt.Fprintf(b, "![%s](%s)\n\n", name, plot)
	}
}

// targetLabel is a summary's target, marked when it is not durable per
// operation.
func targetLabel(s *Summary) string {
	if s.Durable {
		return s.Target
	}
	return s.Target + " " + reportNotDurable
}

// scenarioLoadText is reportLoadText in the scenario's words: the workers
// of embedded-charge are callers of the engine, not connections.
func scenarioLoadText(scenario Scenario, load Load) string {
	text := reportLoadText(load)
	if scenario == ScenarioEmbeddedCharge {
		text = strings.Replace(text, " connections", " callers", 1)
	}
	return text
}

func reportLoadText(load Load) string {
	text := strconv.Itoa(load.Connections) + " connections"
	if load.Rate > 0 {
		text += ", open loop " + reportThousands(load.Rate) + " req/s"
	}
	return text
}

// reportMillis renders microseconds as milliseconds with two decimals.
func reportMillis(micros float64) string {
	return strconv.FormatFloat(micros/1000, 'f', 2, 64)
}

// reportThousands renders v rounded to an integer with thousands
// separators: 1234567.8 is "1,234,568".
func reportThousands(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	digits := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v <= -0.5 {
		b.WriteByte('-')
	}
	for i, digit := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(digit)
	}
	return b.String()
}

// markdownCell escapes the one character that breaks a table cell.
func markdownCell(text string) string {
	return strings.ReplaceAll(text, "|", `\|`)
}
