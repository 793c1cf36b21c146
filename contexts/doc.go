// Package contexts keeps plugdbg's contexts, named daemon endpoints, as
// docker keeps its own, and chooses the endpoint a command talks to.
//
// The store lives in the config directory ($PLUGDBG_CONFIG, or plugdbg in
// the user's config directory: ~/.config/plugdbg on Linux) with docker's
// layout: contexts/meta/<id>/meta.json holds a context's name, description
// and endpoint ({"Endpoints":{"plugdbg":{"Host":…,"SkipTLSVerify":…}}}),
// contexts/tls/<id>/plugdbg/{ca,cert,key}.pem its TLS files, where <id> is
// the lowercase hex SHA-256 of the name; config.json's currentContext names
// the context `plugdbg context use` chose. The context "default" is never
// stored: it is what -H, PLUGDBG_HOST and the TLS flags and variables say.
//
// docker/cli's cli/context/store has the same layout but is not used: it
// drops meta.json fields it does not know (extra top-level keys, and extra
// keys of a typed endpoint), reads TLS files without a bound, brings two
// modules the client has no other use for (fvbommel/sortorder,
// moby/sys/atomicwriter) and an import/export archive format plugdbg does
// not offer, and leaves config.json to cli/config, which would bring
// docker's credential helpers. What plugdbg needs is a few small files.
//
// A Store is not safe for concurrent writers in different processes beyond
// what its atomic file replacements give: two `context create` of one name
// at once may both succeed, the later one's files winning.
package contexts
