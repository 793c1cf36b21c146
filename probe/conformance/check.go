// Package conformance is the suite `plugdbg check` runs: it drives each
// interface a plugin implements through a real lifecycle over the plugin RPC
// protocol (package probe) and reports, call by call, what departs from
// what dockerd expects.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/probe"
)

// Status is the outcome of one check.
type Status string

// The outcomes of a check. Only pass and skip count as success.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Warn Status = "warn" // the call worked, but the answer departs from what dockerd expects
	Skip Status = "skip" // not run: an earlier step failed, or an optional method is not implemented
)

// Result is one RPC of a conformance suite.
type Result struct {
	Interface string        `json:"Interface"`
	Step      string        `json:"Step"`   // what the call checks, e.g. "Get of a missing volume"
	Method    string        `json:"Method"` // the RPC
	Status    Status        `json:"Status"`
	Reason    string        `json:"Reason,omitempty"`
	Duration  time.Duration `json:"Duration"`
}

// Report is the outcome of Check.
type Report struct {
	Target     string   `json:"Target"`
	Implements []string `json:"Implements"`
	Results    []Result `json:"Results"`
	Pass       int      `json:"Pass"`
	Fail       int      `json:"Fail"`
	Warn       int      `json:"Warn"`
	Skip       int      `json:"Skip"`
}

// OK reports whether no check failed: warnings alone do not fail a run, as
// a linter's do not, unless strict.
func (r *Report) OK(strict bool) bool { return r.Fail == 0 && (!strict || r.Warn == 0) }

// Options tune Check.
type Options struct {
	// Interfaces to check, by Implements name; nil: what Plugin.Activate lists.
	Interfaces []string
	Timeout    time.Duration // per call; 0: none
	// Logf, if set, gets one line per call as it completes.
	Logf func(format string, args ...any)
}

// Check drives each implemented interface through a real lifecycle
// (volumes created, mounted, unmounted and removed; networks, endpoints,
// joins; IPAM pools and addresses; authorization requests and answers)
// plus error cases, validating every answer. It removes what it created,
// also when a step fails. Suites run one after the other; Check is not
// meant to run concurrently against the same plugin.
func Check(ctx context.Context, c *probe.Client, o Options) (*Report, error) {
	rep := &Report{Target: c.Target().String()}
	s := &suite{ctx: ctx, c: c, o: o, rep: rep, iface: "Plugin"}
	impl := o.Interfaces
	if impl == nil {
		m, ok := s.call("Activate", "Plugin.Activate", nil)
		if !ok {
			return rep, fmt.Errorf("check %s: Plugin.Activate failed, so it is unknown what to check (name the interfaces with --interface)", rep.Target)
		}
		for _, v := range asSlice(m["Implements"]) {
			if str, ok := v.(string); ok {
				impl = append(impl, str)
			}
		}
	}
	rep.Implements = impl
	if len(impl) == 0 {
		s.add("Implements", "Plugin.Activate", Fail, "the plugin implements no interface", 0)
	}
	for _, name := range impl {
		i, ok := probe.InterfaceByImplements(name)
		if !ok {
			s.iface = name
			s.add("Interface", "", Skip, fmt.Sprintf("%q is not an interface plugdbg knows", name), 0)
			continue
		}
		s.iface = i.Name
		switch i.Name {
		case "VolumeDriver":
			s.volume()
		case "NetworkDriver":
			s.network()
		case "IpamDriver":
			s.ipam()
		case "AuthZPlugin":
			s.authz()
		case "LogDriver":
			s.call("Capabilities", "LogDriver.Capabilities", nil)
			s.add("Logging", "LogDriver.StartLogging", Skip, "StartLogging needs a FIFO dockerd creates; not driven here", 0)
		case "MetricsCollector":
			s.add("Metrics", "MetricsCollector.StartMetrics", Skip, "metrics calls start scraping dockerd's metrics socket; not driven here", 0)
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("check %s: %w", rep.Target, err)
	}
	return rep, nil
}

// suite runs the calls of one Check.
type suite struct {
	ctx   context.Context
	c     *probe.Client
	o     Options
	rep   *Report
	iface string
}

func (s *suite) add(step, method string, st Status, reason string, d time.Duration) {
	r := Result{Interface: s.iface, Step: step, Method: method, Status: st, Reason: reason, Duration: d}
	s.rep.Results = append(s.rep.Results, r)
	switch st {
	case Pass:
		s.rep.Pass++
	case Fail:
		s.rep.Fail++
	case Warn:
		s.rep.Warn++
	case Skip:
		s.rep.Skip++
	}
	if s.o.Logf != nil {
		s.o.Logf("%s %s %s %s", st, method, step, reason)
	}
}

// exchange makes one call and classifies it: the decoded answer, the
// failure (transport, HTTP or error field) if any, and schema problems.
func (s *suite) exchange(method string, args any) (ans map[string]any, callErr error, problems []probe.Problem, d time.Duration) {
	m, _ := probe.Lookup(method)
	var body []byte
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, err, nil, 0
		}
		body = append(b, '\n')
	}
	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if s.o.Timeout > 0 {
		ctx, cancel = context.WithTimeout(s.ctx, s.o.Timeout)
	}
	defer cancel()
	r, err := s.c.Do(ctx, method, body)
	if err != nil {
		return nil, err, nil, 0
	}
	if err := r.Err(); err != nil {
		return nil, err, nil, r.Elapsed
	}
	if msg := m.PluginErr(r.Body); msg != "" {
		return nil, &probe.PluginError{Method: method, Msg: msg}, nil, r.Elapsed
	}
	problems = probe.Validate(m, r.Body)
	_ = json.Unmarshal(r.Body, &ans)
	if ans == nil {
		ans = map[string]any{}
	}
	return ans, nil, problems, r.Elapsed
}

