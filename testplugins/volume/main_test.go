package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/go-plugins-helpers/volume"
)

func TestDriver(t *testing.T) {
	root := t.TempDir()
	d := &driver{root: root, mounts: map[string]map[string]bool{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	must(d.Create(&volume.CreateRequest{Name: "v1"}))
	must(d.Create(&volume.CreateRequest{Name: "v1"})) // idempotent, as the daemon expects
	if err := d.Create(&volume.CreateRequest{Name: "v2", Options: map[string]string{"fail": "1"}}); err == nil {
		t.Error("Create with fail=1 succeeded")
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if err := d.Create(&volume.CreateRequest{Name: bad}); err == nil {
			t.Errorf("Create(%q) succeeded", bad)
		}
	}

	list, err := d.List()
	must(err)
	if len(list.Volumes) != 1 || list.Volumes[0].Name != "v1" || list.Volumes[0].Mountpoint != filepath.Join(root, "v1") {
		t.Fatalf("List = %+v", list.Volumes)
	}

	m, err := d.Mount(&volume.MountRequest{Name: "v1", ID: "id1"})
	must(err)
	if m.Mountpoint != filepath.Join(root, "v1") {
		t.Errorf("Mount = %q", m.Mountpoint)
	}
	if err := d.Remove(&volume.RemoveRequest{Name: "v1"}); err == nil {
		t.Error("Remove of a mounted volume succeeded")
	}
	must(d.Unmount(&volume.UnmountRequest{Name: "v1", ID: "id1"}))

	// State lives on disk: a fresh driver sees the same volumes.
	d = &driver{root: root, mounts: map[string]map[string]bool{}}
	if _, err := d.Get(&volume.GetRequest{Name: "v1"}); err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	must(d.Remove(&volume.RemoveRequest{Name: "v1"}))
	if _, err := os.Stat(filepath.Join(root, "v1")); !os.IsNotExist(err) {
		t.Errorf("v1 still on disk: %v", err)
	}
	if _, err := d.Path(&volume.PathRequest{Name: "v1"}); err == nil {
		t.Error("Path of a removed volume succeeded")
	}
}
