package api

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
)

// leveledLogger adapts slog to retryablehttp.LeveledLogger. Values are
// rendered to strings with the key redacted and query strings cut from
// anything that looks like a URL; retryablehttp never hands it a body.
type leveledLogger struct {
	l      *slog.Logger
	redact func(string) string
}

// queryRe matches the query string of a URL inside a longer text.
var queryRe = regexp.MustCompile(`\?[^\s"']*`)

func (a leveledLogger) log(level slog.Level, msg string, kv []any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			k = fmt.Sprint(kv[i])
		}
		attrs = append(attrs, slog.String(k, a.clean(kv[i+1])))
	}
	a.l.LogAttrs(context.Background(), level, "retryablehttp: "+a.clean(msg), attrs...)
}

func (a leveledLogger) clean(v any) string {
	var s string
	switch v := v.(type) {
	case error:
		s = safeErrString(v)
	case string:
		s = v
	default:
		s = fmt.Sprint(v)
	}
	return a.redact(queryRe.ReplaceAllString(s, "?…"))
}

func (a leveledLogger) Error(msg string, kv ...any) { a.log(slog.LevelWarn, msg, kv) }
func (a leveledLogger) Warn(msg string, kv ...any)  { a.log(slog.LevelWarn, msg, kv) }
func (a leveledLogger) Info(msg string, kv ...any)  { a.log(slog.LevelInfo, msg, kv) }
func (a leveledLogger) Debug(msg string, kv ...any) { a.log(slog.LevelDebug, msg, kv) }