// call expects success; it records pass, warn (schema problems, or what
// the extra checks return) or fail, and returns the answer and whether the
// call itself worked.
func (s *suite) call(step, method string, args any, checks ...func(map[string]any) string) (map[string]any, bool) {
	ans, err, problems, d := s.exchange(method, args)
	if err != nil {
		m, _ := probe.Lookup(method)
		if m != nil && m.Optional && probe.IsNotFound(err) {
			s.add(step, method, Skip, "not implemented (404), which dockerd tolerates", d)
			return nil, false
		}
		s.add(step, method, Fail, errText(err), d)
		return nil, false
	}
	var reasons []string
	for _, p := range problems {
		reasons = append(reasons, p.String())
	}
	for _, chk := range checks {
		if r := chk(ans); r != "" {
			s.add(step, method, Fail, strings.Join(append([]string{r}, reasons...), "; "), d)
			return ans, true
		}
	}
	if len(reasons) > 0 {
		s.add(step, method, Warn, strings.Join(reasons, "; "), d)
	} else {
		s.add(step, method, Pass, "", d)
	}
	return ans, true
}

// callFails expects an error answer (HTTP error or error field); success is
// recorded as st with reason why.
func (s *suite) callFails(step, method string, args any, st Status, why string) {
	_, err, _, d := s.exchange(method, args)
	var te *probe.TransportError
	switch {
	case errors.As(err, &te):
		s.add(step, method, Fail, errText(err), d)
	case err != nil:
		s.add(step, method, Pass, "failed as it should: "+errText(err), d)
	default:
		s.add(step, method, st, why, d)
	}
}

// cleanup makes a best-effort call to undo what a failed suite left.
func (s *suite) cleanup(method string, args any) {
	_, _, _, _ = s.exchange(method, args)
}

func errText(err error) string {
	var se *probe.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("HTTP %d: %s", se.Status, truncate([]byte(se.Msg), 200))
	}
	var pe *probe.PluginError
	if errors.As(err, &pe) {
		return "Err: " + pe.Msg
	}
	return err.Error()
}

// truncate shortens an answer quoted in a reason to n bytes.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func asString(v any) string { s, _ := v.(string); return s }

