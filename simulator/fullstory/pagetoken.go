package fullstory

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// Page tokens are opaque to clients: base64url(version | filter hash |
// last id returned | HMAC). The next page starts after the last id, so a
// token stays valid while users are created or deleted; the filter hash
// binds it to the filters of the first request.
const (
	pageTokenVersion = 1
	filterHashLen    = 8
	tokenMACLen      = 16
	maxPageTokenLen  = 1024
)

func filterHash(q *listQuery) [filterHashLen]byte {
	h := sha256.New()
	for _, v := range []string{q.uid, q.email, q.displayName} {
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	switch {
	case q.identified == nil:
		h.Write([]byte{'-'})
	case *q.identified:
		h.Write([]byte{'t'})
	default:
		h.Write([]byte{'f'})
	}
	var out [filterHashLen]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (s *Server) tokenMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write(payload)
	return m.Sum(nil)[:tokenMACLen]
}

func (s *Server) encodePageToken(fh [filterHashLen]byte, lastID string) string {
	payload := make([]byte, 0, 1+filterHashLen+len(lastID)+tokenMACLen)
	payload = append(payload, pageTokenVersion)
	payload = append(payload, fh[:]...)
	payload = append(payload, lastID...)
	payload = append(payload, s.tokenMAC(payload)...)
	return base64.RawURLEncoding.EncodeToString(payload)
}

// decodePageToken returns the last id of the previous page.
func (s *Server) decodePageToken(tok string, fh [filterHashLen]byte) (string, error) {
	if len(tok) > maxPageTokenLen {
		return "", invalidf("invalid page_token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 1+filterHashLen+1+tokenMACLen || raw[0] != pageTokenVersion {
		return "", invalidf("invalid page_token")
	}
	payload, mac := raw[:len(raw)-tokenMACLen], raw[len(raw)-tokenMACLen:]
	if !hmac.Equal(mac, s.tokenMAC(payload)) {
		return "", invalidf("invalid page_token")
	}
	if !hmac.Equal(payload[1:1+filterHashLen], fh[:]) {
		return "", invalidf("page_token was issued for different filters; send the same uid, email, display_name and is_identified with every page")
	}
	return string(payload[1+filterHashLen:]), nil
}
