package types

// PushResult is what a push stored in the registry.
type PushResult struct {
	Tag    string `json:"Tag"`
	Digest string `json:"Digest"` // the manifest's
	Size   int    `json:"Size"`   // the manifest's, in bytes
}
