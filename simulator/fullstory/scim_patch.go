package fullstory

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// patchBody is RFC 7644's PatchOp message.
type patchBody struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  *string         `json:"path"`
	Value json.RawMessage `json:"value"`
}

func (b *patchBody) validate() error {
	if !hasSchema(b.Schemas, SCIMPatchOpSchema) {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "schemas must contain %q", SCIMPatchOpSchema)
	}
	if len(b.Operations) == 0 {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "Operations must hold at least one operation")
	}
	if len(b.Operations) > maxPatchOps {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "%d operations; the limit is %d", len(b.Operations), maxPatchOps)
	}
	return nil
}

// attrPath is a parsed PATCH path (or a key of a valueless operation's
// value object).
type attrPath struct {
	attr   string       // canonical core attribute name
	sub    string       // canonical sub-attribute; "" for none
	filter *emailFilter // emails[...] only
}

// emailFilter is a value-selection filter on emails: `sub eq value`.
type emailFilter struct {
	sub string // "value", "type" or "primary"
	str string
	b   bool
}

func (f *emailFilter) match(e TeammateEmail) bool {
	switch f.sub {
	case "value":
		return strings.EqualFold(e.Value, f.str)
	case "type":
		return strings.EqualFold(e.Type, f.str)
	}
	return e.Primary == f.b
}

var (
	coreAttrs  = []string{"active", "displayName", "emails", "externalId", "id", "meta", "name", "schemas", "userName"}
	nameParts  = []string{"familyName", "formatted", "givenName"}
	emailParts = []string{"primary", "type", "value"}
)

// canonical returns the entry of names equal to s ignoring case, or "".
func canonical(s string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return n
		}
	}
	return ""
}

func invalidPathf(format string, args ...any) error {
	return scimErrorf(http.StatusBadRequest, scimInvalidPath, format, args...)
}

// parseAttrPath parses a path of the form attr, attr.sub or
// emails[sub eq value] optionally followed by .sub; the attribute may be
// qualified by the core User schema. known is false for attributes the
// simulator does not keep (other schemas, phoneNumbers, name.middleName,
// ...): a PATCH path naming one is invalidPath, a key of a valueless
// operation naming one is ignored. err is set for malformed paths.
func parseAttrPath(p string) (ap attrPath, known bool, err error) {
	orig := p
	p = stripUserURN(strings.TrimSpace(p))
	if len(p) >= 4 && strings.EqualFold(p[:4], "urn:") {
		return ap, false, nil
	}
	var filter string
	hasFilter := false
	if i := strings.IndexByte(p, '['); i >= 0 {
		j := strings.LastIndexByte(p, ']')
		if j < i {
			return ap, false, invalidPathf("malformed path %q: unbalanced [", truncate(orig, 128))
		}
		filter, hasFilter = p[i+1:j], true
		rest := p[j+1:]
		p = p[:i]
		if rest != "" {
			if rest[0] != '.' {
				return ap, false, invalidPathf("malformed path %q", truncate(orig, 128))
			}
			ap.sub = rest[1:]
		}
	} else if i := strings.IndexByte(p, '.'); i >= 0 {
		p, ap.sub = p[:i], p[i+1:]
	}
	ap.attr = canonical(p, coreAttrs)
	if ap.attr == "" {
		return ap, false, nil
	}
	if hasFilter && ap.attr != "emails" {
		return ap, false, invalidPathf("path %q: only emails takes a value filter", truncate(orig, 128))
	}
	switch ap.attr {
	case "name":
		if ap.sub != "" {
			if ap.sub = canonical(ap.sub, nameParts); ap.sub == "" {
				return ap, false, nil
			}
		}
	case "emails":
		if ap.sub != "" {
			if ap.sub = canonical(ap.sub, emailParts); ap.sub == "" {
				return ap, false, nil
			}
			if !hasFilter {
				return ap, false, invalidPathf("path %q: emails is multi-valued; select values with a filter such as emails[type eq \"work\"].%s", truncate(orig, 128), ap.sub)
			}
		}
		if hasFilter {
			f, err := parseEmailFilter(filter)
			if err != nil {
				return ap, false, err
			}
			ap.filter = f
		}
	default:
		if ap.sub != "" {
			return ap, false, invalidPathf("path %q: %s has no sub-attributes", truncate(orig, 128), ap.attr)
		}
	}
	return ap, true, nil
}

func parseEmailFilter(f string) (*emailFilter, error) {
	attr, op, val, err := splitComparison(f)
	if err != nil {
		return nil, scimErrorf(http.StatusBadRequest, scimInvalidFilter, "unsupported value filter %q: %v", truncate(f, 128), err)
	}
	ef := &emailFilter{sub: canonical(attr, emailParts)}
	ok := strings.EqualFold(op, "eq") && ef.sub != ""
	switch v := val.(type) {
	case string:
		ef.str = v
		ok = ok && ef.sub != "primary"
	case bool:
		ef.b = v
		ok = ok && ef.sub == "primary"
	default:
		ok = false
	}
	if !ok {
		return nil, scimErrorf(http.StatusBadRequest, scimInvalidFilter, "unsupported value filter %q: want value, type or primary eq a value", truncate(f, 128))
	}
	return ef, nil
}

