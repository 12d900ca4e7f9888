// Package reach holds the rules of who may be messaged: which identifiers reach a channel, which
// of the suppressions and consents kept against a contact and its identifiers speak for a
// channel, and the verdict for one identifier. No HTTP, no SQL.
package reach

import (
	"slices"
	"strings"
	"time"

	"github.com/wazapin/wazapin/internal/identity"
)

// Contact is the subject type of what is kept against a contact itself; its subject is the
// contact's id.
const Contact = "contact"

// SubjectTypes are the identity types anything is kept against: those that reach some channel.
var SubjectTypes = []string{identity.Email, identity.Phone, identity.WaID}

// IdentityTypes are the identity types that reach a channel: a suppression or consent recorded
// for a contact on that channel is kept against its identities of these types too, so that it
// outlives the contact. Channels no identity reaches keep it against the contact alone.
func IdentityTypes(channel string) []string {
	switch channel {
	case "whatsapp":
		return []string{identity.Phone, identity.WaID}
	case "sms", "voice", "rcs":
		return []string{identity.Phone}
	case "email":
		return []string{identity.Email}
	}
	return nil
}

// Subject is what a suppression or consent is kept against: a contact or an identifier.
type Subject struct {
	Type  string // Contact or an identity type
	Value string // the contact's id, or the identifier's stored value
}

// Suppression is one stored suppression.
type Suppression struct {
	Channel    string
	Subject    Subject
	Reason     string
	ExpiresAt  *time.Time
	LiftedAt   *time.Time
	LiftReason *string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Active tells whether the suppression forbids messaging at now.
func (s Suppression) Active(now time.Time) bool {
	return s.LiftedAt == nil && (s.ExpiresAt == nil || s.ExpiresAt.After(now))
}

// Entry is what a contact shows for one channel: the suppression that decides, and the
// identifiers that hold a suppression in the same state (active or not).
type Entry struct {
	Suppression
	Identifiers []Subject
}

// Effective picks, per channel, the suppression that decides among those kept against a contact
// and its identifiers: an active one (the longest lasting), else the latest changed. Entries come
// in channel order.
func Effective(rows []Suppression, now time.Time) []Entry {
	byChannel := map[string][]Suppression{}
	var channels []string
	for _, r := range rows {
		if _, ok := byChannel[r.Channel]; !ok {
			channels = append(channels, r.Channel)
		}
		byChannel[r.Channel] = append(byChannel[r.Channel], r)
	}
	slices.Sort(channels)
	out := make([]Entry, 0, len(channels))
	for _, ch := range channels {
		rs := byChannel[ch]
		best := slices.MaxFunc(rs, func(a, b Suppression) int { return decides(a, b, now) })
		e := Entry{Suppression: best}
		for _, r := range rs {
			if r.Subject.Type != Contact && r.Active(now) == best.Active(now) {
				e.Identifiers = append(e.Identifiers, r.Subject)
			}
		}
		out = append(out, e)
	}
	return out
}

// decides orders two suppressions of one channel by which should speak for it: active before
// inactive, then an active one by how long it lasts, an inactive one by how recently it changed.
func decides(a, b Suppression, now time.Time) int {
	aa, ba := a.Active(now), b.Active(now)
	switch {
	case aa != ba:
		if aa {
			return 1
		}
		return -1
	case aa:
		return cmpExpiry(a.ExpiresAt, b.ExpiresAt)
	}
	return a.UpdatedAt.Compare(b.UpdatedAt)
}

// cmpExpiry orders expiries, none (never) last.
func cmpExpiry(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// Consent is one stored consent.
type Consent struct {
	Channel    string
	Subject    Subject
	Status     string // opted_in or opted_out
	Source     *string
	CapturedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Latest picks, per channel, the consent captured last among those kept against a contact and its
// identifiers (an opt-out wins a tie). Entries come in channel order.
func Latest(rows []Consent) []Consent {
	best := map[string]Consent{}
	for _, r := range rows {
		cur, ok := best[r.Channel]
		if !ok || r.CapturedAt.After(cur.CapturedAt) || (r.CapturedAt.Equal(cur.CapturedAt) && r.Status == OptedOut) {
			best[r.Channel] = r
		}
	}
	out := make([]Consent, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Consent) int { return strings.Compare(a.Channel, b.Channel) })
	return out
}

// Consent statuses.
const (
	OptedIn  = "opted_in"
	OptedOut = "opted_out"
)

// Why an identifier may not be messaged.
const (
	Suppressed = "suppressed"
	OptOut     = "opted_out"
	NoConsent  = "no_consent"
)

// Verdict says whether an identifier may be messaged on a channel now, given whether one of its
// subjects holds an active suppression, its latest consent ("" for none), and whether the
// workspace asks an opt-in on the channel. why is empty when it may.
func Verdict(suppressed bool, consent string, optInRequired bool) (ok bool, why string) {
	switch {
	case suppressed:
		return false, Suppressed
	case consent == OptedOut:
		return false, OptOut
	case optInRequired && consent != OptedIn:
		return false, NoConsent
	}
	return true, ""
}
