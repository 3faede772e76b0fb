package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// The cluster flags of kormed index and kormed serve are checked before
// anything is read or connected, with errors naming the flag.
func TestWeaviateFlags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--corpus", dir, "--out", dir, "--shards", "3"}, "--shards goes with --backend weaviate"},
		{[]string{"--corpus", dir, "--out", dir, "--consistency", "ALL"}, "--consistency goes with --backend weaviate"},
		{[]string{"--corpus", dir, "--out", dir, "--backend", "weaviate", "--shards", "-1"}, "--shards -1: want 0 (the default: 1) or more"},
		{[]string{"--corpus", dir, "--out", dir, "--backend", "weaviate", "--replicas", "-3"}, "--replicas -3: want 0 (min(3, nodes)) or more"},
		{[]string{"--corpus", dir, "--out", dir, "--backend", "weaviate", "--consistency", "MOST"}, `--consistency: unknown consistency level "MOST" (want ONE, QUORUM or ALL)`},
		{[]string{"--corpus", dir, "--out", dir, "--backend", "weaviate", "--weaviate-url", "http://127.0.0.1:18880,127.0.0.1:18890"},
			`--weaviate-url: weaviate: bad server URL "127.0.0.1:18890" in "http://127.0.0.1:18880,127.0.0.1:18890" (want http://host:port, several comma-separated)`},
		{[]string{"--corpus", dir, "--out", dir, "--backend", "weaviate", "--weaviate-url", "http://a:1,http://a:1"}, `--weaviate-url: weaviate: server URL "http://a:1" given twice in "http://a:1,http://a:1"`},
	} {
		err := cmdIndex.Exec(ctx, c.args)
		if err == nil || err.Error() != c.want {
			t.Errorf("kormed index %v: %v, want %q", c.args, err, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--index", dir, "--consistency", "ONE"}, "--consistency goes with --backend weaviate"},
		{[]string{"--backend", "weaviate", "--class", "C", "--weaviate-url", "http://127.0.0.1:1", "--consistency", "two"}, `--consistency: unknown consistency level "two" (want ONE, QUORUM or ALL)`},
		{[]string{"--backend", "weaviate", "--class", "C", "--weaviate-url", "http://a:1,"}, `--weaviate-url: weaviate: bad server URL "" in "http://a:1," (want http://host:port, several comma-separated)`},
	} {
		err := cmdServe(io.Discard, nil).Exec(ctx, c.args)
		if err == nil || err.Error() != c.want {
			t.Errorf("kormed serve %v: %v, want %q", c.args, err, c.want)
		}
	}
	// kormed serve has no layout flags: a class is created by kormed index.
	if err := cmdServe(io.Discard, nil).Exec(ctx, []string{"--backend", "weaviate", "--shards", "2"}); err == nil || !strings.Contains(err.Error(), "flag provided but not defined: -shards") {
		t.Errorf("kormed serve --shards: %v", err)
	}
}

// -h documents the defaults.
func TestWeaviateFlagsHelp(t *testing.T) {
	var out bytes.Buffer
	if err := cmdServe(&out, nil).Exec(context.Background(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	for _, want := range []string{"-consistency string", `(default "QUORUM")`, "comma-separated (requests fail over between them)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
}
