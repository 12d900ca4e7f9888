package ids_test

import (
	"sort"
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/ids"
)

func TestFormatParseRoundTrip(t *testing.T) {
	for range 100 {
		id := ids.New()
		s := ids.Format(ids.Contact, id)
		got, ok := ids.Parse(ids.Contact, s)
		if !ok || got != id {
			t.Fatalf("Parse(%q) = %v, %v; want %v", s, got, ok, id)
		}
	}
}

func TestFormattedIDsSortByCreation(t *testing.T) {
	var texts []string
	for range 200 {
		texts = append(texts, ids.Format(ids.Contact, ids.New()))
	}
	if !sort.StringsAreSorted(texts) {
		t.Fatal("ids made one after another do not sort in creation order")
	}
}

func TestParseRejects(t *testing.T) {
	valid := ids.Format(ids.Contact, ids.New())
	for name, s := range map[string]string{
		"empty":          "",
		"wrong prefix":   "note" + valid[3:],
		"no prefix":      valid[4:],
		"short":          valid[:len(valid)-1],
		"long":           valid + "0",
		"lower case":     "cnt_" + "06bj3zkq4n7g1xg2r0m8w5t4cc",
		"bad alphabet":   "cnt_06BJ3ZKQ4N7G1XG2R0M8W5T4CU",
		"non canonical":  "cnt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		"integer":        "123",
		"uuid":           uuid.NewString(),
		"cnt_123 sample": "cnt_123",
	} {
		t.Run(name, func(t *testing.T) {
			if _, ok := ids.Parse(ids.Contact, s); ok {
				t.Fatalf("Parse(%q) accepted", s)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("cnt_06BJ3ZKQ4N7G1XG2R0M8W5T4CC")
	f.Add("cnt_")
	f.Add("cnt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ids.Parse(ids.Contact, s)
		if ok && ids.Format(ids.Contact, id) != s {
			t.Fatalf("Parse(%q) accepted a non-canonical spelling", s)
		}
	})
}
