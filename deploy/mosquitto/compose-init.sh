#!/bin/sh
# deploy/compose.yaml's mosquitto-init: fills the volume behind /etc/mosquitto/vagt with what
# mosquitto.conf expects besides itself and the ACL — a password file and a development CA
# with a server certificate — and hands the persistence volume to the broker's user.
# For a development stack only: production credentials are provisioned as README.md says.
set -eu
apk add --no-cache openssl mosquitto >/dev/null

etc=/etc/mosquitto/vagt
uid=1883 # the mosquitto user of the eclipse-mosquitto image
cd "$etc"

if [ ! -f ca.crt ]; then
	echo "mosquitto-init: making a development CA and server certificate (CN mosquitto)"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
		-subj "/CN=vagt development CA (not for production)" -keyout ca.key -out ca.crt 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=mosquitto" -keyout server.key -out server.csr 2>/dev/null
	printf 'subjectAltName=DNS:mosquitto,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
		-extfile server.ext -out server.crt 2>/dev/null
	rm -f server.csr server.ext
fi

# The password file is written anew each start, from the environment.
umask 077
: >passwd.new
mosquitto_passwd -b passwd.new svc_ingest "$SVC_INGEST_PASSWORD"
mosquitto_passwd -b passwd.new svc_api "$SVC_API_PASSWORD"
mosquitto_passwd -b passwd.new ops_monitor "$OPS_MONITOR_PASSWORD"
if [ -n "${DEV_GATEWAY:-}" ]; then
	mosquitto_passwd -b passwd.new "$DEV_GATEWAY" "$DEV_GATEWAY_PASSWORD"
fi
mv passwd.new passwd

chown "$uid:$uid" passwd server.key
chmod 0600 passwd server.key ca.key
chmod 0644 ca.crt server.crt
chown -R "$uid:$uid" /var/lib/mosquitto
echo "mosquitto-init: done (gateways trust $etc/ca.crt: docker compose cp mosquitto:$etc/ca.crt .)"
