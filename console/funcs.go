package console

import (
	"fmt"
	"html/template"
	"regexp"
	"strings"
	"time"

	"github.com/spgate/spgate/vault"
)

// secretShapes matches what looks like a credential in free text: LWA
// client secrets, refresh and access tokens, Restricted Data Tokens,
// gateway client keys, console sign-in tokens, and hints of them
// (secret.String.Hint keeps a prefix and the last characters).
var secretShapes = regexp.MustCompile(`(amzn1\.oa2-cs\.v1\.|Atzr\||Atza\||Atz\.sprdt\||spg_|spc_)[^\s"'<>,;)]*`)

// scrub masks anything shaped like a secret in text that comes from
// elsewhere (check details, progress lines, errors): the console renders
// no secret, not even a hint of one.
func scrub(s string) string {
	return secretShapes.ReplaceAllStringFunc(s, func(m string) string {
		for _, p := range []string{"amzn1.oa2-cs.v1.", "Atzr|", "Atza|", "Atz.sprdt|", "spg_", "spc_"} {
			if strings.HasPrefix(m, p) {
				return p + "…"
			}
		}
		return "…"
	})
}

// codeSpans renders text with `code` spans (as doctor writes its fixes)
// as HTML, escaping everything else.
func codeSpans(s string) template.HTML {
	s = scrub(s)
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		esc := template.HTMLEscapeString(p)
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + esc + "</code>")
		} else {
			if i%2 == 1 {
				b.WriteString("`")
			}
			b.WriteString(esc)
		}
	}
	return template.HTML(b.String())
}

var funcs = template.FuncMap{
	"scrub": scrub,
	"code":  codeSpans,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Local().Format("2006-01-02")
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago": ago,
	"join": func(s []string) string {
		if len(s) == 0 {
			return "—"
		}
		return strings.Join(s, ", ")
	},
	"marketplace": func(id string) string {
		if m, ok := vault.LookupMarketplace(id); ok {
			return fmt.Sprintf("%s (%s)", m.Country, m.ID)
		}
		return id
	},
}

// ago says how long before now t was, roughly.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
