package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// replicaID names this process among the api replicas sharing a store: the live streams
// it beats into the store (sqlstore.BeatStreams) are kept under it. Random, so a restarted
// process does not inherit a dead one's beat.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand never fails on the supported platforms
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}
