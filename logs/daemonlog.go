package logs

import (
	"time"

	"github.com/sirupsen/logrus"
)

// timestampFormat is RFC 3339 with fixed-width nanoseconds, the format
// dockerd logs with (containerd/log.RFC3339NanoFixed). time.RFC3339Nano
// drops trailing zeros, so its lines neither line up nor sort as text.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// NewDaemonLogger returns the logger the daemon writes to: logrus text
// format with nanosecond timestamps as dockerd's, so that plugin lines
// keep the order and precision the monitor recorded.
func NewDaemonLogger() *logrus.Logger {
	l := logrus.New()
	l.SetFormatter(&logrus.TextFormatter{
		FullTimestamp:   true,
		TimestampFormat: timestampFormat,
		DisableColors:   true,
	})
	return l
}

// Tag writes one plugin line to the daemon log as dockerd does, with field
// plugin=<id> and the monitor's timestamp. The line's level is its own
// (LineLevel) if it has one, else the stream's: info for stdout, error for
// stderr. A line below the logger's level costs no more than LineLevel.
// Fatal and panic lines are only logged: Tag neither exits nor panics.
//
// Tag is safe for concurrent use, as the logger is.
func Tag(l *logrus.Logger, id string, e Entry) {
	level, ok := LineLevel(e.Line)
	if !ok {
		level = logrus.InfoLevel
		if e.Stream == Stderr {
			level = logrus.ErrorLevel
		}
	}
	if !l.IsLevelEnabled(level) {
		return
	}
	// One Entry with its field and time, instead of the three that
	// WithField(…).WithTime(…) would allocate.
	entry := &logrus.Entry{Logger: l, Data: logrus.Fields{"plugin": id}, Time: time.Unix(0, e.Time)}
	entry.Log(level, e.Line)
}
