package registry

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"

	"github.com/vagt-dk/vagt"
)

// NewCredentials returns a gateway's MQTT login: its id as user name, a random password
// (shown once), the password's hash in Mosquitto's password file format ($7$:
// PBKDF2-SHA512, 101 iterations, 12-byte salt — all the store keeps) and the ACL line.
func NewCredentials(id vagt.GatewayID) (Credentials, error) {
	b := make([]byte, 24)
	salt := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return Credentials{}, fmt.Errorf("gateway credentials: %w", err)
	}
	if _, err := rand.Read(salt); err != nil {
		return Credentials{}, fmt.Errorf("gateway credentials: %w", err)
	}
	password := base64.RawURLEncoding.EncodeToString(b)
	key, err := pbkdf2.Key(sha512.New, password, salt, 101, 64)
	if err != nil {
		return Credentials{}, fmt.Errorf("gateway credentials: %w", err)
	}
	return Credentials{Username: string(id), Password: password, ACL: ACL,
		PasswordHash: "$7$101$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(key)}, nil
}
