package obs

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the server's Prometheus metrics in a registry of its own. Label values are
// method names, route templates, status codes, platforms and outcomes: never an id, a key, a
// phone number or a raw path, so the number of series stays bounded whatever the traffic.
type Metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	// inFlight is read by the in-flight gauge at a scrape and by InFlight at shutdown: one counter.
	inFlight atomic.Int64
	lookups  *prometheus.HistogramVec
	slots    *prometheus.HistogramVec
	imports  *prometheus.CounterVec
	pools    poolCollector
	reads    *prometheus.CounterVec
}

// durationBuckets are OpenTelemetry's advice for http.server.request.duration, with three finer
// buckets below 5 ms, where most of this API's answers fall.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// NewMetrics registers every metric, the Go runtime's and the process's among them.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		// The OpenTelemetry semantic-convention name and attributes, as its Prometheus exporter
		// writes them.
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_server_request_duration_seconds",
			Help:    "Duration of HTTP server requests.",
			Buckets: durationBuckets,
		}, []string{"http_request_method", "http_route", "http_response_status_code"}),
		lookups: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wazapin_channel_lookup_duration_seconds",
			Help:    "Duration of channel lookups at their provider, by platform and outcome (ok, unauthorized, timeout, unavailable, canceled).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"platform", "outcome"}),
		slots: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wazapin_channel_slot_wait_seconds",
			Help:    "Time channel lookups waited for places in their channel's provider bound, which every server process on the database shares, by outcome (taken; busy: every place stayed taken until the lookup's deadline; failed: the database; canceled).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
		imports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wazapin_import_lines_total",
			Help: "Lines of bulk imports, by outcome (created, updated, conflict, invalid).",
		}, []string{"outcome"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wazapin_db_reads_total",
			Help: "Requests that read, by where they read (primary, or a replica by name) and why (current, token; on the primary also lag, down, failed).",
		}, []string{"target", "reason"}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "http_server_active_requests",
		Help: "Number of active HTTP server requests.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	m.reg.MustRegister(m.duration, active, m.lookups, m.slots, m.imports, m.reads, &m.pools,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the Prometheus exposition of every metric.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// RequestStarted counts a request in flight until RequestEnded.
func (m *Metrics) RequestStarted() { m.inFlight.Add(1) }

// RequestEnded stops counting a request in flight.
func (m *Metrics) RequestEnded() { m.inFlight.Add(-1) }

// InFlight is the number of requests started and not yet ended.
func (m *Metrics) InFlight() int64 { return m.inFlight.Load() }

// RequestDone records a finished request's duration. route is the route template, status the
// status code answered.
func (m *Metrics) RequestDone(method, route string, status int, d time.Duration) {
	m.duration.WithLabelValues(method, route, statusText(status)).Observe(d.Seconds())
}

// statusText avoids formatting the common statuses anew on every request.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 204:
		return "204"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}

// DeclareLookups makes the lookup series of every platform and outcome exist at zero, so that a
// scrape shows the family, and a rate over it works, before the first lookup.
func (m *Metrics) DeclareLookups(platforms, outcomes []string) {
	for _, p := range platforms {
		for _, o := range outcomes {
			m.lookups.WithLabelValues(p, o)
		}
	}
}

// DeclareImportOutcomes makes the import line series of every outcome exist at zero.
func (m *Metrics) DeclareImportOutcomes(outcomes ...string) {
	for _, o := range outcomes {
		m.imports.WithLabelValues(o)
	}
}

// Lookup records one channel lookup at its provider.
func (m *Metrics) Lookup(platform, outcome string, d time.Duration) {
	m.lookups.WithLabelValues(platform, outcome).Observe(d.Seconds())
}

// DeclareSlotOutcomes makes the slot wait series of every outcome exist at zero.
func (m *Metrics) DeclareSlotOutcomes(outcomes ...string) {
	for _, o := range outcomes {
		m.slots.WithLabelValues(o)
	}
}

