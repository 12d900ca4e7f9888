package identity_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/identity"
)

func TestNormalizePhone(t *testing.T) {
	const want = "+6281234567890"
	for _, tc := range []struct {
		name, raw, region, want string
		err                     error
	}{
		{"e164", "+6281234567890", "ID", want, nil},
		{"spaced and dashed", "+62 812-3456-7890", "ID", want, nil},
		{"digits with country code", "6281234567890", "ID", want, nil},
		{"digits with country code in another region", "6281234567890", "US", want, nil},
		{"local number in the default region", "081234567890", "ID", want, nil},
		{"parentheses", "(0812) 3456 7890", "ID", want, nil},
		{"surrounding space", "  +6281234567890 ", "ID", want, nil},
		{"us number", "+1 202-555-0173", "ID", "+12025550173", nil},
		{"local number without region", "081234567890", "", "", identity.ErrBadPhone},
		{"empty", "  ", "ID", "", identity.ErrEmpty},
		{"letters", "not a phone", "ID", "", identity.ErrBadPhone},
		{"too short", "+62 12", "ID", "", identity.ErrBadPhone},
		{"too long", strings.Repeat("1", 65), "ID", "", identity.ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := identity.NormalizePhone(tc.raw, tc.region)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want %q, %v", tc.raw, tc.region, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		name, raw, display, key string
		err                     error
	}{
		{"plain", "ujang@example.com", "ujang@example.com", "ujang@example.com", nil},
		{"mixed case is kept and keyed lower", " Ujang@Example.COM ", "Ujang@Example.COM", "ujang@example.com", nil},
		{"plus address", "a+b@example.co.id", "a+b@example.co.id", "a+b@example.co.id", nil},
		{"empty", "", "", "", identity.ErrEmpty},
		{"no at", "ujang.example.com", "", "", identity.ErrBadEmail},
		{"display name", "Ujang <ujang@example.com>", "", "", identity.ErrBadEmail},
		{"no dot in domain", "ujang@localhost", "", "", identity.ErrBadEmail},
		{"two addresses", "a@example.com, b@example.com", "", "", identity.ErrBadEmail},
		{"too long", strings.Repeat("a", 250) + "@example.com", "", "", identity.ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			display, key, err := identity.NormalizeEmail(tc.raw)
			if !errors.Is(err, tc.err) || display != tc.display || key != tc.key {
				t.Fatalf("NormalizeEmail(%q) = %q, %q, %v", tc.raw, display, key, err)
			}
		})
	}
}

func TestNormalizeSource(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		err       error
	}{
		{"shopify", "shopify", nil},
		{" Shopify ", "shopify", nil},
		{"hub-spot.v2_x", "hub-spot.v2_x", nil},
		{"", "", identity.ErrEmpty},
		{"shop ify", "", identity.ErrBadSrc},
		{strings.Repeat("a", 65), "", identity.ErrBadSrc},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := identity.NormalizeSource(tc.raw)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("NormalizeSource(%q) = %q, %v", tc.raw, got, err)
			}
		})
	}
}

func TestNormalizeExternalID(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string
		err             error
	}{
		{"kept as written", " Cust_123 ", "Cust_123", nil},
		{"empty", " ", "", identity.ErrEmpty},
		{"control", "a\x00b", "", identity.ErrControl},
		{"too long", strings.Repeat("x", 256), "", identity.ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := identity.NormalizeExternalID(tc.raw)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("NormalizeExternalID(%q) = %q, %v", tc.raw, got, err)
			}
		})
	}
}

func TestWaIDKeys(t *testing.T) {
	keys, err := identity.WaIDKeys("6281234567890")
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.Key{{Type: identity.WaID, Value: "6281234567890"}, {Type: identity.Phone, Value: "+6281234567890"}}
	if len(keys) != 2 || keys[0] != want[0] || keys[1] != want[1] {
		t.Fatalf("WaIDKeys = %v; want %v", keys, want)
	}
	keys, err = identity.WaIDKeys("abc.def")
	if err != nil || len(keys) != 1 || keys[0].Type != identity.WaID {
		t.Fatalf("a non-digit wa_id matches only wa_id identities; got %v, %v", keys, err)
	}
}

func TestPhonePrefix(t *testing.T) {
	for _, tc := range []struct {
		q, want string
		ok      bool
	}{
		{"0812", "+62812", true},
		{"+62 812", "+62812", true},
		{"62812", "+62812", true},
		{"(0812) 34", "+6281234", true},
		{"ujang", "", false},
		{"+", "", false},
		{"81+2", "", false},
	} {
		t.Run(tc.q, func(t *testing.T) {
			got, ok := identity.PhonePrefix(tc.q, "ID")
			if ok != tc.ok || got != tc.want {
				t.Fatalf("PhonePrefix(%q) = %q, %v; want %q, %v", tc.q, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+6281234567890", "081234567890", "+62 812-3456-7890", "6281234567890", "", "++", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := identity.NormalizePhone(s, "ID")
		if err != nil {
			return
		}
		if got[0] != '+' {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", s, got)
		}
		again, err := identity.NormalizePhone(got, "ID")
		if err != nil || again != got {
			t.Fatalf("NormalizePhone is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ujang@example.com", "A@B.C", "<a@b.c>", "\"q\"@x.y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		display, key, err := identity.NormalizeEmail(s)
		if err != nil {
			return
		}
		if key != strings.ToLower(display) {
			t.Fatalf("key %q is not the lower-cased %q", key, display)
		}
		_, again, err := identity.NormalizeEmail(display)
		if err != nil || again != key {
			t.Fatalf("NormalizeEmail is not idempotent on %q", display)
		}
	})
}

func FuzzPhonePrefix(f *testing.F) {
	for _, s := range []string{"0812", "+62 812", "ujang", "(0)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := identity.PhonePrefix(s, "ID")
		if ok && (len(p) < 2 || p[0] != '+') {
			t.Fatalf("PhonePrefix(%q) = %q", s, p)
		}
	})
}

// FuzzCanonicalE164 checks the fast path for numbers already in E.164 against the full parser:
// for any input, NormalizePhone must answer what the parser alone would.
func FuzzCanonicalE164(f *testing.F) {
	for _, s := range []string{"+6281234567890", "+12025550173", "+390612345678", "+447911123456", "+1", "+999123", "+8613800138000", "+62812"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := identity.NormalizePhone(s, "ID")
		want, wantErr := identity.SlowNormalizePhone(s, "ID")
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("NormalizePhone(%q) = %q, %v; the parser says %q, %v", s, got, gotErr, want, wantErr)
		}
	})
}

func TestCanonicalE164AgreesWithTheParser(t *testing.T) {
	// Every country calling code, with national numbers of every length.
	for cc := 1; cc < 1000; cc++ {
		for _, national := range []string{"1", "21", "812345", "8123456789", "81234567890", "612345678", "7911123456", "201234567", "91234567"} {
			s := "+" + strconv.Itoa(cc) + national
			got, gotErr := identity.NormalizePhone(s, "ID")
			want, wantErr := identity.SlowNormalizePhone(s, "ID")
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("NormalizePhone(%q) = %q, %v; the parser says %q, %v", s, got, gotErr, want, wantErr)
			}
		}
	}
}
