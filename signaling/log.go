package signaling

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory bridges pion's logger factory to slog, so ICE and DTLS lines
// land in the process log with their scope.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	l := f.log
	if l == nil {
		l = slog.Default()
	}
	return slogLeveled{l.With("component", "pion", "scope", scope)}
}

type slogLeveled struct{ l *slog.Logger }

func (s slogLeveled) log(level slog.Level, msg string) {
	if s.l.Enabled(context.Background(), level) {
		s.l.Log(context.Background(), level, msg)
	}
}

func (s slogLeveled) Trace(msg string)          { s.log(slog.LevelDebug-4, msg) }
func (s slogLeveled) Tracef(f string, a ...any) { s.log(slog.LevelDebug-4, fmt.Sprintf(f, a...)) }
func (s slogLeveled) Debug(msg string)          { s.log(slog.LevelDebug, msg) }
func (s slogLeveled) Debugf(f string, a ...any) { s.log(slog.LevelDebug, fmt.Sprintf(f, a...)) }
func (s slogLeveled) Info(msg string)           { s.log(slog.LevelDebug, msg) } // pion's info is our debug
func (s slogLeveled) Infof(f string, a ...any)  { s.log(slog.LevelDebug, fmt.Sprintf(f, a...)) }
func (s slogLeveled) Warn(msg string)           { s.log(slog.LevelWarn, msg) }
func (s slogLeveled) Warnf(f string, a ...any)  { s.log(slog.LevelWarn, fmt.Sprintf(f, a...)) }
func (s slogLeveled) Error(msg string)          { s.log(slog.LevelError, msg) }
func (s slogLeveled) Errorf(f string, a ...any) { s.log(slog.LevelError, fmt.Sprintf(f, a...)) }
