package store_test

import (
	"testing"

	"github.com/kumo-run/kumo/internal/store"
	"github.com/kumo-run/kumo/internal/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
}
