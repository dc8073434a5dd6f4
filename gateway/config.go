package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
)

// Config is the gateway's configuration: its identity, where its inputs and the platform
// are, the spool, and the home configuration to run until the platform sends one. It is
// read from a JSON file (deploy/gateway/gateway.json documents every key), then flags and
// VAGT_* variables override single keys.
type Config struct {
	Gateway      vagt.GatewayID        `json:"gateway"`
	Municipality vagt.MunicipalityCode `json:"municipality"`

	Spool struct {
		Path          string   `json:"path"`
		MaxBytes      int64    `json:"max_bytes"`
		BatchReadings int      `json:"batch_readings"`
		BatchAge      Duration `json:"batch_age"`
		// An alarm raise stays in the spool after the broker's PUBACK until the platform
		// confirms it on the downlink; not confirmed after ConfirmAfter (then twice that,
		// …) it is sent again, at most ConfirmAttempts times. 0 turns it off.
		ConfirmAfter    Duration `json:"confirm_after"`
		ConfirmAttempts int      `json:"confirm_attempts"`
	} `json:"spool"`

	Uplink struct {
		Broker     string   `json:"broker"`
		Username   string   `json:"username"`
		Password   string   `json:"password"`
		CAFile     string   `json:"ca_file"`
		CertFile   string   `json:"cert_file"`
		KeyFile    string   `json:"key_file"`
		KeepAlive  Duration `json:"keep_alive"`
		Heartbeat  Duration `json:"heartbeat"`
		MaxBackoff Duration `json:"max_backoff"`
		DrainRate  float64  `json:"drain_rate"` // telemetry readings per second; 0 no cap
		// LaneQoS is the QoS of the config and downlink subscriptions: 1 (the broker queues
		// a downlink while the gateway is away) or 0 (no queue: on NATS no JetStream
		// consumer per lane; the api tells the gateway again what it missed when it comes
		// back). docs/gateway.md, "Lane QoS".
		LaneQoS int `json:"lane_qos"`

		// Secondary is an optional second platform broker (another mobile operator, a
		// second data centre) with its own login and TLS files; keep-alive, heartbeat,
		// backoff and drain rate are the primary's. See docs/gateway.md, "A second way out".
		Secondary SecondaryLink `json:"secondary"`
	} `json:"uplink"`

	Serial struct {
		Path string `json:"path"` // "" no serial input
		Baud int    `json:"baud"`
	} `json:"serial"`

	Zigbee struct {
		Broker    string `json:"broker"` // "" no Zigbee2MQTT input
		BaseTopic string `json:"base_topic"`
		Username  string `json:"username"`
		Password  string `json:"password"`
	} `json:"zigbee"`

	// Help: what the gateway tells the home about its alarms and its link (docs/gateway.md,
	// "Help confirmed in the home"). See help.go.
	Help HelpConfig `json:"help"`

	StatusAddr string `json:"status_addr"` // loopback host:port of the status page; "" none

	Home HomeFile `json:"home"`
}

// SecondaryLink is the second platform broker. Empty Broker: none.
type SecondaryLink struct {
	Broker   string `json:"broker"`
	Username string `json:"username"` // default the gateway id
	Password string `json:"password"`
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// TelemetryFailoverAfter: telemetry goes out on the secondary only once the primary
	// has been down this long ("0s": at once); alarms never wait for it.
	TelemetryFailoverAfter Duration `json:"telemetry_failover_after"`
	// AlarmHedge: an alarm the primary has not delivered within this time (while it looks
	// up) goes out on the secondary too.
	AlarmHedge Duration `json:"alarm_hedge"`
}

