package reach_test

import (
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/reach"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name          string
		suppressed    bool
		consent       string
		optInRequired bool
		ok            bool
		why           string
	}{
		{"nothing on record", false, "", false, true, ""},
		{"suppressed beats an opt-in", true, reach.OptedIn, false, false, reach.Suppressed},
		{"opted out", false, reach.OptedOut, false, false, reach.OptOut},
		{"opted out where an opt-in is required", false, reach.OptedOut, true, false, reach.OptOut},
		{"no consent where one is required", false, "", true, false, reach.NoConsent},
		{"opted in where one is required", false, reach.OptedIn, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := reach.Verdict(tc.suppressed, tc.consent, tc.optInRequired)
			if ok != tc.ok || why != tc.why {
				t.Errorf("Verdict = %v %q, want %v %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}

func TestEffectivePicksWhatSpeaksForEachChannel(t *testing.T) {
	contact := reach.Subject{Type: reach.Contact, Value: "c1"}
	phone := reach.Subject{Type: "phone", Value: "+6281100000001"}
	rows := []reach.Suppression{
		// sms: an expired one and a lifted one; the latest changed speaks.
		{Channel: "sms", Subject: contact, Reason: "bounced", ExpiresAt: at(-time.Hour), UpdatedAt: now.Add(-3 * time.Hour)},
		{Channel: "sms", Subject: phone, Reason: "unsubscribed", LiftedAt: at(-time.Minute), UpdatedAt: now.Add(-time.Minute)},
		// whatsapp: a forever one beats one that ends, and is held by the phone too.
		{Channel: "whatsapp", Subject: contact, Reason: "manual", ExpiresAt: at(time.Hour), UpdatedAt: now},
		{Channel: "whatsapp", Subject: phone, Reason: "unsubscribed", UpdatedAt: now.Add(-time.Hour)},
	}
	got := reach.Effective(rows, now)
	if len(got) != 2 || got[0].Channel != "sms" || got[1].Channel != "whatsapp" {
		t.Fatalf("entries %+v", got)
	}
	if sms := got[0]; sms.Reason != "unsubscribed" || sms.Active(now) || len(sms.Identifiers) != 1 {
		t.Errorf("sms %+v", sms)
	}
	if wa := got[1]; wa.Reason != "unsubscribed" || !wa.Active(now) || len(wa.Identifiers) != 1 || wa.Identifiers[0] != phone {
		t.Errorf("whatsapp %+v", wa)
	}
}

func TestLatestConsentWinsAndOptOutWinsATie(t *testing.T) {
	rows := []reach.Consent{
		{Channel: "whatsapp", Status: reach.OptedIn, CapturedAt: now.Add(-time.Hour)},
		{Channel: "whatsapp", Status: reach.OptedOut, CapturedAt: now.Add(-2 * time.Hour)},
		{Channel: "email", Status: reach.OptedIn, CapturedAt: now},
		{Channel: "email", Status: reach.OptedOut, CapturedAt: now},
	}
	got := reach.Latest(rows)
	if len(got) != 2 || got[0].Channel != "email" || got[0].Status != reach.OptedOut || got[1].Status != reach.OptedIn {
		t.Errorf("latest %+v", got)
	}
}

func TestIdentityTypes(t *testing.T) {
	for channel, want := range map[string]int{"whatsapp": 2, "sms": 1, "voice": 1, "rcs": 1, "email": 1, "telegram": 0, "line": 0} {
		if got := len(reach.IdentityTypes(channel)); got != want {
			t.Errorf("%s: %d identity types, want %d", channel, got, want)
		}
	}
}
