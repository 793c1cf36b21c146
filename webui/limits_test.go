package webui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPageMessageLimit: a message from the page up to maxInMessage is read;
// one byte more closes the socket with 1009 rather than being buffered.
func TestPageMessageLimit(t *testing.T) {
	_, addr := startServer(t, newFakeBackend())
	msg := func(n int) []byte {
		m := `{"type":"nope"}`
		return []byte(m + strings.Repeat(" ", n-len(m)))
	}

	p := openPage(t, addr)
	require.NoError(t, p.ws.WriteMessage(websocket.TextMessage, msg(maxInMessage)))
	for {
		_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wireMsg
		require.NoError(t, p.ws.ReadJSON(&m), "a message at the limit is read and answered")
		if m.Type == "error" {
			assert.Equal(t, `unknown message type "nope"`, m.Error)
			break
		}
	}

	require.NoError(t, p.ws.WriteMessage(websocket.TextMessage, msg(maxInMessage+1)))
	for {
		_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := p.ws.ReadMessage()
		if err == nil {
			continue // a message queued before the close
		}
		var ce *websocket.CloseError
		require.True(t, errors.As(err, &ce), "want a close, got %v", err)
		assert.Equal(t, websocket.CloseMessageTooBig, ce.Code)
		return
	}
}