// Defaults returns a configuration with every default filled in.
func Defaults() Config {
	var c Config
	c.Spool.Path = "/var/lib/vagt-gateway/spool.db"
	c.Spool.MaxBytes = 64 << 20
	c.Spool.BatchReadings = 500
	c.Spool.BatchAge = Duration(5 * time.Second)
	c.Spool.ConfirmAfter, c.Spool.ConfirmAttempts = Duration(30*time.Second), 5
	c.Uplink.KeepAlive = Duration(30 * time.Second)
	c.Uplink.Heartbeat = Duration(60 * time.Second)
	c.Uplink.MaxBackoff = Duration(2 * time.Minute)
	c.Uplink.DrainRate = 500
	c.Uplink.LaneQoS = 1
	c.Uplink.Secondary.TelemetryFailoverAfter = Duration(10 * time.Minute)
	c.Uplink.Secondary.AlarmHedge = Duration(3 * time.Second)
	c.Serial.Baud = 9600
	c.Zigbee.BaseTopic = "zigbee2mqtt"
	c.StatusAddr = "127.0.0.1:8089"
	c.Help.LinkDownAfter = Duration(2 * time.Minute)
	c.Home.Rules.Night, c.Home.Rules.Day = "22:00-07:00", "07:00-22:00"
	return c
}

