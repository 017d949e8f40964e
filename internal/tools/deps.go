//go:build tools

// Package tools pins modules that packages of this module use, so go.mod
// stays stable while they are written. It is never built.
package tools

import (
	_ "github.com/chromedp/cdproto/webauthn"
	_ "github.com/chromedp/chromedp"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/go-webauthn/webauthn/webauthn"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/nyaruka/phonenumbers"
	_ "github.com/pquerna/otp/totp"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/skip2/go-qrcode"
	_ "github.com/stretchr/testify/require"
	_ "github.com/wneessen/go-mail"
	_ "golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"
)
