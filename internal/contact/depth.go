package contact

import "fmt"

// MaxCustomDepth is how many levels of arrays and objects a custom field's value may nest: deep
// enough for any record a CRM keeps, shallow enough that storing, merging and returning a value
// never walks thousands of levels.
const MaxCustomDepth = 16

// tooDeepMessage is how a custom field nesting past MaxCustomDepth is refused.
var tooDeepMessage = fmt.Sprintf("must not nest arrays and objects more than %d levels deep", MaxCustomDepth)

// tooDeep tells whether the JSON value v nests arrays and objects more than MaxCustomDepth levels
// deep; a scalar is level 0, {"a": 1} level 1. v is valid JSON, so brackets are only counted
// outside strings.
func tooDeep(v []byte) bool {
	depth := 0
	inString := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > MaxCustomDepth {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}