// ParseConfig reads a JSON configuration over the defaults; unknown keys are errors.
func ParseConfig(data []byte) (Config, error) {
	c := Defaults()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("gateway config: %w", err)
	}
	return c, nil
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if err := c.Gateway.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Municipality.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Spool.Path == "" {
		errs = append(errs, errors.New("spool.path is empty"))
	}
	if c.Spool.MaxBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("spool.max_bytes %d: at least 64 KiB", c.Spool.MaxBytes))
	}
	if c.Spool.BatchReadings < 1 || c.Spool.BatchReadings > vagt.MaxBatchReadings {
		errs = append(errs, fmt.Errorf("spool.batch_readings %d: 1-%d", c.Spool.BatchReadings, vagt.MaxBatchReadings))
	}
	if c.Spool.BatchAge <= 0 || c.Uplink.KeepAlive < Duration(time.Second) || c.Uplink.Heartbeat < Duration(time.Second) {
		errs = append(errs, errors.New("spool.batch_age, uplink.keep_alive and uplink.heartbeat must be positive (keep_alive, heartbeat ≥ 1s)"))
	}
	if c.Spool.ConfirmAfter < 0 || c.Spool.ConfirmAttempts < 0 || c.Spool.ConfirmAttempts > 16 {
		errs = append(errs, fmt.Errorf("spool.confirm_after %s, confirm_attempts %d: not negative, at most 16 attempts (0 turns confirmation off)",
			time.Duration(c.Spool.ConfirmAfter), c.Spool.ConfirmAttempts))
	}
	if c.Uplink.Broker == "" {
		errs = append(errs, errors.New("uplink.broker is empty"))
	}
	if (c.Uplink.CertFile == "") != (c.Uplink.KeyFile == "") {
		errs = append(errs, errors.New("uplink.cert_file and uplink.key_file go together"))
	}
	if c.Uplink.LaneQoS != 0 && c.Uplink.LaneQoS != 1 {
		errs = append(errs, fmt.Errorf("uplink.lane_qos %d: 0 or 1 (the QoS of the config and downlink subscriptions)", c.Uplink.LaneQoS))
	}
	if sec := &c.Uplink.Secondary; sec.Broker != "" {
		if sec.Broker == c.Uplink.Broker {
			errs = append(errs, errors.New("uplink.secondary.broker is the primary's: a second way out must be another broker"))
		}
		if (sec.CertFile == "") != (sec.KeyFile == "") {
			errs = append(errs, errors.New("uplink.secondary.cert_file and key_file go together"))
		}
		if sec.TelemetryFailoverAfter < 0 || sec.AlarmHedge <= 0 {
			errs = append(errs, errors.New("uplink.secondary.telemetry_failover_after must be ≥ 0 and alarm_hedge positive"))
		}
	}
	if c.Serial.Path == "" && c.Zigbee.Broker == "" {
		errs = append(errs, errors.New("neither serial.path nor zigbee.broker: the gateway would have no input"))
	}
	if err := c.Help.validate(c.Zigbee.Broker != ""); err != nil {
		errs = append(errs, err)
	}
	if c.StatusAddr != "" {
		host, _, err := net.SplitHostPort(c.StatusAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			errs = append(errs, fmt.Errorf("status_addr %q: must be a loopback host:port (the page is not for the network)", c.StatusAddr))
		}
	}
	if _, err := c.HomeConfig(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// HomeConfig returns the home section as the domain type, version 0: the local file,
// which any version from the platform replaces.
func (c *Config) HomeConfig() (vagt.HomeConfig, error) {
	h, err := c.Home.toDomain(c.Gateway, c.Municipality)
	if err != nil {
		return vagt.HomeConfig{}, fmt.Errorf("home: %w", err)
	}
	check := h
	check.Version = 1 // Validate wants a platform version; the file has none
	if err := check.Validate(); err != nil {
		return vagt.HomeConfig{}, fmt.Errorf("home: %w", err)
	}
	return h, nil
}

// Duration is a time.Duration written as "5s" in JSON.
type Duration time.Duration

// UnmarshalJSON parses "1m30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// MarshalJSON writes "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Set parses a flag value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

func (d Duration) String() string { return time.Duration(d).String() }

// HomeFile is the home section of the file: vagt.HomeConfig in a form people write.
type HomeFile struct {
	TimeZone string       `json:"time_zone"`
	Devices  []DeviceFile `json:"devices"`
	Rules    struct {
		Night             string     `json:"night"` // "22:00-07:00"
		Day               string     `json:"day"`
		Inactivity        Duration   `json:"inactivity"`
		DoorAtNight       bool       `json:"door_at_night"`
		BedExit           Duration   `json:"bed_exit"`
		LowTemperature    float64    `json:"low_temperature"`
		LowTemperatureFor Duration   `json:"low_temperature_for"`
		Medication        []DoseFile `json:"medication"`
		LowBattery        int        `json:"low_battery"`
		SilentFactor      int        `json:"silent_factor"`
	} `json:"rules"`
}

// DeviceFile is one device in the file.
type DeviceFile struct {
	Device       vagt.DeviceID        `json:"device"`
	Technology   vagt.Technology      `json:"technology"`
	Zigbee       string               `json:"zigbee"`
	Fields       map[string]vagt.Kind `json:"fields"`
	ReportEvery  Duration             `json:"report_every"`
	PanicOnPress bool                 `json:"panic_on_press"`
}

// DoseFile is one medication window in the file.
type DoseFile struct {
	Dose   int    `json:"dose"`
	Window string `json:"window"` // "08:00-10:00"
}

func (h *HomeFile) toDomain(gw vagt.GatewayID, mun vagt.MunicipalityCode) (vagt.HomeConfig, error) {
	c := vagt.HomeConfig{Gateway: gw, Municipality: mun, TimeZone: h.TimeZone}
	r := &h.Rules
	var err1, err2 error
	c.Rules.Night, err1 = vagt.ParseWindow(r.Night)
	c.Rules.Day, err2 = vagt.ParseWindow(r.Day)
	if err := errors.Join(err1, err2); err != nil {
		return c, err
	}
	c.Rules.Inactivity, c.Rules.DoorAtNight, c.Rules.BedExit = time.Duration(r.Inactivity), r.DoorAtNight, time.Duration(r.BedExit)
	c.Rules.LowTemperature, c.Rules.LowTemperatureFor = r.LowTemperature, time.Duration(r.LowTemperatureFor)
	c.Rules.LowBattery, c.Rules.SilentFactor = r.LowBattery, r.SilentFactor
	for _, d := range r.Medication {
		w, err := vagt.ParseWindow(d.Window)
		if err != nil {
			return c, err
		}
		c.Rules.Medication = append(c.Rules.Medication, vagt.DoseWindow{Dose: d.Dose, Window: w})
	}
	for _, d := range h.Devices {
		c.Devices = append(c.Devices, vagt.DeviceConfig{Device: d.Device, Technology: d.Technology, Zigbee: d.Zigbee,
			Fields: d.Fields, ReportEvery: time.Duration(d.ReportEvery), PanicOnPress: d.PanicOnPress})
	}
	return c, nil
}
