package directory

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// StartFamily writes a new refresh-token family for f.User, revoking the
// user's oldest ones beyond FamiliesPerUserMax and dropping expired ones.
func (d *Directory) StartFamily(ctx context.Context, f access.Family, now time.Time) error {
	d.mu.RLock()
	var stale []string
	live := 0
	ids := d.userFamilies[f.User]
	for i := len(ids) - 1; i >= 0; i-- {
		r := d.families[ids[i]]
		if r == nil {
			continue
		}
		if live++; live >= FamiliesPerUserMax || !now.Before(r.family.ExpiresAt) {
			stale = append(stale, ids[i])
		}
	}
	d.mu.RUnlock()
	rows := []engine.Row{row(&f)}
	for _, id := range stale {
		rows = append(rows, deleteRow(access.PrefixFamily, id))
	}
	if err := d.write(ctx, "session", rows...); err != nil {
		return err
	}
	d.dropFamilies(f.User, stale)
	d.mu.Lock()
	d.families[f.ID] = &familyRecord{family: f}
	d.userFamilies[f.User] = append(d.userFamilies[f.User], f.ID)
	d.mu.Unlock()
	return nil
}

// RefreshFamily rotates family id's token: presented must hash to the
// family's latest token; nextHash becomes the latest, valid until
// expiresAt. It returns the family's user.
//
// A family unknown, revoked or expired at now, or whose user is gone, is
// ErrInvalidToken. A presented hash that is not the latest one is an
// earlier token of the family: it leaked, or was replayed, so the whole
// family is ended (whoever holds the latest token is out too) and the
// answer is ErrTokenReused.
func (d *Directory) RefreshFamily(ctx context.Context, id string, presented, nextHash []byte, now, expiresAt time.Time) (access.User, error) {
	d.mu.RLock()
	record := d.families[id]
	d.mu.RUnlock()
	if record == nil {
		return access.User{}, ErrInvalidToken
	}
	record.mu.Lock()
	defer record.mu.Unlock()
	f := record.family
	if f.Revoked || !now.Before(f.ExpiresAt) {
		return access.User{}, ErrInvalidToken
	}
	u, err := d.User(f.User)
	if err != nil {
		return access.User{}, ErrInvalidToken
	}
	if !hashEqual(f.Hash, presented) {
		f.Revoked = true
		if err := d.write(ctx, "session", deleteRow(access.PrefixFamily, f.ID)); err != nil {
			return access.User{}, err
		}
		record.family = f
		d.dropFamilies(f.User, []string{f.ID})
		return access.User{}, ErrTokenReused
	}
	f.Hash = nextHash
	f.Rotations++
	f.ExpiresAt = expiresAt
	if err := d.write(ctx, "session", row(&f)); err != nil {
		return access.User{}, err
	}
	record.family = f
	return u, nil
}

// EndFamily revokes family id (a sign-out) if presented hashes to its
// latest token; otherwise, or if it is unknown or revoked, ErrInvalidToken.
func (d *Directory) EndFamily(ctx context.Context, id string, presented []byte) error {
	d.mu.RLock()
	record := d.families[id]
	d.mu.RUnlock()
	if record == nil {
		return ErrInvalidToken
	}
	record.mu.Lock()
	defer record.mu.Unlock()
	if record.family.Revoked || !hashEqual(record.family.Hash, presented) {
		return ErrInvalidToken
	}
	if err := d.write(ctx, "session", deleteRow(access.PrefixFamily, id)); err != nil {
		return err
	}
	record.family.Revoked = true
	d.dropFamilies(record.family.User, []string{id})
	return nil
}

// hashEqual compares two token hashes in constant time.
func hashEqual(a, b []byte) bool { return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1 }
