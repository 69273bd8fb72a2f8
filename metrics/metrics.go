// Package metrics keeps one node's metrics in a Prometheus registry of its
// own (never the default one: a test runs three nodes in one process) and
// serves them in the Prometheus text format. It is the only package that
// knows Prometheus; the others count through small interfaces of their own,
// which *Metrics satisfies.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "classboard"

// Build describes the running binary (classboard_build_info).
type Build struct {
	Version, Commit, GoVersion string
}

// Metrics is one node's set of metrics.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	liveConns      *prometheus.GaugeVec
	liveQueued     prometheus.Counter
	liveDropped    prometheus.Counter
	storeOps       *prometheus.HistogramVec
	storeErrors    *prometheus.CounterVec
	securityEvents *prometheus.CounterVec
}

// New returns a node's metrics with the Go runtime and process collectors
// already registered.
func New(build Build, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: log,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern (a live connection counts its whole life).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		liveConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "live", Name: "connections",
			Help: "Open live connections, by transport (websocket or sse).",
		}, []string{"transport"}),
		liveQueued: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "live", Name: "updates_dispatched_total",
			Help: "Live messages queued to a connection.",
		}),
		liveDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "live", Name: "slow_readers_dropped_total",
			Help: "Live connections closed because their client did not keep up (it reconnects).",
		}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "store", Name: "operation_duration_seconds",
			Help:    "Time of one store operation on a bucket (retries included) or on the media store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8), // 0.5 ms .. 8 s
		}, []string{"bucket", "op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "operation_errors_total",
			Help: "Store operations that failed (not counting the store's own answers: not found, changed meanwhile).",
		}, []string{"bucket", "op"}),
		securityEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "security_events_total",
			Help: "Requests a limit or check refused or slowed down, and failed guesses (pairing, join codes), by rule.",
		}, []string{"rule"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "go_version": build.GoVersion},
	})
	info.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info,
		m.httpRequests, m.httpDuration,
		m.liveConns, m.liveQueued, m.liveDropped,
		m.storeOps, m.storeErrors,
		m.securityEvents,
	)
	return m
}

// Handler serves GET /metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector that fails (none should) costs its own series, not
		// the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slogPrinter{m.log},
		Registry:      m.reg,
	})
}

// slogPrinter lets promhttp log through slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("serve metrics", "err", fmt.Sprint(v...))
}

// ObserveRequest counts one answered HTTP request. route is the ServeMux
// pattern that matched ("" when none did), never the raw path, so that a
// caller cannot make up new series.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// LiveConnected counts an open live connection of a transport until the
// returned function is called.
func (m *Metrics) LiveConnected(transport string) (closed func()) {
	g := m.liveConns.WithLabelValues(transport)
	g.Inc()
	return g.Dec
}

// LiveQueued counts a live message queued to one connection.
func (m *Metrics) LiveQueued() { m.liveQueued.Inc() }

// LiveDropped counts a connection closed for being too slow.
func (m *Metrics) LiveDropped() { m.liveDropped.Inc() }

// ObserveStoreOp records one operation on a bucket and whether it failed.
func (m *Metrics) ObserveStoreOp(bucket, op string, d time.Duration, failed bool) {
	m.storeOps.WithLabelValues(bucket, op).Observe(d.Seconds())
	if failed {
		m.storeErrors.WithLabelValues(bucket, op).Inc()
	}
}

// SecurityEvent counts a refusal by a limit or check, a slowed-down login
// or a failed guess, by rule (a fixed name, never a subject).
func (m *Metrics) SecurityEvent(rule string) { m.securityEvents.WithLabelValues(rule).Inc() }

// Sources are read at every scrape: values that already live elsewhere
// and would only go stale if copied.
type Sources struct {
	// Ready is nil when the node can serve, else the reason it cannot
	// ("no quorum: ...": the text before the first colon is the reason's
	// label).
	Ready func() error
	// Mail returns this node's mail worker counters since start.
	Mail func() MailCounts
	// Outbox returns the messages waiting in the outbox and those set aside
	// as undeliverable (cluster-wide). An error leaves both series out.
	Outbox func(ctx context.Context) (queued, failed uint64, err error)
	// Usage returns how full this node's storage is. An error leaves its
	// series out.
	Usage func() (Usage, error)
	// ScrapeTimeout bounds Outbox (default 2 s).
	ScrapeTimeout time.Duration
}

// Usage is how full a node's storage is, in bytes. StoreUsed and
// StoreLimit are negative when unknown (an external NATS).
type Usage struct {
	StoreUsed, StoreLimit int64
	DiskFree, DiskSize    uint64
}

// MailCounts are a mail worker's counters.
type MailCounts struct {
	Delivered, Retried, Failed int64
}

