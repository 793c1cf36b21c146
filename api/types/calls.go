package types

import "time"

// CallLatencyBuckets are the upper bounds, in seconds, of the latency
// histogram of an observed plugin's calls (MethodCalls.Buckets), in
// Prometheus' "le" sense; a last, implicit bucket (+Inf) is
// MethodCalls.Count. Plugin calls take from a hundred microseconds (a List
// through the recording point) to seconds (a Mount that fetches data).
var CallLatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Call statuses besides the answer's HTTP code ("200", "404", ...).
const (
	// CallErr is a 200 JSON answer with a non-empty Err (Error for IPAM):
	// the plugin's way to report a failure.
	CallErr = "err"
	// CallNoAnswer is a request whose connection ended before its answer
	// did: the client gave up, or the plugin closed the connection.
	CallNoAnswer = "none"
)

// CallStats are the counters of one observed plugin's calls, as its
// recording point (in the plugin's monitor) counted them since Since. They
// only grow while Since stays the same; a new run of the plugin (a restart
// after a crash, an enable) counts from zero with a new Since. A daemon
// restart does not reset them.
type CallStats struct {
	Plugin string `json:"Plugin"` // ID
	Name   string `json:"Name"`
	// Observed: the plugin is set to be observed (plugdbg observe, or the
	// daemon's --observe-all).
	Observed bool `json:"Observed"`
	// Recording: the recording point is in place on the plugin's socket:
	// every call made on its path is counted.
	Recording bool `json:"Recording"`
	// Error says why the recording point is not in place, if it should be.
	Error string `json:"Error,omitempty"`
	// Since is when this run's counting began (the monitor's start).
	Since time.Time `json:"Since"`
	// Methods are the counters per method (the request path without its
	// "/", e.g. "VolumeDriver.Mount"), sorted by method. Past MaxMethods
	// distinct paths, further ones count as "other".
	Methods []MethodCalls `json:"Methods"`
	// Unparsed counts connections whose traffic stopped parsing as
	// HTTP/1.1 (it was still forwarded unchanged): their calls from that
	// point on are not counted.
	Unparsed uint64 `json:"Unparsed,omitempty"`
}

// MaxMethods bounds the distinct methods an observed plugin's counters
// keep; calls of further request paths count under OtherMethod, so that a
// client sending arbitrary paths cannot grow them without end.
const MaxMethods = 128

// OtherMethod collects the calls of methods past MaxMethods, and of
// request paths that are not a method name (too long, or with bytes other
// than letters, digits, '.', '_', '-' and '/').
const OtherMethod = "other"

// MethodCalls are the counters of one method's calls.
type MethodCalls struct {
	Method string `json:"Method"`
	// Count is every call of the method, whatever its status; it is also
	// the histogram's +Inf bucket.
	Count uint64 `json:"Count"`
	// Statuses counts the calls by status: the HTTP code of the answer
	// ("200", "404", ...), CallErr or CallNoAnswer. 200 counts the
	// answers without Err only.
	Statuses map[string]uint64 `json:"Statuses"`
	// Buckets are cumulative: Buckets[i] counts the calls that took at
	// most CallLatencyBuckets[i] seconds, as a Prometheus histogram's
	// buckets do. A call's time runs from the first byte of its request
	// reaching the recording point to the last byte of its answer leaving
	// the plugin (or its connection's end, for CallNoAnswer).
	Buckets []uint64 `json:"Buckets"`
	// Sum is the calls' total time, in seconds.
	Sum float64 `json:"Sum"`
}
