package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/redisstore"
)

// A store on one Redis server, shared by every app instance that uses the
// same prefix. The example needs a running server, so it has no output
// check.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:2fa:"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// A one-time code, stored as a keyed hash, dies after 3 wrong answers
	// and in 10 minutes. Of concurrent right answers exactly one matches,
	// whichever app instance receives it.
	hash := []byte("keyed hash of the code")
	err = st.PutCode(ctx, store.Code{Group: "challenge-id", Key: "email", Hash: hash,
		ExpiresAt: time.Now().Add(10 * time.Minute), MaxAttempts: 3})
	if err != nil {
		log.Fatal(err)
	}
	status, err := st.ConsumeCode(ctx, "challenge-id", "email", hash)
	if err != nil {
		log.Fatal(err) // Redis is down: deny
	}
	fmt.Println(status)
}

// New rejects options that cannot work, before any connection is made.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	_, err := redisstore.New(rdb, redisstore.Options{Prefix: "app{2fa}:"})
	fmt.Println(err != nil)
	st, err := redisstore.New(rdb, redisstore.Options{})
	fmt.Println(st.Prefix(), err)
	// Output:
	// true
	// twofactor: <nil>
}
