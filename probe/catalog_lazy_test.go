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

func TestSuggest(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{name: "one letter dropped", in: "VolumeDriver.Lst", want: []string{"VolumeDriver.List"}},
		{name: "letters swapped", in: "VolumeDriver.Mounet", want: []string{"VolumeDriver.Mount"}},
		{name: "case-insensitive", in: "volumedriver.UNMOUNT", want: []string{"VolumeDriver.Unmount"}},
		{name: "typo in the interface", in: "VolumeDrive.Path", want: []string{"VolumeDriver.Path"}},
		{name: "wrong interface", in: "NetworkDriver.Mount", want: []string{"VolumeDriver.Mount"}},
		{name: "no interface", in: "Lst", want: []string{"VolumeDriver.List"}},
		{name: "too far", in: "VolumeDriver.Frobnicate", want: nil},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Suggest(tt.in))
		})
	}
}

func TestMethodNamesAreTheCatalogs(t *testing.T) {
	var want []string
	for _, i := range Catalog() {
		for _, m := range i.Methods {
			want = append(want, m.Name)
		}
	}
	assert.Equal(t, want, MethodNames())
}
