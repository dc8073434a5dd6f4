package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"
	"go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"
)

// brokerRole says what an MQTT user may do on the demo's embedded broker.
type brokerRole int

const (
	roleService brokerRole = iota + 1 // ingest and api: every lane of every gateway
	roleGateway                       // its own lanes, and its home's Zigbee2MQTT bus
	roleZigbee                        // a home's Zigbee2MQTT bridge: that bus only
	roleTracker                       // a GPS tracker (OwnTracks): its own owntracks/{user}/ topics only
)

// brokerUser is a user of the embedded broker. Passwords are random 128-bit secrets the
// demo generates, so a salted SHA-256 suffices (as for API tokens); mochi's bundled
// ledger would keep them in plain text.
type brokerUser struct {
	role    brokerRole
	gateway string // for roleGateway and roleZigbee: whose lanes or bus
	salt    []byte
	hash    [32]byte
}

// authHook checks passwords against salted hashes and applies the lanes' ACL:
// a gateway publishes only under vagt/v1/gw/{its id}/ and reads only its config and
// downlink lanes,
// exactly as deploy/mosquitto/acl does for Mosquitto.
type authHook struct {
	mqtt.HookBase
	mu    sync.RWMutex
	users map[string]brokerUser
}

func (h *authHook) ID() string { return "vagt-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// add creates user with a new random password and returns the password.
func (h *authHook) add(user string, role brokerRole, gateway string) (string, error) {
	secret := make([]byte, 16)
	salt := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	password := hex.EncodeToString(secret)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users == nil {
		h.users = map[string]brokerUser{}
	}
	h.users[user] = brokerUser{role: role, gateway: gateway, salt: salt, hash: saltedHash(salt, password)}
	return password, nil
}

func saltedHash(salt []byte, password string) [32]byte {
	return sha256.Sum256(append(bytes.Clone(salt), password...))
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	h.mu.RLock()
	u, ok := h.users[string(pk.Connect.Username)]
	h.mu.RUnlock()
	if !ok {
		return false
	}
	got := saltedHash(u.salt, string(pk.Connect.Password))
	return subtle.ConstantTimeCompare(got[:], u.hash[:]) == 1
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	h.mu.RLock()
	u, ok := h.users[string(cl.Properties.Username)]
	h.mu.RUnlock()
	if !ok {
		return false
	}
	bus := "z2m/" + u.gateway + "/"
	switch u.role {
	case roleService:
		return strings.HasPrefix(topic, "vagt/v1/gw/") || strings.HasPrefix(topic, "$share/") || strings.HasPrefix(topic, "vagt/deadletter/") ||
			(!write && strings.HasPrefix(topic, "owntracks/")) // the api reads the trackers (docs/gps.md)
	case roleGateway:
		own := "vagt/v1/gw/" + u.gateway + "/"
		if write {
			return topic == own+"telemetry" || topic == own+"alarm" || topic == own+"status"
		}
		return topic == own+"config" || topic == own+"downlink" || strings.HasPrefix(topic, bus)
	case roleZigbee:
		return strings.HasPrefix(topic, bus)
	case roleTracker: // as deploy/mosquitto/acl: pattern write owntracks/%u/+ and .../+/event
		parts := strings.Split(topic, "/")
		return write && (len(parts) == 3 || (len(parts) == 4 && parts[3] == "event")) && parts[0] == "owntracks" && parts[1] == u.gateway && parts[2] != ""
	}
	return false
}

// embeddedBroker is the demo's MQTT broker in this process, its sessions and queued
// messages kept in a bbolt file so a restart of the demo loses nothing queued.
type embeddedBroker struct {
	server *mqtt.Server
	auth   *authHook
	url    string
}

func startBroker(addr, storePath string, log *slog.Logger) (*embeddedBroker, error) {
	s := mqtt.New(&mqtt.Options{Logger: slog.New(quietFirstStart{log.Handler()}).With("component", "broker")})
	auth := &authHook{}
	if err := s.AddHook(auth, nil); err != nil {
		return nil, err
	}
	if err := s.AddHook(&packetIDs{}, nil); err != nil {
		return nil, err
	}
	// A timeout, not a wait for ever on the file's lock (Run locks the whole data
	// directory first; this is the net under it).
	if err := s.AddHook(&boltStore{Hook: new(bolt.Hook)}, &bolt.Options{Path: storePath, Options: &bbolt.Options{Timeout: time.Second}}); err != nil {
		if errors.Is(err, bbolterrors.ErrTimeout) {
			return nil, fmt.Errorf("broker store %s is locked: is another vagt-demo running on this data?", storePath)
		}
		return nil, fmt.Errorf("broker store %s: %w", storePath, err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := s.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker listen %s: %w", addr, err)
	}
	if err := s.Serve(); err != nil {
		return nil, err
	}
	return &embeddedBroker{server: s, auth: auth, url: "tcp://" + tcp.Address()}, nil
}

func (b *embeddedBroker) Close() error { return b.server.Close() }

// packetIDs keeps a client's packet ids apart from the broker's. MQTT numbers the packets
// each side sends on its own (3.1.1, 2.3.1), but mochi (v2.7.9) keeps both in one
// in-flight table per client: a SUBSCRIBE or UNSUBSCRIBE whose id equals that of a message
// the broker has in flight to the client is refused (SUBACK 0x80 on MQTT 3), and a QoS 1
// PUBLISH with such an id replaces the broker's message in the table, which is then never
// sent again. After a restart of the demo, ingest's session held messages in flight with
// ids from 1 and ingest's first SUBSCRIBE, id 1, was refused: the demo exited. So an
// incoming packet whose id is taken is renumbered, on reading, to an id free in the table,
// and the acknowledgement the broker writes for it (PUBACK, SUBACK, UNSUBACK) goes out
// with the client's id again. mochi handles one incoming packet of a client at a time and
// writes its acknowledgement before reading the next, so a renumbering lives no longer
// than that. QoS 2 is left alone (no vagt client uses it; its PUBREL would need the same).
type packetIDs struct {
	mqtt.HookBase
	mu      sync.Mutex
	renamed map[*mqtt.Client]map[uint16]uint16 // the broker's id → the client's
}

func (h *packetIDs) ID() string { return "vagt-packet-ids" }

func (h *packetIDs) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketEncode || b == mqtt.OnDisconnect
}

func (h *packetIDs) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch {
	case pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 1,
		pk.FixedHeader.Type == packets.Subscribe, pk.FixedHeader.Type == packets.Unsubscribe:
	default:
		return pk, nil
	}
	if _, taken := cl.State.Inflight.Get(pk.PacketID); !taken {
		return pk, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	mine := h.renamed[cl]
	for id := uint16(65535); id > 0; id-- {
		if _, taken := cl.State.Inflight.Get(id); taken {
			continue
		}
		if _, taken := mine[id]; taken {
			continue
		}
		if mine == nil {
			if h.renamed == nil {
				h.renamed = map[*mqtt.Client]map[uint16]uint16{}
			}
			mine = map[uint16]uint16{}
			h.renamed[cl] = mine
		}
		mine[id] = pk.PacketID
		pk.PacketID = id
		return pk, nil
	}
	return pk, nil // every id taken: as mochi would have it
}

func (h *packetIDs) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Puback, packets.Suback, packets.Unsuback:
	default:
		return pk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if theirs, ok := h.renamed[cl][pk.PacketID]; ok {
		delete(h.renamed[cl], pk.PacketID)
		pk.PacketID = theirs
	}
	return pk
}

