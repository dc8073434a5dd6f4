package uplink

import (
	"bytes"
	"sort"
	"strings"
	"sync"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is paho's in-memory store for in-flight packets, except that it keeps them
// encoded and hands out a fresh copy on Get. paho's MemoryStore returns the very packet
// that the old connection may still be writing while resume() sets its DUP flag: a data
// race (seen with -race on reconnect). Durability is not its job: the spool has that.
type copyStore struct {
	mu   sync.Mutex
	msgs map[string][]byte
	// keep, when set, decides whether a stored outbound publish may still be resent
	// (paho asks Get on reconnect); a publish it refuses is deleted.
	keep func(mid uint16) bool
	// gone: channels closed when their key is deleted (see whenGone).
	gone map[string][]chan struct{}
}

func newCopyStore() *copyStore {
	return &copyStore{msgs: map[string][]byte{}, gone: map[string][]chan struct{}{}}
}

// whenGone returns a channel that is closed once key is no longer stored: at once when it
// is not. paho deletes an outbound publish when its PUBACK arrives, before it completes
// the token.
func (s *copyStore) whenGone(key string) <-chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.msgs[key]; !ok {
		close(ch)
		return ch
	}
	s.gone[key] = append(s.gone[key], ch)
	return ch
}

// release closes the waiters of key; s.mu is held.
func (s *copyStore) release(key string) {
	for _, ch := range s.gone[key] {
		close(ch)
	}
	delete(s.gone, key)
}

func (s *copyStore) Open()  {}
func (s *copyStore) Close() {}

func (s *copyStore) Put(key string, p packets.ControlPacket) {
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		return // an unencodable packet cannot be resent either; the spool sends it again
	}
	s.mu.Lock()
	s.msgs[key] = b.Bytes()
	s.mu.Unlock()
}

func (s *copyStore) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	raw, ok := s.msgs[key]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	p, err := packets.ReadPacket(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	if pub, ok := p.(*packets.PublishPacket); ok && s.keep != nil && strings.HasPrefix(key, "o.") && !s.keep(pub.MessageID) {
		s.Del(key)
		return nil
	}
	return p
}

func (s *copyStore) All() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.msgs))
	for k := range s.msgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *copyStore) Del(key string) {
	s.mu.Lock()
	delete(s.msgs, key)
	s.release(key)
	s.mu.Unlock()
}

func (s *copyStore) Reset() {
	s.mu.Lock()
	s.msgs = map[string][]byte{}
	for k := range s.gone {
		s.release(k)
	}
	s.mu.Unlock()
}
