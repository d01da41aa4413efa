package procsec

import (
	"os"
	"strings"
)

// Environ returns the environment for a child process that needs no
// secret, such as the browser: ChildEnv(os.Environ()).
func Environ() []string { return ChildEnv(os.Environ()) }

// allowedNames are the variables a desktop browser or its launcher
// (xdg-open, open, rundll32) needs, upper-cased; allowedPrefixes the
// families of them.
var allowedNames = map[string]bool{
	// every OS
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"TMPDIR": true, "TMP": true, "TEMP": true, "TZ": true, "TERM": true,
	"LANG": true, "LANGUAGE": true, "BROWSER": true,
	// X11, Wayland, D-Bus and the desktop detection of xdg-open
	"DISPLAY": true, "WAYLAND_DISPLAY": true, "XAUTHORITY": true,
	"DBUS_SESSION_BUS_ADDRESS": true, "DESKTOP_SESSION": true,
	"KDE_FULL_SESSION": true, "KDE_SESSION_VERSION": true,
	"GNOME_DESKTOP_SESSION_ID": true, "MATE_DESKTOP_SESSION_ID": true,
	// WSL (xdg-open hands the link to Windows)
	"WSL_DISTRO_NAME": true, "WSL_INTEROP": true, "WSLENV": true,
	// macOS
	"__CF_USER_TEXT_ENCODING": true,
	// Windows
	"SYSTEMROOT": true, "SYSTEMDRIVE": true, "WINDIR": true, "COMSPEC": true,
	"PATHEXT": true, "USERPROFILE": true, "USERNAME": true, "USERDOMAIN": true,
	"HOMEDRIVE": true, "HOMEPATH": true, "APPDATA": true, "LOCALAPPDATA": true,
	"PROGRAMDATA": true, "PROGRAMFILES": true, "PROGRAMFILES(X86)": true,
	"PROGRAMW6432": true, "COMMONPROGRAMFILES": true, "COMMONPROGRAMFILES(X86)": true,
	"ALLUSERSPROFILE": true, "PUBLIC": true, "OS": true,
	"PROCESSOR_ARCHITECTURE": true, "NUMBER_OF_PROCESSORS": true,
	// proxies, unless they carry a password (see ChildEnv)
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "NO_PROXY": true, "ALL_PROXY": true,
}

var allowedPrefixes = []string{"XDG_", "LC_"}

// proxyNames are the allowed variables whose value is a URL that may hold
// user:password.
var proxyNames = map[string]bool{"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true}

// ChildEnv filters env ("NAME=value" entries) for a child process that
// needs no secret. A variable passes only if it is on the allow-list (the
// names a browser and its launcher use, XDG_* and LC_* included) and is not
// denied: every SPGATE_* variable, any name that looks like it holds a
// secret (…TOKEN…, …SECRET…, …PASSWORD…, …PASSWD…, …CREDENTIAL…,
// …PRIVATE…, …_KEY, …_PASS), and a proxy URL with a password in it are
// dropped whatever the allow-list says. Names are compared without regard
// to case, as Windows does. The result is never nil: exec.Cmd reads a nil
// Env as "inherit everything".
func ChildEnv(env []string) []string {
	out := make([]string, 0, len(allowedNames))
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" { // Windows' "=C:=C:\…" entries are not needed
			continue
		}
		up := strings.ToUpper(name)
		if !allowed(up) || denied(up) {
			continue
		}
		if proxyNames[up] && proxyHasPassword(value) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func allowed(up string) bool {
	if allowedNames[up] {
		return true
	}
	for _, p := range allowedPrefixes {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// denied reports whether an upper-cased name belongs to spgate or looks
// like a secret's.
func denied(up string) bool {
	if strings.HasPrefix(up, "SPGATE") {
		return true
	}
	for _, s := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE"} {
		if strings.Contains(up, s) {
			return true
		}
	}
	for _, s := range []string{"_KEY", "_PASS", "_PWD"} {
		if strings.HasSuffix(up, s) {
			return true
		}
	}
	return false
}

// proxyHasPassword reports whether a proxy URL holds user information
// (http://user:password@proxy:3128, or the same without a scheme).
func proxyHasPassword(v string) bool { return strings.Contains(v, "@") }