// applyPatch applies ops to a copy of old, all or nothing.
func applyPatch(old *Teammate, ops []patchOp) (*Teammate, error) {
	t := old.clone()
	for i, op := range ops {
		kind := strings.ToLower(strings.TrimSpace(op.Op))
		if kind != "add" && kind != "replace" && kind != "remove" {
			return nil, scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "Operations[%d]: op %q is not add, replace or remove", i, truncate(op.Op, 32))
		}
		path := ""
		if op.Path != nil {
			path = strings.TrimSpace(*op.Path)
		}
		if path == "" {
			if err := applyValueless(&t, kind, op.Value); err != nil {
				return nil, prefixOp(i, err)
			}
			continue
		}
		ap, known, err := parseAttrPath(path)
		if err != nil {
			return nil, prefixOp(i, err)
		}
		if !known {
			return nil, prefixOp(i, invalidPathf("path %q names an attribute the simulator does not support", truncate(path, 128)))
		}
		if kind != "remove" && len(op.Value) == 0 {
			return nil, prefixOp(i, scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "%s needs a value", kind))
		}
		if err := applyOp(&t, kind, ap, op.Value, false); err != nil {
			return nil, prefixOp(i, err)
		}
	}
	normalizeTeammate(&t)
	if err := validateTeammate(&t); err != nil {
		return nil, err
	}
	return &t, nil
}

func prefixOp(i int, err error) error {
	se := asSCIMError(err)
	c := *se
	c.Detail = "Operations[" + strconv.Itoa(i) + "]: " + se.Detail
	return &c
}

// applyValueless applies an add or replace without a path: the value is
// an object whose keys are attribute paths (Okta and Azure AD send
// {"active":false} or {"name.givenName":"x"} this way). Keys naming
// attributes the simulator does not keep are ignored.
func applyValueless(t *Teammate, kind string, raw json.RawMessage) error {
	if kind == "remove" {
		return scimErrorf(http.StatusBadRequest, scimNoTarget, "remove needs a path")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "an operation without a path needs an object value")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ap, known, err := parseAttrPath(k)
		if err != nil {
			return err
		}
		if !known {
			continue
		}
		if err := applyOp(t, kind, ap, obj[k], true); err != nil {
			return err
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || strings.TrimSpace(string(raw)) == "null"
}

func isObject(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s[0] == '{'
}

func stringValue(name string, raw json.RawMessage) (string, error) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", scimErrorf(http.StatusBadRequest, scimInvalidValue, "%s must be a string, not %s", name, truncate(string(raw), 32))
	}
	return s, nil
}

// applyOp applies one add, replace or remove at ap. valueless is true for
// keys of a valueless operation, where read-only attributes are ignored.
func applyOp(t *Teammate, kind string, ap attrPath, raw json.RawMessage, valueless bool) error {
	unset := kind == "remove" || isNull(raw)
	switch ap.attr {
	case "schemas", "meta":
		if valueless {
			return nil
		}
		return scimErrorf(http.StatusBadRequest, scimMutability, "%s is read-only", ap.attr)
	case "id":
		var id string
		if valueless && json.Unmarshal(raw, &id) == nil && id == t.ID {
			return nil
		}
		return scimErrorf(http.StatusBadRequest, scimMutability, "id is read-only")
	case "active":
		if unset {
			return scimErrorf(http.StatusBadRequest, scimMutability, "active cannot be removed")
		}
		a, err := parseBoolish("active", raw)
		if err != nil {
			return err
		}
		t.Active = a
	case "userName":
		if unset {
			return scimErrorf(http.StatusBadRequest, scimMutability, "userName is required and cannot be removed")
		}
		s, err := stringValue("userName", raw)
		if err != nil {
			return err
		}
		t.UserName = s
	case "displayName", "externalId":
		s := ""
		if !unset {
			var err error
			if s, err = stringValue(ap.attr, raw); err != nil {
				return err
			}
		}
		if ap.attr == "displayName" {
			t.DisplayName = s
		} else {
			t.ExternalID = s
		}
	case "name":
		return applyName(t, ap, raw, unset)
	case "emails":
		return applyEmails(t, kind, ap, raw)
	}
	return nil
}

func namePart(n *TeammateName, part string) *string {
	switch part {
	case "givenName":
		return &n.GivenName
	case "familyName":
		return &n.FamilyName
	}
	return &n.Formatted
}

// applyName sets or clears name or one of its parts. A name object value
// sets the parts it holds and leaves the others (RFC 7644 3.5.2.3).
func applyName(t *Teammate, ap attrPath, raw json.RawMessage, unset bool) error {
	if ap.sub == "" && unset {
		t.Name = nil
		return nil
	}
	if t.Name == nil {
		t.Name = &TeammateName{}
	}
	if ap.sub != "" {
		s := ""
		if !unset {
			var err error
			if s, err = stringValue("name."+ap.sub, raw); err != nil {
				return err
			}
		}
		*namePart(t.Name, ap.sub) = s
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "name must be an object")
	}
	for k, v := range obj {
		part := canonical(k, nameParts)
		if part == "" {
			continue
		}
		s := ""
		if !isNull(v) {
			var err error
			if s, err = stringValue("name."+part, v); err != nil {
				return err
			}
		}
		*namePart(t.Name, part) = s
	}
	return nil
}

