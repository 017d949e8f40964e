package redisstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/twofactorkit/twofactor/store"
)

// PutCode implements store.Codes with one script call on the group hash.
func (s *Store) PutCode(ctx context.Context, c store.Code) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	cmd, err := s.putCmd(c)
	if err != nil {
		return err
	}
	return readPut(cmd.run(ctx, s.rdb))
}

// putCmd checks c and returns PutCode's command.
func (s *Store) putCmd(c store.Code) (command, error) {
	if err := checkID("code group", c.Group); err != nil {
		return command{}, err
	}
	if err := checkID("code key", c.Key); err != nil {
		return command{}, err
	}
	if len(c.Hash) == 0 || len(c.Hash) > maxID {
		return command{}, invalid("code hash must be 1 to %d bytes, got %d", maxID, len(c.Hash))
	}
	if c.MaxAttempts < 0 {
		return command{}, invalid("code MaxAttempts is negative (%d); zero means unlimited", c.MaxAttempts)
	}
	v := encodeCode(expiryMillis(c.ExpiresAt), c.MaxAttempts, c.Hash)
	return scriptCommand(putCode, []string{s.groupKey(c.Group)}, c.Key, v, s.clock(), s.grace), nil
}

// readPut reads the reply of the putCode script.
func readPut(c redis.Cmder) error {
	if err := c.Err(); err != nil {
		return wrap("put code", err)
	}
	return nil
}

// ConsumeCode implements store.Codes with one script call: the check, the
// attempt count and the deletion happen in Redis as one step. On any error
// the status is store.CodeNotFound, never a success.
func (s *Store) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	if err := ctxErr(ctx); err != nil {
		return store.CodeNotFound, err
	}
	cmd, err := s.consumeCmd(group, key, hash)
	if err != nil {
		return store.CodeNotFound, err
	}
	return readConsume(cmd.run(ctx, s.rdb))
}

// consumeCmd checks ConsumeCode's arguments and returns its command: the
// consumeCode script.
func (s *Store) consumeCmd(group, key string, hash []byte) (command, error) {
	if err := checkID("code group", group); err != nil {
		return command{}, err
	}
	if err := checkID("code key", key); err != nil {
		return command{}, err
	}
	if len(hash) == 0 || len(hash) > maxID {
		return command{}, invalid("code hash must be 1 to %d bytes, got %d", maxID, len(hash))
	}
	return scriptCommand(consumeCode, []string{s.groupKey(group)}, key, hash, s.clock(), s.grace), nil
}

// readConsume reads the reply of the consumeCode script.
func readConsume(c redis.Cmder) (store.CodeStatus, error) {
	n, err := c.(*redis.Cmd).Int64()
	if err != nil {
		return store.CodeNotFound, wrap("consume code", err)
	}
	switch n {
	case 0:
		return store.CodeNotFound, nil
	case 1:
		return store.CodeMatched, nil
	case 2:
		return store.CodeMismatch, nil
	case 3:
		return store.CodeExpired, nil
	case 4:
		return store.CodeExhausted, nil
	}
	return store.CodeNotFound, malformed("consume code: unexpected reply")
}

// DeleteCode implements store.Codes with one script call.
func (s *Store) DeleteCode(ctx context.Context, group, key string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("code group", group); err != nil {
		return err
	}
	if err := checkID("code key", key); err != nil {
		return err
	}
	if err := deleteCode.Run(ctx, s.rdb, []string{s.groupKey(group)}, key, s.clock(), s.grace).Err(); err != nil {
		return wrap("delete code", err)
	}
	return nil
}

// DeleteGroup implements store.CodeGroups with one DEL: a group is one key.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkID("code group", group); err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, s.groupKey(group)).Err(); err != nil {
		return wrap("delete group", err)
	}
	return nil
}

// CountGroup implements store.CodeGroups with one HGETALL; liveness is
// decided here with the store's clock.
func (s *Store) CountGroup(ctx context.Context, group string) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := checkID("code group", group); err != nil {
		return 0, err
	}
	all, err := s.rdb.HGetAll(ctx, s.groupKey(group)).Result()
	if err != nil {
		return 0, wrap("count group", err)
	}
	return countLive(all, s.clock())
}

// countLive counts the unexpired, not exhausted codes of a group hash.
func countLive(all map[string]string, now int64) (int, error) {
	n := 0
	for f, v := range all {
		key, ok := strings.CutPrefix(f, "k:")
		if !ok {
			continue
		}
		exp, maxAttempts, _, ok := parseCode([]byte(v))
		if !ok {
			return 0, malformed("count group")
		}
		if expired(exp, now) {
			continue
		}
		if maxAttempts > 0 {
			used, err := attempts(all["a:"+key])
			if err != nil {
				return 0, err
			}
			if used >= maxAttempts {
				continue
			}
		}
		n++
	}
	return n, nil
}

func attempts(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, malformed("count group")
	}
	return n, nil
}
