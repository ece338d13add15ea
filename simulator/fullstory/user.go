package fullstory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits Fullstory documents for users.
const (
	maxUIDLen          = 256
	maxDisplayNameLen  = 256
	maxEmailLen        = 128
	maxIDLen           = 256
	maxProperties      = 500
	maxPropertyNameLen = 512
	maxPropertyValue   = 8192
	maxBodyBytes       = 8 << 20
)

// AppURLPrefix is the prefix of every user's app_url; the user's id follows.
const AppURLPrefix = "https://app.fullstory.com/ui/o-SIM-na1/people/u/"

// rec is the stored form of a user. A *rec is never modified once it is in
// the store (updates replace it), so readers may use it after unlocking.
type rec struct {
	id          string
	uid         string
	displayName string
	email       string
	props       []byte // compact JSON object with sorted keys; nil when none
	declared    []byte // declared schema properties: compact JSON object; nil when none
	conflicts   []byte // type_conflicts properties: compact JSON object; nil when none
	deleteAt    int64  // unix nanoseconds at which it disappears; 0 when not being deleted
}

func (r *rec) identified() bool { return r.uid != "" }
func (r *rec) deleting() bool   { return r.deleteAt != 0 }

// userInput is a validated create or update request.
type userInput struct {
	uid         string  // "" when not given
	displayName *string // nil when not given
	email       *string // nil when not given
	props       map[string]json.RawMessage
	schema      map[string]json.RawMessage
}

type userBody struct {
	UID         *string                    `json:"uid"`
	DisplayName *string                    `json:"display_name"`
	Email       *string                    `json:"email"`
	Properties  map[string]json.RawMessage `json:"properties"`
	Schema      *schemaBody                `json:"schema"`
}

type schemaBody struct {
	Properties map[string]json.RawMessage `json:"properties"`
}

// readBody reads a request body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "request body exceeds %d bytes", maxBodyBytes)
		}
		return nil, invalidf("reading request body: %v", err)
	}
	return b, nil
}

