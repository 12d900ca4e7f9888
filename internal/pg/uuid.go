package pg

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerUUID makes pgx send and read github.com/google/uuid values in PostgreSQL's 16-byte
// binary form. Left alone, pgx goes through uuid.UUID's driver.Valuer and sql.Scanner, which
// format every id as text and parse it back (an allocation and a parse per id per row): pgx
// tries sql.Scanner before any scan wrapper, so only the type's codec can take over.
func registerUUID(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
}

// uuidCodec is pgtype's UUID codec with direct plans for uuid.UUID.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return encodeUUID{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUID struct{}

func (encodeUUID) Encode(value any, buf []byte) ([]byte, error) {
	u := value.(uuid.UUID)
	return append(buf, u[:]...), nil
}

type scanUUID struct{}

// Scan makes NULL the zero uuid.
func (scanUUID) Scan(src []byte, target any) error {
	u := target.(*uuid.UUID)
	switch len(src) {
	case 0:
		if src == nil {
			*u = uuid.UUID{}
			return nil
		}
	case 16:
		copy(u[:], src)
		return nil
	}
	return fmt.Errorf("uuid: %d bytes in binary form, want 16", len(src))
}
