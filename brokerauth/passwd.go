package brokerauth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// PasswordFile is a Mosquitto password file (mosquitto_passwd's "user:$7$…" lines, as the
// registry writes them for gateways, api/registry): the cluster's password logins read the
// same file as Mosquitto's. It is read again when it changes (checked at most once a
// second), so a gateway added to it can connect without a restart.
type PasswordFile struct {
	f *watchedFile[map[string]string]
}

// OpenPasswordFile reads path; a malformed line is an error naming it.
func OpenPasswordFile(path string) (*PasswordFile, error) {
	f, err := openWatched(path, func(lines []string) (map[string]string, error) {
		hashes := map[string]string{}
		for n, line := range lines {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			user, hash, ok := strings.Cut(line, ":")
			if !ok || user == "" || !strings.HasPrefix(hash, "$7$") {
				return nil, fmt.Errorf("line %d: want user:$7$… (mosquitto_passwd)", n+1)
			}
			hashes[user] = hash
		}
		return hashes, nil
	})
	if err != nil {
		return nil, err
	}
	return &PasswordFile{f}, nil
}

// Check reports whether password is user's.
func (f *PasswordFile) Check(user, password string) bool {
	hash, ok := f.f.get()[user]
	return ok && checkHash(hash, password)
}

// checkHash verifies a Mosquitto 2.0 $7$ hash: $7$<iterations>$<base64 salt>$<base64
// PBKDF2-HMAC-SHA512 key>.
func checkHash(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[1] != "7" {
		return false
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter < 1 || iter > 1_000_000 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[3])
	want, err2 := base64.StdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
