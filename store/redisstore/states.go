package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// PutState implements store.States with one SET (PX when it expires).
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
	if err := checkID("state key", key); err != nil {
		return nil, err
	}
	return s.state(s.rdb.Get(ctx, s.stateKey(key)), "get state")
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

func (s *Store) state(cmd *redis.StringCmd, op string) ([]byte, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	exp, value, ok := parseEnvelope(b)
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
