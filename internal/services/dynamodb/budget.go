package dynamodb

import (
	"github.com/kumo-run/kumo/internal/awsproto"
)

// budget refuses a write that would grow the items this node holds in
// memory by grow bytes past Config.MaxItemBytes. The count is the
// indexes' (every node applies every write, so it is the same on every
// node once they have caught up); concurrent writes checked against the
// same count may together pass the bound by what they add. A write that
// shrinks or keeps the items' size is always allowed, so items can be
// deleted or trimmed when the budget is spent.
func (s *Service) budget(grow int64) error {
	max := s.cfg.MaxItemBytes
	if max <= 0 || grow <= 0 {
		return nil
	}
	if held := s.held.Load(); held+grow > max {
		return awsproto.Errorf(awsproto.DynamoDBItemCollectionSizeLimit,
			"Kumo's item memory budget is spent: tables hold %d bytes of items, the limit is %d (--dynamodb-max-item-bytes); delete items or raise the limit", held, max)
	}
	return nil
}

// HeldItemBytes is the size of the items this node holds in memory, all
// tables together, as DynamoDB counts item sizes.
func (s *Service) HeldItemBytes() int64 { return s.held.Load() }
