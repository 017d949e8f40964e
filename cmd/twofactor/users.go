package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// usersFormat is the help text on the user lists policy-check and rekey
// read.
const usersFormat = `The user list on stdin is one user id a line (blank lines and lines
starting with # are skipped), or CSV when its first line has a comma:
columns id,name,email,phone-enrolled,require in that order, or in any
order under a header line naming them (the line with an "id" field). Only
id is required. A user listed twice counts once.`

// maxUsersInput bounds what is read from stdin.
const maxUsersInput = 256 << 20

// inputUser is one user of a list.
type inputUser struct {
	user twofactor.User
	// phone is the phone-enrolled column: nil when absent or empty.
	phone *bool
	// require is the require column, the methods this user's policy
	// requires (policy-check): nil when absent or empty.
	require methodList
}

// readUsers reads a user list (see usersFormat). Errors name the line.
func readUsers(r io.Reader) ([]inputUser, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxUsersInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(b) > maxUsersInput {
		return nil, fmt.Errorf("stdin: more than %d MiB of user ids", maxUsersInput>>20)
	}
	text := string(b)
	var users []inputUser
	if firstLine(text) != "" && strings.Contains(firstLine(text), ",") {
		users, err = readCSV(text)
	} else {
		users, err = readLines(text)
	}
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, errors.New("no user ids on stdin")
	}
	return users, nil
}

// firstLine is the first line that is not blank or a comment.
func firstLine(text string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, maxUsersInput)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// userList collects users, each once.
type userList struct {
	users []inputUser
	seen  map[string]bool
}

func (l *userList) add(u inputUser, line int) error {
	if err := twofactor.CheckUserID(u.user.ID); err != nil {
		return fmt.Errorf("stdin line %d: user id %q: %s", line, u.user.ID, strings.TrimPrefix(err.Error(), twofactor.ErrInvalidInput.Error()+": "))
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[u.user.ID] {
		l.seen[u.user.ID] = true
		l.users = append(l.users, u)
	}
	return nil
}

func readLines(text string) ([]inputUser, error) {
	var l userList
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := l.add(inputUser{user: twofactor.User{ID: line}}, n+1); err != nil {
			return nil, err
		}
	}
	return l.users, nil
}

// csvColumns are the columns of a user CSV, in their order without a
// header.
var csvColumns = []string{"id", "name", "email", "phone-enrolled", "require"}

func readCSV(text string) ([]inputUser, error) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cols := map[string]int{"id": 0, "name": 1, "email": 2, "phone-enrolled": 3, "require": 4}
	width := len(csvColumns)
	var l userList
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first && isHeader(rec) {
			cols = map[string]int{}
			for i, h := range rec {
				name := columnName(h)
				if !containsString(csvColumns, name) {
					return nil, fmt.Errorf("stdin line %d: unknown column %q: the columns are %s", line, h, strings.Join(csvColumns, ","))
				}
				if _, dup := cols[name]; dup {
					return nil, fmt.Errorf("stdin line %d: column %q twice", line, h)
				}
				cols[name] = i
			}
			width = len(rec)
			continue
		}
		if len(rec) > width {
			return nil, fmt.Errorf("stdin line %d: %d columns, want at most %d (%s)", line, len(rec), width, strings.Join(csvColumns, ","))
		}
		field := func(name string) string {
			if i, ok := cols[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		u := inputUser{user: twofactor.User{ID: field("id"), Name: field("name"), Email: field("email")}}
		if v := field("phone-enrolled"); v != "" {
			p, ok := parseYesNo(v)
			if !ok {
				return nil, fmt.Errorf("stdin line %d: phone-enrolled %q: want yes or no", line, v)
			}
			u.phone = &p
		}
		if v := field("require"); v != "" {
			u.require = methodList{}
			if v != requireNone {
				for _, m := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ' ' }) {
					if err := u.require.Set(m); err != nil {
						return nil, fmt.Errorf("stdin line %d: require: %w", line, err)
					}
				}
			}
		}
		if err := l.add(u, line); err != nil {
			return nil, err
		}
	}
	return l.users, nil
}

func columnName(h string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(h)), "_", "-")
}

// isHeader reports whether rec is a header: one of its fields is "id".
func isHeader(rec []string) bool {
	for _, h := range rec {
		if columnName(h) == "id" {
			return true
		}
	}
	return false
}

func parseYesNo(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "yes", "y", "true", "t", "1":
		return true, true
	case "no", "n", "false", "f", "0":
		return false, true
	}
	return false, false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
