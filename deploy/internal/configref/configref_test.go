package configref

import "testing"

func TestVariables(t *testing.T) {
	api, err := Variables("vagt api")
	if err != nil {
		t.Fatal(err)
	}
	for name, kind := range map[string]string{"VAGT_BROKER": "string", "VAGT_OFFLINE_FACTOR": "int", "VAGT_KEEP_ALERTS": "duration"} {
		if api[name] != kind {
			t.Errorf("vagt api: %s is %q, want %q", name, api[name], kind)
		}
	}
	gw, err := Variables("vagt-gateway")
	if err != nil {
		t.Fatal(err)
	}
	if gw["VAGT_PRINT_CONFIG"] != "bool" || gw["VAGT_SPOOL"] != "string" {
		t.Errorf("vagt-gateway: %v", gw)
	}
	if _, ok := gw["VAGT_DB"]; ok {
		t.Error("vagt-gateway: VAGT_DB is the api's, not the gateway's")
	}
	if _, err := Variables("vagt nothing"); err == nil {
		t.Error("a command without a section gave no error")
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		kind, value string
		ok          bool
	}{
		{"duration", "90s", true}, {"duration", "90", false},
		{"bool", "true", true}, {"bool", "yes", false},
		{"int", "-3", true}, {"int", "3.5", false},
		{"uint", "766", true}, {"uint", "-1", false},
		{"float", "0.5", true}, {"float", "half", false},
		{"string", "anything", true},
	} {
		if err := Check(c.kind, c.value); (err == nil) != c.ok {
			t.Errorf("Check(%s, %q) = %v, want ok=%v", c.kind, c.value, err, c.ok)
		}
	}
}
