package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/schollz/progressbar/v3"
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
	var bar *progressbar.ProgressBar
	barKey, lastKey := "", ""
	endBar := func() {
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(out)
			bar, barKey = nil, ""
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
			if key != barKey {
				endBar()
				bar = progressbar.NewOptions64(m.Progress.Total,
					progressbar.OptionSetWriter(out),
					progressbar.OptionSetDescription(fmt.Sprintf("%s: %-11s", m.ID, m.Status)),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowCount(),
					progressbar.OptionSetWidth(30),
					progressbar.OptionFullWidth(),
				)
				barKey, lastKey = key, key
			}
			_ = bar.Set64(min(m.Progress.Current, m.Progress.Total))
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
