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
	"net/url"
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
	Fabric      Fabric        // a Fabric network to anchor on; the embedded ledger when Peer is empty
	BaseURL     string        // public base URL of QR codes and links, e.g. https://trace.example.cn
	MQTT        MQTT          // the broker cold-chain loggers publish to; none when URL is empty
}

// MQTT locates the telemetry broker and Ganpin's login there.
type MQTT struct {
	URL, Username, Password, ClientID string
	Conns                             int
}

// PublicURL returns the public base URL: BaseURL, or listen when it is unset.
func (c Config) PublicURL(listen string) string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return listen
}

// Fabric locates a Fabric network's gateway peer and the identity Ganpin submits with.
type Fabric struct {
	Peer, TLSCA, ServerName, MSP, Cert, Key, Channel, Chaincode string
}

// Load parses args (after the subcommand) with getenv for the GANPIN_* variables;
// extra registers a subcommand's own flags.
func Load(name string, args []string, getenv func(string) string, stderr io.Writer, extra ...func(*flag.FlagSet)) (Config, []string, error) {
	c := Config{Addr: "127.0.0.1:8080", DataDir: "./var", LogOrigin: "ganpin.local/log", AnchorEvery: 2 * time.Second}
	env := func(key string, dst *string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	env("GANPIN_ADDR", &c.Addr)
	env("GANPIN_DATA", &c.DataDir)
	env("GANPIN_DATABASE_URL", &c.DatabaseURL)
	env("GANPIN_BASE_URL", &c.BaseURL)
	env("GANPIN_MQTT_URL", &c.MQTT.URL)
	env("GANPIN_MQTT_USERNAME", &c.MQTT.Username)
	env("GANPIN_MQTT_PASSWORD", &c.MQTT.Password) // from the environment only: not on a command line
	env("GANPIN_MQTT_CLIENT_ID", &c.MQTT.ClientID)
	c.Fabric = Fabric{Channel: "ganpin", Chaincode: "ganpin"}
	for key, dst := range map[string]*string{"PEER": &c.Fabric.Peer, "TLS_CA": &c.Fabric.TLSCA, "SERVER_NAME": &c.Fabric.ServerName,
		"MSP": &c.Fabric.MSP, "CERT": &c.Fabric.Cert, "KEY": &c.Fabric.Key, "CHANNEL": &c.Fabric.Channel, "CHAINCODE": &c.Fabric.Chaincode} {
		env("GANPIN_FABRIC_"+key, dst)
	}
	level := getenv("GANPIN_LOG_LEVEL")

	fs := flag.NewFlagSet("ganpin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (GANPIN_ADDR)")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (GANPIN_DATA)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres://… URL; empty for SQLite under the data directory (GANPIN_DATABASE_URL)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public base URL of QR codes and links; the listen address when empty (GANPIN_BASE_URL)")
	fs.StringVar(&c.MQTT.URL, "mqtt-url", c.MQTT.URL, "MQTT broker of the cold-chain loggers, e.g. mqtt://127.0.0.1:1883; none when empty (GANPIN_MQTT_URL)")
	fs.StringVar(&c.MQTT.Username, "mqtt-username", c.MQTT.Username, "MQTT username (GANPIN_MQTT_USERNAME; the password from GANPIN_MQTT_PASSWORD)")
	fs.StringVar(&c.MQTT.ClientID, "mqtt-client-id", c.MQTT.ClientID, "MQTT client ID; ganpin-{hostname} when empty (GANPIN_MQTT_CLIENT_ID)")
	fs.IntVar(&c.MQTT.Conns, "mqtt-conns", 4, "MQTT connections sharing the subscription")
	fs.BoolVar(&c.Demo, "demo", false, "load the demo supply chain and print example links")
	fs.StringVar(&level, "log-level", level, "debug, info, warn or error (GANPIN_LOG_LEVEL)")
	fs.StringVar(&c.LogOrigin, "log-origin", c.LogOrigin, "the tamper-evident log's name; fixed once the node key exists")
	fs.DurationVar(&c.AnchorEvery, "anchor-every", c.AnchorEvery, "how often to anchor a checkpoint on the ledger")
	fs.StringVar(&c.Fabric.Peer, "fabric-peer", c.Fabric.Peer, "host:port of a Fabric gateway peer; the embedded ledger when empty (GANPIN_FABRIC_PEER)")
	fs.StringVar(&c.Fabric.TLSCA, "fabric-tls-ca", c.Fabric.TLSCA, "PEM file of the peer's TLS CA (GANPIN_FABRIC_TLS_CA)")
	fs.StringVar(&c.Fabric.ServerName, "fabric-server-name", c.Fabric.ServerName, "the peer's TLS server name, if not its host (GANPIN_FABRIC_SERVER_NAME)")
	fs.StringVar(&c.Fabric.MSP, "fabric-msp", c.Fabric.MSP, "MSP ID of Ganpin's identity (GANPIN_FABRIC_MSP)")
	fs.StringVar(&c.Fabric.Cert, "fabric-cert", c.Fabric.Cert, "PEM certificate of Ganpin's identity (GANPIN_FABRIC_CERT)")
	fs.StringVar(&c.Fabric.Key, "fabric-key", c.Fabric.Key, "PEM private key of Ganpin's identity (GANPIN_FABRIC_KEY)")
	fs.StringVar(&c.Fabric.Channel, "fabric-channel", c.Fabric.Channel, "channel (GANPIN_FABRIC_CHANNEL)")
	fs.StringVar(&c.Fabric.Chaincode, "fabric-chaincode", c.Fabric.Chaincode, "chaincode name (GANPIN_FABRIC_CHAINCODE)")
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
	if f := c.Fabric; f.Peer != "" && (f.TLSCA == "" || f.MSP == "" || f.Cert == "" || f.Key == "" || f.Channel == "" || f.Chaincode == "") {
		return errors.New("a Fabric peer needs --fabric-tls-ca, --fabric-msp, --fabric-cert, --fabric-key, --fabric-channel and --fabric-chaincode")
	}
	if b := c.BaseURL; b != "" {
		if u, err := url.Parse(b); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("base url %q: want http(s)://host[/path]", b)
		}
	}
	if c.AnchorEvery < 100*time.Millisecond {
		return fmt.Errorf("anchor interval %s: at least 100ms", c.AnchorEvery)
	}
	if u := c.DatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		return fmt.Errorf("database url %q: use postgres://… or leave it empty for SQLite", u)
	}
	return nil
}
