package i18n

import (
	"strings"
	"time"
)

// Dates are the words a language needs to write a date: the month names
// a time.Format layout's "January" and "Jan" stand for. The layout
// itself is a message of the catalogue ("2 Jan 2006" in English,
// "2. Jan 2006" in German, "2006年1月2日" in Japanese), so each language
// orders the parts its own way.
type Dates struct {
	Months      []string `i18n:"/Months"`      // "January", ... "December"
	MonthsShort []string `i18n:"/MonthsShort"` // "Jan", ... "Dec"
}

// Format returns t written by layout, a time.Format layout, with the
// month names of d in place of Go's English ones. Other parts (numbers,
// the zone's abbreviation, the separators in the layout) are as
// time.Format writes them.
func (d Dates) Format(t time.Time, layout string) string {
	if len(d.Months) != 12 && len(d.MonthsShort) != 12 {
		return t.Format(layout)
	}
	var b strings.Builder
	for layout != "" {
		i := strings.Index(layout, "Jan")
		if i < 0 {
			b.WriteString(t.Format(layout))
			break
		}
		if i > 0 {
			b.WriteString(t.Format(layout[:i]))
		}
		m := int(t.Month()) - 1
		switch {
		case strings.HasPrefix(layout[i:], "January"):
			b.WriteString(pick(d.Months, d.MonthsShort, m, t, "January"))
			layout = layout[i+len("January"):]
		default:
			b.WriteString(pick(d.MonthsShort, d.Months, m, t, "Jan"))
			layout = layout[i+len("Jan"):]
		}
	}
	return b.String()
}

func pick(want, other []string, m int, t time.Time, layout string) string {
	switch {
	case len(want) == 12:
		return want[m]
	case len(other) == 12:
		return other[m]
	}
	return t.Format(layout)
}