// emailBody is an email value in a PATCH; primary may be a boolean or a
// "true"/"false" string.
type emailBody struct {
	Value   *string         `json:"value"`
	Type    *string         `json:"type"`
	Primary json.RawMessage `json:"primary"`
}

// decodeEmails reads an array of email objects or a single one.
func decodeEmails(raw json.RawMessage) ([]emailBody, error) {
	var list []emailBody
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one emailBody
	if err := json.Unmarshal(raw, &one); err != nil || !isObject(raw) {
		return nil, scimErrorf(http.StatusBadRequest, scimInvalidValue, "emails must be an array of {\"value\",\"type\",\"primary\"} objects")
	}
	return []emailBody{one}, nil
}

// set overlays the sub-attributes b holds on e.
func (b emailBody) set(e *TeammateEmail) error {
	if b.Value != nil {
		e.Value = *b.Value
	}
	if b.Type != nil {
		e.Type = *b.Type
	}
	if !isNull(b.Primary) {
		p, err := parseBoolish("emails.primary", b.Primary)
		if err != nil {
			return err
		}
		e.Primary = p
	}
	return nil
}

// onlyPrimary clears primary on every email but those at keep, as RFC
// 7644 3.5.2 asks when a PATCH sets a value's primary to true.
func onlyPrimary(es []TeammateEmail, keep []int) {
	if len(keep) == 0 {
		return
	}
	for i := range es {
		if !slices.Contains(keep, i) {
			es[i].Primary = false
		}
	}
}

// applyEmails handles emails, emails[filter] and emails[filter].sub.
// add appends (an email with the value of an existing one replaces it);
// replace without a filter replaces the list. With a filter the matching
// values are changed or removed; an add or replace whose type filter
// matches nothing adds an email of that type (what Azure AD expects of
// replace emails[type eq "work"].value), any other filter that matches
// nothing is noTarget.
func applyEmails(t *Teammate, kind string, ap attrPath, raw json.RawMessage) error {
	if ap.filter == nil {
		if kind == "remove" || (kind == "replace" && isNull(raw)) {
			t.Emails = nil
			return nil
		}
		vals, err := decodeEmails(raw)
		if err != nil {
			return err
		}
		if kind == "replace" {
			t.Emails = nil
		}
		var primaries []int
		for _, v := range vals {
			var e TeammateEmail
			if err := v.set(&e); err != nil {
				return err
			}
			i := slices.IndexFunc(t.Emails, func(o TeammateEmail) bool { return strings.EqualFold(o.Value, e.Value) })
			if i < 0 {
				t.Emails = append(t.Emails, e)
				i = len(t.Emails) - 1
			} else {
				t.Emails[i] = e
			}
			if e.Primary {
				primaries = append(primaries, i)
			}
		}
		onlyPrimary(t.Emails, primaries)
		return nil
	}
	var matches []int
	for i, e := range t.Emails {
		if ap.filter.match(e) {
			matches = append(matches, i)
		}
	}
	if kind == "remove" {
		if len(matches) == 0 {
			return scimErrorf(http.StatusBadRequest, scimNoTarget, "no email matches the filter")
		}
		switch ap.sub {
		case "", "value":
			t.Emails = slices.DeleteFunc(t.Emails, ap.filter.match)
		case "type":
			for _, i := range matches {
				t.Emails[i].Type = ""
			}
		case "primary":
			for _, i := range matches {
				t.Emails[i].Primary = false
			}
		}
		return nil
	}
	if len(matches) == 0 {
		if ap.filter.sub != "type" {
			return scimErrorf(http.StatusBadRequest, scimNoTarget, "no email matches the filter")
		}
		t.Emails = append(t.Emails, TeammateEmail{Type: ap.filter.str})
		matches = []int{len(t.Emails) - 1}
	}
	var b emailBody
	switch ap.sub {
	case "":
		if err := json.Unmarshal(raw, &b); err != nil || !isObject(raw) {
			return scimErrorf(http.StatusBadRequest, scimInvalidValue, "an emails[...] value must be an object")
		}
	case "value", "type":
		s, err := stringValue("emails."+ap.sub, raw)
		if err != nil {
			return err
		}
		if ap.sub == "value" {
			b.Value = &s
		} else {
			b.Type = &s
		}
	case "primary":
		if isNull(raw) {
			raw = json.RawMessage("false")
		}
		b.Primary = raw
	}
	var primaries []int
	for _, i := range matches {
		if err := b.set(&t.Emails[i]); err != nil {
			return err
		}
		if t.Emails[i].Primary {
			primaries = append(primaries, i)
		}
	}
	onlyPrimary(t.Emails, primaries)
	return nil
}
