// Package importfile reads the files `wazapin import` sends: NDJSON as it is, or CSV with a header
// row, each record turned into one NDJSON line of the POST /v1/contacts schema.
package importfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Line is one NDJSON line with the line of the file it came from.
type Line struct {
	FileLine int
	JSON     []byte
}

// Reader yields the lines of a file.
type Reader interface {
	Next() (Line, error) // io.EOF at the end
}

// columns that map to contact fields; every other CSV column becomes a custom field.
var columns = map[string]bool{"phone_number": true, "name": true, "email": true, "external_source": true, "external_id": true}

// Open reads NDJSON when name ends in .ndjson or .jsonl, CSV otherwise.
func Open(name string, r io.Reader) (Reader, error) {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".ndjson") || strings.HasSuffix(lower, ".jsonl") {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		return &ndjson{sc: sc}, nil
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read the CSV header: %w", err)
	}
	for i, h := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	return &csvReader{r: cr, header: header}, nil
}

type ndjson struct {
	sc *bufio.Scanner
	no int
}

func (n *ndjson) Next() (Line, error) {
	for n.sc.Scan() {
		n.no++
		if b := bytes.TrimSpace(n.sc.Bytes()); len(b) > 0 {
			return Line{FileLine: n.no, JSON: bytes.Clone(b)}, nil
		}
	}
	if err := n.sc.Err(); err != nil {
		return Line{}, fmt.Errorf("line %d: %w", n.no+1, err)
	}
	return Line{}, io.EOF
}

type csvReader struct {
	r      *csv.Reader
	header []string
}

func (c *csvReader) Next() (Line, error) {
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return Line{}, io.EOF
		}
		line, _ := c.r.FieldPos(0)
		if err != nil {
			return Line{}, err
		}
		obj := map[string]any{}
		custom := map[string]string{}
		for i, v := range rec {
			if i >= len(c.header) || c.header[i] == "" || strings.TrimSpace(v) == "" {
				continue
			}
			if columns[c.header[i]] {
				obj[c.header[i]] = v
			} else {
				custom[c.header[i]] = v
			}
		}
		if len(obj) == 0 && len(custom) == 0 {
			continue // a blank record
		}
		if len(custom) > 0 {
			obj["custom_fields"] = custom
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return Line{}, err
		}
		return Line{FileLine: line, JSON: b}, nil
	}
}