func (s *suite) volume() {
	name := "plugdbg-check-" + randomHex(4)
	missing := "plugdbg-missing-" + randomHex(4)
	id1, id2 := randomHex(32), randomHex(32)
	nameArg := map[string]string{"Name": name}

	s.call("Capabilities", "VolumeDriver.Capabilities", struct{}{})
	if _, ok := s.call("Create", "VolumeDriver.Create", map[string]any{"Name": name, "Opts": map[string]string{}}); !ok {
		for _, st := range []string{"Get", "List", "Path", "Mount", "Unmount", "Remove"} {
			s.add(st, "VolumeDriver."+st, Skip, "Create failed", 0)
		}
		return
	}
	removed := false
	mounted := map[string]bool{}
	defer func() {
		for id := range mounted {
			s.cleanup("VolumeDriver.Unmount", map[string]string{"Name": name, "ID": id})
		}
		if !removed {
			s.cleanup("VolumeDriver.Remove", nameArg)
		}
	}()

	s.call("Get", "VolumeDriver.Get", nameArg, func(a map[string]any) string {
		v := asMap(a["Volume"])
		if v == nil {
			return "Volume is null for a volume just created: dockerd reads that as \"no such volume\""
		}
		if got := asString(v["Name"]); got != name {
			return fmt.Sprintf("Volume.Name is %q, want %q", got, name)
		}
		return ""
	})
	s.call("List", "VolumeDriver.List", struct{}{}, func(a map[string]any) string {
		if !listHas(a["Volumes"], name) {
			return fmt.Sprintf("Volumes does not list %q, created just before", name)
		}
		return ""
	})
	s.call("Path before Mount", "VolumeDriver.Path", nameArg)
	var mountpoint string
	if a, ok := s.call("Mount", "VolumeDriver.Mount", map[string]string{"Name": name, "ID": id1}); ok {
		mounted[id1] = true
		mountpoint = asString(a["Mountpoint"])
		s.call("Path while mounted", "VolumeDriver.Path", nameArg, func(a map[string]any) string {
			if got := asString(a["Mountpoint"]); got != mountpoint {
				return fmt.Sprintf("Mountpoint %q differs from Mount's %q", got, mountpoint)
			}
			return ""
		})
		if _, ok := s.call("Mount with a second ID", "VolumeDriver.Mount", map[string]string{"Name": name, "ID": id2}, func(a map[string]any) string {
			if got := asString(a["Mountpoint"]); got != mountpoint {
				return fmt.Sprintf("Mountpoint %q differs from the first Mount's %q", got, mountpoint)
			}
			return ""
		}); ok {
			mounted[id2] = true
			if _, ok := s.call("Unmount the second ID", "VolumeDriver.Unmount", map[string]string{"Name": name, "ID": id2}); ok {
				delete(mounted, id2)
			}
		}
		if _, ok := s.call("Unmount", "VolumeDriver.Unmount", map[string]string{"Name": name, "ID": id1}); ok {
			delete(mounted, id1)
		}
	} else {
		s.add("Unmount", "VolumeDriver.Unmount", Skip, "Mount failed", 0)
	}
	if _, ok := s.call("Remove", "VolumeDriver.Remove", nameArg); ok {
		removed = true
		s.callFails("Get after Remove", "VolumeDriver.Get", nameArg, Fail, "succeeded for a removed volume: it must answer Err")
		s.call("List after Remove", "VolumeDriver.List", struct{}{}, func(a map[string]any) string {
			if listHas(a["Volumes"], name) {
				return fmt.Sprintf("Volumes still lists %q after Remove", name)
			}
			return ""
		})
	}
	s.callFails("Get of a missing volume", "VolumeDriver.Get", map[string]string{"Name": missing}, Fail,
		"succeeded for a volume that does not exist: it must answer Err (a null Volume without Err is not an error to dockerd)")
	s.callFails("Mount of a missing volume", "VolumeDriver.Mount", map[string]string{"Name": missing, "ID": randomHex(32)}, Fail,
		"succeeded for a volume that does not exist")
	s.callFails("Remove of a missing volume", "VolumeDriver.Remove", map[string]string{"Name": missing}, Warn,
		"succeeded for a volume that does not exist")
}

