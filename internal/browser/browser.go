// Package browser opens a link in the desktop's web browser, with an
// environment that keeps spgate's secrets out of it.
package browser

import (
	"errors"
	"os"
	"os/exec"
	"runtime"

	"github.com/spgate/spgate/internal/procsec"
)

// Open opens u in the desktop browser, if there is one, and returns once
// the launcher has started.
func Open(u string) error {
	cmd, err := Command(u)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // the launcher exits once the browser has the link
	return nil
}

// Command is the launcher that opens u. It runs with a scrubbed
// environment (procsec.Environ): the browser needs the display, the
// session bus and the locale, never $SPGATE_MASTER_KEY, the client secret
// or cloud credentials, which a launched browser would otherwise keep for
// its whole life and hand to every helper it starts.
func Command(u string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return nil, errors.New("no display")
		}
		cmd = exec.Command("xdg-open", u)
	}
	cmd.Env = procsec.Environ()
	return cmd, nil
}
