// Package configfile reads the configuration of the commands (app.Config)
// from a YAML file and XSZZ_<SECTION>_<KEY> environment variables, over
// app.Defaults. Viper stays in cmd/.
package configfile

import (
	"fmt"
	"strings"

	"github.com/spf13/viper"

	"github.com/xszz/xszz/internal/app"
)

// Load reads the file (if any), then XSZZ_<SECTION>_<KEY> variables, and
// validates the result. A key the defaults do not know is an error, so a
// misspelt key is not silently ignored.
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
				return nil, fmt.Errorf("config %s: unknown key %q", path, k)
			}
		}
	}
	var cfg app.Config
	if err := v.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}
