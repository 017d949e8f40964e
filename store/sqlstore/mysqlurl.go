package sqlstore

import (
	"errors"
	"net/url"
	"strings"
)

// MySQLDSN turns a URL of the form mysql://user:pass@host:port/db?params
// (mariadb:// too) into the go-sql-driver/mysql form
// user:pass@tcp(host:port)/db?params, with port 3306 when none is given,
// so one --db flag can name every store by URL. The query passes through
// to the driver (parseTime and the like), with interpolateParams=true and
// multiStatements=true added unless it names them itself: the driver then
// sends each statement with its arguments in one round trip, where
// otherwise it prepares, runs and closes a server-side statement for
// each, and the store sends a transaction's statements in as few requests
// as their results allow (see the package documentation). Open the
// store's pool with it, not your app's own.
func MySQLDSN(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", errors.New("a mysql:// URL needs a host: mysql://user:pass@host:3306/db")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return "", errors.New("a mysql:// URL needs a database name: mysql://user:pass@host:3306/db")
	}
	host := u.Host
	if u.Port() == "" {
		host += ":3306"
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			b.WriteString(":" + p)
		}
		b.WriteString("@")
	}
	b.WriteString("tcp(" + host + ")/" + db)
	q := u.RawQuery
	for _, p := range []string{"interpolateParams", "multiStatements"} {
		if !u.Query().Has(p) {
			q = strings.TrimPrefix(q+"&"+p+"=true", "&")
		}
	}
	b.WriteString("?" + q)
	return b.String(), nil
}
