package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/version"
)

// Timing of the plugin table. Variables so that tests can shorten them.
var (
	// pluginsRefresh is the longest a state change that made no event
	// (a restart countdown, a pid) waits before the page sees it.
	pluginsRefresh = 2 * time.Second
	// pluginsCoalesce gathers the events of one change into one table.
	pluginsCoalesce = 50 * time.Millisecond
	// recentEvents is how far back the event view starts.
	recentEvents = 30 * time.Minute
	// maxPastEvents bounds the past events a page gets at connect.
	maxPastEvents = 500
)

// pluginView is one row of the plugin table.
type pluginView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Enabled      bool              `json:"enabled"`
	Status       string            `json:"status"`
	Pid          int               `json:"pid,omitempty"`
	StartedAt    *time.Time        `json:"startedAt,omitempty"`
	RestartCount int               `json:"restartCount"`
	LastExit     *types.PluginExit `json:"lastExit,omitempty"`
	NextRestart  *time.Time        `json:"nextRestart,omitempty"`
	Error        string            `json:"error,omitempty"`
	Types        []string          `json:"types"`
	Description  string            `json:"description,omitempty"`
	Socket       string            `json:"socket,omitempty"`
	Settings     []string          `json:"env,omitempty"`
}

func viewOf(p types.Inspect) pluginView {
	v := pluginView{
		ID: p.ID, Name: p.Name, Enabled: p.Enabled, Status: p.State.Status, Pid: p.State.Pid,
		StartedAt: p.State.StartedAt, RestartCount: p.State.RestartCount, LastExit: p.State.LastExit,
		NextRestart: p.State.NextRestart, Error: p.State.Error, Description: p.Config.Description,
		Types: []string{},
	}
	if p.Enabled {
		v.Socket = p.State.Socket
	}
	for _, t := range p.Config.Interface.Types {
		v.Types = append(v.Types, fmt.Sprintf("%s.%s/%s", t.Prefix, t.Capability, t.Version))
	}
	v.Settings = p.Settings.Env
	return v
}

type pluginsMsg struct {
	Type    string       `json:"type"` // "plugins"
	Plugins []pluginView `json:"plugins"`
}

type eventsMsg struct {
	Type   string           `json:"type"` // "events": past ones at connect, then one at a time
	Events []events.Message `json:"events"`
	Lost   int              `json:"lost,omitempty"` // events this page missed before these
}

type helloMsg struct {
	Type    string         `json:"type"` // "hello"
	Version string         `json:"version"`
	Catalog []catalogIface `json:"catalog"`
	Trace   bool           `json:"trace"`  // whether the daemon can trace calls
	Charts  bool           `json:"charts"` // whether it keeps chart series
}

// watch sends the hello, then the plugin table and the events, live,
// until the connection ends.
func (c *conn) watch() {
	_, canTrace := c.s.o.Backend.(Tracer)
	c.sendMust(helloMsg{Type: "hello", Version: version.Version, Catalog: catalogView(), Trace: canTrace, Charts: c.s.o.Charts != nil})
	past, ch, unsubscribe := c.s.o.Backend.SubscribeSince(time.Now().Add(-recentEvents))
	defer unsubscribe()
	var last []byte
	dirty := true
	sendPlugins := func() {
		ps := c.s.o.Backend.List()
		m := pluginsMsg{Type: "plugins", Plugins: make([]pluginView, 0, len(ps))}
		for _, p := range ps {
			m.Plugins = append(m.Plugins, viewOf(p))
		}
		b, err := json.Marshal(m)
		if err != nil {
			return
		}
		if bytes.Equal(b, last) {
			dirty = false
			return
		}
		if c.trySend(b) {
			last, dirty = b, false
		}
	}
	sendPlugins()
	if len(past) > maxPastEvents {
		past = past[len(past)-maxPastEvents:]
	}
	if past == nil {
		past = []events.Message{}
	}
	c.sendMust(eventsMsg{Type: "events", Events: past})

	refresh := time.NewTicker(pluginsRefresh)
	defer refresh.Stop()
	coalesce := time.NewTimer(time.Hour)
	defer coalesce.Stop()
	lost := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(eventsMsg{Type: "events", Events: []events.Message{ev}, Lost: lost})
			if c.trySend(b) {
				lost = 0
			} else {
				lost++
			}
			if ev.Action != types.ActionCall && !dirty {
				dirty = true
				coalesce.Reset(pluginsCoalesce)
			}
		case <-coalesce.C:
			sendPlugins()
		case <-refresh.C:
			sendPlugins()
		}
	}
}

// lifecycle enables or disables a plugin and answers with a result.
func (c *conn) lifecycle(m inMsg) {
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	var err error
	if m.Type == "plugin.enable" {
		err = c.s.o.Backend.Enable(ctx, m.Plugin, 30*time.Second)
	} else {
		err = c.s.o.Backend.Disable(ctx, m.Plugin, false)
	}
	res := resultMsg{Type: "result", ID: m.ID}
	if err != nil {
		res.Error = err.Error()
	}
	c.sendMust(res)
}

type resultMsg struct {
	Type  string `json:"type"` // "result"
	ID    string `json:"id"`
	Error string `json:"error,omitempty"`
}