func listHas(v any, name string) bool {
	for _, e := range asSlice(v) {
		if asString(asMap(e)["Name"]) == name {
			return true
		}
	}
	return false
}

func (s *suite) network() {
	nid, eid := randomHex(32), randomHex(32)
	ids := map[string]string{"NetworkID": nid, "EndpointID": eid}

	s.call("GetCapabilities", "NetworkDriver.GetCapabilities", nil)
	if _, ok := s.call("CreateNetwork", "NetworkDriver.CreateNetwork", map[string]any{
		"NetworkID": nid,
		"Options":   map[string]any{"com.docker.network.generic": map[string]any{}, "com.docker.network.enable_ipv4": true},
		"IPv4Data":  []any{map[string]any{"AddressSpace": "LocalDefault", "Pool": "172.31.250.0/24", "Gateway": "172.31.250.1/24"}},
		"IPv6Data":  []any{},
	}); !ok {
		for _, st := range []string{"CreateEndpoint", "Join", "Leave", "DeleteEndpoint", "DeleteNetwork"} {
			s.add(st, "NetworkDriver."+st, Skip, "CreateNetwork failed", 0)
		}
		return
	}
	netDone, epDone, joined := false, true, false
	defer func() {
		if joined {
			s.cleanup("NetworkDriver.Leave", ids)
		}
		if !epDone {
			s.cleanup("NetworkDriver.DeleteEndpoint", ids)
		}
		if !netDone {
			s.cleanup("NetworkDriver.DeleteNetwork", map[string]string{"NetworkID": nid})
		}
	}()

	const addr = "172.31.250.2/24"
	_, ok := s.call("CreateEndpoint", "NetworkDriver.CreateEndpoint", map[string]any{
		"NetworkID": nid, "EndpointID": eid,
		"Interface": map[string]string{"Address": addr, "AddressIPv6": "", "MacAddress": ""},
		"Options":   map[string]any{},
	}, func(a map[string]any) string {
		if got := asString(asMap(a["Interface"])["Address"]); got != "" {
			return fmt.Sprintf("Interface.Address %q repeats a field the request set: dockerd refuses the endpoint", got)
		}
		return ""
	})
	if ok {
		epDone = false
		s.call("EndpointOperInfo", "NetworkDriver.EndpointOperInfo", ids)
		if _, ok := s.call("Join", "NetworkDriver.Join", map[string]any{
			"NetworkID": nid, "EndpointID": eid, "SandboxKey": "/var/run/docker/netns/plugdbg-check", "Options": map[string]any{},
		}, func(a map[string]any) string {
			if asString(asMap(a["InterfaceName"])["SrcName"]) == "" {
				return "InterfaceName.SrcName is empty: dockerd has no interface to move into the sandbox"
			}
			return ""
		}); ok {
			joined = true
			s.call("ProgramExternalConnectivity", "NetworkDriver.ProgramExternalConnectivity", map[string]any{"NetworkID": nid, "EndpointID": eid, "Options": map[string]any{}})
			s.call("RevokeExternalConnectivity", "NetworkDriver.RevokeExternalConnectivity", ids)
			if _, ok := s.call("Leave", "NetworkDriver.Leave", ids); ok {
				joined = false
			}
		}
		if _, ok := s.call("DeleteEndpoint", "NetworkDriver.DeleteEndpoint", ids); ok {
			epDone = true
		}
	}
	if _, ok := s.call("DeleteNetwork", "NetworkDriver.DeleteNetwork", map[string]string{"NetworkID": nid}); ok {
		netDone = true
	}
	s.callFails("CreateEndpoint on a missing network", "NetworkDriver.CreateEndpoint", map[string]any{
		"NetworkID": randomHex(32), "EndpointID": randomHex(32), "Interface": map[string]string{}, "Options": map[string]any{},
	}, Warn, "succeeded on a network that does not exist")
}

