package sqlstore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store/sqlstore"
)

func TestMySQLDSN(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root@localhost/test":                           "root@tcp(localhost:3306)/test?interpolateParams=true&multiStatements=true",
		"mysql://u:p%40ss@db.example:3307/app?parseTime=1":      "u:p@ss@tcp(db.example:3307)/app?parseTime=1&interpolateParams=true&multiStatements=true",
		"mariadb://db/app":                                      "tcp(db:3306)/app?interpolateParams=true&multiStatements=true",
		"mysql://db/app?interpolateParams=false&parseTime=true": "tcp(db:3306)/app?interpolateParams=false&parseTime=true&multiStatements=true",
		"mysql://db/app?multiStatements=false":                  "tcp(db:3306)/app?multiStatements=false&interpolateParams=true",
	} {
		got, err := sqlstore.MySQLDSN(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"mysql:///test", "mysql://root@localhost", "mysql://h/a/b", "::"} {
		_, err := sqlstore.MySQLDSN(bad)
		require.Error(t, err, bad)
	}
}
