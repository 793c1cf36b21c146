package logs

import (
	"errors"

	"github.com/sirupsen/logrus"
)

// errReplayed ends the read of FromHistory once it has the lines it wants.
var errReplayed = errors.New("replayed")

// FromHistory routes, as the daemon routes plugin id's live lines, the n
// lines after seq after that its log file at path holds: lines the
// plugin's monitor could not keep in memory for a daemon that was away or
// slower than the plugin. Each line goes to the daemon log l (TagBatch,
// its pieces joined by joiner: the plugin's live lines' joiner, since a
// line may continue in them) and is published to h. When some of the n
// are not there (rotated away meanwhile, or never stored), the plugin's
// followers are marked lagging, so that they learn of the gap. It returns
// how many of the n lines the file held.
func (h *Hub) FromHistory(l *logrus.Logger, id, path string, joiner *Joiner, after, n uint64) (found uint64, err error) {
	const batchMax = 1024
	batch := make([]Entry, 0, batchMax)
	var whole []Entry
	publish := func() {
		TagBatch(l, id, whole)
		whole = whole[:0]
		h.Publish(Batch{Plugin: id, Entries: batch})
		batch = make([]Entry, 0, batchMax) // the hub shares published entries
	}
	_, err = ReadHistory(path, Filter{AfterSeq: after}, 0, func(e Entry) error {
		if e.Seq > after+n {
			return errReplayed
		}
		found++
		if e, ok := joiner.Add(e); ok {
			whole = append(whole, e)
		}
		if batch = append(batch, e); len(batch) == batchMax {
			publish()
		}
		return nil
	})
	if len(batch) > 0 {
		publish()
	}
	if errors.Is(err, errReplayed) {
		err = nil
	}
	if found < n {
		h.MarkLagged(id)
	}
	return found, err
}
