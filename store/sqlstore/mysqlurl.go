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
// to the driver (parseTime and the like), with interpolateParams=true
// added unless it names interpolateParams itself: the driver then sends
// each statement with its arguments in one round trip, where otherwise it
// prepares, runs and closes a server-side statement for each (see the
// package documentation).
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
	if !u.Query().Has("interpolateParams") {
		q = strings.TrimPrefix(q+"&interpolateParams=true", "&")
	}
	b.WriteString("?" + q)
	return b.String(), nil
}
