package main

import (
	"fmt"
	"testing"

	"github.com/spf13/viper"
)

// configs/xszz.yaml documents every key with its default value.
func TestShippedConfigShowsEveryDefault(t *testing.T) {
	const path = "../../configs/xszz.yaml"
	if _, err := loadConfig(path); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	for k, def := range defaults {
		if !v.InConfig(k) {
			t.Errorf("%s: key %s missing", path, k)
			continue
		}
		if got := fmt.Sprint(v.Get(k)); got != fmt.Sprint(def) {
			t.Errorf("%s: %s = %q, default is %q", path, k, got, fmt.Sprint(def))
		}
	}
}
