// Package redisstore is a [store.Store] on Redis, for hosts that run several
// app instances and already run Redis. Limits, one-time codes, replay marks
// and trusted devices then hold across every instance, because each atomic
// operation is a single Redis command or a single Lua script.
//
// It uses github.com/redis/go-redis/v9 and needs Redis 6.2 or later (for
// GETDEL), or a compatible server such as Valkey.
//
// # Walkthrough
//
// Create one go-redis client for the process and one Store on it, and give
// the Store to the Service and to the factors:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	st, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:2fa:"})
//	if err != nil {
//		return err
//	}
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys, Factors: factors})
//
// A *redis.ClusterClient or a *redis.Ring works the same way (any
// redis.UniversalClient). The Store never closes the client. Give the
// client timeouts (ReadTimeout, or ContextTimeoutEnabled so that a
// request's context bounds each call): when Redis hangs, logins then fail
// quickly, and closed.
//
// Expiry is decided by the Store's clock (Options.Now), never by the Redis
// server's: every script receives the time in milliseconds from the caller
// and compares it with expiry times kept inside the values. Redis TTLs are a
// backstop so that nothing piles up: each key expires the remaining time of
// what it holds (by the Store's clock) plus Options.Grace, an hour by
// default. Within the grace period an expired code still answers
// store.CodeExpired once, and app instances whose clocks differ by less than
// the grace period agree. Records that never expire (enrollments, backup
// codes with a zero ExpiresAt, states and marks with a zero expiry) have no
// TTL. [Store.Sweep] is therefore optional: it removes what has expired by
// the Store's clock without waiting for the TTL, walking the keys under the
// prefix with SCAN; production hosts may simply never call it.
//
// # Round trips
//
// Each operation costs one round trip, except PutDevice and DeleteDevice
// (two: the device key and the user's index), ListDevices (two, plus one
// when it cleans stale index entries), PutOwnedState (two: the owner's
// index, then the state) and DeleteOwnedStates (one when the owner has no
// states; otherwise two, plus one when it deleted any, to clean the
// index). Decr is one script call. TakeStateReset ([store.StateResetter])
// is one pipeline (GETDEL and DEL; on a cluster, sent to each node at
// once). IncrBelow ([store.BoundedCounters]) is
// one script call on a *redis.Client; on a cluster see Redis Cluster
// below. RunBatch ([store.Batcher]) sends the command of each of its
// operations, the very command of the operation's method, in one pipeline
// (on a cluster, a transaction per hash slot that has several of them and
// one pipeline per node for the rest, all at once), so a batch costs one
// round trip whatever it holds, but for an IncrBelow whose keys span hash
// slots on a cluster, which takes its own round trips (see
// [Store.RunBatch]). A
// conditional operation ([store.Op.If]: a code stored when its send was
// counted, checked when the answer was, and a challenge ended when its
// code matched) goes in the same pipeline on a *redis.Client, behind a
// gate that what it names sets; on a cluster it waits for that reply and
// goes in one more pipeline. On a *redis.Client the pipeline is a
// transaction (MULTI ... EXEC), so no other client's command runs between
// two of a batch's; on a cluster, none between two of a batch's on the
// keys of one slot. The first call of each script after a server restart
// costs one more round trip (EVALSHA answers NOSCRIPT and the store sends
// it again with EVAL).
//
// # Key layout
//
// Every key starts with the prefix (default "twofactor:"), then a kind:
//
//	<prefix>s:<key>              string  state: "<expiry ms>|<value>", or
//	                                     filed under an owner: "<expiry ms>;
//	                                     <token>;<owner length>;<owner><value>"
//	<prefix>o:{o:<owner>}        hash    the states filed under an owner:
//	                                     field <key> = "<expiry ms>:<token>"
//	<prefix>c:{g:<group>}        hash    a code group: field "k:<key>" =
//	                                     "<expiry ms>|<max attempts>|<hash>",
//	                                     field "a:<key>" = wrong answers so far
//	<prefix>n:<key>              hash    counter: n = count, r = window end (ms)
//	<prefix>l:<key>              hash    ledger mark: h, l = the int64 mark as
//	                                     high and low 32 bits, e = expiry (ms)
//	<prefix>e:{u:<user id>}      hash    enrollments: field <id> = JSON record
//	<prefix>d:<device id>        string  device: "<expiry ms>|<JSON record>"
//	<prefix>di:{u:<user id>}     hash    the user's devices: field <id> =
//	                                     expiry (ms)
//	<prefix>g:<random>           string  a batch's gate (RunBatch), deleted
//	                                     in the same pipeline; TTL 10 s
//
// The <key> of a counter is the library's: the counters per client
// network hold a keyed hash of the network, never the client's address.
// Keys change between releases without a migration; counters under keys no
// longer used (the per-network ones were once keyed by the address in the
// clear, "<prefix>n:tf:ip:203.0.113.7") are not read, and expire with
// their window, within an hour.
//
// An expiry of 0 means never. A code group is one key, so DeleteGroup is one
// DEL and CountGroup one HGETALL; its TTL follows the latest code it holds
// (the scripts that change a group reread it to set the TTL, which is cheap
// for the handful of codes a challenge or a set of backup codes holds).
// TouchEnrollment ([store.EnrollmentToucher]) is one script on the user's
// enrollment hash that rewrites the record's "used" member in place, and
// only to a later time: the other members stay as stored, so a rename
// written meanwhile is kept, and a missing record is never created.
// TouchDevice ([store.DeviceToucher]) is likewise one script on the device
// key that rewrites its "seen" member alone and keeps the key's TTL, so a
// PutDevice written meanwhile is never lost.
// The device index lets ListDevices find a user's devices without scanning;
// ListDevices skips and removes entries whose device has expired, was
// deleted, or now belongs to another user.
//
// The owner index lets DeleteOwnedStates find a user's states without
// scanning. The owner is also written into each owned state, with a random
// token that its index entry repeats: DeleteOwnedStates deletes a listed
// state only if the state, as stored at that moment, still names the
// owner (so a key put again without an owner, or under another owner,
// survives, though the old entry still lists it), and removes an index
// entry only if it still holds the token of the state it deleted (so the
// entry of a put that ran concurrently is kept for the next call).
// PutOwnedState writes the index before the state, so a failure between
// the two leaves an entry for a state that is not filed, never a filed
// state missing from the index. Entries whose expiry passed more than the
// grace period ago are dropped by the next PutOwnedState of the owner, and
// by Sweep at their expiry; the index's TTL follows its latest entry.
//
// # Redis Cluster
//
// Every script but IncrBelow's reads and writes exactly one key, so every
// script runs on one node whatever the slot layout, and needs no
// cross-slot transaction. IncrBelow ([store.BoundedCounters]) decides
// several counters at once: on a cluster (any client but a
// *redis.Client) it runs one script per hash slot, the counter keys with
// the same hash tag going together, so a call whose keys share a tag (a
// counter key the caller writes as "{u:<user id>}...") is one script and
// atomic as on a single server. A call whose keys are in several slots
// takes two round trips: one that reads every counter, and refuses the
// call there when one is full, writing nothing; then the increments, each
// slot's atomically. A counter filled by another call between the two
// refuses the call, and the increments made in the other slots are taken
// back with Decr; until then other calls see them. Across slots, no
// counter passes its bound, but fewer calls may be admitted than the
// bounds allow when calls race (see [Store.IncrBelow]). In a batch
// (RunBatch), such an IncrBelow runs on its own after the batch's
// pipeline, and the operations after it on the same counters after it. An
// owner's index and the states it lists are in different slots, so
// DeleteOwnedStates runs one script per state (pipelined: one round trip
// per node, in parallel) and each is atomic on its own, not the whole. The
// keys of one user carry the hash tag {u:<user id>} and a code group the tag
// {g:<group>} ([store.GroupTag]), so they stay in one slot each and future
// scripts over them stay legal on a cluster; a counter whose key holds a
// group's tag is in the slot of its codes, and a batch's commands on both
// are one transaction (backupcodes marks a submitted code that way, so
// that the loser of a double submit is told from a wrong code there too).
// The prefix must not contain braces, because a tag in the prefix would
// send every key to one slot. A device key carries no
// tag (GetDevice knows only the id); PutDevice and DeleteDevice therefore
// write the device and the index in two steps, ordered so that a failure
// between them never leaves an index entry for a device that was never
// written. Sweep scans every master of a cluster (or shard of a ring).
//
// # Security
//
//   - The store holds what the library gives it: keyed hashes of codes
//     (never a code), encrypted secrets inside enrollment data, challenge
//     state. Anyone who can read Redis learns user ids, enrolled methods,
//     device labels and IP bindings, and from pending challenges user names,
//     email addresses and client IPs, but cannot recover a code or a secret.
//     Anyone who can write Redis can reset counters or delete codes, so treat
//     write access to Redis like write access to the user table.
//   - In production, reach Redis over TLS (redis.Options.TLSConfig) as an
//     ACL user limited to the prefix, for example
//     "ACL SETUSER app on >password ~myapp:2fa:* +@read +@write +@scripting
//     +@connection". Scripts declare the one key they touch, so key
//     patterns apply to them too.
//   - Code hashes are compared inside the script without an early exit. The
//     hashes are keyed, so even a timing difference would reveal nothing an
//     attacker can use.
//   - Every failure fails closed: a Redis error, a timeout, a closed client
//     or a value this package did not write is returned as an error, with
//     store.CodeNotFound, false or a zero count, never a success. Malformed
//     identifiers (empty, longer than 1024 bytes) are rejected with an error
//     matching twofactor.ErrInvalidInput before any round trip. Anything the
//     store contract allows (up to store.MaxKeyLen bytes of UTF-8) is
//     accepted.
//   - Expiry times are kept to the millisecond, rounded down, so a record
//     may expire up to a millisecond early, never late.
package redisstore
