// Command pdnet is a network driver used by plugdbg's tests. It keeps
// networks and endpoints in memory and creates no interface: it answers what
// a bridge-like driver would (a MAC address for endpoints that lack one, a
// veth name, the network's gateway) and refuses what a real driver would
// refuse (duplicate or unknown networks and endpoints, deleting a network
// with endpoints, leaving without joining).
package main

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"sync"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdnet.sock" // must equal config.json's interface.socket

type endpoint struct {
	joined bool
}

type netw struct {
	gateway   string // bare IP, "" when IPAM gave none
	endpoints map[string]*endpoint
}

type driver struct {
	mu   sync.Mutex
	nets map[string]*netw
}

func (d *driver) GetCapabilities() (*network.CapabilitiesResponse, error) {
	return &network.CapabilitiesResponse{Scope: network.LocalScope, ConnectivityScope: network.LocalScope}, nil
}

func (d *driver) CreateNetwork(r *network.CreateNetworkRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.NetworkID == "" {
		return fmt.Errorf("CreateNetwork without a NetworkID")
	}
	if d.nets[r.NetworkID] != nil {
		return fmt.Errorf("network %s already exists", r.NetworkID)
	}
	n := &netw{endpoints: map[string]*endpoint{}}
	for _, data := range r.IPv4Data {
		if data == nil || data.Gateway == "" {
			continue
		}
		p, err := netip.ParsePrefix(data.Gateway)
		if err != nil {
			return fmt.Errorf("gateway %q: %v", data.Gateway, err)
		}
		n.gateway = p.Addr().String()
	}
	d.nets[r.NetworkID] = n
	return nil
}

func (d *driver) AllocateNetwork(*network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error) {
	return nil, fmt.Errorf("pdnet is a local driver: no swarm allocation")
}

func (d *driver) FreeNetwork(*network.FreeNetworkRequest) error {
	return fmt.Errorf("pdnet is a local driver: no swarm allocation")
}

func (d *driver) DeleteNetwork(r *network.DeleteNetworkRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.nets[r.NetworkID]
	if n == nil {
		return fmt.Errorf("no such network: %s", r.NetworkID)
	}
	if len(n.endpoints) > 0 {
		return fmt.Errorf("network %s still has %d endpoints", r.NetworkID, len(n.endpoints))
	}
	delete(d.nets, r.NetworkID)
	return nil
}

// lookup returns a network and, if eid is not "", one of its endpoints.
// The caller holds d.mu.
func (d *driver) lookup(nid, eid string) (*netw, *endpoint, error) {
	n := d.nets[nid]
	if n == nil {
		return nil, nil, fmt.Errorf("no such network: %s", nid)
	}
	if eid == "" {
		return n, nil, nil
	}
	ep := n.endpoints[eid]
	if ep == nil {
		return nil, nil, fmt.Errorf("no such endpoint: %s", eid)
	}
	return n, ep, nil
}

func (d *driver) CreateEndpoint(r *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, _, err := d.lookup(r.NetworkID, "")
	if err != nil {
		return nil, err
	}
	if r.EndpointID == "" || n.endpoints[r.EndpointID] != nil {
		return nil, fmt.Errorf("endpoint %q: missing or already exists", r.EndpointID)
	}
	n.endpoints[r.EndpointID] = &endpoint{}
	// Only fill what the request left empty: dockerd refuses an answer
	// that repeats a field it set.
	if r.Interface != nil && r.Interface.MacAddress != "" {
		return &network.CreateEndpointResponse{}, nil
	}
	sum := sha256.Sum256([]byte(r.EndpointID))
	mac := fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", sum[0], sum[1], sum[2], sum[3])
	return &network.CreateEndpointResponse{Interface: &network.EndpointInterface{MacAddress: mac}}, nil
}

func (d *driver) DeleteEndpoint(r *network.DeleteEndpointRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ep, err := d.lookup(r.NetworkID, r.EndpointID)
	if err != nil {
		return err
	}
	if ep.joined {
		return fmt.Errorf("endpoint %s is still joined", r.EndpointID)
	}
	delete(n.endpoints, r.EndpointID)
	return nil
}

func (d *driver) EndpointInfo(r *network.InfoRequest) (*network.InfoResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ep, err := d.lookup(r.NetworkID, r.EndpointID)
	if err != nil {
		return nil, err
	}
	return &network.InfoResponse{Value: map[string]string{"joined": fmt.Sprint(ep.joined)}}, nil
}

func (d *driver) Join(r *network.JoinRequest) (*network.JoinResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ep, err := d.lookup(r.NetworkID, r.EndpointID)
	if err != nil {
		return nil, err
	}
	if ep.joined {
		return nil, fmt.Errorf("endpoint %s is already joined", r.EndpointID)
	}
	ep.joined = true
	return &network.JoinResponse{
		InterfaceName: network.InterfaceName{SrcName: "pdnet" + r.EndpointID[:min(7, len(r.EndpointID))], DstPrefix: "eth"},
		Gateway:       n.gateway,
	}, nil
}

func (d *driver) Leave(r *network.LeaveRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ep, err := d.lookup(r.NetworkID, r.EndpointID)
	if err != nil {
		return err
	}
	if !ep.joined {
		return fmt.Errorf("endpoint %s is not joined", r.EndpointID)
	}
	ep.joined = false
	return nil
}

func (d *driver) DiscoverNew(*network.DiscoveryNotification) error    { return nil }
func (d *driver) DiscoverDelete(*network.DiscoveryNotification) error { return nil }

func (d *driver) ProgramExternalConnectivity(r *network.ProgramExternalConnectivityRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, _, err := d.lookup(r.NetworkID, r.EndpointID)
	return err
}

func (d *driver) RevokeExternalConnectivity(r *network.RevokeExternalConnectivityRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, _, err := d.lookup(r.NetworkID, r.EndpointID)
	return err
}

func main() {
	ctx := plugsock.TermContext()
	plugsock.Run(ctx, "pdnet", socket, network.NewHandler(&driver{nets: map[string]*netw{}}).Serve)
}