// Watch registers collectors that read src at every scrape. Call it once.
func (m *Metrics) Watch(src Sources) {
	if src.ScrapeTimeout <= 0 {
		src.ScrapeTimeout = 2 * time.Second
	}
	m.reg.MustRegister(&sourceCollector{src: src})
}

var (
	readyDesc = prometheus.NewDesc(namespace+"_ready",
		"1 when this node can serve reads and writes, else 0.", nil, nil)
	readyReasonDesc = prometheus.NewDesc(namespace+"_ready_reason",
		"Always 1; the reason label says why the node is (not) ready: ready, starting, no_quorum, store_full, store_unavailable, ...", []string{"reason"}, nil)
	mailDeliveredDesc = prometheus.NewDesc(namespace+"_mail_delivered_total",
		"Mail this node's workers delivered.", nil, nil)
	mailRetriedDesc = prometheus.NewDesc(namespace+"_mail_retries_total",
		"Failed delivery attempts this node's workers handed back for a later try.", nil, nil)
	mailFailedDesc = prometheus.NewDesc(namespace+"_mail_failed_total",
		"Mail this node's workers gave up on and set aside as undeliverable.", nil, nil)
	outboxDesc = prometheus.NewDesc(namespace+"_mail_outbox_messages",
		"Mail waiting in the outbox (all nodes).", nil, nil)
	failedStoredDesc = prometheus.NewDesc(namespace+"_mail_failed_messages",
		"Undeliverable mail kept in the failed-mail stream (all nodes, kept 30 days).", nil, nil)
	storeUsedDesc = prometheus.NewDesc(namespace+"_store_used_bytes",
		"JetStream file storage this node uses (its replicas of every stream).", nil, nil)
	storeLimitDesc = prometheus.NewDesc(namespace+"_store_limit_bytes",
		"JetStream file storage limit of this node (--max-store).", nil, nil)
	diskFreeDesc = prometheus.NewDesc(namespace+"_data_disk_free_bytes",
		"Bytes free on the file system of the data directory.", nil, nil)
	diskSizeDesc = prometheus.NewDesc(namespace+"_data_disk_size_bytes",
		"Size of the file system of the data directory.", nil, nil)
)

// sourceCollector reads Sources at scrape time.
type sourceCollector struct{ src Sources }

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{readyDesc, readyReasonDesc, mailDeliveredDesc, mailRetriedDesc, mailFailedDesc,
		outboxDesc, failedStoredDesc, storeUsedDesc, storeLimitDesc, diskFreeDesc, diskSizeDesc} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Ready != nil {
		ready, reason := 1.0, "ready"
		if err := c.src.Ready(); err != nil {
			ready, reason = 0, ReasonLabel(err)
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready)
		ch <- prometheus.MustNewConstMetric(readyReasonDesc, prometheus.GaugeValue, 1, reason)
	}
	if c.src.Mail != nil {
		mc := c.src.Mail()
		ch <- prometheus.MustNewConstMetric(mailDeliveredDesc, prometheus.CounterValue, float64(mc.Delivered))
		ch <- prometheus.MustNewConstMetric(mailRetriedDesc, prometheus.CounterValue, float64(mc.Retried))
		ch <- prometheus.MustNewConstMetric(mailFailedDesc, prometheus.CounterValue, float64(mc.Failed))
	}
	if c.src.Usage != nil {
		if u, err := c.src.Usage(); err == nil {
			if u.StoreUsed >= 0 && u.StoreLimit >= 0 {
				ch <- prometheus.MustNewConstMetric(storeUsedDesc, prometheus.GaugeValue, float64(u.StoreUsed))
				ch <- prometheus.MustNewConstMetric(storeLimitDesc, prometheus.GaugeValue, float64(u.StoreLimit))
			}
			ch <- prometheus.MustNewConstMetric(diskFreeDesc, prometheus.GaugeValue, float64(u.DiskFree))
			ch <- prometheus.MustNewConstMetric(diskSizeDesc, prometheus.GaugeValue, float64(u.DiskSize))
		}
	}
	if c.src.Outbox != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.src.ScrapeTimeout)
		defer cancel()
		// An unready node cannot read the store: the series are left out,
		// and classboard_ready says why.
		if queued, failed, err := c.src.Outbox(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(queued))
			ch <- prometheus.MustNewConstMetric(failedStoredDesc, prometheus.GaugeValue, float64(failed))
		}
	}
}

// ReasonLabel turns a readiness error into a short label: the text before
// the first colon in snake case ("no quorum: probe write timed out" is
// no_quorum), so that the error's details cannot make up new series.
func ReasonLabel(err error) string {
	head, _, _ := strings.Cut(err.Error(), ":")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(head)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if s := strings.Trim(b.String(), "_"); s != "" {
		return s
	}
	return "unknown"
}
