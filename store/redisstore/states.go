package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// PutState implements store.States with one SET (PX when it expires). The
// value carries no owner, so a key that was filed under an owner is no
// longer deleted by that owner's DeleteOwnedStates.
func (s *Store) PutState(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("state key", key); err != nil {
		return err
	}
	exp, now := expiryMillis(expiresAt), s.clock()
	ttl := time.Duration(s.ttlMillis(exp, now)) * time.Millisecond
	if err := s.rdb.Set(ctx, s.stateKey(key), appendEnvelope(exp, value), ttl).Err(); err != nil {
		return wrap("put state", err)
	}
	return nil
}

// GetState implements store.States with one GET.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	c, err := s.getStateCmd(key)
	if err != nil {
		return nil, err
	}
	return s.readState(c.run(ctx, s.rdb))
}

// getStateCmd checks key and returns GetState's GET.
func (s *Store) getStateCmd(key string) (command, error) {
	if err := checkID("state key", key); err != nil {
		return command{}, err
	}
	k := s.stateKey(key)
	return plainCommand(k, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.Get(ctx, k)
	}), nil
}

// readState reads the reply of GetState's GET: store.ErrNotFound for a
// state that is missing or has expired.
func (s *Store) readState(c redis.Cmder) ([]byte, error) {
	return s.state(c.(*redis.StringCmd), "get state")
}

// TakeState implements store.States with one GETDEL (Redis 6.2 or later):
// the server hands the value to exactly one caller. A value that has
// expired by the store's clock is deleted all the same and reported as
// store.ErrNotFound.
func (s *Store) TakeState(ctx context.Context, key string) ([]byte, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkID("state key", key); err != nil {
		return nil, err
	}
	return s.state(s.rdb.GetDel(ctx, s.stateKey(key)), "take state")
}

// TakeStateReset implements store.StateResetter with one pipeline: the
// GETDEL of the state and a DEL of each counter. On Redis Cluster the
// pipeline goes to each node the keys live on, at once.
func (s *Store) TakeStateReset(ctx context.Context, key string, counters []string) ([]byte, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkID("state key", key); err != nil {
		return nil, err
	}
	for _, k := range counters {
		if err := checkID("counter key", k); err != nil {
			return nil, err
		}
	}
	var take *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		take = p.GetDel(ctx, s.stateKey(key))
		for _, k := range counters {
			p.Del(ctx, s.counterKey(k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("take state and reset counters", err)
	}
	return s.state(take, "take state")
}

func (s *Store) state(cmd *redis.StringCmd, op string) ([]byte, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	exp, value, ok := parseState(b)
	if !ok {
		return nil, malformed(op)
	}
	if expired(exp, s.clock()) {
		return nil, store.ErrNotFound
	}
	return value, nil
}

// DeleteState implements store.States with one DEL.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("state key", key); err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, s.stateKey(key)).Err(); err != nil {
		return wrap("delete state", err)
	}
	return nil
}

// PutOwnedState implements store.OwnedStates in two round trips, each
// atomic on its own: a script that files the key in the owner's index
// (<prefix>o:{o:<owner>}), then a SET of the state, whose value names the
// owner and a random token that the index entry repeats. The index is
// written first, so a failure in between leaves an entry without a state
// filed under it, which DeleteOwnedStates skips; it never leaves an owned
// state that the index does not list.
func (s *Store) PutOwnedState(ctx context.Context, owner, key string, value []byte, expiresAt time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("state owner", owner); err != nil {
		return err
	}
	if err := checkID("state key", key); err != nil {
		return err
	}
	var tb [tokenLen / 2]byte
	if _, err := rand.Read(tb[:]); err != nil {
		return wrap("put owned state", err)
	}
	token := hex.EncodeToString(tb[:])
	exp, now := expiryMillis(expiresAt), s.clock()
	entry := strconv.FormatInt(exp, 10) + ":" + token
	if err := indexOwned.Run(ctx, s.rdb, []string{s.ownerKey(owner)}, key, entry, now, s.grace).Err(); err != nil {
		return wrap("put owned state: index", err)
	}
	ttl := time.Duration(s.ttlMillis(exp, now)) * time.Millisecond
	if err := s.rdb.Set(ctx, s.stateKey(key), appendOwned(exp, token, owner, value), ttl).Err(); err != nil {
		return wrap("put owned state", err)
	}
	return nil
}

// DeleteOwnedStates implements store.OwnedStates: one HGETALL of the
// owner's index; one pipeline (on a cluster, one per node) of a script per
// listed key that deletes the state only if, as stored at that moment, it
// is filed under owner, so a key put again without an owner or under
// another one survives; and, when it deleted any, one script that removes
// their index entries unless a concurrent put rewrote them. Each state is
// checked and deleted atomically; the whole is not one step, so a state
// put while it runs may or may not be deleted, while every state put
// before it started is.
func (s *Store) DeleteOwnedStates(ctx context.Context, owner string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("state owner", owner); err != nil {
		return err
	}
	idx := s.ownerKey(owner)
	entries, err := s.rdb.HGetAll(ctx, idx).Result()
	if err != nil {
		return wrap("delete owned states", err)
	}
	if len(entries) == 0 {
		return nil
	}
	keys := make([]string, 0, len(entries))
	cmds := make([]command, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
		cmds = append(cmds, scriptCommand(deleteOwned, []string{s.stateKey(k)}, owner))
	}
	replies, err := s.sendAll(ctx, cmds)
	if err != nil {
		return wrap("delete owned states", err)
	}
	var done []any // key, entry as read, ...
	for i, c := range replies {
		tok, err := c.(*redis.Cmd).Text()
		if err != nil {
			return wrap("delete owned states", err)
		}
		entry := entries[keys[i]]
		if _, entryTok, ok := strings.Cut(entry, ":"); ok && tok != "" && tok == entryTok {
			done = append(done, keys[i], entry)
		}
	}
	if len(done) > 0 {
		args := append([]any{s.clock(), s.grace}, done...)
		if err := unindex.Run(ctx, s.rdb, []string{idx}, args...).Err(); err != nil {
			return wrap("delete owned states: index", err)
		}
	}
	return nil
}
