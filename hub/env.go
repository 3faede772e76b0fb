package hub

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The environment variables below mirror huggingface_hub/constants.py.

func hfHome(getenv func(string) string) string {
	if h := getenv("HF_HOME"); h != "" {
		return expandHome(h)
	}
	base := getenv("XDG_CACHE_HOME")
	if base == "" {
		base = filepath.Join(homeDir(), ".cache")
	}
	return filepath.Join(expandHome(base), "huggingface")
}

func defaultCacheDir(getenv func(string) string) string {
	if d := getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	if d := getenv("HUGGINGFACE_HUB_CACHE"); d != "" { // legacy name
		return expandHome(d)
	}
	return filepath.Join(hfHome(getenv), "hub")
}

func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func defaultOffline(getenv func(string) string) bool {
	v := getenv("HF_HUB_OFFLINE")
	if v == "" {
		v = getenv("TRANSFORMERS_OFFLINE")
	}
	return isTrue(v)
}

// offlineReason names what made the resolver offline, for error messages.
func offlineReason(getenv func(string) string, explicit bool) string {
	if explicit {
		return "offline mode is on"
	}
	if isTrue(getenv("HF_HUB_OFFLINE")) {
		return "HF_HUB_OFFLINE=" + getenv("HF_HUB_OFFLINE")
	}
	if isTrue(getenv("TRANSFORMERS_OFFLINE")) {
		return "TRANSFORMERS_OFFLINE=" + getenv("TRANSFORMERS_OFFLINE")
	}
	return "offline mode is on"
}

func tokenPath(getenv func(string) string) string {
	if p := getenv("HF_TOKEN_PATH"); p != "" {
		return expandHome(p)
	}
	return filepath.Join(hfHome(getenv), "token")
}

// defaultToken follows huggingface_hub's get_token: $HF_TOKEN, then the
// legacy $HUGGING_FACE_HUB_TOKEN, then the token file written by
// `huggingface-cli login`.
func defaultToken(getenv func(string) string) string {
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(getenv(k)); t != "" {
			return t
		}
	}
	if b, err := os.ReadFile(tokenPath(getenv)); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

func defaultEndpoint(getenv func(string) string) string {
	if e := strings.TrimSpace(getenv("HF_ENDPOINT")); e != "" {
		return strings.TrimRight(e, "/")
	}
	return DefaultEndpoint
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "."
}

func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

// envSeconds reads a timeout in seconds (huggingface_hub's
// HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT).
func envSeconds(getenv func(string) string, key string, def time.Duration) time.Duration {
	if v, err := strconv.ParseFloat(strings.TrimSpace(getenv(key)), 64); err == nil && v > 0 {
		return time.Duration(v * float64(time.Second))
	}
	return def
}
