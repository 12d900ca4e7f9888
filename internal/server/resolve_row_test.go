package server

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
)

// TestResolvedContactCarriesEveryColumn pins the hand-written mapping from a resolve row to a
// contact: a column added to contacts reaches the row through c.* and must reach the contact too.
func TestResolvedContactCarriesEveryColumn(t *testing.T) {
	var row dbq.ResolveIdentifiersRow
	v := reflect.ValueOf(&row).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Interface().(type) {
		case *string:
			s := name
			f.Set(reflect.ValueOf(&s))
		case []byte:
			f.SetBytes([]byte(name))
		case time.Time:
			f.Set(reflect.ValueOf(time.Unix(int64(1_000_000*(i+1)), 0)))
		case int32:
			f.SetInt(int64(i + 1))
		case []uuid.UUID:
			f.Set(reflect.ValueOf([]uuid.UUID{{byte(i + 1)}}))
		default:
			if f.Kind() != reflect.Array {
				t.Fatalf("%s: a %s the test cannot fill; teach it", name, f.Type())
			}
			f.Index(0).Set(reflect.ValueOf(byte(i + 1)).Convert(f.Type().Elem()))
		}
	}
	got := reflect.ValueOf(resolvedContact(row))
	contactFields := map[string]bool{}
	for i := range got.NumField() {
		name := got.Type().Field(i).Name
		contactFields[name] = true
		want := v.FieldByName(name)
		if !want.IsValid() {
			t.Errorf("the resolve row has no column %s", name)
			continue
		}
		if !reflect.DeepEqual(got.Field(i).Interface(), want.Interface()) {
			t.Errorf("%s = %v, want %v", name, got.Field(i).Interface(), want.Interface())
		}
	}
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "Ord" && !contactFields[name] {
			t.Errorf("the resolve row's %s is not a contact column", name)
		}
	}
}