// SlotWait records how long a channel lookup waited for its places in the channel's provider
// bound, and how that ended.
func (m *Metrics) SlotWait(outcome string, d time.Duration) {
	m.slots.WithLabelValues(outcome).Observe(d.Seconds())
}

// ImportLines counts n lines of imports with outcome.
func (m *Metrics) ImportLines(outcome string, n int) {
	if n > 0 {
		m.imports.WithLabelValues(outcome).Add(float64(n))
	}
}

// AddPool exports a connection pool's statistics under pool=name.
func (m *Metrics) AddPool(name string, pool *pgxpool.Pool) {
	m.pools.mu.Lock()
	defer m.pools.mu.Unlock()
	m.pools.pools = append(m.pools.pools, namedPool{name, pool})
}

// poolCollector reads pgxpool's own counters at every scrape instead of keeping copies.
type poolCollector struct {
	mu    sync.Mutex
	pools []namedPool
}

type namedPool struct {
	name string
	pool *pgxpool.Pool
}

var poolDescs = struct {
	acquired, idle, total, max, constructing, acquires, emptyAcquires, canceledAcquires, waitSeconds *prometheus.Desc
}{
	acquired:         poolDesc("pgxpool_acquired_connections", "Connections in use by the server."),
	idle:             poolDesc("pgxpool_idle_connections", "Idle connections in the pool."),
	total:            poolDesc("pgxpool_total_connections", "Connections open or opening."),
	max:              poolDesc("pgxpool_max_connections", "Most connections the pool may open."),
	constructing:     poolDesc("pgxpool_constructing_connections", "Connections being opened."),
	acquires:         poolDesc("pgxpool_acquires_total", "Connections acquired from the pool."),
	emptyAcquires:    poolDesc("pgxpool_empty_acquires_total", "Acquires that had to wait for a connection, none being idle."),
	canceledAcquires: poolDesc("pgxpool_canceled_acquires_total", "Acquires given up because their request ended first."),
	waitSeconds:      poolDesc("pgxpool_acquire_wait_seconds_total", "Time spent acquiring connections."),
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"pool"}, nil)
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	d := poolDescs
	for _, desc := range []*prometheus.Desc{d.acquired, d.idle, d.total, d.max, d.constructing, d.acquires, d.emptyAcquires, d.canceledAcquires, d.waitSeconds} {
		ch <- desc
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pools := c.pools
	c.mu.Unlock()
	for _, p := range pools {
		collectPool(ch, p)
	}
}

func collectPool(ch chan<- prometheus.Metric, p namedPool) {
	s := p.pool.Stat()
	d := poolDescs
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, p.name)
	}
	counter := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, p.name)
	}
	gauge(d.acquired, float64(s.AcquiredConns()))
	gauge(d.idle, float64(s.IdleConns()))
	gauge(d.total, float64(s.TotalConns()))
	gauge(d.max, float64(s.MaxConns()))
	gauge(d.constructing, float64(s.ConstructingConns()))
	counter(d.acquires, float64(s.AcquireCount()))
	counter(d.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(d.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(d.waitSeconds, s.AcquireDuration().Seconds())
}

// DBRead counts a request that reads at target ("primary", or a replica's name) for reason.
func (m *Metrics) DBRead(target, reason string) {
	m.reads.WithLabelValues(target, reason).Inc()
}

// AddReplica exports a read replica: its pools, how far behind the primary it was when last
// seen, and whether it answered then.
func (m *Metrics) AddReplica(name string, main, planned *pgxpool.Pool, lagSeconds func() float64, up func() bool) {
	m.AddPool(name, main)
	m.AddPool(name+"-planned", planned)
	labels := prometheus.Labels{"replica": name}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wazapin_replica_lag_seconds", ConstLabels: labels,
			Help: "How far behind the primary a read replica was when last seen: the time since the primary first had WAL the replica had not replayed.",
		}, lagSeconds),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wazapin_replica_up", ConstLabels: labels,
			Help: "1 when a read replica answered when last asked, and serves reads; 0 while reads pass it over for the primary.",
		}, func() float64 {
			if up() {
				return 1
			}
			return 0
		}),
	)
}
