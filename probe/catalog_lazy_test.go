package probe

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLookupSharesTheCatalog: a method Lookup built on its own is the very
// one the whole catalog lists, with its schemas, in either order of first use.
func TestLookupSharesTheCatalog(t *testing.T) {
	m, ok := Lookup("VolumeDriver.List")
	require.True(t, ok)
	require.NotNil(t, m.Response)
	var listed *Method
	for _, i := range Catalog() {
		for _, cm := range i.Methods {
			if cm.Name == m.Name {
				listed = cm
			}
		}
		if i.Name == "NetworkDriver" {
			n, ok := Lookup("NetworkDriver.CreateNetwork")
			require.True(t, ok)
			assert.Same(t, i.Methods[indexOf(i.Methods, n.Name)], n)
		}
	}
	assert.Same(t, m, listed)
	for _, bad := range []string{"VolumeDriver.Lst", "Nope.List", "List", ""} {
		_, ok := Lookup(bad)
		assert.False(t, ok, bad)
	}
}

func indexOf(ms []*Method, name string) int {
	for i, m := range ms {
		if m.Name == name {
			return i
		}
	}
	return -1
}
