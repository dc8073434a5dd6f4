package careplan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
)

// ParseSettings decodes settings from JSON, refusing unknown fields. A value that does not
// decode (a duration of 30, an unknown technology, a misspelt rule) is a FieldError naming
// it, as the checks after decoding do: the JSON decoder itself does not say where an
// UnmarshalJSON method failed.
func ParseSettings(data []byte) (Settings, error) {
	var s Settings
	err := strictUnmarshal(data, &s)
	if err == nil {
		return s, nil
	}
	var parts struct {
		Devices []map[string]json.RawMessage `json:"devices"`
		Rules   map[string]json.RawMessage   `json:"rules"`
		Night   map[string]json.RawMessage   `json:"night_checks"`
	}
	if json.Unmarshal(data, &parts) == nil {
		for i, d := range parts.Devices {
			if f := failingKey(d, &Device{}); f != "" {
				return Settings{}, &api.FieldError{Field: fmt.Sprintf("devices[%d].%s", i, f), Reason: reason[Device](d[f], f)}
			}
		}
		if f := failingKey(parts.Rules, &Rules{}); f != "" {
			return Settings{}, &api.FieldError{Field: "rules." + f, Reason: reason[Rules](parts.Rules[f], f)}
		}
		if f := failingKey(parts.Night, &night.Plan{}); f != "" {
			return Settings{}, &api.FieldError{Field: "night_checks." + f, Reason: reason[night.Plan](parts.Night[f], f)}
		}
	}
	return Settings{}, &api.FieldError{Field: "body", Reason: err.Error()}
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// failingKey returns the first key (in order) of m that does not decode into a fresh v.
func failingKey[T any](m map[string]json.RawMessage, v *T) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: m[k]})
		var fresh T
		if strictUnmarshal(one, &fresh) != nil {
			return k
		}
	}
	return ""
}

// reason is why the key alone does not decode into a T.
func reason[T any](raw json.RawMessage, key string) string {
	one, _ := json.Marshal(map[string]json.RawMessage{key: raw})
	var fresh T
	if err := strictUnmarshal(one, &fresh); err != nil {
		return err.Error()
	}
	return "invalid"
}
