package approvals

import (
	"errors"
	"fmt"

	"github.com/tollway/tollway/engine"
)

// List returns a page of approvals (see Query), newest first.
func (s *Service) List(q Query) (Page, error) {
	var scope string
	switch {
	case (q.Owner == "") == (q.Account == ""):
		return Page{}, fmt.Errorf("%w: a query names an owner or an account", ErrInvalid)
	case q.Owner != "":
		scope = ownerScope(q.Owner)
	default:
		scope = accountScope(q.Account)
	}
	state := indexAll
	if q.State != "" {
		if !q.State.Valid() {
			return Page{}, fmt.Errorf("%w: state %q", ErrInvalid, q.State)
		}
		state = string(q.State)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = ListLimitDefault
	case limit < 0 || limit > ListLimitMax:
		return Page{}, fmt.Errorf("%w: limit %d outside [1, %d]", ErrInvalid, limit, ListLimitMax)
	}
	prefix := indexScopePrefix(scope, state)
	var start []byte
	if q.After != "" {
		after, err := s.Get(q.After)
		if err != nil {
			return Page{}, fmt.Errorf("%w: cursor %q: %w", ErrInvalid, q.After, err)
		}
		start = indexKey(scope, state, after.CreatedAt, after.ID)
	}
	var ids []engine.TransferID
	err := s.eng.ScanRowsFrom(prefix, start, func(key, _ []byte) error {
		if start != nil && string(key) == string(start) {
			return nil // the cursor's own entry
		}
		if len(ids) > limit {
			return errFound
		}
		if len(key) < len(prefix)+8 {
			return fmt.Errorf("%w: index key %q", errCorrupt, key)
		}
		ids = append(ids, engine.TransferID(key[len(prefix)+8:]))
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return Page{}, fmt.Errorf("%w: list: %w", ErrUnavailable, err)
	}
	var page Page
	if len(ids) > limit {
		ids = ids[:limit]
		page.Next = ids[limit-1]
	}
	for _, id := range ids {
		a, err := s.Get(id)
		if err != nil {
			return Page{}, err
		}
		page.Approvals = append(page.Approvals, a)
	}
	return page, nil
}
