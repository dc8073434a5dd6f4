package rules

import (
	"errors"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
)

// Tick evaluates the rules that fire on time passing: inactivity, bed exit, low
// temperature, missed medication and silent devices. The gateway calls it every few
// seconds; it does nothing twice for one episode.
func (e *Engine) Tick() error {
	now := e.now()
	local := now.In(e.loc)
	r := &e.cfg.Rules
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	if r.Inactivity > 0 && r.Day.From != r.Day.To {
		// The day window we are in, or the last one: a gateway that was off when the
		// alarm was due (at 18:00, restarted at 23:00) raises it late rather than never.
		// Running, it raised it in the window, or activity put the due time past its end.
		start, end := windowStart(r.Day, local), now
		if !r.Day.Contains(local) {
			end = windowEnd(r.Day, local)
			start = end.Add(-windowLength(r.Day))
		}
		since := e.lastActivity
		if since.Before(start) {
			since = start // only time within the window counts
		}
		since = e.sinceAbsence(since, now)
		if due := since.Add(r.Inactivity); !due.After(end) {
			add(e.raiseAt(episode{typ: vagt.AlarmInactivity, device: e.home}, map[string]string{"hours": strconv.FormatFloat(r.Inactivity.Hours(), 'f', 1, 64)}, due))
		}
	}
	if r.BedExit > 0 {
		for dev, since := range e.bedOutSince {
			if now.Sub(since) >= r.BedExit && !e.overlapsAbsence(since, now) {
				add(e.raiseAt(episode{typ: vagt.AlarmBedExit, device: dev}, map[string]string{"out_min": strconv.Itoa(int(now.Sub(since).Minutes()))}, since.Add(r.BedExit)))
			}
		}
	}
	if r.LowTemperatureFor > 0 {
		for dev, since := range e.coldSince {
			if now.Sub(since) >= r.LowTemperatureFor {
				add(e.raiseAt(episode{typ: vagt.AlarmLowTemperature, device: dev}, map[string]string{"below": strconv.FormatFloat(r.LowTemperature, 'f', 1, 64)}, since.Add(r.LowTemperatureFor)))
			}
		}
	}
	for _, d := range r.Medication {
		end := windowEnd(d.Window, local)
		start := end.Add(-windowLength(d.Window))
		// Only windows that began while we were watching (e.started carries over a restart
		// when the timers were kept): before that the intake history is unknown, and a
		// false missed-medication alarm sends staff for nothing.
		if start.Before(e.started) {
			continue
		}
		if taken, ok := e.takenAt[d.Dose]; ok && !taken.Before(start) {
			continue
		}
		if e.overlapsAbsence(start, end) {
			continue // away for part of the window: the dose was not the dispenser's to give
		}
		dose := strconv.Itoa(d.Dose)
		details := map[string]string{"dose": dose, "window": d.From.String() + "-" + d.To.String()}
		if !e.offSince.IsZero() && e.offSince.Before(end) && e.offUntil.After(start) {
			// Part of the window passed with the gateway off: an intake then was not seen.
			details["gateway_off"] = e.offSince.In(e.loc).Format("15:04") + "-" + e.offUntil.In(e.loc).Format("15:04")
		}
		add(e.raiseAt(episode{typ: vagt.AlarmMissedMedication, device: e.medicationDevice(), sub: dose}, details, end))
	}
	if r.SilentFactor > 0 {
		for _, d := range e.cfg.Devices {
			if d.ReportEvery <= 0 {
				continue
			}
			last, ok := e.lastSeen[d.Device]
			if !ok {
				last = e.started
			}
			if limit := d.ReportEvery * time.Duration(r.SilentFactor); now.Sub(last) > limit {
				add(e.raiseAt(episode{typ: vagt.AlarmSilentDevice, device: d.Device}, map[string]string{"silent_s": strconv.Itoa(int(now.Sub(last).Seconds()))}, last.Add(limit)))
			}
		}
	}
	return errors.Join(errs...)
}

// medicationDevice is the dispenser the missed dose concerns, or the home.
func (e *Engine) medicationDevice() vagt.DeviceID {
	for _, d := range e.cfg.Devices {
		if d.Technology == vagt.TechMedicineDispenser {
			return d.Device
		}
	}
	return e.home
}

func at(day time.Time, t vagt.TimeOfDay) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, int(t/60), int(t%60), 0, 0, day.Location())
}

// windowStart is when the window containing local began (today's From, or yesterday's
// for a window across midnight).
func windowStart(w vagt.Window, local time.Time) time.Time {
	s := at(local, w.From)
	if s.After(local) {
		s = at(local.AddDate(0, 0, -1), w.From)
	}
	return s
}

// windowEnd is the most recent end of the window at or before local.
func windowEnd(w vagt.Window, local time.Time) time.Time {
	e := at(local, w.To)
	if e.After(local) {
		e = at(local.AddDate(0, 0, -1), w.To)
	}
	return e
}

func windowLength(w vagt.Window) time.Duration {
	m := int(w.To) - int(w.From)
	if m < 0 {
		m += 24 * 60
	}
	return time.Duration(m) * time.Minute
}
