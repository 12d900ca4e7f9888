package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/replica"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/testdb"
)

// replicaEnv is a server that reads from the standby `make test` starts, reached through a
// proxy the test can cut, as a replica that stops is seen from the server.
type replicaEnv struct {
	*env
	proxy   *tcpProxy
	standby *pgx.Conn // the standby itself, to pause and resume its replay
}

func newReplicaEnv(t *testing.T, opts replica.Options) *replicaEnv {
	t.Helper()
	r := &replicaEnv{}
	r.env = newEnvWith(t, func(s *servertest.Setup) {
		u, err := url.Parse(testdb.Replica(t, s.DatabaseURL))
		if err != nil {
			t.Fatal(err)
		}
		r.proxy = startProxy(t, u.Host)
		u.Host = r.proxy.addr
		s.ReplicaURLs, s.Replica = []string{u.String()}, opts
	})
	ctx := context.Background()
	standby, err := pgx.Connect(ctx, os.Getenv(testdb.ReplicaEnv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = standby.Exec(ctx, "SELECT pg_wal_replay_resume()")
		standby.Close(ctx)
	})
	r.standby = standby
	r.eventually("the replica is up", func() bool { return r.metric(`wazapin_replica_up{replica="replica0"}`) == 1 })
	return r
}

// reads is how many requests read at target for reason so far.
func (e *env) reads(target, reason string) float64 {
	return e.metric(fmt.Sprintf(`wazapin_db_reads_total{reason=%q,target=%q}`, reason, target))
}

