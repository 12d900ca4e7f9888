package identity

// SlowNormalizePhone is NormalizePhone without the E.164 fast path, for tests that compare them.
func SlowNormalizePhone(raw, region string) (string, error) {
	return normalizePhone(raw, region, false)
}
