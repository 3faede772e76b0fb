package run

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"github.com/BurntSushi/toml"
)

// Override sets key of the TOML-tagged struct dst (a pointer) to val, a
// TOML value as a recipe file would write it ("1e-3", "true",
// "[\"a\", \"b\"]", a table "{ embeddings = \"word\" }"); a bare word
// that is no TOML value is taken as a string. It is how kormed train's
// --set key=value reaches a recipe's stage. An unknown key is an error.
func Override(dst any, key, val string) error {
	decode := func(v string) error {
		md, err := toml.Decode(key+" = "+v, dst)
		if err != nil {
			return err
		}
		if und := md.Undecoded(); len(und) > 0 {
			return fmt.Errorf("unknown key %s", und[0])
		}
		return nil
	}
	err := decode(val)
	if err != nil {
		// A bare word is a string.
		q, _ := json.Marshal(val)
		if decode(string(q)) == nil {
			return nil
		}
	}
	return err
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv replaces ${VAR} and ${VAR:-default} in a recipe value; an
// unset variable without a default is an error naming it and field.
func ExpandEnv(s, field string) (string, error) {
	var missing string
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		g := envRef.FindStringSubmatch(m)
		if v, ok := os.LookupEnv(g[1]); ok && v != "" {
			return v
		}
		if g[2] != "" {
			return g[3]
		}
		if missing == "" {
			missing = g[1]
		}
		return m
	})
	if missing != "" {
		return "", fmt.Errorf("%s: environment variable %s is not set (write ${%s:-default} for a default)", field, missing, missing)
	}
	return out, nil
}
