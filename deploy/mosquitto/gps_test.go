package mosquittoconf_test

import "testing"

// GPS trackers log in with their tracker id (docs/gps.md).
func init() {
	users["gps.karen-01"] = "secret-karen"
	users["gps.mallory"] = "secret-mallory"
}

// TestTrackersPublishOnlyUnderTheirOwnUser: with the production ACL, an OwnTracks tracker
// publishes its locations and transitions under owntracks/{its user}/ and the api reads
// them; a tracker or a gateway publishing under another tracker's user is acknowledged
// and dropped (each forgery is followed by a marker the api must see first).
func TestTrackersPublishOnlyUnderTheirOwnUser(t *testing.T) {
	b := startBroker(t)
	api := newSink()
	b.connect(t, b.services, "svc_api", "vagt-api-gps", true, api.subscription("owntracks/+/+", "owntracks/+/+/event"))
	karen := b.connect(t, b.password, "gps.karen-01", "karen-phone", true, nil)
	mallory := b.connect(t, b.password, "gps.mallory", "mallory-phone", true, nil)
	gw := b.connect(t, b.password, "gw-a", "gw-a", true, nil)

	publish(t, karen, "owntracks/gps.karen-01/phone", false, `{"_type":"location"}`)
	api.expect(t, "owntracks/gps.karen-01/phone", `{"_type":"location"}`)
	publish(t, karen, "owntracks/gps.karen-01/phone/event", false, `{"_type":"transition"}`)
	api.expect(t, "owntracks/gps.karen-01/phone/event", `{"_type":"transition"}`)

	for _, forged := range []struct {
		name   string
		topic  string
		client int
	}{
		{"mallory as karen", "owntracks/gps.karen-01/phone", 0},
		{"mallory as karen's event", "owntracks/gps.karen-01/phone/event", 0},
		{"a gateway as karen", "owntracks/gps.karen-01/phone", 1},
	} {
		from := mallory
		if forged.client == 1 {
			from = gw
		}
		publish(t, from, forged.topic, false, "forged: "+forged.name)
		publish(t, mallory, "owntracks/gps.mallory/phone", false, "marker after "+forged.name)
		api.noneBefore(t, "owntracks/gps.mallory/phone", "marker after "+forged.name)
	}
}