func (s *suite) ipam() {
	s.call("GetCapabilities", "IpamDriver.GetCapabilities", nil)
	space := "LocalDefault"
	if a, ok := s.call("GetDefaultAddressSpaces", "IpamDriver.GetDefaultAddressSpaces", nil); ok && asString(a["LocalDefaultAddressSpace"]) != "" {
		space = asString(a["LocalDefaultAddressSpace"])
	}
	var pool netip.Prefix
	a, ok := s.call("RequestPool", "IpamDriver.RequestPool", map[string]any{
		"AddressSpace": space, "Pool": "", "SubPool": "", "Options": map[string]string{}, "V6": false,
	}, func(a map[string]any) string {
		var err error
		if pool, err = netip.ParsePrefix(asString(a["Pool"])); err != nil {
			return "no usable Pool in the answer"
		}
		return ""
	})
	if !ok || !pool.IsValid() {
		for _, st := range []string{"RequestAddress", "ReleaseAddress", "ReleasePool"} {
			s.add(st, "IpamDriver."+st, Skip, "RequestPool failed", 0)
		}
		return
	}
	poolID := asString(a["PoolID"])
	released := false
	var leased []string
	defer func() {
		for _, ip := range leased {
			s.cleanup("IpamDriver.ReleaseAddress", map[string]string{"PoolID": poolID, "Address": ip})
		}
		if !released {
			s.cleanup("IpamDriver.ReleasePool", map[string]string{"PoolID": poolID})
		}
	}()

	inPool := func(a map[string]any) string {
		p, err := netip.ParsePrefix(asString(a["Address"]))
		if err != nil {
			return "" // Validate reports it
		}
		if !pool.Contains(p.Addr()) {
			return fmt.Sprintf("Address %s is outside pool %s", p, pool)
		}
		if slices.Contains(leased, p.Addr().String()) {
			return fmt.Sprintf("Address %s was already leased", p.Addr())
		}
		leased = append(leased, p.Addr().String())
		return ""
	}
	for _, step := range []string{"RequestAddress", "RequestAddress again"} {
		s.call(step, "IpamDriver.RequestAddress", map[string]any{"PoolID": poolID, "Address": "", "Options": map[string]string{}}, inPool)
	}
	for len(leased) > 0 {
		ip := leased[0]
		if _, ok := s.call("ReleaseAddress", "IpamDriver.ReleaseAddress", map[string]string{"PoolID": poolID, "Address": ip}); !ok {
			break
		}
		leased = leased[1:]
	}
	if _, ok := s.call("ReleasePool", "IpamDriver.ReleasePool", map[string]string{"PoolID": poolID}); ok {
		released = true
		s.callFails("RequestAddress from a released pool", "IpamDriver.RequestAddress",
			map[string]any{"PoolID": poolID, "Address": "", "Options": map[string]string{}}, Warn, "succeeded on a pool that was released")
	}
}

func (s *suite) authz() {
	req := map[string]any{
		"User": "", "UserAuthNMethod": "", "RequestMethod": "GET", "RequestUri": "/v1.47/version",
		"RequestHeaders": map[string]string{"User-Agent": "plugdbg-check"},
	}
	denied := func(a map[string]any) string {
		if allow, _ := a["Allow"].(bool); !allow && asString(a["Msg"]) == "" {
			return "Allow is false with no Msg: the client is denied with no reason"
		}
		return ""
	}
	s.call("AuthZReq", "AuthZPlugin.AuthZReq", req, denied)
	res := map[string]any{}
	for k, v := range req {
		res[k] = v
	}
	res["ResponseStatusCode"] = 200
	res["ResponseBody"] = []byte(`{"Version":"29.0.0"}`)
	res["ResponseHeaders"] = map[string]string{"Content-Type": "application/json"}
	s.call("AuthZRes", "AuthZPlugin.AuthZRes", res, denied)
}
