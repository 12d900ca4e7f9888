package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
)

// benchImport imports cfg.ImportLines new contacts in one request and COPYs the same rows into
// the same indexed tables of another workspace, and reports both rates.
func benchImport(ctx context.Context, cfg config, srv *server, dbURL, key string) (row, error) {
	n := cfg.ImportLines
	var body bytes.Buffer
	for i := range n {
		fmt.Fprintf(&body, `{"phone_number":"+62815%08d","email":"imp%d@example.com","external_source":"crm","external_id":"imp_%d","name":"Imported %d"}`+"\n", i, i, i, i)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.url+"/v1/contacts/import", &body)
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	peak := srv.watchRSS(50 * time.Millisecond)
	t0 := time.Now()
	res, err := http.DefaultClient.Do(req)
	apiTime := time.Since(t0)
	rss := peak()
	if err != nil {
		return row{}, err
	}
	defer res.Body.Close()
	var out api.ImportResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		return row{}, fmt.Errorf("status %d: %v", res.StatusCode, err)
	}
	errors := n - out.Data.Created

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return row{}, err
	}
	defer conn.Close(ctx)
	ws := ids.New()
	if _, err := conn.Exec(ctx, "INSERT INTO workspaces (id, name, default_region) VALUES ($1, 'COPY baseline', 'ID')", ws); err != nil {
		return row{}, err
	}
	contacts := make([]dbq.CopyContactsParams, n)
	idents := make([]dbq.CopyIdentitiesParams, 0, 3*n)
	for i := range n {
		id := ids.New()
		name, phone, email, ext := fmt.Sprintf("Imported %d", i), fmt.Sprintf("+62815%08d", i), fmt.Sprintf("imp%d@example.com", i), fmt.Sprintf("imp_%d", i)
		key := identity.Fold(name)
		contacts[i] = dbq.CopyContactsParams{WorkspaceID: ws, ID: id, Name: &name, NameKey: &key, PhoneNumber: &phone, Email: &email,
			ExternalSource: ptr("crm"), ExternalID: &ext, CustomFields: []byte("{}")}
		idents = append(idents,
			dbq.CopyIdentitiesParams{WorkspaceID: ws, Type: identity.Phone, Value: phone, ContactID: id},
			dbq.CopyIdentitiesParams{WorkspaceID: ws, Type: identity.Email, Value: email, ContactID: id},
			dbq.CopyIdentitiesParams{WorkspaceID: ws, Type: identity.ExternalID, Source: "crm", Value: ext, ContactID: id})
	}
	t1 := time.Now()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if _, err := q.CopyContacts(ctx, contacts); err != nil {
			return err
		}
		_, err := q.CopyIdentities(ctx, idents)
		return err
	})
	copyTime := time.Since(t1)
	if err != nil {
		return row{}, err
	}
	return row{
		Scenario: "bulk_import", APIRPS: float64(n) / apiTime.Seconds(), PGTPS: float64(n) / copyTime.Seconds(),
		P50: float64(apiTime.Milliseconds()), P99: float64(apiTime.Milliseconds()), RSSMiB: rss, Errors: errors,
		Note: fmt.Sprintf("%d contacts in one request: %s; COPY of the same rows: %s", n, apiTime.Round(time.Millisecond), copyTime.Round(time.Millisecond)),
	}, nil
}

func ptr[T any](v T) *T { return &v }

// judge marks each row against the goals of the issue.
func judge(rows []row) {
	find := func(name string) *row {
		for i := range rows {
			if rows[i].Scenario == name {
				return &rows[i]
			}
		}
		return nil
	}
	upsert := find("upsert_new")
	first := find("list_first_page")
	for i := range rows {
		r := &rows[i]
		var goals []string
		met := r.Errors == 0 && r.RSSMiB <= 150
		min := map[string]float64{"get_by_id": 0.55, "resolve_phone": 0.50, "upsert_new": 0.65, "upsert_existing": 0.65,
			"list_first_page": 0.45, "list_deep_page": 0.45, "bulk_import": 0.40}[r.Scenario]
		if min > 0 {
			goals = append(goals, fmt.Sprintf("ratio ≥ %.2f", min))
			met = met && ratio(*r) >= min
		}
		if r.Scenario == "list_deep_page" && first != nil {
			goals = append(goals, fmt.Sprintf("p99 ≤ 1.5× first page (%.2f ms)", 1.5*first.P99))
			met = met && r.P99 <= 1.5*first.P99
		}
		if r.Scenario == "bulk_import" && upsert != nil {
			goals = append(goals, fmt.Sprintf("≥ 10× single upserts (%.0f/s): %.1f×", upsert.APIRPS, r.APIRPS/upsert.APIRPS))
			met = met && r.APIRPS >= 10*upsert.APIRPS
		}
		goals = append(goals, "no errors, RSS ≤ 150 MiB")
		r.Goal = strings.Join(goals, "; ")
		r.Met = map[bool]string{true: "yes", false: "NO"}[met]
	}
}

