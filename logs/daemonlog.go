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

// Tag writes one plugin line to the daemon log as dockerd does: field
// plugin=<id>, stdout at info and stderr at error.
func Tag(l *logrus.Logger, id string, e Entry) {
	level := logrus.InfoLevel
	if e.Stream == Stderr {
		level = logrus.ErrorLevel
	}
	l.WithField("plugin", id).WithTime(time.Unix(0, e.Time)).Log(level, e.Line)
}