// metric is the value of one series of the server's metrics, 0 when absent.
func (e *env) metric(series string) float64 {
	e.t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(e.metricsText())
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) eventually(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("not within 15s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *replicaEnv) pauseReplay() {
	r.t.Helper()
	if _, err := r.standby.Exec(context.Background(), "SELECT pg_wal_replay_pause()"); err != nil {
		r.t.Fatal(err)
	}
}

func (r *replicaEnv) resumeReplay() {
	r.t.Helper()
	if _, err := r.standby.Exec(context.Background(), "SELECT pg_wal_replay_resume()"); err != nil {
		r.t.Fatal(err)
	}
}

var readLabels = regexp.MustCompile(`reason="(\w+)",target="(\w+)"`)

// served sends one request and says where it was read: the target whose count of reads grew.
func (r *replicaEnv) served(method, path string, body []byte, header ...string) (answer, string) {
	r.t.Helper()
	before := r.metricsText()
	a, err := r.roundTrip(r.url, method, path, body, header...)
	if err != nil {
		r.t.Fatal(err)
	}
	after := r.metricsText()
	var where []string
	for _, line := range regexp.MustCompile(`(?m)^wazapin_db_reads_total\{.*\} \S+$`).FindAllString(after, -1) {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(before) {
			m := readLabels.FindStringSubmatch(line)
			where = append(where, m[2]+"/"+m[1])
		}
	}
	if len(where) != 1 {
		r.t.Fatalf("%s %s: want one read counted, got %v", method, path, where)
	}
	return a, where[0]
}

func TestReadsOnReplicas(t *testing.T) {
	r := newReplicaEnv(t, replica.Options{MaxLag: time.Second})
	ctx := context.Background()
	phone := "+6281200000001"
	created := r.create(`{"phone_number":"` + phone + `","name":"Before"}`)

	t.Run("a write's answer carries its consistency token", func(t *testing.T) {
		a, err := r.roundTrip(r.url, "POST", "/v1/contacts", []byte(`{"phone_number":"+6281200000002"}`))
		if err != nil || a.status != http.StatusCreated {
			t.Fatalf("create: %v %d %s", err, a.status, a.body)
		}
		if _, err := replica.ParseLSN(a.header.Get("Wazapin-Consistency")); err != nil {
			t.Fatalf("Wazapin-Consistency %q: %v", a.header.Get("Wazapin-Consistency"), err)
		}
		refused, err := r.roundTrip(r.url, "POST", "/v1/contacts", []byte(`{}`))
		if err != nil || refused.status != http.StatusUnprocessableEntity || refused.header.Get("Wazapin-Consistency") != "" {
			t.Fatalf("a refused write: %v %d, token %q", err, refused.status, refused.header.Get("Wazapin-Consistency"))
		}
	})

	t.Run("a read without a token goes to a current replica", func(t *testing.T) {
		r.eventually("the contact is on the replica and read there", func() bool {
			a, where := r.served("GET", "/v1/contacts/"+created, nil)
			return a.status == http.StatusOK && where == "replica0/current"
		})
	})

	t.Run("a token that is not one is 400 naming the header", func(t *testing.T) {
		status, body := r.do("GET", "/v1/contacts/"+created, nil, "Wazapin-Consistency", "soon")
		if status != http.StatusBadRequest || !regexp.MustCompile(`"field":"Wazapin-Consistency"`).Match(body) {
			t.Fatalf("%d %s", status, body)
		}
	})

	t.Run("reads with the token see a write while replay is paused", func(t *testing.T) {
		r.pauseReplay()
		defer r.resumeReplay()
		a, err := r.roundTrip(r.url, "POST", "/v1/contacts", []byte(`{"phone_number":"+6281200000003","email":"new@example.com","name":"While paused"}`))
		if err != nil || a.status != http.StatusCreated {
			t.Fatalf("create: %v %d %s", err, a.status, a.body)
		}
		var c struct{ Data api.Contact }
		if err := json.Unmarshal(a.body, &c); err != nil {
			t.Fatal(err)
		}
		token := a.header.Get("Wazapin-Consistency")
		id := c.Data.Id
		reads := []struct {
			name, method, path, body, shows string
		}{
			{"get", "GET", "/v1/contacts/" + id, "", id},
			{"get by phone", "GET", "/v1/contacts/phone/+6281200000003", "", id},
			{"list", "GET", "/v1/contacts", "", id},
			{"search", "GET", "/v1/contacts?q=new%40example.com", "", id},
			{"identities", "GET", "/v1/contacts/" + id + "/identities", "", "new@example.com"},
			{"resolve", "POST", "/v1/contacts/resolve", `{"identifiers":[{"type":"email","value":"new@example.com"}]}`, id},
			{"reachability", "POST", "/v1/contacts/reachability", `{"channel":"email","identifiers":[{"type":"email","value":"new@example.com"}]}`, id},
			{"event feed", "GET", "/v1/events", "", id},
		}
		for _, read := range reads {
			t.Run(read.name, func(t *testing.T) {
				var body []byte
				if read.body != "" {
					body = []byte(read.body)
				}
				got, where := r.served(read.method, read.path, body, "Wazapin-Consistency", token)
				if got.status != http.StatusOK || !regexp.MustCompile(regexp.QuoteMeta(read.shows)).Match(got.body) {
					t.Fatalf("%d %s", got.status, got.body)
				}
				if where != "primary/token" {
					t.Fatalf("read at %s; the replica has not replayed the write", where)
				}
			})
		}

		t.Run("the Go client passes the token on by itself", func(t *testing.T) {
			made, err := r.c.CreateContactWithResponse(ctx, nil, api.CreateContactJSONRequestBody{PhoneNumber: ptr("+6281200000004")})
			if err != nil || made.JSON201 == nil {
				t.Fatalf("create: %v %s", err, made.Body)
			}
			got, err := r.c.GetContactWithResponse(ctx, made.JSON201.Data.Id, nil)
			if err != nil || got.JSON200 == nil {
				t.Fatalf("the client's own write is not read back: %v %d %s", err, got.StatusCode(), got.Body)
			}
		})

		t.Run("without a token a read goes to the replica until it lags past the bound", func(t *testing.T) {
			stale, where := r.served("GET", "/v1/contacts/"+id, nil)
			switch {
			case where == "replica0/current" && stale.status != http.StatusNotFound:
				t.Fatalf("the paused replica answered %d %s", stale.status, stale.body)
			case where != "replica0/current" && where != "primary/lag":
				t.Fatalf("read at %s", where)
			}
			r.eventually("the replica lags past WAZAPIN_MAX_REPLICA_LAG and reads go to the primary", func() bool {
				a, where := r.served("GET", "/v1/contacts/"+id, nil)
				return where == "primary/lag" && a.status == http.StatusOK
			})
			if lag := r.metric(`wazapin_replica_lag_seconds{replica="replica0"}`); lag < 1 {
				t.Fatalf("replica lag %gs, want over the 1s bound", lag)
			}
		})

		r.resumeReplay()
		r.eventually("reads with the token go to the replica once it has replayed", func() bool {
			got, where := r.served("GET", "/v1/contacts/"+id, nil, "Wazapin-Consistency", token)
			return where == "replica0/token" && got.status == http.StatusOK
		})
	})

	t.Run("a replica read never shows another workspace's data", func(t *testing.T) {
		other, _ := r.workspace("Other", "ID")
		r.eventually("the other workspace's key is on the replica", func() bool {
			_, where := r.served("GET", "/v1/contacts", nil, "X-Api-Key", other.APIKey)
			return where == "replica0/current"
		})
		for _, read := range []struct {
			method, path, body string
			status             int
		}{
			{"GET", "/v1/contacts/" + created, "", http.StatusNotFound},
			{"GET", "/v1/contacts/phone/" + phone, "", http.StatusNotFound},
			{"GET", "/v1/contacts", "", http.StatusOK},
			{"GET", "/v1/contacts?q=Before", "", http.StatusOK},
			{"GET", "/v1/events", "", http.StatusOK},
			{"POST", "/v1/contacts/resolve", `{"identifiers":[{"type":"phone","value":"` + phone + `"}]}`, http.StatusNotFound},
		} {
			var body []byte
			if read.body != "" {
				body = []byte(read.body)
			}
			got, where := r.served(read.method, read.path, body, "X-Api-Key", other.APIKey)
			if !strings.HasPrefix(where, "replica0/") { // the feed reads at the primary's position: token
				t.Fatalf("%s %s read at %s", read.method, read.path, where)
			}
			// A 404 names the id it was asked for; only an answer with data could leak.
			if got.status != read.status || got.status == http.StatusOK && regexp.MustCompile(regexp.QuoteMeta(created)).Match(got.body) {
				t.Fatalf("%s %s as another workspace: %d %s", read.method, read.path, got.status, got.body)
			}
		}
	})

	t.Run("a replica that stops sends reads to the primary with no failed request", func(t *testing.T) {
		stop := make(chan struct{})
		var sent, failed atomic.Int64
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				header := []string{}
				if i%2 == 1 {
					header = []string{"Wazapin-Consistency", "0/1"}
				}
				for {
					select {
					case <-stop:
						return
					default:
					}
					a, err := r.roundTrip(r.url, "GET", "/v1/contacts/"+created, nil, header...)
					sent.Add(1)
					if err != nil || a.status != http.StatusOK {
						failed.Add(1)
						t.Errorf("read while the replica stops: %v %d %s", err, a.status, a.body)
					}
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		r.proxy.stop()
		r.eventually("the replica is seen down", func() bool { return r.metric(`wazapin_replica_up{replica="replica0"}`) == 0 })
		primary := r.reads("primary", "down") + r.reads("primary", "failed")
		time.Sleep(300 * time.Millisecond)
		if r.reads("primary", "down")+r.reads("primary", "failed") <= primary {
			t.Errorf("no read went to the primary while the replica was down")
		}
		r.proxy.start()
		r.eventually("the replica is up again and serves reads", func() bool {
			return r.metric(`wazapin_replica_up{replica="replica0"}`) == 1
		})
		served := r.reads("replica0", "current") + r.reads("replica0", "token")
		r.eventually("reads return to the replica", func() bool {
			return r.reads("replica0", "current")+r.reads("replica0", "token") > served
		})
		close(stop)
		wg.Wait()
		t.Logf("%d reads while the replica stopped and started, %d failed", sent.Load(), failed.Load())
	})
}

// create makes a contact and answers its id.
func (r *replicaEnv) create(body string) string {
	r.t.Helper()
	a, err := r.roundTrip(r.url, "POST", "/v1/contacts", []byte(body))
	if err != nil || a.status != http.StatusCreated {
		r.t.Fatalf("create: %v %d %s", err, a.status, a.body)
	}
	var c struct{ Data api.Contact }
	if err := json.Unmarshal(a.body, &c); err != nil {
		r.t.Fatal(err)
	}
	return c.Data.Id
}

// tcpProxy forwards connections to a server until stopped, and can start again on its address:
// to the server behind it, a replica that stopped and came back.
type tcpProxy struct {
	t      *testing.T
	addr   string
	to     string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	closed bool
}

func startProxy(t *testing.T, to string) *tcpProxy {
	p := &tcpProxy{t: t, to: to, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln, p.closed = ln, false
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the listener and cuts every connection.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// start listens again on the proxy's address.
func (p *tcpProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestEveryOperationReadsOrGivesTokens pins the spec's split of the operations that need a key:
// a read declares the Wazapin-Consistency parameter (and may be served by a replica), so it
// must need nothing but read permissions; every other operation may write, and each of its
// successes declares the Wazapin-Consistency header the server then gives it.
func TestEveryOperationReadsOrGivesTokens(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			perms, _ := op.Extensions["x-permissions"].([]any)
			if len(perms) == 0 {
				continue // public: health and readiness
			}
			reads := op.Parameters.GetByInAndName("header", "Wazapin-Consistency") != nil
			for _, p := range perms {
				if reads && !strings.HasSuffix(p.(string), ":read") {
					t.Errorf("%s reads from replicas but needs %s", op.OperationID, p)
				}
			}
			for code, res := range op.Responses.Map() {
				if code[0] != '2' {
					continue
				}
				_, gives := res.Value.Headers["Wazapin-Consistency"]
				switch {
				case reads && gives:
					t.Errorf("%s reads, yet its %s declares a consistency token", op.OperationID, code)
				case !reads && !gives:
					t.Errorf("%s writes (it does not declare the Wazapin-Consistency parameter), and its %s does not declare the token", op.OperationID, code)
				}
			}
		}
	}
}
