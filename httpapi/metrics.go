package httpapi

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine"
)

// authorizationReplies recycles the channels key actors answer on.
var authorizationReplies = sync.Pool{New: func() any { return make(chan actors.Authorization, 1) }}

// metrics are the server's Prometheus metrics, in a registry of its own so
// several servers (tests) can live in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  fasthttp.RequestHandler
}

func newMetrics(s *Server) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollway_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tollway_http_request_duration_seconds", Help: "HTTP request latency by route, from routing to the written response.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100 µs to 3.3 s
	}, []string{"route"})
	stats := func(pick func(s statsView) float64) func() float64 {
		return func() float64 { return pick(s.statsView()) }
	}
	m.registry.MustRegister(
		m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_log_commits_total", Help: "Group commits of the log, one fsync each."},
			stats(func(v statsView) float64 { return float64(v.commits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_log_entries_total", Help: "Log entries and barriers carried by the group commits."},
			stats(func(v statsView) float64 { return float64(v.entries) })),
		newCommitHistograms(s.statsView),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_log_position", Help: "The durable log position."},
			stats(func(v statsView) float64 { return float64(v.position) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_accounts", Help: "Ledger accounts."},
			stats(func(v statsView) float64 { return float64(v.accounts) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_account_actors", Help: "Account actors alive."},
			stats(func(v statsView) float64 { return float64(v.actors) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_key_actors", Help: "API key actors alive."},
			func() float64 { return float64(s.keyActors.Alive()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_idempotency_store_bytes", Help: "Memory of the stored Idempotency-Key responses."},
			func() float64 { return float64(s.idempotency.bytes()) }),
	)
	m.registry.MustRegister(transportCollectors(s.transport)...)
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return m
}

// route returns the observer of one route's requests. Counters are looked
// up once per status and cached, off the label-hashing path.
func (m *metrics) route(route string) func(status int, elapsed time.Duration) {
	latency := m.latency.WithLabelValues(route)
	var counters sync.Map // status -> prometheus.Counter
	return func(status int, elapsed time.Duration) {
		latency.Observe(elapsed.Seconds())
		counter, ok := counters.Load(status)
		if !ok {
			counter, _ = counters.LoadOrStore(status, m.requests.WithLabelValues(route, strconv.Itoa(status)))
		}
		counter.(prometheus.Counter).Inc()
	}
}

// commitHistograms exports the log's group-commit histograms. The log keeps
// them itself, lock-free on its committer's path, so a prometheus.Histogram
// here would count everything twice: each scrape copies the log's snapshot
// into constant histograms instead.
type commitHistograms struct {
	view              func() statsView
	duration, records *prometheus.Desc
}

func newCommitHistograms(view func() statsView) *commitHistograms {
	return &commitHistograms{
		view: view,
		duration: prometheus.NewDesc("tollway_log_commit_duration_seconds",
			"Latency of the log's group commits, from the start of a group's Pebble commit to its fsync confirmed.", nil, nil),
		records: prometheus.NewDesc("tollway_log_commit_entries",
			"Log records per group commit (one Pebble batch, one fsync); barriers, which write nothing, are not counted.", nil, nil),
	}
}

func (c *commitHistograms) Describe(descriptions chan<- *prometheus.Desc) {
	descriptions <- c.duration
	descriptions <- c.records
}

func (c *commitHistograms) Collect(metrics chan<- prometheus.Metric) {
	v := c.view()
	metrics <- constHistogram(c.duration, v.commitDuration)
	metrics <- constHistogram(c.records, v.commitRecords)
}

func constHistogram(description *prometheus.Desc, histogram engine.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(histogram.UpperBounds))
	for i, bound := range histogram.UpperBounds {
		buckets[bound] = histogram.Cumulative[i]
	}
	return prometheus.MustNewConstHistogram(description, histogram.Count, histogram.Sum, buckets)
}

type statsView struct {
	commits, entries, position    uint64
	accounts, actors              int
	commitDuration, commitRecords engine.Histogram
}

func (s *Server) statsView() statsView {
	st := s.engine.Stats()
	return statsView{commits: st.Commits, entries: st.CommitsEntries, position: s.engine.Position(),
		accounts: st.Accounts, actors: st.Actors,
		commitDuration: st.CommitDurationSeconds, commitRecords: st.CommitRecords}
}

// transportCollectors export the transport's connection counts and limits.
func transportCollectors(t *transport) []prometheus.Collector {
	gauge := func(name, help string, value func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value)
	}
	counter := func(name, help string, value func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, value)
	}
	return []prometheus.Collector{
		gauge("tollway_http_connections_open", "HTTP connections open (admitted, not yet closed).",
			func() float64 { return float64(t.open.Load()) }),
		gauge("tollway_http_connections_max", "Most HTTP connections open at once (--max-conns).",
			func() float64 { return float64(t.connectionsMax) }),
		gauge("tollway_http_connections_per_ip_max", "Most HTTP connections open at once from one address (--max-conns-per-ip).",
			func() float64 { return float64(t.perIPMax) }),
		gauge("tollway_file_limit", "The process's file descriptor limit (soft RLIMIT_NOFILE) at start; 0 if unknown.",
			func() float64 { return float64(t.fileLimit) }),
		counter("tollway_http_connections_rejected_total", "HTTP connections refused at accept for the connection limit or the per-address limit.",
			func() float64 {
				return float64(t.rejected[rejectConnectionsMax].Load() + t.rejected[rejectPerIPMax].Load())
			}),
		counter("tollway_http_accept_errors_total", "Failed accepts (such as out of file descriptors), each retried after a pause.",
			func() float64 { return float64(t.acceptErrors.Load()) }),
		gauge("tollway_http_body_budget_bytes_in_use", "Bytes of large request bodies reserved (being read or handled).",
			func() float64 { return float64(t.budget.inUse()) }),
		gauge("tollway_http_body_budget_bytes_max", "Most bytes of large request bodies at once (--body-budget-bytes).",
			func() float64 { return float64(t.budget.max) }),
	}
}
