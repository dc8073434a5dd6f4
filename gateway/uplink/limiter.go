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

// reserve takes n tokens at now and returns how long the caller must wait before it may
// use them (0: at once). Tokens may go negative: the debt is the wait.
func (l *limiter) reserve(now time.Time, n int) time.Duration {
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}
