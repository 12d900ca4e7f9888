package importfile_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/importfile"
)

func all(t *testing.T, r importfile.Reader) []importfile.Line {
	var out []importfile.Line
	for {
		l, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
}

func TestCSV(t *testing.T) {
	in := "\ufeffPhone_Number,name,email,tier,city\n" +
		"+6281234567890,Ujang,ujang@example.com,gold,\n" +
		",,,,\n" +
		"\"0812 9999\",\"Siti, A.\",,,Bandung\n"
	r, err := importfile.Open("contacts.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := all(t, r)
	want := []importfile.Line{
		{FileLine: 2, JSON: []byte(`{"custom_fields":{"tier":"gold"},"email":"ujang@example.com","name":"Ujang","phone_number":"+6281234567890"}`)},
		{FileLine: 4, JSON: []byte(`{"custom_fields":{"city":"Bandung"},"name":"Siti, A.","phone_number":"0812 9999"}`)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines: %+v", len(got), got)
	}
	for i := range want {
		if got[i].FileLine != want[i].FileLine || string(got[i].JSON) != string(want[i].JSON) {
			t.Errorf("line %d: %d %s", i, got[i].FileLine, got[i].JSON)
		}
	}
}

func TestNDJSON(t *testing.T) {
	r, err := importfile.Open("x.NDJSON", strings.NewReader("{\"a\":1}\n\n  {\"b\":2}  \n"))
	if err != nil {
		t.Fatal(err)
	}
	got := all(t, r)
	if len(got) != 2 || got[0].FileLine != 1 || got[1].FileLine != 3 || string(got[1].JSON) != `{"b":2}` {
		t.Errorf("%+v", got)
	}
}
