package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plots of a report, drawn with gonum.org/v1/plot as SVG. Its text is laid
// out with the Liberation fonts gonum embeds, so plotting needs no font
// installed and no network; the SVG names the font family and a viewer
// without it substitutes a similar one.

const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 4.5 * vg.Inch
)

// plotPercentiles are the latency plot's categories, left to right.
var plotPercentiles = []string{"p50", "p90", "p99", "p99.9", "max"}

// plotGroup is what one pair of plots shows side by side: every target of
// one scenario class (see scenarioClass) under one load.
type plotGroup struct {
	class     Scenario
	load      Load
	summaries []*Summary
}

// WritePlots writes, for each scenario class and load (connections and
// rate) of r, an SVG of throughput over time (one line per target, from
// the repetition with the median throughput) and an SVG of latency
// percentiles (medians, one line per target, log scale when every value is
// positive). The throughput plot is left out when no target recorded
// per-second figures. It creates dir if needed and returns the paths
// written relative to dir's parent, with forward slashes, e.g.
// "plots/http-charge-c64-throughput.svg" for dir "results/plots", so that
// a Markdown file written in dir's parent links them as returned.
func WritePlots(dir string, r *Report) ([]string, error) {
	absolute, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: plots: %w", err)
	}
	if err := os.MkdirAll(absolute, 0o755); err != nil {
		return nil, fmt.Errorf("bench: plots: %w", err)
	}
	var written []string
	for _, group := range plotGroups(Summarize(r)) {
		for _, kind := range []string{"throughput", "latency"} {
			var p *plot.Plot
			if kind == "throughput" {
				p, err = plotThroughput(group)
			} else {
				p, err = plotLatency(group)
			}
			if err != nil {
				return written, fmt.Errorf("bench: plot %s: %w", plotFileName(group, kind), err)
			}
			if p == nil {
				continue
			}
			name := plotFileName(group, kind)
			if err := p.Save(plotWidth, plotHeight, filepath.Join(absolute, name)); err != nil {
				return written, fmt.Errorf("bench: plot %s: %w", name, err)
			}
			written = append(written, filepath.Base(absolute)+"/"+name)
		}
	}
	return written, nil
}

// plotGroups gathers summaries by scenario class and load, in the order
// each group first appears.
func plotGroups(summaries []Summary) []*plotGroup {
	type key struct {
		class       Scenario
		connections int
		rate        float64
	}
	var groups []*plotGroup
	index := make(map[key]*plotGroup)
	for i := range summaries {
		s := &summaries[i]
		k := key{scenarioClass(s.Scenario), s.Load.Connections, s.Load.Rate}
		group, ok := index[k]
		if !ok {
			group = &plotGroup{class: k.class, load: s.Load}
			index[k] = group
			groups = append(groups, group)
		}
		group.summaries = append(group.summaries, s)
	}
	return groups
}

// plotThroughput returns nil when no summary of group has per-second
// figures.
func plotThroughput(group *plotGroup) (*plot.Plot, error) {
	p := plotNew(group, "throughput over time")
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "operations/s"
	lines := 0
	for i, s := range group.summaries {
		if len(s.PerSecond) == 0 {
			continue
		}
		points := make(plotter.XYs, len(s.PerSecond))
		for second, operations := range s.PerSecond {
			points[second] = plotter.XY{X: float64(second + 1), Y: operations}
		}
		line, err := plotter.NewLine(points)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(plotLabel(group, s), line)
		lines++
	}
	if lines == 0 {
		return nil, nil
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	p.Y.Max += (p.Y.Max - p.Y.Min) * plotLegendRoom(lines)
	return p, nil
}

// plotLatency draws the median percentiles in milliseconds; a log scale
// keeps a tail a hundred times the median readable, and needs every value
// positive.
func plotLatency(group *plotGroup) (*plot.Plot, error) {
	p := plotNew(group, "latency percentiles (medians)")
	p.NominalX(plotPercentiles...)
	p.Y.Label.Text = "latency (ms)"
	logScale := true
	for i, s := range group.summaries {
		l := s.Latency
		points := make(plotter.XYs, len(plotPercentiles))
		for j, micros := range []float64{l.P50, l.P90, l.P99, l.P999, l.Max} {
			points[j] = plotter.XY{X: float64(j), Y: micros / 1000}
			logScale = logScale && micros > 0
		}
		line, marks, err := plotter.NewLinePoints(points)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		marks.Color = plotutil.Color(i)
		marks.Shape = plotutil.Shape(i)
		p.Add(line, marks)
		p.Legend.Add(plotLabel(group, s), line, marks)
	}
	room := plotLegendRoom(len(group.summaries))
	if logScale {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Label.Text = "latency (ms, log scale)"
		p.Y.Max *= math.Pow(p.Y.Max/p.Y.Min, room)
	} else {
		p.Y.Min = math.Min(p.Y.Min, 0)
		p.Y.Max += (p.Y.Max - p.Y.Min) * room
	}
	return p, nil
}

// plotLegendRoom is the share of the data's range added above it so the
// legend, drawn inside the plot at the top, covers no line.
func plotLegendRoom(entries int) float64 {
	return 0.08 * float64(entries)
}

func plotNew(group *plotGroup, what string) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, %s: %s", group.class, reportLoadText(group.load), what)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// plotLabel names a summary's line: its target, with its scenario when
// that differs from the group's class and the target does not say it
// (a baseline labelled with a scenario of its own).
func plotLabel(group *plotGroup, s *Summary) string {
	label := targetLabel(s)
	if s.Scenario != group.class && s.Target != string(s.Scenario) {
		label += " (" + string(s.Scenario) + ")"
	}
	return label
}

// plotFileName is e.g. "http-charge-c64-throughput.svg", or
// "http-charge-c64-r50000-latency.svg" for an open loop.
func plotFileName(group *plotGroup, kind string) string {
	name := plotFileSafe(string(group.class)) + "-c" + strconv.Itoa(group.load.Connections)
	if group.load.Rate > 0 {
		name += "-r" + strconv.FormatFloat(group.load.Rate, 'f', -1, 64)
	}
	return name + "-" + kind + ".svg"
}

// plotFileSafe keeps a scenario name (read from a file, so anything) to
// letters, digits, '-' and '.'.
func plotFileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '-'
	}, name)
}
