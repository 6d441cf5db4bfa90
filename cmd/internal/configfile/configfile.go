// Package configfile reads the configuration of the commands (app.Config)
// from a YAML file and XSZZ_<SECTION>_<KEY> environment variables, over
// app.Defaults. Viper stays in cmd/.
package configfile

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/xszz/xszz/cmd/internal/app"
)

// Load reads the file (if any), then XSZZ_<SECTION>_<KEY> variables, and
// validates the result. A key the defaults do not know is an error, so a
// misspelt key is not silently ignored; every refusal is one line naming
// the key and the form it expects.
func Load(path string) (*app.Config, error) {
	v := viper.New()
	for k, val := range app.Defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("XSZZ")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
		for _, k := range v.AllKeys() {
			if _, ok := app.Defaults[k]; !ok {
				return nil, fmt.Errorf("config %s: %s", path, unknownKey(k))
			}
		}
	}
	if err := checkTypes(v); err != nil {
		return nil, err
	}
	var cfg app.Config
	if err := v.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Warnings = unknownVariables(os.Environ())
	return &cfg, nil
}

// unknownKey explains a key that is not in the configuration: a section
// given a value (a missing colon: "listen 127.0.0.1:8080" under idp:), or
// a misspelt key, with the nearest known one.
func unknownKey(k string) string {
	for d := range app.Defaults {
		if strings.HasPrefix(d, k+".") {
			return fmt.Sprintf("%q is a section and needs indented key: value lines below it (is a colon missing after a key?)", k)
		}
	}
	best, dist := "", 4
	for d := range app.Defaults {
		if n := editDistance(k, d); n < dist || n == dist && d < best {
			best, dist = d, n
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", k, best)
	}
	return fmt.Sprintf("unknown key %q (configs/xszz.yaml lists every key)", k)
}

// checkTypes reads every duration, number and switch the way Unmarshal
// will, so a bad value is reported with its key and the expected form
// rather than as a decoder's message.
func checkTypes(v *viper.Viper) error {
	for k, d := range app.Defaults {
		raw := v.Get(k)
		s := fmt.Sprint(raw)
		switch d.(type) {
		case int:
			if _, err := strconv.Atoi(s); err != nil {
				return fmt.Errorf("config %s: %q is not a whole number (for example %d)", k, s, d)
			}
		case bool:
			if _, err := strconv.ParseBool(s); err != nil {
				return fmt.Errorf("config %s: %q is not true or false", k, s)
			}
		case string:
			if _, err := time.ParseDuration(d.(string)); err != nil {
				continue // not a duration key
			}
			if _, ok := raw.(time.Duration); ok {
				continue
			}
			if _, err := time.ParseDuration(s); err != nil {
				return fmt.Errorf("config %s: %q is not a duration; use a number with a unit, such as 90s, 10m or 12h", k, s)
			}
		}
	}
	return nil
}

// unknownVariables lists XSZZ_ variables that name no key: a typo would
// otherwise be ignored without a word. XSZZ_TEST_ variables belong to the
// tests.
func unknownVariables(environ []string) []string {
	known := map[string]bool{}
	for k := range app.Defaults {
		known["XSZZ_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "XSZZ_") || strings.HasPrefix(name, "XSZZ_TEST_") || known[name] {
			continue
		}
		out = append(out, fmt.Sprintf("environment variable %s names no configuration key and is ignored (XSZZ_<SECTION>_<KEY>, keys in configs/xszz.yaml)", name))
	}
	slices.Sort(out)
	return out
}

// editDistance is the Levenshtein distance of two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
