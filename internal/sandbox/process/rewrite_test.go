package process

import (
	"testing"

	"github.com/kumo-run/kumo/internal/sandbox"
)

func TestPathRewrite(t *testing.T) {
	m := newPathMap(sandbox.Spec{CodeDir: "/code", LayerDirs: []string{"/l1", "/l2"}, RuntimeDir: "/rt"})
	for _, c := range []struct{ in, path, list string }{
		{"/var/task", "/code", "/code"},
		{"/var/task/bootstrap", "/code/bootstrap", "/code/bootstrap"},
		{"/var/taskforce", "/var/taskforce", "/var/taskforce"},
		{"/opt/bin", "/l2/bin", "/l2/bin"},
		{"/var/runtime/x", "/rt/x", "/rt/x"},
		{"--x=/var/task", "--x=/var/task", "--x=/var/task"},
		{"/usr/bin:/var/task:/opt/python", "/usr/bin:/var/task:/opt/python", "/usr/bin:/code:/l2/python"},
		{"plain", "plain", "plain"},
	} {
		if got := m.path(c.in); got != c.path {
			t.Errorf("path(%q) = %q, want %q", c.in, got, c.path)
		}
		if got := m.list(c.in); got != c.list {
			t.Errorf("list(%q) = %q, want %q", c.in, got, c.list)
		}
	}
	none := newPathMap(sandbox.Spec{CodeDir: "/code"})
	if got := none.path("/opt/x"); got != "/opt/x" {
		t.Errorf("without layers /opt/x became %q", got)
	}
}
