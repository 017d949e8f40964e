package twofactortest_test

import (
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/twofactortest"
)

// The app of the package example passes every check.
func TestExampleApp(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	a, err := newApp(store.NewMemory(clock.Now), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	twofactortest.Run(t, twofactortest.Host{
		Handler:  a.handler,
		Service:  a.tf.Service(),
		AddUser:  a.addUser,
		SignedIn: a.userID,
		Code:     a.code,
		Advance:  clock.Advance,
	})
}
