// Command genusers writes the users of the clustered broker (deploy/nats/users.conf): one
// entry per gateway id read from standard input (one a line), each allowed to publish
// only under its own id and to read only its own config and downlink lanes; one per GPS
// tracker id ("gps.<id>"), allowed to publish only under owntracks/gps.<id>/ and to read
// nothing; and the platform's service users. Users are certificate subjects ("CN=<id>"), so no passwords.
//
//	vagt gateways list | go run ./deploy/nats/genusers > /etc/nats/vagt/users.conf
//	nats-server --signal reload   # on every node; connections stay up
package main

import (
	"fmt"
	"os"

	natsconf "github.com/vagt-dk/vagt/deploy/nats"
)

func main() {
	if err := natsconf.WriteUsers(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "genusers:", err)
		os.Exit(1)
	}
}
