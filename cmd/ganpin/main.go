// Command ganpin is the Ganpin (赣品溯源) server and its tools.
//
//	ganpin serve   [--addr 127.0.0.1:8080] [--data ./var] [--database-url URL] [--demo]
//	ganpin migrate [--data ./var] [--database-url URL]
//	ganpin admin   --party NAME --uscc CODE [--username admin] [--data ./var] [--database-url URL]
//	ganpin verify  [--key KEY] RECEIPT.json
//	ganpin audit   [--data ./var] [--database-url URL]
//	ganpin certificate print --serial S [--layout a6|label|sheet-2x5|sheet-3x8] --out FILE.pdf
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `ganpin — 赣品溯源 agricultural traceability

Usage:
  ganpin serve   [--addr 127.0.0.1:8080] [--data ./var] [--database-url URL] [--demo]
  ganpin migrate [--data ./var] [--database-url URL]
  ganpin admin   --party NAME --uscc CODE [--county 360702] [--username admin] [--data ./var] [--database-url URL]
                 creates the operating party and its first admin (password from
                 GANPIN_ADMIN_PASSWORD or standard input)
  ganpin verify  [--key KEY] RECEIPT.json
                 checks a record's receipt offline, step by step
  ganpin audit   [--data ./var] [--database-url URL]
                 recomputes the log from the database, checks it against the
                 ledger and names every altered row (exit status 1 if any)
  ganpin certificate print --serial S [--layout a6|label|sheet-2x5|sheet-3x8]
                 [--copies N | --units FROM-TO] [--base-url URL] --out FILE.pdf
                 prints a 承诺达标合格证 (same --data / --database-url as serve)

Environment: GANPIN_ADDR, GANPIN_DATA, GANPIN_DATABASE_URL, GANPIN_BASE_URL, GANPIN_LOG_LEVEL.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ganpin:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "verify":
		return verify(args[1:], stdout, stderr)
	case "audit":
		return audit(ctx, args[1:], getenv, stdout, stderr)
	case "certificate":
		return certificate(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