type report struct {
	table, markdown string
}

func render(cfg config, rows []row, dbURL string, seeded seedStats) report {
	pgVersion := "unknown"
	if conn, err := pgx.Connect(context.Background(), dbURL); err == nil {
		_ = conn.QueryRow(context.Background(), "SHOW server_version").Scan(&pgVersion)
		conn.Close(context.Background())
	}
	var t strings.Builder
	fmt.Fprintf(&t, "%-22s %10s %10s %6s %8s %8s %8s %6s %s\n", "scenario", "api_rps", "pg_tps", "ratio", "p50_ms", "p99_ms", "rss_mib", "errors", "goal met")
	for _, r := range rows {
		fmt.Fprintf(&t, "%-22s %10.0f %10.0f %6.2f %8.2f %8.2f %8.1f %6d %s\n", r.Scenario, r.APIRPS, r.PGTPS, ratio(r), r.P50, r.P99, r.RSSMiB, r.Errors, r.Met)
	}
	cpuRows := withCPU(rows)
	if len(cpuRows) > 0 {
		fmt.Fprintf(&t, "\n%-22s %8s %8s %8s %8s | %8s %8s %8s\n", "cpu_us_per_request", "server", "postgres", "loadgen", "total", "postgres", "pgbench", "total")
		for _, r := range cpuRows {
			a, b := r.APICPU, r.PGCPU
			fmt.Fprintf(&t, "%-22s %8.1f %8.1f %8.1f %8.1f | %8.1f %8.1f %8.1f\n", r.Scenario, a.Server, a.Postgres, a.Client, a.total(), b.Postgres, b.Client, b.total())
		}
	}
	var m strings.Builder
	fmt.Fprintf(&m, "# Benchmarks\n\n")
	fmt.Fprintf(&m, "Made by `make bench` on %s: %d contacts seeded, %d concurrent clients, %.0f s per scenario after a %s warm-up.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), cfg.Contacts, cfg.Concurrency, cfg.Seconds, cfg.Warmup)
	fmt.Fprintf(&m, "Machine: %d cores (%s/%s), PostgreSQL %s, %s. The API server, its load generator, PostgreSQL and pgbench share the machine.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, pgVersion, runtime.Version())
	var phases []string
	for _, ph := range seeded.Phases {
		phases = append(phases, fmt.Sprintf("%s %s", ph.Name, ph.Time.Round(100*time.Millisecond)))
	}
	fmt.Fprintf(&m, "Seeded in %s (%s); sizes below.\n\n", seeded.Total.Round(time.Second), strings.Join(phases, ", "))
	m.WriteString("Each scenario runs twice, side by side in one run: the API over HTTP, driven by a closed-loop load generator in its own process (bench/loadgen.go), and pgbench running, prepared, the SQL the server issues for that request, taken from db/queries by name with its parameters bound to the same random keys (bench/scenarios.go). The ratio (API requests per second over pgbench transactions per second) is the figure to compare; absolute numbers move with the machine. For bulk_import the columns are contacts per second: one import request of new contacts against COPY of the same rows into the same indexed tables, and p50/p99 hold the request's wall time.\n\n")
	m.WriteString("The server runs with `WAZAPIN_RATE_LIMIT=" + benchRateLimit + "`: rate limits on (each request draws from its key's bucket and carries RateLimit headers) at a limit no scenario reaches, so that their cost is in the figures.\n\n")
	m.WriteString("| scenario | API req/s | pgbench tps | ratio | API p50 ms | API p99 ms | server RSS MiB | errors | goal | met |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&m, "| %s | %s | %s | %.2f | %.2f | %.2f | %.1f | %d | %s | %s |\n", r.Scenario, rate(r.APIRPS), rate(r.PGTPS), ratio(r), r.P50, r.P99, r.RSSMiB, r.Errors, r.Goal, r.Met)
	}
	if len(cpuRows) > 0 {
		m.WriteString(cpuSection)
		for _, r := range cpuRows {
			a, b := r.APICPU, r.PGCPU
			fmt.Fprintf(&m, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |\n", r.Scenario, a.Server, a.Postgres, a.Client, a.total(), b.Postgres, b.Client, b.total(), ceiling(r))
		}
	}
	m.WriteString(sizesSection(seeded))
	m.WriteString("\nNotes:\n\n")
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(&m, "- %s: %s\n", r.Scenario, r.Note)
		}
	}
	m.WriteString("\nRerun: `make bench` (settings: BENCH_CONTACTS, BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_IMPORT).\n")
	return report{table: t.String(), markdown: m.String()}
}

// sizesSection is the tables and indexes the seed left, in MiB and per million contacts.
func sizesSection(st seedStats) string {
	sz := st.Sizes
	if len(sz.Tables) == 0 {
		return ""
	}
	perM := func(b int64) float64 { return float64(b) / (1 << 20) / (float64(sz.Contacts) / 1e6) }
	var b strings.Builder
	b.WriteString("\n## Sizes after seeding\n\n")
	b.WriteString("Right after the seed (indexes built once over the loaded rows, then VACUUM ANALYZE), before the scenarios add rows. ")
	b.WriteString("Heap is pg_table_size (the rows, TOAST, free space and visibility maps); indexes pg_indexes_size.\n\n")
	b.WriteString("| table | rows (estimated) | heap MiB | indexes MiB | total MiB | total MiB per million contacts |\n|---|---:|---:|---:|---:|---:|\n")
	var heap, idx, total int64
	for _, t := range sz.Tables {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f | %.1f |\n", t.Name, t.Rows, float64(t.Heap)/(1<<20), float64(t.Indexes)/(1<<20), float64(t.Total)/(1<<20), perM(t.Total))
		heap, idx, total = heap+t.Heap, idx+t.Indexes, total+t.Total
	}
	fmt.Fprintf(&b, "| all seeded tables | | %.1f | %.1f | %.1f | %.1f |\n", float64(heap)/(1<<20), float64(idx)/(1<<20), float64(total)/(1<<20), perM(total))
	b.WriteString("\n| index | MiB | MiB per million contacts |\n|---|---:|---:|\n")
	for _, i := range sz.Indexes {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f |\n", i.Name, float64(i.Bytes)/(1<<20), perM(i.Bytes))
	}
	fmt.Fprintf(&b, "\nThe database: %s (%.1f MiB per million contacts).", mib(sz.Database), perM(sz.Database))
	if sz.DataDir > 0 {
		fmt.Fprintf(&b, " The cluster's data directory, WAL included: %s after the seed, at most %s while seeding (sampled every 2 s).", mib(sz.DataDir), mib(st.PeakDisk))
	}
	b.WriteString("\n")
	return b.String()
}

// mib formats bytes in MiB, or GiB past ten of them.
func mib(b int64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// rate formats a rate: whole numbers, but two decimals below ten (a search that takes seconds).
func rate(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// withCPU is the rows whose CPU was measured on both sides (bulk_import's is not).
func withCPU(rows []row) []row {
	var out []row
	for _, r := range rows {
		if r.APICPU.total() > 0 && r.PGCPU.total() > 0 {
			out = append(out, r)
		}
	}
	return out
}

// ceiling is the ratio the scenario would reach if the server cost no CPU at all, with both
// sides using the whole machine: pgbench's CPU per transaction over what PostgreSQL and the load
// generator spend per API request.
func ceiling(r row) float64 {
	rest := r.APICPU.Postgres + r.APICPU.Client
	if rest <= 0 {
		return 0
	}
	return r.PGCPU.total() / rest
}

const cpuSection = `
## Where the CPU goes

CPU time per request (API side) and per transaction (pgbench side), in microseconds, read from
/proc for each process over the measured window: the server, every PostgreSQL process of the
cluster, and the client (the load generator or pgbench). Both sides keep the two cores busy, so
these times, not wall times, decide the ratio. The last column is the ratio the API would reach
if the server itself cost nothing: PostgreSQL and the client of the API side alone, against the
whole pgbench side.

| scenario | API: server | API: PostgreSQL | API: load generator | API: total | pgbench: PostgreSQL | pgbench: client | pgbench: total | ratio with a free server |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
`
