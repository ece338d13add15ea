package fullstory

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
)

const scimUserAttrPrefix = SCIMUserSchema + ":"

// splitComparison parses `attrPath op value`, where value is a JSON
// string, true, false or null. It is the only filter form the simulator
// understands; anything else (logical operators, grouping, presence) is
// an error.
func splitComparison(s string) (attr, op string, val any, err error) {
	bad := errors.New("want `attribute op value`")
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return "", "", nil, bad
	}
	attr = s[:i]
	rest := strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	j := strings.IndexFunc(rest, unicode.IsSpace)
	if j < 0 {
		return "", "", nil, bad
	}
	op = rest[:j]
	lit := strings.TrimSpace(rest[j:])
	dec := json.NewDecoder(strings.NewReader(lit))
	if err := dec.Decode(&val); err != nil {
		return "", "", nil, errors.New("the value must be a quoted string, true, false or null")
	}
	if strings.TrimSpace(lit[dec.InputOffset():]) != "" {
		return "", "", nil, errors.New("only one comparison is supported (no and/or/not)")
	}
	switch val.(type) {
	case string, bool, nil:
	default:
		return "", "", nil, errors.New("the value must be a quoted string, true, false or null")
	}
	return attr, op, val, nil
}

// stripUserURN removes the core User schema prefix from a fully qualified
// attribute path (case-insensitively).
func stripUserURN(p string) string {
	if len(p) > len(scimUserAttrPrefix) && strings.EqualFold(p[:len(scimUserAttrPrefix)], scimUserAttrPrefix) {
		return p[len(scimUserAttrPrefix):]
	}
	return p
}

// parseUserNameFilter accepts exactly `userName eq "value"` (attribute
// name and operator in any case, the attribute optionally qualified by
// the core User schema) and returns the value.
func parseUserNameFilter(f string) (string, error) {
	attr, op, val, err := splitComparison(f)
	if err != nil {
		return "", scimErrorf(http.StatusBadRequest, scimInvalidFilter, "unsupported filter %q: %v; the simulator supports only userName eq \"...\"", truncate(f, 128), err)
	}
	s, isString := val.(string)
	if !strings.EqualFold(stripUserURN(attr), "userName") || !strings.EqualFold(op, "eq") || !isString {
		return "", scimErrorf(http.StatusBadRequest, scimInvalidFilter, "unsupported filter %q: the simulator supports only userName eq \"...\"", truncate(f, 128))
	}
	return s, nil
}
