// Package prometheus holds no code: its folder ships the Prometheus rules for vagt
// (vagt.rules.yml, with promtool unit tests in vagt.rules.test.yml) and its tests check them,
// and the Grafana dashboard in deploy/grafana, against the metrics the services export.
package prometheus
