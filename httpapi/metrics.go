package httpapi

import (
	"github.com/tollway/tollway/chain/relay"

	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine"
)

// authorizations recycles the messages key actors are asked with, each
// with the channel it is answered on: a key actor reads a message whole
// before it answers, so an answered message is free again.
var authorizations = sync.Pool{New: func() any { return &actors.Authorize{Reply: make(chan actors.Authorization, 1)} }}

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
		Name: "tollway_http_requests_total", Help: "HTTP requests by method, route and status (requests refused before routing: tollway_http_transport_refusals_total).",
	}, []string{"method", "route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tollway_http_request_duration_seconds", Help: "HTTP request latency by method and route, from routing to the written response.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100 µs to 3.3 s
	}, []string{"method", "route"})
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
		newStorageCollector(s.engine.StorageMetrics),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_log_position", Help: "The durable log position."},
			stats(func(v statsView) float64 { return float64(v.position) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_accounts", Help: "Ledger accounts."},
			stats(func(v statsView) float64 { return float64(v.accounts) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_account_actors", Help: "Account actors alive."},
			stats(func(v statsView) float64 { return float64(v.actors) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_sessions_open", Help: "Metered sessions open (REQUESTED, ASSIGNED or LIVE)."},
			stats(func(v statsView) float64 { return float64(v.sessions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_session_actors", Help: "Session actors alive."},
			stats(func(v statsView) float64 { return float64(v.sessionActors) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_key_actors", Help: "API key actors alive."},
			func() float64 { return float64(s.keyActors.Alive()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_idempotency_store_bytes", Help: "Memory of the stored Idempotency-Key responses."},
			func() float64 { return float64(s.idempotency.bytes()) }),
	)
	m.registry.MustRegister(transportCollectors(s.transport)...)
	if s.config.RelayerStats != nil {
		m.registry.MustRegister(relayerCollectors(s.config.RelayerStats)...)
	}
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return m
}

// route returns the observer of one route's requests, method's or, when
// method is "", any method's (the router's fallbacks: not found, method not
// allowed). A route's counters are looked up once per status and cached,
// off the label-hashing path; the fallbacks, not a hot path, look theirs up
// per request.
func (m *metrics) route(method, route string) func(ctx *fasthttp.RequestCtx, status int, elapsed time.Duration) {
	if method == "" {
		return func(ctx *fasthttp.RequestCtx, status int, elapsed time.Duration) {
			label := methodLabel(ctx.Method())
			m.latency.WithLabelValues(label, route).Observe(elapsed.Seconds())
			m.requests.WithLabelValues(label, route, strconv.Itoa(status)).Inc()
		}
	}
	latency := m.latency.WithLabelValues(method, route)
	var counters sync.Map // status -> prometheus.Counter
	return func(_ *fasthttp.RequestCtx, status int, elapsed time.Duration) {
		latency.Observe(elapsed.Seconds())
		counter, ok := counters.Load(status)
		if !ok {
			counter, _ = counters.LoadOrStore(status, m.requests.WithLabelValues(method, route, strconv.Itoa(status)))
		}
		counter.(prometheus.Counter).Inc()
	}
}

// methodLabel names a request's method for a label: HTTP's methods as they
// are, anything else "other", so that made-up methods cannot grow the
// metrics without bound.
func methodLabel(method []byte) string {
	switch string(method) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	}
	return "other"
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

// storageCollector exports the log's storage counters, read once per scrape
// (Pebble's metrics of both stores take their locks). Per charge, the
// written bytes over tollway_log_position's growth are what BENCHMARKS.md
// calls the bytes written per charge.
type storageCollector struct {
	read                                 func() engine.StorageMetrics
	wal, flushed, compacted              *prometheus.Desc
	flushes, compactions, l0, tableBytes *prometheus.Desc
}

func newStorageCollector(read func() engine.StorageMetrics) *storageCollector {
	return &storageCollector{
		read: read,
		wal: prometheus.NewDesc("tollway_storage_wal_bytes_written_total",
			"Bytes the log wrote to its write-ahead log (fsynced per group commit).", nil, nil),
		flushed: prometheus.NewDesc("tollway_storage_flushed_bytes_total",
			"Bytes of tables written by memtable flushes, records and index stores together.", nil, nil),
		compacted: prometheus.NewDesc("tollway_storage_compacted_bytes_total",
			"Bytes of tables written by compactions, records and index stores together.", nil, nil),
		flushes: prometheus.NewDesc("tollway_storage_flushes_total",
			"Memtable flushes completed.", nil, nil),
		compactions: prometheus.NewDesc("tollway_storage_compactions_total",
			"Compactions completed.", nil, nil),
		l0: prometheus.NewDesc("tollway_storage_l0_tables",
			"Tables in level 0 now; Pebble stalls writes when they pile up.", nil, nil),
		tableBytes: prometheus.NewDesc("tollway_storage_table_bytes",
			"Bytes of all tables now, every level of both stores.", nil, nil),
	}
}

func (c *storageCollector) Describe(descriptions chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.wal, c.flushed, c.compacted, c.flushes, c.compactions, c.l0, c.tableBytes} {
		descriptions <- d
	}
}

func (c *storageCollector) Collect(metrics chan<- prometheus.Metric) {
	m := c.read()
	counter := func(d *prometheus.Desc, v float64) {
		metrics <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		metrics <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.wal, float64(m.WALBytesWritten))
	counter(c.flushed, float64(m.FlushedBytes))
	counter(c.compacted, float64(m.CompactedBytes))
	counter(c.flushes, float64(m.Flushes))
	counter(c.compactions, float64(m.Compactions))
	gauge(c.l0, float64(m.L0Files))
	gauge(c.tableBytes, float64(m.TableBytes))
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
	sessions, sessionActors       int
	commitDuration, commitRecords engine.Histogram
}

func (s *Server) statsView() statsView {
	st := s.engine.Stats()
	return statsView{commits: st.Commits, entries: st.CommitsEntries, position: s.engine.Position(),
		accounts: st.Accounts, actors: st.Actors, sessions: st.Sessions, sessionActors: st.SessionActors,
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
	// refusals are the requests and connections the transport answers (or
	// closes) before any route sees them, so tollway_http_requests_total
	// does not count them: one series per reason.
	refusals := func(reason string, n *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tollway_http_transport_refusals_total",
			Help: "Connections and requests refused before routing, by reason: a connection over the server's or its address's limit " +
				"(too_many_connections_server, too_many_connections_address), a request that could not be read (malformed_request), " +
				"a body over its route's limit (body_too_large) or over the body budget (server_busy), a connection closed after " +
				"sending nothing within the read timeout (closed_unanswered).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(n.Load()) })
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
		refusals("too_many_connections_server", &t.rejected[rejectConnectionsMax]),
		refusals("too_many_connections_address", &t.rejected[rejectPerIPMax]),
		refusals("malformed_request", &t.refusals[refusalMalformed]),
		refusals("body_too_large", &t.refusals[refusalBodyTooLarge]),
		refusals("server_busy", &t.refusals[refusalBodyBudget]),
		refusals("closed_unanswered", &t.refusals[refusalUnanswered]),
		counter("tollway_http_accept_errors_total", "Failed accepts (such as out of file descriptors), each retried after a pause.",
			func() float64 { return float64(t.acceptErrors.Load()) }),
		gauge("tollway_http_body_budget_bytes_in_use", "Bytes of large request bodies reserved (being read or handled).",
			func() float64 { return float64(t.budget.inUse()) }),
		gauge("tollway_http_body_budget_bytes_max", "Most bytes of large request bodies at once (--body-budget-bytes).",
			func() float64 { return float64(t.budget.max) }),
	}
}

// relayerCollectors are the settlement relayer's metrics: its lag, its
// batches and their gas.
func relayerCollectors(stats func() relay.Stats) []prometheus.Collector {
	pick := func(f func(relay.Stats) float64) func() float64 { return func() float64 { return f(stats()) } }
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_relayer_lag_seconds",
			Help: "From the oldest debit of the latest confirmed batch to its confirmation."},
			pick(func(s relay.Stats) float64 { return s.LastLag.Seconds() })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_relayer_unfolded_positions",
			Help: "Log positions committed and not yet folded by the relayer."},
			func() float64 {
				s := stats()
				return float64(max(s.Committed, s.Folded) - s.Folded)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_relayer_batch_entries",
			Help: "Entries of the latest batch cut."},
			pick(func(s relay.Stats) float64 { return float64(s.LastBatchEntries) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_relayer_batches_in_flight",
			Help: "Batches PENDING or SUBMITTED."},
			pick(func(s relay.Stats) float64 { return float64(s.InFlight) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollway_relayer_pairs",
			Help: "(payer, payee) pairs the relayer tracks."},
			pick(func(s relay.Stats) float64 { return float64(s.Pairs) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_relayer_batches_total",
			Help: "Batches cut since the process started."},
			pick(func(s relay.Stats) float64 { return float64(s.Cut) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_relayer_entries_total",
			Help: "Entries of the batches cut since the process started."},
			pick(func(s relay.Stats) float64 { return float64(s.Entries) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_relayer_confirmed_total",
			Help: "Batches confirmed since the process started."},
			pick(func(s relay.Stats) float64 { return float64(s.Confirmed) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_relayer_failed_total",
			Help: "Batches the chain refused since the process started (their debits go to later batches)."},
			pick(func(s relay.Stats) float64 { return float64(s.Failed) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_relayer_replaced_total",
			Help: "Stuck transactions replaced with a higher fee."},
			pick(func(s relay.Stats) float64 { return float64(s.Replaced) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tollway_relayer_gas_used_total",
			Help: "Gas used by the confirmed batches since the process started."},
			pick(func(s relay.Stats) float64 { return float64(s.GasUsed) })),
	}
}
