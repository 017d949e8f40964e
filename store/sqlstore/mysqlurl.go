package sqlstore

import (
	"errors"
	"net/url"
	"strings"
)

// MySQLDSN turns a URL of the form mysql://user:pass@host:port/db?params
// (mariadb:// too) into the go-sql-driver/mysql form
// user:pass@tcp(host:port)/db?params, with port 3306 when none is given,
// so one --db flag can name every store by URL. The query is kept as it
// is: parseTime and the like pass through to the driver.
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
	if u.RawQuery != "" {
		b.WriteString("?" + u.RawQuery)
	}
	return b.String(), nil
}