// parseUserBody decodes and validates a create/update body.
func parseUserBody(body []byte) (*userInput, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(http.StatusBadRequest, CodeRequiredField, "request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var b userBody
	if err := dec.Decode(&b); err != nil {
		return nil, invalidf("malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("malformed JSON body: unexpected data after the object")
	}
	if t := bytes.TrimSpace(body); t[0] != '{' {
		return nil, invalidf("malformed JSON body: want a JSON object")
	}
	in := &userInput{displayName: b.DisplayName, email: b.Email}
	if b.UID != nil {
		in.uid = *b.UID
	}
	if err := validateIdentity(in.uid, b.DisplayName, b.Email); err != nil {
		return nil, err
	}
	props, err := validateProperties(b.Properties)
	if err != nil {
		return nil, err
	}
	in.props = props
	if b.Schema != nil {
		if err := validateSchema("", b.Schema.Properties); err != nil {
			return nil, err
		}
		in.schema = b.Schema.Properties
	}
	return in, nil
}

func validateIdentity(uid string, displayName, email *string) error {
	if n := utf8.RuneCountInString(uid); n > maxUIDLen {
		return invalidf("uid is %d characters; the limit is %d", n, maxUIDLen)
	}
	if displayName != nil {
		if n := utf8.RuneCountInString(*displayName); n > maxDisplayNameLen {
			return invalidf("display_name is %d characters; the limit is %d", n, maxDisplayNameLen)
		}
	}
	if email != nil {
		if n := utf8.RuneCountInString(*email); n > maxEmailLen {
			return invalidf("email is %d characters; the limit is %d", n, maxEmailLen)
		}
	}
	return nil
}

// validPropertyName reports whether s matches [A-Za-z][A-Za-z0-9_]*.
func validPropertyName(s string) bool {
	if s == "" || len(s) > maxPropertyNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// validateProperties checks names, count and value sizes and returns the
// values compacted; a JSON null value stays "null" (meaning: remove).
func validateProperties(p map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if len(p) > maxProperties {
		return nil, invalidf("%d properties; the limit is %d", len(p), maxProperties)
	}
	out := make(map[string]json.RawMessage, len(p))
	var buf bytes.Buffer
	for name, raw := range p {
		if !validPropertyName(name) {
			return nil, invalidf("invalid property name %q: names match [A-Za-z][A-Za-z0-9_]* and have at most %d characters", truncate(name, 64), maxPropertyNameLen)
		}
		buf.Reset()
		if err := json.Compact(&buf, raw); err != nil {
			return nil, invalidf("malformed JSON in property %q", name)
		}
		if buf.Len() > maxPropertyValue {
			return nil, invalidf("property %q is %d bytes; the limit is %d", name, buf.Len(), maxPropertyValue)
		}
		v := bytes.Clone(buf.Bytes())
		if v[0] == '{' || v[0] == '[' {
			var decoded any
			d := json.NewDecoder(bytes.NewReader(v))
			d.UseNumber()
			if err := d.Decode(&decoded); err != nil {
				return nil, invalidf("malformed JSON in property %q", name)
			}
			if err := validateNested(name, decoded); err != nil {
				return nil, err
			}
		}
		out[name] = v
	}
	return out, nil
}

// validateNested checks the names inside nested objects: each must be a
// valid name and the dotted path must stay within the name length limit.
func validateNested(path string, v any) error {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			full := path + "." + k
			if !validPropertyName(k) || len(full) > maxPropertyNameLen {
				return invalidf("invalid nested property name %q", truncate(full, 64))
			}
			if err := validateNested(full, sub); err != nil {
				return err
			}
		}
	case []any:
		for _, sub := range t {
			if err := validateNested(path, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

var schemaTypes = map[string]bool{
	"str": true, "strs": true, "int": true, "ints": true, "real": true, "reals": true,
	"bool": true, "bools": true, "date": true, "dates": true,
}

func validateSchema(prefix string, p map[string]json.RawMessage) error {
	if len(p) > maxProperties {
		return invalidf("schema declares %d properties; the limit is %d", len(p), maxProperties)
	}
	for name, raw := range p {
		full := name
		if prefix != "" {
			full = prefix + "." + name
		}
		if !validPropertyName(name) || len(full) > maxPropertyNameLen {
			return invalidf("invalid schema property name %q", truncate(full, 64))
		}
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			if !schemaTypes[s] {
				return invalidf("schema property %q has unknown type %q", full, truncate(s, 32))
			}
			continue
		}
		var nested map[string]json.RawMessage
		if err := json.Unmarshal(raw, &nested); err != nil || nested == nil {
			return invalidf("schema property %q must be a type name or an object", full)
		}
		if err := validateSchema(full, nested); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// mergeObject overlays upd on the JSON object old (nil means empty). A
// "null" value removes the key. It returns nil for an empty result.
func mergeObject(old []byte, upd map[string]json.RawMessage) ([]byte, error) {
	if len(upd) == 0 {
		return old, nil
	}
	m := make(map[string]json.RawMessage, len(upd)+8)
	if len(old) > 0 {
		if err := json.Unmarshal(old, &m); err != nil {
			return nil, err
		}
	}
	for k, v := range upd {
		if string(v) == "null" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	if len(m) > maxProperties {
		return nil, invalidf("the user would have %d properties; the limit is %d", len(m), maxProperties)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// apply returns a copy of base (nil for a new user) updated with in.
func (in *userInput) apply(base *rec, id string) (*rec, error) {
	r := &rec{id: id}
	if base != nil {
		*r = *base
	}
	if in.uid != "" {
		r.uid = in.uid
	}
	if in.displayName != nil {
		r.displayName = *in.displayName
	}
	if in.email != nil {
		r.email = *in.email
	}
	var err error
	if r.props, err = mergeObject(r.props, in.props); err != nil {
		return nil, err
	}
	if len(in.schema) > 0 {
		if r.declared, err = mergeObject(r.declared, in.schema); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// validID reports whether id can be used as a user id (it appears in URL
// paths).
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c == '/' || c == '?' || c == '#' || c == '%' || c == 0x7f {
			return false
		}
	}
	return true
}

// recFromUser validates u and converts it to the stored form.
func recFromUser(u User, now time.Time, deleteDelay time.Duration) (*rec, error) {
	if u.ID != "" && !validID(u.ID) {
		return nil, invalidf("invalid user id %q", truncate(u.ID, 64))
	}
	dn, em := u.DisplayName, u.Email
	if err := validateIdentity(u.UID, &dn, &em); err != nil {
		return nil, err
	}
	r := &rec{id: u.ID, uid: u.UID, displayName: u.DisplayName, email: u.Email}
	if len(u.Properties) > 0 {
		raw, err := json.Marshal(u.Properties)
		if err != nil {
			return nil, invalidf("properties: %v", err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, invalidf("properties: %v", err)
		}
		vm, err := validateProperties(m)
		if err != nil {
			return nil, err
		}
		for k, v := range vm {
			if string(v) == "null" {
				delete(vm, k)
			}
		}
		if r.props, err = mergeObject(nil, vm); err != nil {
			return nil, err
		}
	}
	if u.Schema != nil && len(u.Schema.Properties) > 0 {
		raw, err := json.Marshal(u.Schema.Properties)
		if err != nil {
			return nil, invalidf("schema: %v", err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, invalidf("schema: %v", err)
		}
		if err := validateSchema("", m); err != nil {
			return nil, err
		}
		r.declared = raw
	}
	if u.TypeConflicts != nil && len(u.TypeConflicts.Properties) > 0 {
		raw, err := json.Marshal(u.TypeConflicts.Properties)
		if err != nil {
			return nil, invalidf("type_conflicts: %v", err)
		}
		r.conflicts = raw
	}
	if u.IsBeingDeleted {
		r.deleteAt = now.Add(max(deleteDelay, time.Nanosecond)).UnixNano()
	}
	return r, nil
}

// toUser converts r to the API form (schema as declared).
func (r *rec) toUser() User {
	u := User{
		ID:             r.id,
		UID:            r.uid,
		DisplayName:    r.displayName,
		Email:          r.email,
		IsBeingDeleted: r.deleting(),
		AppURL:         appURL(r.id),
	}
	if len(r.props) > 0 {
		_ = json.Unmarshal(r.props, &u.Properties)
	}
	if len(r.declared) > 0 {
		u.Schema = &Schema{}
		_ = json.Unmarshal(r.declared, &u.Schema.Properties)
	}
	if len(r.conflicts) > 0 {
		u.TypeConflicts = &TypeConflicts{}
		_ = json.Unmarshal(r.conflicts, &u.TypeConflicts.Properties)
	}
	return u
}

func appURL(id string) string { return AppURLPrefix + url.PathEscape(id) }

// plainID reports whether id needs no escaping in a URL path or JSON.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type encodeOpts struct {
	schema   bool // include schema (inferred, overlaid by declared)
	declared bool // include the declared schema only (dumps)
	appURL   bool // include app_url
}

// appendUser appends r's JSON form; field order follows Fullstory's.
func appendUser(buf []byte, r *rec, o encodeOpts) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, r.id)
	if r.uid != "" {
		buf = append(buf, `,"uid":`...)
		buf = appendJSONString(buf, r.uid)
	}
	if r.displayName != "" {
		buf = append(buf, `,"display_name":`...)
		buf = appendJSONString(buf, r.displayName)
	}
	if r.email != "" {
		buf = append(buf, `,"email":`...)
		buf = appendJSONString(buf, r.email)
	}
	if len(r.props) > 0 {
		buf = append(buf, `,"properties":`...)
		buf = append(buf, r.props...)
	}
	if o.schema {
		if s := r.schemaJSON(); len(s) > 0 {
			buf = append(buf, `,"schema":{"properties":`...)
			buf = append(buf, s...)
			buf = append(buf, '}')
		}
	} else if o.declared && len(r.declared) > 0 {
		buf = append(buf, `,"schema":{"properties":`...)
		buf = append(buf, r.declared...)
		buf = append(buf, '}')
	}
	if len(r.conflicts) > 0 {
		buf = append(buf, `,"type_conflicts":{"properties":`...)
		buf = append(buf, r.conflicts...)
		buf = append(buf, '}')
	}
	if r.deleting() {
		buf = append(buf, `,"is_being_deleted":true`...)
	} else {
		buf = append(buf, `,"is_being_deleted":false`...)
	}
	if o.appURL {
		buf = append(buf, `,"app_url":`...)
		if plainID(r.id) {
			buf = append(buf, '"')
			buf = append(buf, AppURLPrefix...)
			buf = append(buf, r.id...)
			buf = append(buf, '"')
		} else {
			buf = appendJSONString(buf, appURL(r.id))
		}
	}
	return append(buf, '}')
}

// schemaJSON returns the inferred types of r's properties overlaid by the
// declared ones, as a JSON object; nil when there are none.
func (r *rec) schemaJSON() []byte {
	m := map[string]any{}
	if len(r.props) > 0 {
		d := json.NewDecoder(bytes.NewReader(r.props))
		d.UseNumber()
		var props map[string]any
		if err := d.Decode(&props); err == nil {
			for k, v := range props {
				if t := inferType(v); t != nil {
					m[k] = t
				}
			}
		}
	}
	if len(r.declared) > 0 {
		var decl map[string]any
		if err := json.Unmarshal(r.declared, &decl); err == nil {
			for k, v := range decl {
				m[k] = v
			}
		}
	}
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m)
	return b
}

// inferType returns the Fullstory type name of v, or a nested map of type
// names for an object.
func inferType(v any) any {
	switch t := v.(type) {
	case string:
		if _, err := time.Parse(time.RFC3339, t); err == nil {
			return "date"
		}
		return "str"
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return "real"
		}
		return "int"
	case bool:
		return "bool"
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, sub := range t {
			if st := inferType(sub); st != nil {
				m[k] = st
			}
		}
		return m
	case []any:
		elem := ""
		for _, sub := range t {
			st, ok := inferType(sub).(string)
			if !ok || (elem != "" && st != elem) {
				if (elem == "int" && st == "real") || (elem == "real" && st == "int") {
					elem = "real"
					continue
				}
				return "strs"
			}
			elem = st
		}
		if elem == "" {
			return "strs"
		}
		return elem + "s"
	}
	return nil
}

// sortRecs sorts by id.
func sortRecs(rs []*rec) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].id < rs[j].id })
}

// String is for debugging only.
func (r *rec) String() string {
	return fmt.Sprintf("rec{%s uid=%q deleteAt=%d}", r.id, r.uid, r.deleteAt)
}
