package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// Display shows a daemon's JSON progress stream (pull, push, upgrade). On
// a terminal, byte counts become progress bars; otherwise each change of
// status prints one line. A nil *Display shows nothing.
type Display struct {
	Out io.Writer
	TTY bool
}

// Printf writes a line of the command's own output.
func (d *Display) Printf(format string, args ...any) {
	if d != nil {
		fmt.Fprintf(d.Out, format, args...)
	}
}

// Show reads the stream to its end. It returns the last aux message, and
// the error the stream ends with, if any.
func (d *Display) Show(r io.Reader) (*json.RawMessage, error) {
	out := io.Discard
	tty := false
	if d != nil {
		out, tty = d.Out, d.TTY
	}
	dec := json.NewDecoder(r)
	var aux *json.RawMessage
	barKey, lastKey := "", "" // barKey: the ID and status of the bar being redrawn, if any
	endBar := func() {
		if barKey != "" {
			fmt.Fprintln(out)
			barKey = ""
		}
	}
	defer endBar()
	for {
		var m struct {
			jsonstream.Message
			ErrorMessage string `json:"error"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return aux, nil
		} else if err != nil {
			return aux, fmt.Errorf("read progress: %w", err)
		}
		switch {
		case m.Error != nil && m.Error.Code >= 400:
			// The daemon's kind of error, as the status it would have
			// answered with before the stream began.
			return aux, &Error{Status: m.Error.Code, Message: m.Error.Message}
		case m.Error != nil:
			return aux, errors.New(m.Error.Message)
		case m.ErrorMessage != "":
			return aux, errors.New(m.ErrorMessage)
		case m.Aux != nil:
			aux = m.Aux
			continue
		}
		key := m.ID + "\x00" + m.Status
		if tty && m.Progress != nil && m.Progress.Total > 0 {
			// Redrawn in place, in docker's own form (jsonmessage).
			fmt.Fprintf(out, "\r\x1b[2K%s: %s %s", m.ID, m.Status, progressBar(m.Progress.Current, m.Progress.Total))
			barKey, lastKey = key, key
			continue
		}
		if key == lastKey {
			continue
		}
		endBar()
		lastKey = key
		if m.ID != "" {
			fmt.Fprintf(out, "%s: %s\n", m.ID, m.Status)
		} else {
			fmt.Fprintln(out, m.Status)
		}
	}
}

// progressBar draws current of total bytes as the docker CLI does:
// "[=========>          ]  1.2MB/3.4MB", the bar 50 columns wide.
func progressBar(current, total int64) string {
	current = min(max(current, 0), total)
	done := int(current * 50 / total)
	bar := strings.Repeat("=", done) + ">" + strings.Repeat(" ", 50-done)
	return fmt.Sprintf("[%s] %8v/%v", bar, units.HumanSize(float64(current)), units.HumanSize(float64(total)))
}
