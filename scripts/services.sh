#!/usr/bin/env bash
# Makes sure PostgreSQL, MariaDB and Redis answer on their default local
# ports, as the store tests expect. It starts installed servers that are down
# and, as root, installs missing ones with apt-get. Addresses can be changed
# with TWOFACTOR_POSTGRES_DSN, TWOFACTOR_MYSQL_DSN and TWOFACTOR_REDIS_ADDR;
# when any of those is set, the matching server is left alone.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/ci.sh"

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done; return 1; }
root() { [ "$(id -u)" = 0 ]; }
apt_updated=0
install() {
	root || return 1
	if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null 2>&1; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
missing=()

# PostgreSQL on 5432, trust auth, database "test".
if [ -z "${TWOFACTOR_POSTGRES_DSN:-}" ] && ! up 5432; then
	command -v pg_ctlcluster >/dev/null || install postgresql || true
	if command -v pg_ctlcluster >/dev/null && root; then
		ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
		if [ -n "$ver" ]; then
			pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
			if wait_up 5432; then
				hba=/etc/postgresql/$ver/main/pg_hba.conf
				if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
					sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
					pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
				fi
				su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" 2>/dev/null | grep -q 1 ||
					su postgres -c "createdb test" >/dev/null 2>&1 || true
			fi
		fi
	fi
	up 5432 || missing+=("PostgreSQL on 127.0.0.1:5432 (apt-get install postgresql; trust auth; database test) or set TWOFACTOR_POSTGRES_DSN")
fi

# MariaDB on 3306, root with an empty password, database "test".
if [ -z "${TWOFACTOR_MYSQL_DSN:-}" ] && ! up 3306; then
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || install mariadb-server || true
	if [ -x /usr/sbin/mariadbd ] && root; then
		mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
		if wait_up 3306; then
			mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null 2>&1 || true
			mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket" >/dev/null 2>&1 || true
		fi
	fi
	up 3306 || missing+=("MariaDB/MySQL on 127.0.0.1:3306 (apt-get install mariadb-server; root, empty password; database test) or set TWOFACTOR_MYSQL_DSN")
fi

# Redis on 6379.
if [ -z "${TWOFACTOR_REDIS_ADDR:-}" ] && ! up 6379; then
	command -v redis-server >/dev/null || install redis-server || true
	if command -v redis-server >/dev/null; then
		mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
			--dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
		wait_up 6379 || true
	fi
	up 6379 || missing+=("Redis on 127.0.0.1:6379 (apt-get install redis-server) or set TWOFACTOR_REDIS_ADDR")
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "services: not available, the tests that need them will $(skip_or_fail):" >&2
	for m in "${missing[@]}"; do echo "  - $m" >&2; done
fi
exit 0
