package logs

import (
	"time"

	"github.com/sirupsen/logrus"
)

// NewDaemonLogger returns the logger the daemon writes to: logrus text
// format like dockerd, but with nanosecond timestamps so that plugin lines
// keep the order and precision the monitor recorded.
func NewDaemonLogger() *logrus.Logger {
	l := logrus.New()
	l.SetFormatter(&logrus.TextFormatter{
		FullTimestamp:   true,
		TimestampFormat: time.RFC3339Nano,
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
