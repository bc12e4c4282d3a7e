package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ganpin/ganpin/internal/config"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	from, to, err := sqldb.Migrate(ctx, db)
	if err != nil {
		return err
	}
	if from == to {
		fmt.Fprintf(stdout, "schema is current (version %d)\n", to)
	} else {
		fmt.Fprintf(stdout, "migrated schema from version %d to %d\n", from, to)
	}
	return nil
}
