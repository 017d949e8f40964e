package redisstore

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// PutEnrollment implements store.Enrollments with one HSET on the user's
// hash. Enrollments never expire, so the hash has no TTL.
func (s *Store) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("enrollment user id", e.UserID); err != nil {
		return err
	}
	if err := checkID("enrollment id", e.ID); err != nil {
		return err
	}
	v, err := encodeEnrollment(e)
	if err != nil {
		return invalid("enrollment cannot be encoded: %v", err)
	}
	if err := s.rdb.HSet(ctx, s.enrollKey(e.UserID), e.ID, v).Err(); err != nil {
		return wrap("put enrollment", err)
	}
	return nil
}

// GetEnrollment implements store.Enrollments with one HGET.
func (s *Store) GetEnrollment(ctx context.Context, userID, id string) (store.EnrollmentRecord, error) {
	if err := ctxErr(ctx); err != nil {
		return store.EnrollmentRecord{}, err
	}
	if err := checkID("enrollment user id", userID); err != nil {
		return store.EnrollmentRecord{}, err
	}
	if err := checkID("enrollment id", id); err != nil {
		return store.EnrollmentRecord{}, err
	}
	b, err := s.rdb.HGet(ctx, s.enrollKey(userID), id).Bytes()
	if isNil(err) {
		return store.EnrollmentRecord{}, store.ErrNotFound
	}
	if err != nil {
		return store.EnrollmentRecord{}, wrap("get enrollment", err)
	}
	e, ok := parseEnrollment(b, userID, id)
	if !ok {
		return store.EnrollmentRecord{}, malformed("get enrollment")
	}
	return e, nil
}

// ListEnrollments implements store.Enrollments with one HGETALL.
func (s *Store) ListEnrollments(ctx context.Context, userID string) ([]store.EnrollmentRecord, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	c, err := s.listEnrollmentsCmd(userID)
	if err != nil {
		return nil, err
	}
	return readEnrollments(c.run(ctx, s.rdb), userID)
}

// listEnrollmentsCmd checks userID and returns ListEnrollments' HGETALL.
func (s *Store) listEnrollmentsCmd(userID string) (command, error) {
	if err := checkID("enrollment user id", userID); err != nil {
		return command{}, err
	}
	k := s.enrollKey(userID)
	return plainCommand(k, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.HGetAll(ctx, k)
	}), nil
}

// readEnrollments reads the reply of ListEnrollments' HGETALL: the
// records, ordered, and empty, not nil, for none.
func readEnrollments(c redis.Cmder, userID string) ([]store.EnrollmentRecord, error) {
	all, err := c.(*redis.MapStringStringCmd).Result()
	if err != nil {
		return nil, wrap("list enrollments", err)
	}
	out := make([]store.EnrollmentRecord, 0, len(all))
	for id, v := range all {
		e, ok := parseEnrollment([]byte(v), userID, id)
		if !ok {
			return nil, malformed("list enrollments")
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.EnrollmentRecord) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteEnrollment implements store.Enrollments with one HDEL.
func (s *Store) DeleteEnrollment(ctx context.Context, userID, id string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("enrollment user id", userID); err != nil {
		return err
	}
	if err := checkID("enrollment id", id); err != nil {
		return err
	}
	if err := s.rdb.HDel(ctx, s.enrollKey(userID), id).Err(); err != nil {
		return wrap("delete enrollment", err)
	}
	return nil
}

// TouchEnrollment implements store.EnrollmentToucher with one script on
// the user's enrollment hash: it rewrites the record's last-use time, and
// nothing else, only if the record exists and used is later than the
// stored time. A zero used is later than nothing, so it writes nothing.
func (s *Store) TouchEnrollment(ctx context.Context, userID, id string, used time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	c, send, err := s.touchCmd(userID, id, used)
	if err != nil || !send {
		return err
	}
	return readTouch(c.run(ctx, s.rdb))
}

// touchCmd checks the arguments of TouchEnrollment and returns its
// script's call; send is false when used is zero, which writes nothing.
func (s *Store) touchCmd(userID, id string, used time.Time) (c command, send bool, err error) {
	if err := checkID("enrollment user id", userID); err != nil {
		return command{}, false, err
	}
	if err := checkID("enrollment id", id); err != nil {
		return command{}, false, err
	}
	if used.IsZero() {
		return command{}, false, nil
	}
	js, err := used.MarshalJSON()
	if err != nil {
		return command{}, false, invalid("last-use time cannot be encoded: %v", err)
	}
	return scriptCommand(touchEnrollment, []string{s.enrollKey(userID)}, id, js, used.Unix(), used.Nanosecond()), true, nil
}

// readTouch reads the reply of the touchEnrollment script.
func readTouch(c redis.Cmder) error {
	if err := c.Err(); err != nil {
		return wrap("touch enrollment", err)
	}
	return nil
}

// PutDevice implements store.Devices in two round trips: a SET of the
// device key, then a script that records the id in the user's index. The
// device is written first, so an index entry never points at a device that
// was never written; a failure between the two leaves a device that
// GetDevice finds and ListDevices does not, until it is put again.
func (s *Store) PutDevice(ctx context.Context, d store.Device) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("device id", d.ID); err != nil {
		return err
	}
	if err := checkID("device user id", d.UserID); err != nil {
		return err
	}
	v, err := encodeDevice(d)
	if err != nil {
		return invalid("device cannot be encoded: %v", err)
	}
	exp, now := expiryMillis(d.ExpiresAt), s.clock()
	ttl := time.Duration(s.ttlMillis(exp, now)) * time.Millisecond
	if err := s.rdb.Set(ctx, s.deviceKey(d.ID), v, ttl).Err(); err != nil {
		return wrap("put device", err)
	}
	if err := indexDevice.Run(ctx, s.rdb, []string{s.devIdxKey(d.UserID)}, d.ID, exp, now, s.grace).Err(); err != nil {
		return wrap("put device: index", err)
	}
	return nil
}

// TouchDevice implements store.DeviceToucher with one script on the
// device key: it rewrites the record's last-seen time, and nothing else,
// keeping the key's TTL. A missing record is left missing, and a PutDevice
// written meanwhile is kept but for its last-seen time.
func (s *Store) TouchDevice(ctx context.Context, id string, seen time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("device id", id); err != nil {
		return err
	}
	js, err := seen.MarshalJSON()
	if err != nil {
		return invalid("last-seen time cannot be encoded: %v", err)
	}
	if err := touchDevice.Run(ctx, s.rdb, []string{s.deviceKey(id)}, js).Err(); err != nil && !isNil(err) {
		return wrap("touch device", err)
	}
	return nil
}

// GetDevice implements store.Devices with one GET.
func (s *Store) GetDevice(ctx context.Context, id string) (store.Device, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Device{}, err
	}
	if err := checkID("device id", id); err != nil {
		return store.Device{}, err
	}
	b, err := s.rdb.Get(ctx, s.deviceKey(id)).Bytes()
	if isNil(err) {
		return store.Device{}, store.ErrNotFound
	}
	if err != nil {
		return store.Device{}, wrap("get device", err)
	}
	d, exp, ok := parseDevice(b)
	if !ok || d.ID != id {
		return store.Device{}, malformed("get device")
	}
	if expired(exp, s.clock()) {
		return store.Device{}, store.ErrNotFound
	}
	return d, nil
}

