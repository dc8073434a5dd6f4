// Package natsconf holds the production configuration of the clustered broker (nats.conf
// beside this file) and writes its users (users.conf): see README.md.
package natsconf

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/test/localstack"
)

// WriteUsers writes users.conf: the service users, then one user per gateway or GPS tracker
// id read from in (one a line; blank lines and repeats are skipped). A tracker id
// ("gps.karen-01", docs/gps.md) gets a tracker's permissions, any other a gateway's. An
// invalid id is an error.
func WriteUsers(in io.Reader, out io.Writer) error {
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "# written by deploy/nats/genusers: do not edit, regenerate")
	fmt.Fprintln(w, "authorization {")
	fmt.Fprintln(w, "  users: [")
	cn := func(n string) string { return "CN=" + n }
	none := func(string) string { return "" }
	for _, u := range localstack.NATSServiceUsers(cn, none) {
		fmt.Fprintf(w, "    %s\n", localstack.NATSUserConfig(u, false))
	}
	sc := bufio.NewScanner(in)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		id := sc.Text()
		if id == "" || seen[id] {
			continue
		}
		// Only a valid id: a "*" or ">" in one would widen its permissions to others.
		var u localstack.NATSUser
		if strings.HasPrefix(id, "gps.") {
			if !gps.ValidTrackerID(id) {
				return fmt.Errorf("line %d: %q is not a tracker id (gps. and 3-60 of [a-z0-9-])", n, id)
			}
			u = localstack.NATSTrackerUser(cn(id), id, "")
		} else {
			if err := vagt.GatewayID(id).Validate(); err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			u = localstack.NATSGatewayUser(cn(id), id, "")
		}
		seen[id] = true
		fmt.Fprintf(w, "    %s\n", localstack.NATSUserConfig(u, false))
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(w, "  ]")
	fmt.Fprintln(w, "}")
	return w.Flush()
}
