package uplink

import "time"

// limiter is a token bucket over readings: rate per second, up to burst saved up.
type limiter struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (l *limiter) refill(now time.Time) {
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
}

// wait returns how long until n readings may go (0: now), without taking them, so the
// caller can look for an alarm meanwhile. More than a burst waits for a full bucket.
func (l *limiter) wait(now time.Time, n int) time.Duration {
	l.refill(now)
	need := min(float64(n), l.burst)
	if l.tokens >= need {
		return 0
	}
	return time.Duration((need - l.tokens) / l.rate * float64(time.Second))
}

// take spends n tokens (the bucket may go into debt for an item larger than a burst).
func (l *limiter) take(now time.Time, n int) {
	l.refill(now)
	l.tokens -= float64(n)
}