// ListDevices implements store.Devices: one HGETALL of the user's index,
// one pipeline of GETs for the entries that have not expired, and, when it
// found stale entries (expired, deleted, or moved to another user), one
// script that removes them if no PutDevice rewrote them meanwhile.
func (s *Store) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkID("device user id", userID); err != nil {
		return nil, err
	}
	idx := s.devIdxKey(userID)
	entries, err := s.rdb.HGetAll(ctx, idx).Result()
	if err != nil {
		return nil, wrap("list devices", err)
	}
	now := s.clock()
	var stale []any // id, expiry as read, ...
	ids := make([]string, 0, len(entries))
	for id, e := range entries {
		exp, err := strconv.ParseInt(e, 10, 64)
		if err != nil || exp < 0 {
			return nil, malformed("list devices")
		}
		if expired(exp, now) {
			stale = append(stale, id, e)
			continue
		}
		ids = append(ids, id)
	}
	out := []store.Device{}
	if len(ids) > 0 {
		cmds := make([]*redis.StringCmd, len(ids))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.Get(ctx, s.deviceKey(id))
			}
			return nil
		})
		if err != nil && !isNil(err) {
			return nil, wrap("list devices", err)
		}
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			if err != nil && !isNil(err) {
				return nil, wrap("list devices", err)
			}
			if isNil(err) {
				stale = append(stale, ids[i], entries[ids[i]])
				continue
			}
			d, exp, ok := parseDevice(b)
			if !ok || d.ID != ids[i] {
				return nil, malformed("list devices")
			}
			if d.UserID != userID || expired(exp, now) {
				stale = append(stale, ids[i], entries[ids[i]])
				continue
			}
			out = append(out, d)
		}
	}
	if len(stale) > 0 {
		args := append([]any{now, s.grace}, stale...)
		if err := unindex.Run(ctx, s.rdb, []string{idx}, args...).Err(); err != nil {
			return nil, wrap("list devices: clean index", err)
		}
	}
	slices.SortFunc(out, func(a, b store.Device) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteDevice implements store.Devices: a GETDEL of the device, then, if
// there was one, a script that drops it from its user's index unless a
// concurrent PutDevice rewrote the entry.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("device id", id); err != nil {
		return err
	}
	b, err := s.rdb.GetDel(ctx, s.deviceKey(id)).Bytes()
	if isNil(err) {
		return nil
	}
	if err != nil {
		return wrap("delete device", err)
	}
	d, exp, ok := parseDevice(b)
	if !ok {
		// The key is gone; an index entry for it, if any, is cleaned by
		// ListDevices or by its TTL.
		return nil
	}
	err = unindex.Run(ctx, s.rdb, []string{s.devIdxKey(d.UserID)}, s.clock(), s.grace, id, exp).Err()
	if err != nil {
		return wrap("delete device: index", err)
	}
	return nil
}
