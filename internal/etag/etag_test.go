package etag

import "testing"

func TestMatches(t *testing.T) {
	tag := Of([]byte(`{"id":"cnt_1"}`))
	if tag == Of([]byte(`{"id":"cnt_2"}`)) || len(tag) != 24 {
		t.Fatalf("tag %s", tag)
	}
	for _, tc := range []struct {
		header string
		strong bool
		want   bool
	}{
		{tag, true, true},
		{"*", true, true},
		{`"other", ` + tag, true, true},
		{`"other"`, true, false},
		{"W/" + tag, true, false},
		{"W/" + tag, false, true},
		{"", true, false},
		{tag[1 : len(tag)-1], true, false}, // unquoted
	} {
		if got := Matches(tc.header, tag, tc.strong); got != tc.want {
			t.Errorf("Matches(%q, strong %v) = %v, want %v", tc.header, tc.strong, got, tc.want)
		}
	}
}
