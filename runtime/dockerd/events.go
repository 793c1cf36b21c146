package dockerd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/moby/moby/api/types/events"
)

// maxEventLine bounds one event of dockerd's stream: a plugin event is a
// few hundred bytes.
const maxEventLine = 1 << 20

// Events is a stream of dockerd's events. Next is called from one
// goroutine; Close from any, and ends a Next that waits.
type Events struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// PluginEvents subscribes to dockerd's plugin events (install, enable,
// disable, remove, ...). It returns once dockerd has answered, so that no
// event after the return is missed: a caller that reads dockerd's state
// then and applies each event it gets is never behind. ctx bounds the
// whole stream.
func (h *Host) PluginEvents(ctx context.Context) (*Events, error) {
	f, _ := json.Marshal(map[string][]string{"type": {"plugin"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/events?"+url.Values{"filters": {string(f)}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.API.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker API at %s (is dockerd running?): %w", h.API.host, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, &APIError{Status: resp.StatusCode, Message: "dockerd: events: " + strings.TrimSpace(string(data))}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	return &Events{body: resp.Body, sc: sc}, nil
}

// Next returns the next event; an error once the stream has ended
// (dockerd stopped, ctx ended, Close).
func (e *Events) Next() (events.Message, error) {
	var m events.Message
	for e.sc.Scan() {
		line := e.sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return m, fmt.Errorf("dockerd's events: %w", err)
		}
		return m, nil
	}
	err := e.sc.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		return m, fmt.Errorf("dockerd's events: an event over %d bytes", maxEventLine)
	}
	if err == nil {
		err = io.EOF
	}
	return m, fmt.Errorf("dockerd's events: %w", err)
}

// Close ends the stream.
func (e *Events) Close() error { return e.body.Close() }
