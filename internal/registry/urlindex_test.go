package registry

import (
	"context"
	"testing"

	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/store"
)

// TestURLByID checks the url-id index: kept current by local writes and,
// for a second registry on the same store, by the watch alone; an unknown
// id costs one map read, nothing rebuilt.
func TestURLByID(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory()
	t.Cleanup(func() { s.Close() })
	open := func() *Registry {
		kv, err := s.KV(ctx, "registry")
		if err != nil {
			t.Fatal(err)
		}
		code, err := s.Blobs(ctx, "code")
		if err != nil {
			t.Fatal(err)
		}
		r, err := Open(ctx, Config{ARNs: testARNs, KV: kv, Code: code})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	writer, watcher := open(), open()

	// until polls cond on the watching registry.
	until := func(what string, cond func() bool) {
		t.Helper()
		poll.True(t, what+" through the watch", cond)
	}
	found := func(r *Registry, id, fn, q string) bool {
		e, ok := r.URLByID(id)
		return ok && e.Function == fn && e.Qualifier == q && e.Config.ID == id
	}

	mustCreate(t, writer, "f")
	mustPublish(t, writer, "f", 1)
	if _, err := writer.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	plain, err := writer.CreateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{AuthType: URLAuthNone})
	if err != nil {
		t.Fatal(err)
	}
	live, err := writer.CreateFunctionURLConfig(ctx, Ref{Name: "f", Qualifier: "live"}, URLConfigInput{AuthType: URLAuthIAM})
	if err != nil {
		t.Fatal(err)
	}
	if !found(writer, plain.ID, "f", "") || !found(writer, live.ID, "f", "live") {
		t.Fatal("the writer does not read its own URLs by id")
	}
	until("created URLs", func() bool { return found(watcher, plain.ID, "f", "") && found(watcher, live.ID, "f", "live") })

	// An update keeps the id; the index follows the new document.
	if _, err := writer.UpdateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{AuthType: URLAuthIAM}); err != nil {
		t.Fatal(err)
	}
	until("updated URL", func() bool {
		e, ok := watcher.URLByID(plain.ID)
		return ok && e.Config.AuthType == URLAuthIAM
	})

	// Deleting the alias hides its URL; deleting a URL drops it.
	if err := writer.DeleteAlias(ctx, Ref{Name: "f"}, "live"); err != nil {
		t.Fatal(err)
	}
	if err := writer.DeleteFunctionURLConfig(ctx, Ref{Name: "f"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Registry{writer, watcher} {
		until("deletions", func() bool {
			_, ok1 := r.URLByID(plain.ID)
			_, ok2 := r.URLByID(live.ID)
			return !ok1 && !ok2
		})
	}

	// A new URL, then the function deleted.
	again, err := writer.CreateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{AuthType: URLAuthNone})
	if err != nil {
		t.Fatal(err)
	}
	until("re-created URL", func() bool { return found(watcher, again.ID, "f", "") })
	if err := writer.DeleteFunction(ctx, Ref{Name: "f"}); err != nil {
		t.Fatal(err)
	}
	until("deleted function", func() bool { _, ok := watcher.URLByID(again.ID); return !ok })
	watcher.mu.RLock()
	n := len(watcher.urlIDs)
	watcher.mu.RUnlock()
	if n != 0 {
		t.Errorf("index keeps %d ids of a deleted function", n)
	}

	// A miss, as an unauthenticated client can cause at will, reads the
	// index and nothing else: no allocation, so no rebuild.
	if a := testing.AllocsPerRun(1000, func() { watcher.URLByID("abcdefghijklmnopqrstuvwxyz012345") }); a != 0 {
		t.Errorf("URLByID miss allocates %.1f times", a)
	}
}
