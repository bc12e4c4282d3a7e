// Package config reads Ganpin's configuration once, at the edge: flags override
// GANPIN_* environment variables, which override defaults.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Config is the configuration of the ganpin commands.
type Config struct {
	Addr        string // listen address
	DataDir     string // data directory: the SQLite database and the node key
	DatabaseURL string // postgres://… for PostgreSQL; empty for SQLite under DataDir
	Demo        bool   // load the demo supply chain and print example links
	LogLevel    slog.Level
	LogOrigin   string        // the tamper-evident log's name, in its checkpoints
	AnchorEvery time.Duration // how often a checkpoint is anchored on the ledger
}

// Load parses args (after the subcommand) with getenv for the GANPIN_* variables;
// extra registers a subcommand's own flags.
func Load(name string, args []string, getenv func(string) string, stderr io.Writer, extra ...func(*flag.FlagSet)) (Config, []string, error) {
	c := Config{Addr: "127.0.0.1:8080", DataDir: "./var", LogOrigin: "ganpin.local/log", AnchorEvery: 5 * time.Second}
	env := func(key string, dst *string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	env("GANPIN_ADDR", &c.Addr)
	env("GANPIN_DATA", &c.DataDir)
	env("GANPIN_DATABASE_URL", &c.DatabaseURL)
	level := getenv("GANPIN_LOG_LEVEL")

	fs := flag.NewFlagSet("ganpin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (GANPIN_ADDR)")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (GANPIN_DATA)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres://… URL; empty for SQLite under the data directory (GANPIN_DATABASE_URL)")
	fs.BoolVar(&c.Demo, "demo", false, "load the demo supply chain and print example links")
	fs.StringVar(&level, "log-level", level, "debug, info, warn or error (GANPIN_LOG_LEVEL)")
	fs.StringVar(&c.LogOrigin, "log-origin", c.LogOrigin, "the tamper-evident log's name; fixed once the node key exists")
	fs.DurationVar(&c.AnchorEvery, "anchor-every", c.AnchorEvery, "how often to anchor a checkpoint on the ledger")
	for _, f := range extra {
		f(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if level != "" {
		if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
			return c, nil, fmt.Errorf("log level %q: %w", level, err)
		}
	}
	return c, fs.Args(), c.Validate()
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("address %q: %w", c.Addr, err)
	}
	if c.DataDir == "" {
		return errors.New("the data directory is required")
	}
	if c.AnchorEvery < 100*time.Millisecond {
		return fmt.Errorf("anchor interval %s: at least 100ms", c.AnchorEvery)
	}
	if u := c.DatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		return fmt.Errorf("database url %q: use postgres://… or leave it empty for SQLite", u)
	}
	return nil
}
