package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/importfile"
)

// importFile streams a CSV or NDJSON file to a running server's import endpoint in chunks,
// showing progress, and prints a summary with the file line of every rejected record.
func (m *Main) importFile(ctx context.Context, args []string) error {
	fs := m.flags("import", "usage: wazapin import [--url U] [--key K] [--chunk N] FILE\n\nSends a CSV (with a header row) or NDJSON file to a running server's bulk import in chunks,\nwith a progress bar and a summary naming the file line of every rejected record.\n\n")
	url := fs.String("url", cmp.Or(m.Getenv("WAZAPIN_URL"), "http://127.0.0.1:8080"), "server URL (WAZAPIN_URL)")
	key := fs.String("key", m.Getenv("WAZAPIN_API_KEY"), "API key (WAZAPIN_API_KEY)")
	chunk := fs.Int("chunk", 10_000, "lines per request, at most 100000")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 1:
		return usagef("import takes one file, not %d arguments", fs.NArg())
	case *chunk < 1 || *chunk > 100_000:
		return usagef("import: --chunk must be from 1 to 100000, not %d", *chunk)
	}
	if *key == "" {
		return errors.New("no API key: pass --key or set WAZAPIN_API_KEY")
	}
	name := fs.Arg(0)
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	size := int64(0)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	counted := &countingReader{r: f}
	lines, err := importfile.Open(name, counted)
	if err != nil {
		return err
	}
	client, err := api.NewClientWithResponses(*url, api.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("X-Api-Key", *key)
		return nil
	}), api.WithHTTPClient(&http.Client{Timeout: 10 * time.Minute}))
	if err != nil {
		return err
	}

	var (
		sum      api.ImportResult
		body     bytes.Buffer
		fileLine []int // file line of each line in the current chunk
		start    = time.Now()
	)
	send := func() error {
		if len(fileLine) == 0 {
			return nil
		}
		res, err := client.ImportContactsWithBodyWithResponse(ctx, nil, "application/x-ndjson", bytes.NewReader(body.Bytes()))
		if err != nil {
			return err
		}
		if res.JSON200 == nil {
			return fmt.Errorf("the server answered %d: %s", res.StatusCode(), bytes.TrimSpace(res.Body))
		}
		r := res.JSON200.Data
		sum.Lines += r.Lines
		sum.Created += r.Created
		sum.Updated += r.Updated
		sum.Conflict += r.Conflict
		sum.Invalid += r.Invalid
		for _, rej := range r.Rejected {
			rej.Line = fileLine[rej.Line-1]
			sum.Rejected = append(sum.Rejected, rej)
		}
		body.Reset()
		fileLine = fileLine[:0]
		m.progress(counted.n, size, sum.Lines, start)
		return nil
	}
	for {
		l, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		body.Write(l.JSON)
		body.WriteByte('\n')
		fileLine = append(fileLine, l.FileLine)
		if len(fileLine) == *chunk {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	fmt.Fprintln(m.Stderr)
	fmt.Fprintf(m.Stdout, "%s: %d records in %s: %d created, %d updated, %d conflicts, %d invalid\n",
		name, sum.Lines, time.Since(start).Round(time.Millisecond), sum.Created, sum.Updated, sum.Conflict, sum.Invalid)
	for _, r := range sum.Rejected {
		fmt.Fprintf(m.Stdout, "  line %d: %s: %s\n", r.Line, r.Reason, r.Message)
	}
	return nil
}

// progress redraws one status line on stderr.
func (m *Main) progress(read, size int64, lines int, start time.Time) {
	rate := float64(lines) / max(time.Since(start).Seconds(), 0.001)
	if size > 0 {
		const width = 30
		done := int(float64(width) * float64(read) / float64(size))
		bar := bytes.Repeat([]byte("#"), min(done, width))
		bar = append(bar, bytes.Repeat([]byte("."), width-len(bar))...)
		fmt.Fprintf(m.Stderr, "\r[%s] %3.0f%%  %d records  %.0f/s", bar, 100*float64(read)/float64(size), lines, rate)
		return
	}
	fmt.Fprintf(m.Stderr, "\r%d records  %.0f/s", lines, rate)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
