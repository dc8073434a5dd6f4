package ingest

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vagt-dk/vagt"
)

// Tokens authenticates gateways on the HTTP path: each gateway has a secret token, of
// which only the SHA-256 is kept. The file has one gateway per line,
//
//	gw-0042 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//
// with '#' comments; a request authenticates with HTTP Basic, user the gateway id and
// password the token. (Until the API's registry hands out tokens, this file is it.)
type Tokens struct {
	hashes map[vagt.GatewayID][sha256.Size]byte
}

// LoadTokens reads a token file.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: token file: %w", err)
	}
	defer f.Close()
	return ParseTokens(f)
}

// ParseTokens reads the token file format from r.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{hashes: make(map[vagt.GatewayID][sha256.Size]byte)}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("ingest: token file line %d: want \"gateway-id sha256-hex\"", n)
		}
		gw := vagt.GatewayID(fields[0])
		if err := gw.Validate(); err != nil {
			return nil, fmt.Errorf("ingest: token file line %d: %w", n, err)
		}
		raw, err := hex.DecodeString(fields[1])
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("ingest: token file line %d: the hash is not 64 hex digits", n)
		}
		t.hashes[gw] = [sha256.Size]byte(raw)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("ingest: token file: %w", err)
	}
	return t, nil
}

// HashToken is what a token file holds for token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Check reports whether token is gw's.
func (t *Tokens) Check(gw vagt.GatewayID, token string) bool {
	want, ok := t.hashes[gw]
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1 && ok
}
