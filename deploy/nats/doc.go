// Package natsconf holds the production configuration of the clustered broker (nats.conf
// beside this file, with `vagt broker-auth` authorizing its clients: package brokerauth)
// and the test that runs it: see README.md.
package natsconf