func (h *packetIDs) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.renamed, cl)
}

// boltStore is mochi's bolt hook with its in-flight messages given back their packet ids.
// The hook (v2.7.9) stores an in-flight message without its packet id, only in its key
// ("IFM_<client>:<id>"); restored with id 0, the message cannot be encoded, and every
// reconnect of its session fails with "resend inflight: protocol violation: missing packet
// id" (issue 15 defect 6: after a restart of the demo the api never subscribed again). The
// id is taken back from the key, which also repairs a store written before this fix, so
// nothing queued is lost.
//
// It also orders Stop after the system-info tick: mochi's event loop may be in
// OnSysInfoTick, which reads the hook's database, while Close stops the hook and clears it
// (a data race the race detector reported in TestSecondRunRefused).
type boltStore struct {
	*bolt.Hook
	mu      sync.Mutex
	stopped bool
}

func (h *boltStore) OnSysInfoTick(sys *system.Info) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stopped {
		h.Hook.OnSysInfoTick(sys)
	}
}

func (h *boltStore) Stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	return h.Hook.Stop()
}

func (h *boltStore) StoredInflightMessages() ([]storage.Message, error) {
	msgs, err := h.Hook.StoredInflightMessages()
	if err != nil {
		return nil, err
	}
	out := msgs[:0]
	for _, m := range msgs {
		if m.PacketID == 0 {
			id, err := strconv.ParseUint(m.ID[strings.LastIndex(m.ID, ":")+1:], 10, 16)
			if err != nil || id == 0 {
				h.Log.Error("in-flight message without a packet id; dropped", "key", m.ID, "client", m.Client, "topic", m.TopicName)
				continue
			}
			m.PacketID = uint16(id)
		}
		out = append(out, m)
	}
	return out, nil
}

// quietFirstStart drops the error mochi's bolt hook logs when a new store has no $SYS
// record yet — every first start — so that an error in the demo's log means one.
type quietFirstStart struct{ slog.Handler }

func (q quietFirstStart) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "failed to get data" {
		missing := false
		r.Attrs(func(a slog.Attr) bool {
			missing = missing || (a.Key == "error" && a.Value.String() == "key not found")
			return !missing
		})
		if missing {
			return nil
		}
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietFirstStart) WithAttrs(as []slog.Attr) slog.Handler {
	return quietFirstStart{q.Handler.WithAttrs(as)}
}

func (q quietFirstStart) WithGroup(name string) slog.Handler {
	return quietFirstStart{q.Handler.WithGroup(name)}
}

// brokerAccess is where the demo's clients connect and how they sign in: with passwords on
// the embedded broker, anonymously on an external one (a developer's Mosquitto).
type brokerAccess struct {
	url  string
	auth *authHook // nil: an external broker
}

// user returns the user name and password a client signs in with.
func (b brokerAccess) user(name string, role brokerRole, gateway string) (string, string, error) {
	if b.auth == nil {
		return "", "", nil
	}
	password, err := b.auth.add(name, role, gateway)
	return name, password, err
}
