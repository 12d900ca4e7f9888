package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// setting is one environment variable the program reads. This table is the one source of what
// `wazapin serve --help` prints and of README's table, which a test keeps equal to it.
type setting struct {
	name, def, meaning string
}

var settings = []setting{
	{"DATABASE_URL", "required", "PostgreSQL URL (`pool_max_conns=N` sets the pool size); `make run` and `make test` start a private PostgreSQL when it is unset"},
	{"WAZAPIN_READ_DATABASE_URLS", "none: every read on the primary", "streaming replicas of `DATABASE_URL` that serve reads, as PostgreSQL URLs separated by spaces; writes, and reads that must see a write their client made, stay on or fall back to the primary (see Read replicas)"},
	{"WAZAPIN_MAX_REPLICA_LAG", "`1s`", "how far behind the primary a replica may be to serve a read that brings no consistency token (up to 1h)"},
	{"WAZAPIN_REPLICA_WAIT", "`50ms`", "how long a read with a consistency token waits for a replica to replay past it before it reads the primary (up to 5s)"},
	{"WAZAPIN_ADDR", "`127.0.0.1:8080`", "listen address of the API"},
	{"WAZAPIN_METRICS_ADDR", "off (`make run`: `127.0.0.1:9464`)", "listen address of `GET /metrics` (Prometheus), a listener of its own"},
	{"WAZAPIN_LOG_FORMAT", "`text`", "`json` or `text`: one access line per request and every failure with its cause, on stderr"},
	{"WAZAPIN_LOG_LEVEL", "`info`", "`debug`, `info`, `warn` or `error`; above `info` the access lines are left out"},
	{"WAZAPIN_DB_TIMEOUT", "`5s`", "how long a request's work may take once its body is in, connecting to the database included, before it answers 503 with Retry-After (at most 30s; an import may take 60s)"},
	{"WAZAPIN_SHUTDOWN_GRACE", "`5s`", "after SIGTERM or SIGINT, how long readiness answers 503 while requests are still served, so load balancers stop sending (a second signal cuts it short)"},
	{"WAZAPIN_SHUTDOWN_TIMEOUT", "`30s`", "after the grace, how long requests in flight may take to finish before the server exits anyway"},
	{"WAZAPIN_ENCRYPTION_KEY", "none: channels and webhook endpoints refused", "32 bytes in base64 or hex that seal channel credentials and webhook signing secrets (`make run` makes `.data/encryption.key`)"},
	{"WAZAPIN_PROVIDER_TIMEOUT", "`5s`", "bound on one channel lookup's provider calls (at most 30s)"},
	{"WAZAPIN_BLOCK_PRIVATE_ADDRESSES", "`false`", "`true` refuses channel providers and webhook endpoints on loopback, private or link-local addresses (its former name `WAZAPIN_PROVIDER_BLOCK_PRIVATE` is still read, with a warning)"},
	{"WAZAPIN_WEBHOOK_WORKERS", "`10`", "webhook deliveries this process makes at once; `0` leaves them to `wazapin worker` processes (up to 1000)"},
	{"WAZAPIN_EVENT_RETENTION", "`30d`", "how long events (the feed) and webhook deliveries are kept, e.g. `30d` or `72h` (1h to 3650d); a periodic job deletes older ones in batches"},
	{"WAZAPIN_RATE_LIMIT", "`100/s burst 200`", "each API key's token bucket, unless the key has its own `rate_limit`: `<requests a second>/s burst <requests at once>`, e.g. `50/s burst 100` or `0.5/s burst 5`, or `off`; per server process (see Rate limits)"},
	{"WAZAPIN_AUTH_FAILURE_LIMIT", "`10/s burst 20`", "failed authentications allowed per client address (its TCP peer; an IPv6 /64), written like `WAZAPIN_RATE_LIMIT`, or `off`; past it the address is answered 429 whatever key it sends"},
	{"WAZAPIN_IDEMPOTENCY_TTL", "`24h`", "how long the answer to a POST sent with an `Idempotency-Key` is kept and replayed to repeats of it, e.g. `24h` or `7d` (1m to 30d); the periodic job of `WAZAPIN_EVENT_RETENTION` deletes expired ones"},
	{"WAZAPIN_PPROF_ADDR", "off", "serve net/http/pprof on this address, e.g. `127.0.0.1:6060`"},
	{"GOGC, GOMEMLIMIT", "`200`, `120MiB`", "Go's collector settings; the server uses these values when neither is set"},
	{"WAZAPIN_URL, WAZAPIN_API_KEY", "`http://127.0.0.1:8080`, none", "server and key of `wazapin import`"},
	{"WAZAPIN_DEFAULT_REGION", "`ID`", "default region of the Dev workspace `make run` creates on its first run"},
}

// printSettings writes the table for a terminal.
func printSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, s := range settings {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.name, plain(s.def), plain(s.meaning))
	}
	_ = tw.Flush()
}

// settingsMarkdown is the table as README holds it.
func settingsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	for _, s := range settings {
		names := strings.Split(s.name, ", ")
		for i := range names {
			names[i] = "`" + names[i] + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.Join(names, ", "), s.def, s.meaning)
	}
	return b.String()
}

// plain drops Markdown's code quotes.
func plain(s string) string { return strings.ReplaceAll(s, "`", "") }
