package contact

import (
	"strconv"
	"strings"
)

// maxNumberLen bounds how long a number in custom_fields may be written, digits and exponent
// together. Within it and a float64's range, every number fits PostgreSQL's numeric (jsonb's
// number), which refuses more than 16383 digits after the point; beyond it, a client reading
// the number back as a double would not see the digits anyway.
const maxNumberLen = 1000

// storableNumber tells whether the JSON number n can be stored and read back: written in at
// most maxNumberLen characters with an exponent of at most four digits, inside a float64's range,
// and not so close to zero that a float64 reads it as zero (1e-400 is not 0).
func storableNumber(n string) bool {
	if len(n) > maxNumberLen {
		return false
	}
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(n), "e")
	if hasExp && len(strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")) > 4 {
		return false // 0e-99999 is zero, yet PostgreSQL cannot hold its scale
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return false
	}
	return f != 0 || strings.Trim(mantissa, "-+0.") == ""
}
