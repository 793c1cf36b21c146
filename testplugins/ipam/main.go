// Command pdipam is an IPAM driver used by plugdbg's tests. It hands out /24
// pools from 10.77.0.0/16 (or the pool asked for) and addresses in order,
// keeping its leases in memory.
package main

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const (
	socket      = "pdipam.sock" // must equal config.json's interface.socket
	localSpace  = "pdlocal"
	globalSpace = "pdglobal"
	gatewayKey  = "com.docker.network.gateway"
)

type pool struct {
	prefix netip.Prefix
	leased map[netip.Addr]bool
}

type driver struct {
	mu    sync.Mutex
	pools map[string]*pool // by PoolID
	next  int              // third octet of the next automatic pool
}

func (d *driver) GetCapabilities() (*ipam.CapabilitiesResponse, error) {
	return &ipam.CapabilitiesResponse{RequiresMACAddress: false}, nil
}

func (d *driver) GetDefaultAddressSpaces() (*ipam.AddressSpacesResponse, error) {
	return &ipam.AddressSpacesResponse{LocalDefaultAddressSpace: localSpace, GlobalDefaultAddressSpace: globalSpace}, nil
}

func (d *driver) RequestPool(r *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	if r.V6 {
		return nil, fmt.Errorf("pdipam has no IPv6 pools")
	}
	if r.AddressSpace != localSpace && r.AddressSpace != globalSpace {
		return nil, fmt.Errorf("unknown address space %q", r.AddressSpace)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var p netip.Prefix
	if r.Pool != "" {
		var err error
		if p, err = netip.ParsePrefix(r.Pool); err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("pool %q is not an IPv4 CIDR", r.Pool)
		}
		p = p.Masked()
	} else {
		if d.next > 255 {
			return nil, fmt.Errorf("10.77.0.0/16 is exhausted")
		}
		p = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, byte(d.next), 0}), 24)
		d.next++
	}
	id := r.AddressSpace + "/" + p.String()
	if d.pools[id] != nil {
		return nil, fmt.Errorf("pool %s is already leased", p)
	}
	pl := &pool{prefix: p, leased: map[netip.Addr]bool{}}
	gw := p.Addr().Next()
	pl.leased[gw] = true
	d.pools[id] = pl
	return &ipam.RequestPoolResponse{
		PoolID: id, Pool: p.String(),
		Data: map[string]string{gatewayKey: netip.PrefixFrom(gw, p.Bits()).String()},
	}, nil
}

func (d *driver) ReleasePool(r *ipam.ReleasePoolRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pools[r.PoolID] == nil {
		return fmt.Errorf("no such pool: %s", r.PoolID)
	}
	delete(d.pools, r.PoolID)
	return nil
}

func (d *driver) RequestAddress(r *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pl := d.pools[r.PoolID]
	if pl == nil {
		return nil, fmt.Errorf("no such pool: %s", r.PoolID)
	}
	var a netip.Addr
	if r.Address != "" {
		var err error
		if a, err = netip.ParseAddr(r.Address); err != nil || !pl.prefix.Contains(a) {
			return nil, fmt.Errorf("address %q is not in pool %s", r.Address, pl.prefix)
		}
		if pl.leased[a] && r.Options["RequestAddressType"] != gatewayKey {
			return nil, fmt.Errorf("address %s is already leased", a)
		}
	} else {
		for a = pl.prefix.Addr().Next(); pl.prefix.Contains(a) && pl.leased[a]; a = a.Next() {
		}
		if !pl.prefix.Contains(a) || !pl.prefix.Contains(a.Next()) { // keep the broadcast address
			return nil, fmt.Errorf("pool %s is full", pl.prefix)
		}
	}
	pl.leased[a] = true
	return &ipam.RequestAddressResponse{Address: netip.PrefixFrom(a, pl.prefix.Bits()).String()}, nil
}

func (d *driver) ReleaseAddress(r *ipam.ReleaseAddressRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	pl := d.pools[r.PoolID]
	if pl == nil {
		return fmt.Errorf("no such pool: %s", r.PoolID)
	}
	a, err := netip.ParseAddr(r.Address)
	if err != nil || !pl.leased[a] {
		return fmt.Errorf("address %q is not leased from %s", r.Address, r.PoolID)
	}
	delete(pl.leased, a)
	return nil
}

func main() {
	ctx := plugsock.TermContext()
	plugsock.Run(ctx, "pdipam", socket, ipam.NewHandler(&driver{pools: map[string]*pool{}}).Serve)
}
